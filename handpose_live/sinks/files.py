"""Per-frame records on disk (.jsonl, .csv), streamed under the name the user asked for.

A record file is the user's data growing as the run goes, not a whole artefact: a hidden temp
file renamed on close would lose every record to a SIGKILL, a crash or a power cut. So the file
is opened under its final name (through a symlink, which stays a link), every record is flushed
to the OS as soon as it is written, and the file is fsynced on close: any kill leaves every
completed record readable under that name, at most the last line cut. A write that fails (full
disk, file-size limit) stops the run with a one-line `UserError`; what was written stays.
Whole artefacts (screenshots) go through `fileio.atomic_path` instead.
"""
from __future__ import annotations

import csv
import errno
import fcntl
import io
import json
import math
import os
import stat
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..fileio import describe_os_error
from ..types import DepthFrame, PoseResult
from .base import Sink


def check_writable_target(path: Path) -> None:
    """Raise a one-line UserError unless a file can be written under `path`'s name.

    For outputs that are only written later (a screenshot at the end, a video from the first
    frame), so that a bad path fails before any frame is processed.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise UserError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"cannot write {path}: permission denied")


def open_stream(path: Path) -> io.FileIO:
    """Open (create or truncate) `path` under its own name, unbuffered, or a one-line UserError.

    The file is locked (flock, exclusive) for as long as it is open, and truncated only once the
    lock is held: a second run writing the same file is refused in one line instead of both
    interleaving and losing records. A FIFO is opened without blocking: with no reader at the
    other end that is a one-line error, not a run hung in open(2) that Ctrl-C cannot end.
    """
    check_writable_target(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise UserError(f"cannot write {path}: it is a FIFO (named pipe) with no reader") from None
        raise UserError(f"cannot write {path}: {describe_os_error(exc)}") from None
    try:
        os.set_blocking(fd, True)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise UserError(f"cannot write {path}: another process (a second run?) is writing it") from None
            # a filesystem without locks (some network mounts): written unlocked, as before
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.ftruncate(fd, 0)
        return open(fd, "wb", buffering=0)
    except OSError as exc:
        os.close(fd)
        raise UserError(f"cannot write {path}: {describe_os_error(exc)}") from None
    except BaseException:
        os.close(fd)
        raise


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


class _StreamSink(Sink):
    """A text file written under its final name, one record per write(2) call.

    Unbuffered, so a record is in the OS as soon as `write` returns and nothing is left in a
    Python buffer to be retried (or lost) after a failed write.
    """

    def __init__(self, path) -> None:
        self.path = Path(path)
        self.records = 0
        self._file = open_stream(self.path)
        self._closed = False

    def _write_text(self, text: str, record: bool = True) -> None:
        if self._closed:
            raise ValueError(f"{type(self).__name__} for {self.path} is closed")
        data = memoryview(text.encode("utf-8"))
        try:
            while data:
                data = data[self._file.write(data):]
        except OSError as exc:
            self._closed = True
            self._file.close()
            raise UserError(f"cannot write {self.path}: {describe_os_error(exc)} "
                            f"({self.records} records written before are kept)") from None
        self.records += int(record)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            _fsync(self._file)
        except OSError as exc:
            raise UserError(f"cannot write {self.path}: {describe_os_error(exc)}") from None
        finally:
            self._file.close()


def _fsync(file) -> None:
    """fsync, except where there is nothing to sync: a pipe or a device (an output linked to /dev/null)."""
    try:
        os.fsync(file.fileno())
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise


class JsonlWriter(_StreamSink):
    """The stream header (`records.stream_header`) on the first line, then one frame record
    (`PoseResult.to_record()`) per line; frame lines are the ones with a "frame" key."""

    def begin(self, header: dict) -> None:
        self._write_text(json.dumps(_finite_or_none(header), allow_nan=False) + "\n", record=False)

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        self._write_text(record_json(result) + "\n")


SUBJECT_COLUMNS = ["id", "handedness", "handedness_score", "score", "pinch", "grab",
                   "centre_x_mm", "centre_y_mm", "centre_z_mm"]


MOTION_COLUMNS = ([f"palm_{axis}_mm" for axis in "xyz"] + [f"palm_normal_{axis}" for axis in "xyz"]
                  + [f"palm_direction_{axis}" for axis in "xyz"] + ["palm_width_mm"]
                  + [f"velocity_{axis}_mm_s" for axis in "xyz"])


def csv_columns(joint_names, bones=None, visible: bool = False) -> list[str]:
    """frame, timestamp_ms, subjects (found in the frame), the subject's fields, per joint <name>_{x,y,z}_mm,
    then, for a skeleton with kinematics (`bones` given: the header has its tree), per joint its orientation
    <name>_q{w,x,y,z} and its local one <name>_local_q{w,x,y,z}, the palm (palm_{x,y,z}_mm,
    palm_normal_{x,y,z}, palm_direction_{x,y,z}, palm_width_mm; empty for bodies), velocity_{x,y,z}_mm_s and
    per bone bone_<joint>_<joint>_mm, then per joint <name>_{u,v}_px and <name>_conf, and last, when the
    stream has visibility (`visible`: its header's units name it), per joint <name>_visible (1 seen, 0 hidden):
    after every older column, so readers that count columns keep theirs."""
    names = list(joint_names)
    motion = [] if bones is None else ([f"{n}_q{axis}" for n in names for axis in "wxyz"]
                                       + [f"{n}_local_q{axis}" for n in names for axis in "wxyz"]
                                       + MOTION_COLUMNS + [f"bone_{names[a]}_{names[b]}_mm" for a, b in bones])
    return (["frame", "timestamp_ms", "subjects"] + SUBJECT_COLUMNS
            + [f"{n}_{axis}_mm" for n in names for axis in "xyz"] + motion
            + [f"{n}_{axis}_px" for n in names for axis in "uv"]
            + [f"{n}_conf" for n in names] + ([f"{n}_visible" for n in names] if visible else []))


def _cells(values, count: int, digits: int = 3) -> list:
    """Rounded numbers, or empty cells when the value is missing."""
    if values is None:
        return [""] * count
    flat = np.asarray(values, dtype=np.float64).reshape(-1).tolist()
    if len(flat) != count:
        raise ValueError(f"expected {count} values for the CSV row, got {len(flat)}")
    return ["" if not math.isfinite(v) else round(v, digits) for v in flat]


def _flags(values, count: int) -> list:
    """1 / 0 per value, or empty cells when the values are missing."""
    if values is None:
        return [""] * count
    flat = np.asarray(values).reshape(-1)
    if len(flat) != count:
        raise ValueError(f"expected {count} values for the CSV row, got {len(flat)}")
    return [int(bool(v)) for v in flat]


def _csv_line(cells: list) -> str:
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(cells)
    return line.getvalue()


class CsvWriter(_StreamSink):
    """One row per subject and frame (a frame with none: one row with empty subject cells), with
    the joint names of the stream header in the column names (j0, j1, ... without a header)."""

    def __init__(self, path, num_joints: int) -> None:
        super().__init__(path)
        self.num_joints = int(num_joints)
        self.num_bones: int | None = None        # with the skeleton's columns: its bones (kinematics)
        self.visible = False                     # with the <name>_visible columns (the header's units name "visible")
        self._started = False

    def begin(self, header: dict) -> None:
        names = header.get("joint_names") or []
        ok = len(names) == self.num_joints
        tree = ok and bool(header.get("parents"))
        visible = "visible" in (header.get("units") or {})
        self._start(names if ok else None, [tuple(b) for b in header.get("bones") or []] if tree else None, visible)

    def _start(self, names, bones=None, visible: bool = False) -> None:
        if not self._started:
            self._started = True
            self.num_bones = None if bones is None else len(bones)
            self.visible = visible
            self._write_text(_csv_line(csv_columns(names or [f"j{k}" for k in range(self.num_joints)], bones,
                                                   visible)), record=False)

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        self._start(None)
        j = self.num_joints
        head = [int(result.frame_index), round(float(result.timestamp_ms), 3), len(result.subjects)]
        text = ""
        for s in result.subjects or [None]:
            motion = 0 if self.num_bones is None else 8 * j + len(MOTION_COLUMNS) + self.num_bones
            if s is None:
                row = head + [""] * (len(SUBJECT_COLUMNS) + 6 * j + motion + (j if self.visible else 0))
            else:
                row = head + [s.id, s.handedness or "", _number(s.handedness_score), _number(s.score),
                              _number(s.pinch), _number(s.grab)]
                row += _cells(s.centre_mm, 3) + _cells(s.joints_mm, 3 * j)
                if self.num_bones is not None:
                    row += _motion_cells(s, j, self.num_bones)
                row += _cells(s.joints_px, 2 * j) + _cells(s.record_confidence(), j)
                if self.visible:
                    row += _flags(s.visible, j)
            text += _csv_line(row)
        self._write_text(text)

    def close(self) -> None:
        if not self._closed:
            self._start(None)     # a run with no frame still leaves the column names
        super().close()


def _motion_cells(s, joints: int, bones: int) -> list:
    """The skeleton's cells of a subject: orientations, palm, velocity, bone lengths (csv_columns)."""
    palm = s.palm
    lengths = s.bone_lengths_mm
    return (_cells(s.orientations, 4 * joints, 5) + _cells(s.local_orientations, 4 * joints, 5)
            + _cells(None if palm is None else palm.position_mm, 3) + _cells(None if palm is None else palm.normal, 3, 5)
            + _cells(None if palm is None else palm.direction, 3, 5) + [_number(None if palm is None else palm.width_mm)]
            + _cells(s.velocity_mm_s, 3) + _cells(lengths if lengths is not None and len(lengths) == bones else None, bones))


def _number(value) -> object:
    return "" if value is None or not math.isfinite(float(value)) else round(float(value), 4)


def open_output(path, num_joints: int) -> Sink:
    """The record writer for `path`'s suffix: .jsonl or .csv."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return JsonlWriter(path)
    if suffix == ".csv":
        return CsvWriter(path, num_joints)
    raise UserError(f"unsupported output file {path}: use a .jsonl or .csv name (or .mcap, .bvh)")
