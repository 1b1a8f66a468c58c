"""The output record's stream header: what a file or stream says once, not in every frame record.

A frame record (`types.PoseResult.to_record`) holds numbers only; the header names them: the
joint names and bones of the model's skeleton, the target and the key of its subject list
("hands" / "people"), the model, the camera intrinsics and the units. Every sink that starts a
file or a stream sends it first (JSONL: the first line; WebSocket: the first message; OSC and
UDP: on request and every few seconds). `record.schema.json` in this package describes both.
"""
from __future__ import annotations

from pathlib import Path

from .skeletons import get_skeleton
from .targets import get_target
from .types import Intrinsics

SCHEMA = "handpose-live.record/1"
SCHEMA_FILE = Path(__file__).with_name("record.schema.json")


def subjects_key(target: str) -> str:
    """The record's key for the list of subjects: "hands" or "people"."""
    return "people" if get_target(target).name == "body" else "hands"


def stream_header(target: str, skeleton: str, model: str = "", intrinsics: Intrinsics | None = None) -> dict:
    sk = get_skeleton(skeleton)
    return {
        "schema": SCHEMA,
        "target": get_target(target).name,
        "subjects_key": subjects_key(target),
        "skeleton": sk.name,
        "joint_names": list(sk.joints),
        "bones": [list(b) for b in sk.bones],
        "model": model,
        "intrinsics": None if intrinsics is None else intrinsics.to_dict(),
        "units": {"joints_mm": "millimetres, camera space: x right, y down, z forward",
                  "joints_px": "pixels of the depth image: u right, v down",
                  "timestamp_ms": "milliseconds of the source's clock"},
    }
