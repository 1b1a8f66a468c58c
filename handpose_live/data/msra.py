"""MSRA 2015: cropped float32 `.bin` depth and `joint.txt` (xyz mm, y up, z stored negative), 21 joints.

The protocol is leave-one-subject-out: `test_subject` is the test split, the other eight
subjects are the train split.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..calib import load_intrinsics
from ..errors import UserError
from ..geometry import DATASET_Y_UP, flip_y
from .common import BenchmarkDataset, CentreFn, check_split, read_table, require_dir, require_file

MSRA_SUBJECTS = tuple(f"P{k}" for k in range(9))
MSRA_GESTURES = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "I", "IP", "L", "MP", "RP", "T", "TIP", "Y")
MSRA_NUM_JOINTS = 21
_HEADER_INT32 = 6


def read_msra_bin_mm(path: Path, width: int = 320, height: int = 240) -> np.ndarray:
    """6 int32 (width, height, left, top, right, bottom; end exclusive), then the float32 crop."""
    raw = np.fromfile(str(path), dtype="<u1")
    if raw.size < _HEADER_INT32 * 4:
        raise UserError(f"MSRA: {path} is too short for the 6-int32 header ({raw.size} bytes)")
    w, h, left, top, right, bottom = (int(v) for v in raw[:_HEADER_INT32 * 4].view("<i4"))
    crop = raw[_HEADER_INT32 * 4:]
    expected = (right - left) * (bottom - top)
    if (w, h) != (width, height) or not (0 <= left < right <= w and 0 <= top < bottom <= h) \
            or crop.size != expected * 4:
        raise UserError(f"MSRA: {path} has header {w}x{h} crop [{left}:{right}, {top}:{bottom}] but "
                        f"{crop.size // 4} depth values (expected {width}x{height} and {max(expected, 0)} values)")
    depth = np.zeros((h, w), np.float32)
    depth[top:bottom, left:right] = crop.view("<f4").reshape(bottom - top, right - left)
    return depth


def read_msra_joints(path: Path) -> np.ndarray:
    """`joint.txt` -> [N, 21, 3] mm in our convention (z negated, y flipped)."""
    path = require_file(path, "MSRA", "label file")
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline().strip()
    if not first.isdigit():
        raise UserError(f"{path} line 1: expected the frame count, found '{first[:40]}'")
    _, values = read_table(path, MSRA_NUM_JOINTS * 3, what="21 joints x x y z", skip_first_line=True)
    if len(values) != int(first):
        raise UserError(f"MSRA: {path} announces {int(first)} frames but holds {len(values)} label lines")
    joints = values.reshape(-1, MSRA_NUM_JOINTS, 3)
    joints[..., 2] = -joints[..., 2]
    return flip_y(joints) if DATASET_Y_UP["msra"] else joints


class MSRADataset(BenchmarkDataset):
    """`<root>/P<k>/<gesture>/joint.txt` + `<n:06d>_depth.bin` (n 0-based).

    Frame order (also the order of a centres file): subjects ascending, gestures in
    `MSRA_GESTURES` order (those present), frames ascending. Frame ids are `P<k>/<gesture>/<n>`.
    """

    dataset_name = "MSRA"
    skeleton_name = "msra21"
    cube_mm = 200.0

    def __init__(self, root: Path, split: str = "train", centres_file: Path | None = None,
                 centre_fn: CentreFn | None = None, test_subject: str = "P0") -> None:
        check_split(split, "MSRA")
        if test_subject not in MSRA_SUBJECTS:
            raise UserError(f"MSRA: test_subject must be one of {', '.join(MSRA_SUBJECTS)}, not '{test_subject}'")
        self.root = require_dir(Path(root), "MSRA", "the dataset folder (P0..P8)")
        self.test_subject = test_subject
        subjects = [test_subject] if split == "test" else [s for s in MSRA_SUBJECTS if s != test_subject]
        ids: list[str] = []
        joints = []
        for subject in subjects:
            subject_dir = require_dir(self.root / subject, "MSRA", f"subject {subject}")
            gestures = [g for g in MSRA_GESTURES if (subject_dir / g).is_dir()]
            if not gestures:
                raise UserError(f"MSRA: expected gesture folders ({', '.join(MSRA_GESTURES)}) in {subject_dir}")
            for gesture in gestures:
                labels = read_msra_joints(subject_dir / gesture / "joint.txt")
                for n in {0, len(labels) - 1} if len(labels) else ():
                    require_file(subject_dir / gesture / f"{n:06d}_depth.bin", "MSRA", "depth file")
                ids += [f"{subject}/{gesture}/{n:06d}" for n in range(len(labels))]
                joints.append(labels)
        self.intrinsics = load_intrinsics("msra")
        super().__init__(ids, np.concatenate(joints), split, centres_file, centre_fn)

    def _load_depth_mm(self, row: int) -> np.ndarray:
        path = require_file(self.root / f"{self.frame_ids[row]}_depth.bin", "MSRA", "depth file")
        return read_msra_bin_mm(path, self.intrinsics.width, self.intrinsics.height)
