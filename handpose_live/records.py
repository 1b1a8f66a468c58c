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
from .types import Intrinsics

SCHEMA = "handpose-live.record/1"
SCHEMA_FILE = Path(__file__).with_name("record.schema.json")


def subjects_key(target: str) -> str:
    """The record's key for the list of subjects: the target profile's `record_key`."""
    return get_target(target).record_key


def stream_header(target: str, skeleton: str, model: str = "", intrinsics: Intrinsics | None = None) -> dict:
    sk = get_skeleton(skeleton)
    return {
        "schema": SCHEMA,
        "target": get_target(target).name,
        "noun": get_target(target).noun,
        "plural": get_target(target).plural,
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
