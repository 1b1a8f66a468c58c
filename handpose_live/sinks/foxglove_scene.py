"""What Foxglove is shown, shared by the MCAP file (`mcap_writer.py`) and the live server (`foxglove_ws.py`).

Two channels: `/handpose/record`, the frame record (`PoseResult.to_record()`, JSON, its schema
`record.schema.json`, the stream header in the channel's metadata), and `/handpose/skeleton`, a
`foxglove.SceneUpdate` (a sphere per joint, a line per bone, in metres in the `camera` frame: x right, y down,
z forward) that Foxglove's 3D panel draws as it is. The MCAP file may add `/handpose/depth`, a
`foxglove.RawImage` (16UC1 millimetres). Foxglove types are protobuf, encoded by `foxglove-sdk` with the
schema it ships, so both outputs carry the same schemas as Foxglove's own tools write.
"""
from __future__ import annotations

import json
import math

import numpy as np

from ..records import SCHEMA_FILE
from ..targets import target_for_key
from ..types import DepthFrame, PoseResult

RECORD_TOPIC = "/handpose/record"
SKELETON_TOPIC = "/handpose/skeleton"
DEPTH_TOPIC = "/handpose/depth"
RECORD_SCHEMA_NAME = "handpose-live.record"
FRAME_ID = "camera"
JOINT_PER_CUBE, BONE_PER_CUBE = 1 / 20, 1 / 60   # sphere diameter, line width: fractions of the target's cube edge
COLOURS = {"left": (0.25, 0.55, 1.0), "right": (1.0, 0.35, 0.25), None: (0.2, 0.9, 0.4)}


def record_schema() -> bytes:
    """The JSON schema of the records (header and frame), as stored in the package."""
    return SCHEMA_FILE.read_bytes()


def header_metadata(header: dict | None) -> dict[str, str]:
    """Channel metadata (strings only) carrying the stream header, once, instead of in every record."""
    return {} if header is None else {"header": json.dumps(header, allow_nan=False, default=str)}


def time_ns(timestamp_ms: float) -> int:
    """A frame timestamp (ms) as the non-negative integer nanoseconds MCAP and Foxglove use."""
    return max(0, int(round(float(timestamp_ms) * 1e6))) if math.isfinite(timestamp_ms) else 0


def _timestamp(ns: int):
    from foxglove.messages import Timestamp

    return Timestamp(sec=ns // 1_000_000_000, nsec=ns % 1_000_000_000)


def scene_update(result: PoseResult, bones, ns: int):
    """The frame's subjects as one SceneUpdate: delete everything older, then one entity per subject."""
    from foxglove.messages import (
        Color,
        LinePrimitive,
        LinePrimitiveLineType,
        Point3,
        Pose,
        Quaternion,
        SceneEntity,
        SceneEntityDeletion,
        SceneEntityDeletionType,
        SceneUpdate,
        SpherePrimitive,
        Vector3,
    )

    stamp = _timestamp(ns)
    target = target_for_key(result.subjects_key)
    cube_m = (target.cube_mm if target is not None else 250.0) / 1000.0
    joint_m, line_m = cube_m * JOINT_PER_CUBE, cube_m * BONE_PER_CUBE
    entities = []
    for subject in result.subjects:
        joints = np.asarray(subject.joints_mm, np.float64) / 1000.0
        finite = np.isfinite(joints).all(axis=1)
        r, g, b = COLOURS.get(subject.handedness, COLOURS[None])
        spheres = [SpherePrimitive(pose=Pose(position=Vector3(x=x, y=y, z=z), orientation=Quaternion(w=1.0)),
                                   size=Vector3(x=joint_m, y=joint_m, z=joint_m), color=Color(r=r, g=g, b=b, a=1.0))
                   for (x, y, z), ok in zip(joints.tolist(), finite) if ok]
        pairs = [(int(i), int(j)) for i, j in bones if max(i, j) < len(joints) and finite[i] and finite[j]]
        points = [Point3(x=float(x), y=float(y), z=float(z)) for i, j in pairs for x, y, z in (joints[i], joints[j])]
        lines = [LinePrimitive(type=LinePrimitiveLineType.LineList, pose=Pose(position=Vector3(), orientation=Quaternion(w=1.0)),
                               thickness=line_m, scale_invariant=False, points=points,
                               color=Color(r=r * 0.8, g=g * 0.8, b=b * 0.8, a=1.0))] if points else []
        entities.append(SceneEntity(timestamp=stamp, frame_id=FRAME_ID, id=f"{result.subjects_key}/{subject.id}",
                                    spheres=spheres, lines=lines))
    return SceneUpdate(deletions=[SceneEntityDeletion(timestamp=stamp, type=SceneEntityDeletionType.All)],
                       entities=entities)


def depth_image(frame: DepthFrame, ns: int):
    """The depth frame as a RawImage in 16UC1 millimetres (0 = no measurement), what Foxglove colours as depth."""
    from foxglove.messages import RawImage

    depth = np.nan_to_num(np.asarray(frame.depth_mm, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    pixels = np.clip(np.round(depth), 0, 65535).astype("<u2")
    height, width = pixels.shape
    return RawImage(timestamp=_timestamp(ns), frame_id=FRAME_ID, width=width, height=height, encoding="16UC1",
                    step=2 * width, data=pixels.tobytes())
