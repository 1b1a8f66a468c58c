"""`run --output take.bvh`: each tracked subject's skeleton as a BVH motion-capture take (Blender, Maya,
MotionBuilder, ...), one file per subject id: the first subject tracked in `take.bvh`, any other in
`take.id<N>.bvh` beside it. A file starts at the frame its subject is first found and ends when it is
lost (a subject found again has a new id: a new file).

- Hierarchy: the skeleton's tree (the stream header's `root` and `parents`; a hand: the wrist, then per
  finger its chain of joints), each joint a JOINT named after it, each leaf (a fingertip, the head, a hand
  or foot) closed by an End Site that continues its bone by a third of its length.
- Channels: every joint has six, `Xposition Yposition Zposition Zrotation Xrotation Yrotation`. A joint's
  rotation is its local orientation (the record's `local_orientations`: its frame relative to its
  parent's) as intrinsic Z, X, Y Euler angles in degrees; its position channels hold its offset from its
  parent in the parent's frame that frame (the root's: its position). So the file's forward kinematics
  are the record's `joints_mm`, exactly, also while the bone lengths are still being estimated (the
  subject's first second) or without the fit; the OFFSETs are the last frame's, the rest armature.
- Axes and units: millimetres, Y up: the camera's (x, y, z) is written as (x, -y, -z). In the rest pose
  (all rotations zero) every joint's frame is the file's axes: each bone along +X, the front (the palm)
  facing +Y: a flat hand along X, palm up (a body's rest pose has every bone along X, limbs included:
  its motion is right, retarget it onto a rig with a T-pose). Blender: File > Import > Motion Capture
  (.bvh) with Scale 0.001 gives metres; README "Motion capture".
- Frame rate: `Frame Time` is the median interval between the take's frames on the source's clock (the
  nominal `fps` until there are two); a frame that comes later than 1.5 intervals (a live camera drops
  frames while the pipeline works) repeats the pose before it, so the take plays at the speed it happened.

A take being recorded survives a kill: the file is written under its final name as the run goes (like
the JSONL and CSV records, `sinks/files.py`), one whole frame line per write(2), and the header has a
fixed width, so its frame count and frame time are rewritten in place after every frame line and its
OFFSETs on close. A kill leaves a take whose count is its whole lines (the count is written after the
line), which Blender imports; at most a last line cut by a power cut is beyond the count.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ..errors import UserError
from ..fileio import describe_os_error
from ..types import DepthFrame, PoseResult, Subject
from .base import Sink
from .files import _fsync, check_writable_target, open_stream

FILE_AXES = np.array([1.0, -1.0, -1.0])    # camera (x right, y down, z forward) -> the file's Y up
END_SITE_FRACTION = 1.0 / 3.0              # a leaf's End Site continues its bone by this fraction of its length
CHANNELS = "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
NUMBER = "{:12.4f}"                         # the header's numbers: fixed width, rewritten in place


def take_path(path: Path, subject_id: int, first: bool) -> Path:
    """The file of a subject: `path` for the first one tracked, `<stem>.id<N>.bvh` beside it for the others."""
    return path if first else path.with_name(f"{path.stem}.id{subject_id}{path.suffix}")


def depth_first(parents: list[int], root: int) -> list[int]:
    """The joints in the file's order: depth first from the root, children in index order."""
    order, todo = [], [root]
    while todo:
        j = todo.pop()
        order.append(j)
        todo.extend(sorted((c for c, p in enumerate(parents) if p == j), reverse=True))
    return order


