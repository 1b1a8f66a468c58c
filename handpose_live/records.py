"""The output record's stream header: what a file or stream says once, not in every frame record.

A frame record (`types.PoseResult.to_record`) holds numbers only; the header names them: the
joint names and bones of the model's skeleton, the target and the key of its subject list
(the target profile's `record_key`), the model, the camera intrinsics and the units. Every sink that starts a
file or a stream sends it first (JSONL: the first line; WebSocket: the first message; UDP: the
first datagram, repeated for listeners that join late; OSC sends its own form of it, the
`/skeleton/joints` and `/skeleton/bones` messages, also repeated: each sink's `HEADER_EVERY_S`).
`record.schema.json` in this package describes both.
"""
from __future__ import annotations

from pathlib import Path

from .skeletons import get_skeleton
from .targets import get_target
from .types import HIDDEN_CONFIDENCE, Intrinsics

SCHEMA = "handpose-live.record/1"
SCHEMA_FILE = Path(__file__).with_name("record.schema.json")


def subjects_key(target: str) -> str:
    """The record's key for the list of subjects: the target profile's `record_key`."""
    return get_target(target).record_key


ORIENTATIONS = ("unit quaternions (w, x, y, z) in camera space; a joint's frame: X along the bone towards its child, "
                "Y its front (out of the palm; out of the chest), Z = X x Y its flexion axis, a leaf: its parent's "
                "(inference/kinematics.py); local_orientations: relative to the parent joint's frame")


VISIBLE = ("per joint, true when the camera sees it: its pixel in the image, nothing measured in front of it, its "
           "heatmap peak not low (inference/visibility.py); a hidden joint's confidence is at most "
           f"{HIDDEN_CONFIDENCE} and its position the fitted skeleton's")


def stream_header(target: str, skeleton: str, model: str = "", intrinsics: Intrinsics | None = None) -> dict:
    """The header of a stream. For skeletons with kinematics also `root` and `parents` (each joint's parent in
    the tree hung from the root, -1 for the root): the hierarchy of the subjects' orientations and of BVH."""
    sk = get_skeleton(skeleton)
    tree = {} if sk.kinematics is None else {"root": sk.kinematics.root, "parents": list(sk.parents())}
    return {
        "schema": SCHEMA,
        "target": get_target(target).name,
        "noun": get_target(target).noun,
        "plural": get_target(target).plural,
        "subjects_key": subjects_key(target),
        "skeleton": sk.name,
        "joint_names": list(sk.joints),
        "bones": [list(b) for b in sk.bones],
        **tree,
        "model": model,
        "intrinsics": None if intrinsics is None else intrinsics.to_dict(),
        "units": {"joints_mm": "millimetres, camera space: x right, y down, z forward",
                  "joints_px": "pixels of the depth image: u right, v down",
                  "timestamp_ms": "milliseconds of the source's clock",
                  "orientations": ORIENTATIONS,
                  "bone_lengths_mm": "millimetres, one per entry of bones",
                  "velocity_mm_s": "millimetres per second, camera space",
                  "palm": "position_mm (camera space), normal (out of the palm) and direction (towards the "
                          "fingers) as unit vectors, width_mm (index to little-finger MCP)",
                  "visible": VISIBLE},
    }


def read_jsonl(path) -> tuple[dict | None, list[dict]]:
    """A JSONL file of `run --output`: (its stream header or None, its frame records). A last line
    cut short by a kill is skipped (every other line is whole: records are written one by one)."""
    import json

    header, frames = None, []
    lines = Path(path).read_text().splitlines()
    for k, line in enumerate(lines):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if k == len(lines) - 1:
                break
            raise
        if "frame" in record:
            frames.append(record)
        elif header is None:
            header = record
    return header, frames


def nearest_subject(record: dict, truth_mm) -> dict | None:
    """The subject of a frame record nearest to true joints [J, 3] (mean joint distance), or None."""
    import numpy as np

    subjects = record.get("hands", record.get("people")) or []
    if not subjects:
        return None
    truth = np.asarray(truth_mm, np.float64)
    return min(subjects, key=lambda s: float(np.linalg.norm(np.asarray(s["joints_mm"], np.float64) - truth, axis=1).mean()))
