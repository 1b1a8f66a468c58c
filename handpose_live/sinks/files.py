"""Per-frame records on disk (.jsonl, .csv), published atomically.

Records go to a hidden temp file beside the target and are flushed every frame, so a crash
never leaves a half file under the final name; `close` (also reached from `with` on an
exception or Ctrl-C, and at interpreter exit if nobody closed) renames it into place, so
nothing recorded is lost.
"""
from __future__ import annotations

import atexit
import csv
import json
import math
import os
import secrets
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..types import DepthFrame, PoseResult
from .base import Sink


def temp_path_beside(path: Path) -> Path:
    """A hidden, unique name in the target's folder (same filesystem, so os.replace is atomic).

    The suffix is kept so tools that pick a format by extension (cv2) still work.
    """
    return path.with_name(f".{path.stem}.{secrets.token_hex(4)}.part{path.suffix}")


def check_writable_target(path: Path) -> None:
    """Raise a one-line UserError unless a file can be created under `path`'s name."""
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise UserError(f"cannot write {path}: directory {parent} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"cannot write {path}: permission denied")


def create_temp_beside(path: Path) -> Path:
    """Create (empty) and return a temp file beside `path`; fail with a one-line UserError."""
    path = Path(path)
    check_writable_target(path)
    temp = temp_path_beside(path)
    try:
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return temp


def publish(temp: Path, path: Path) -> None:
    """Move a finished temp file under its final name (atomic on one filesystem)."""
    try:
        os.replace(temp, path)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def _finite_or_none(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    return value


def record_json(result: PoseResult) -> str:
    """`result.to_record()` as strict JSON on one line (NaN/inf become null, which JSON allows)."""
    record = result.to_record()
    try:
        return json.dumps(record, allow_nan=False)
    except ValueError:
        return json.dumps(_finite_or_none(record), allow_nan=False)


class _AtomicTextSink(Sink):
    """A text file written through a temp file and published on close."""

    def __init__(self, path) -> None:
        self.path = Path(path)
        self._temp = create_temp_beside(self.path)
        self._file = open(self._temp, "w", encoding="utf-8", newline="")
        self._closed = False
        atexit.register(self.close)

    def _write_text(self, text: str) -> None:
        if self._closed:
            raise ValueError(f"{type(self).__name__} for {self.path} is closed")
        self._file.write(text)
        self._file.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        publish(self._temp, self.path)


class JsonlWriter(_AtomicTextSink):
    """One JSON object per line, exactly `PoseResult.to_record()`."""

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        self._write_text(record_json(result) + "\n")


def csv_columns(num_joints: int) -> list[str]:
    return (["frame", "timestamp_ms", "hand_found", "center_x_mm", "center_y_mm", "center_z_mm"]
            + [f"j{j}_{axis}_mm" for j in range(num_joints) for axis in "xyz"]
            + [f"conf_j{j}" for j in range(num_joints)])


def _cells(values, count: int) -> list:
    """Rounded numbers, or empty cells when the value is missing (no hand)."""
    if values is None:
        return [""] * count
    flat = np.asarray(values, dtype=np.float64).reshape(-1).tolist()
    if len(flat) != count:
        raise ValueError(f"expected {count} values for the CSV row, got {len(flat)}")
    return ["" if not math.isfinite(v) else round(v, 3) for v in flat]


class CsvWriter(_AtomicTextSink):
    """One row per frame, joints flattened to j{k}_{x,y,z}_mm columns, then conf_j{k}."""

    def __init__(self, path, num_joints: int) -> None:
        super().__init__(path)
        self.num_joints = int(num_joints)
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._csv.writerow(csv_columns(self.num_joints))
        self._file.flush()

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        j = self.num_joints
        row = [int(result.frame_index), round(float(result.timestamp_ms), 3), int(bool(result.hand_found))]
        row += _cells(result.centre_mm, 3) + _cells(result.joints_mm, 3 * j) + _cells(result.confidence, j)
        if self._closed:
            raise ValueError(f"CsvWriter for {self.path} is closed")
        self._csv.writerow(row)
        self._file.flush()


def open_output(path, num_joints: int) -> Sink:
    """The record writer for `path`'s suffix: .jsonl or .csv."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return JsonlWriter(path)
    if suffix == ".csv":
        return CsvWriter(path, num_joints)
    raise UserError(f"unsupported output file {path}: use a .jsonl or .csv name")