def motion_values(joints_mm: np.ndarray, orientations: np.ndarray, parents: list[int], order: list[int]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One frame's channels: per joint of `order` (position [3] mm, Z X Y Euler degrees [3]), file axes."""
    rot = Rotation.from_quat(np.asarray(orientations, np.float64)[:, [1, 2, 3, 0]]).as_matrix()   # joint frames
    joints = np.nan_to_num(np.asarray(joints_mm, np.float64))
    par = np.array([max(p, 0) for p in parents])
    loc = np.einsum("jki,jk->ji", rot[par], joints - joints[par])           # offset in the parent's frame
    local = np.einsum("jki,jkl->jil", rot[par], rot)                         # parent^T joint
    root = [j for j, p in enumerate(parents) if p < 0]
    loc[root] = joints[root] * FILE_AXES                                     # the root: position and frame in
    local[root] = FILE_AXES[:, None] * rot[root]                             # the file's axes
    euler = Rotation.from_matrix(local).as_euler("ZXY", degrees=True)
    return loc[order], euler[order]


def forward_kinematics(positions: np.ndarray, euler_deg: np.ndarray, parents_in_order: list[int]) -> np.ndarray:
    """Joint positions (file axes) of one frame from its channels (per joint in file order: position,
    Z X Y Euler degrees) and each joint's parent as an index into that order (-1: the root)."""
    rots = Rotation.from_euler("ZXY", euler_deg, degrees=True).as_matrix()
    glob = np.empty_like(rots)
    out = np.empty_like(positions)
    for k, p in enumerate(parents_in_order):
        if p < 0:
            glob[k], out[k] = rots[k], positions[k]
        else:
            glob[k], out[k] = glob[p] @ rots[k], out[p] + glob[p] @ positions[k]
    return out


class _Take:
    """One subject's file: the header once its first frame is known, then a line per frame."""

    def __init__(self, file, path: Path, names: list[str], parents: list[int], root: int, fps: float) -> None:
        self.file, self.path, self.names, self.parents = file, path, names, parents
        self.order = depth_first(parents, root)
        self.fps = fps
        self.frames = 0
        self.intervals: list[float] = []
        self._last_ms: float | None = None
        self._last_line = ""
        self._offsets: np.ndarray | None = None
        self._header_bytes = 0
        self._count_at = 0
        self._written = 0
        self._seekable = stat.S_ISREG(os.fstat(file.fileno()).st_mode)    # not a pipe: the header is rewritten

    def frame_time(self) -> float:
        return float(np.median(self.intervals)) / 1000.0 if self.intervals else 1.0 / self.fps

    def header(self, offsets: np.ndarray) -> str:
        """The hierarchy and MOTION lines; the same length whatever its numbers (rewritten in place)."""
        pos = {j: k for k, j in enumerate(self.order)}
        lines = ["HIERARCHY"]
        stack: list[int] = []
        for j in self.order:
            parent = self.parents[j]
            while stack and stack[-1] != parent:
                stack.pop()
                lines.append("  " * len(stack) + "}")
            pad = "  " * len(stack)
            off = offsets[pos[j]] if parent >= 0 else np.zeros(3)
            lines += [pad + ("ROOT " if parent < 0 else "JOINT ") + self.names[j], pad + "{",
                      pad + "  OFFSET " + " ".join(NUMBER.format(v) for v in np.round(off, 4) + 0.0),
                      pad + "  " + CHANNELS]
            if not any(p == j for p in self.parents):
                end = np.array([END_SITE_FRACTION * float(np.linalg.norm(off)), 0.0, 0.0])
                lines += [pad + "  End Site", pad + "  {", pad + "    OFFSET " + " ".join(NUMBER.format(v) for v in end),
                          pad + "  }"]
            stack.append(j)
        while stack:
            stack.pop()
            lines.append("  " * len(stack) + "}")
        lines.append("MOTION")
        self._count_at = len("\n".join(lines)) + 1
        return "\n".join(lines) + "\n" + self._count_lines()

    def _count_lines(self) -> str:
        return f"Frames: {self.frames:10d}\nFrame Time: {self.frame_time():12.9f}\n"

    def add(self, t_ms: float, subject: Subject) -> None:
        assert subject.orientations is not None
        loc, euler = motion_values(subject.joints_mm, subject.orientations, self.parents, self.order)
        values = np.round(np.concatenate([loc, euler], axis=1), 4) + 0.0      # + 0.0: no "-0.0000"
        line = " ".join(f"{v:.4f}" for v in values.ravel()) + "\n"
        if self._offsets is None:
            self._offsets = loc
            self._write(self.header(loc))
            self._header_bytes = self._written
        repeats = 0
        if self._last_ms is not None:
            dt = t_ms - self._last_ms
            if len(self.intervals) >= 3 and dt > 1.5 * 1000.0 * self.frame_time():
                repeats = int(round(dt / (1000.0 * self.frame_time()))) - 1
            if dt > 0 and len(self.intervals) < 1000:
                self.intervals.append(dt / (repeats + 1))
        self._write(self._last_line * repeats + line)
        self._offsets, self._last_line, self._last_ms = loc, line, t_ms
        self.frames += repeats + 1
        self._rewrite(self._count_at, self._count_lines())

    def _write(self, text: str) -> None:
        data = memoryview(text.encode("ascii"))
        try:
            while data:
                n = self.file.write(data)
                self._written += n
                data = data[n:]
        except OSError as exc:
            raise UserError(f"cannot write {self.path}: {describe_os_error(exc)} "
                            f"({self.frames} frames written before are kept)") from None

    def _rewrite(self, offset: int, text: str) -> None:
        if not self._seekable:
            return
        try:
            os.pwrite(self.file.fileno(), text.encode("ascii"), offset)
        except OSError as exc:
            raise UserError(f"cannot write {self.path}: {describe_os_error(exc)}") from None

    def close(self) -> None:
        try:
            if self._offsets is not None:
                text = self.header(self._offsets)
                if len(text.encode("ascii")) == self._header_bytes:
                    self._rewrite(0, text)
            _fsync(self.file)
        except OSError as exc:
            raise UserError(f"cannot write {self.path}: {describe_os_error(exc)}") from None
        finally:
            self.file.close()


class BvhWriter(Sink):
    """The BVH takes of a run (module docstring); `fps`: the source's nominal rate, until frames tell."""

    def __init__(self, path, fps: float = 30.0) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".bvh":
            raise UserError(f"unsupported output file {self.path}: a BVH take is named *.bvh")
        check_writable_target(self.path)
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.takes: dict[int, _Take] = {}
        self._main = open_stream(self.path)       # now: a second run on the same file fails before any frame
        self._first: int | None = None
        self._closed = False
        self.names: list[str] = []
        self.parents: list[int] = []
        self.root = 0

    def begin(self, header: dict) -> None:
        if not header.get("parents"):
            raise UserError(f"{self.path.name}: a BVH take needs a skeleton with a kinematic tree "
                            f"(the shipped hand and body models); {header.get('skeleton', 'this one')} has none")
        self.names = [str(n).replace(" ", "_") for n in header["joint_names"]]
        self.parents = [int(p) for p in header["parents"]]
        self.root = int(header.get("root", self.parents.index(-1)))

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        if self._closed:
            raise ValueError(f"BvhWriter for {self.path} is closed")
        for subject in result.subjects:
            if subject.orientations is None or not self.parents:
                continue
            take = self.takes.get(subject.id)
            if take is None:
                first = self._first is None
                path = take_path(self.path, subject.id, first)
                file = self._main if first else open_stream(path)
                if first:
                    self._first = subject.id
                take = self.takes[subject.id] = _Take(file, path, self.names, self.parents, self.root, self.fps)
            take.add(result.timestamp_ms, subject)

    @property
    def paths(self) -> list[Path]:
        return [t.path for t in self.takes.values()]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        first_error: Exception | None = None
        for take in self.takes.values():
            try:
                take.close()
            except Exception as exc:
                first_error = first_error or exc
        if self._first is None:
            self._main.close()           # no subject was tracked: an empty file
        if first_error is not None:
            raise first_error
