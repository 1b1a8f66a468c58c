"""What the benchmark loaders share: label-table parsing, centre sources and the cube crop.

Each loader only knows its own file layout; turning a depth image, labels and a centre into
a `Sample` is the same for all of them and lives in `BenchmarkDataset`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import UserError
from ..fileio import read_text
from ..geometry import DATASET_Y_UP, cube_roi_px, depth_to_points_mm, flip_y
from ..types import Intrinsics
from .base import PoseDataset, Sample

# A centre source: (depth_mm [H, W], intrinsics, ground-truth joints_mm [J, 3]) -> centre_mm [3] or
# None (= fall back to the joints' box centre). Ground-truth sources ignore the depth; the live
# app's estimator ignores the joints.
CentreFn = Callable[[np.ndarray, Intrinsics, np.ndarray], Optional[np.ndarray]]


def joints_box_centre(depth_mm: np.ndarray, intrinsics: Intrinsics, joints_mm: np.ndarray) -> np.ndarray:
    """Centre of the joints' bounding box: every joint then lies as far inside the cube as it can."""
    joints = np.asarray(joints_mm, np.float64)
    return ((joints.min(axis=0) + joints.max(axis=0)) / 2.0).astype(np.float32)


def require_dir(path: Path, dataset: str, what: str) -> Path:
    if not Path(path).is_dir():
        raise UserError(f"{dataset}: expected {what} at {path} (folder not found)")
    return Path(path)


def require_file(path: Path, dataset: str, what: str = "") -> Path:
    if not Path(path).is_file():
        label = f"{what} " if what else ""
        raise UserError(f"{dataset}: expected {label}{path} (file not found)")
    return Path(path)


def read_table(path: Path, values_per_line: int, *, named: bool = False, what: str = "values",
               skip_first_line: bool = False) -> tuple[list[str], np.ndarray]:
    """Parse a whitespace-separated text table into ([names], [N, values_per_line] float64).

    Streams line by line (HANDS2017 has ~1M lines) so an error names the exact line. `named`
    means each line starts with a file name; trailing blank lines and `\\r`s are ignored.
    """
    path = Path(path)
    lines = read_text(path).split("\n")  # not splitlines(): ICVL ends lines with "\r\r\n", one line each
    first = 1 if skip_first_line else 0
    while len(lines) > first and not lines[-1].strip():
        lines.pop()
    rows = lines[first:]
    width = values_per_line + (1 if named else 0)
    names: list[str] = []
    values = np.empty((len(rows), values_per_line), np.float64)
    for i, line in enumerate(rows):
        tokens = line.split()
        if len(tokens) != width:
            raise UserError(f"{path} line {i + first + 1}: expected {width} fields ({what}), found {len(tokens)}")
        if named:
            names.append(tokens[0])
            tokens = tokens[1:]
        try:
            values[i] = tokens
        except ValueError:
            bad = next(t for t in tokens if not _is_number(t))
            raise UserError(f"{path} line {i + first + 1}: '{bad}' is not a number") from None
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        raise UserError(f"{path} line {int(np.argmin(finite)) + first + 1}: non-finite value")
    return names, values


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_centres(path: Path, count: int, dataset: str) -> np.ndarray:
    """Published per-frame reference points -> [count, 3] float32 in OUR convention, NaN = invalid.

    One line per frame of the split, in the loader's frame order, before any filtering: `x y z`
    in mm in the dataset's own 3D convention (y up for NYU, MSRA and ITOP; MSRA's z may be
    stored negative) or the word `invalid`.
    """
    path = Path(path)
    lines = read_text(path, f"{dataset}: centres file").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != count:
        raise UserError(f"{dataset}: centres file {path} has {len(lines)} lines but the split has {count} frames")
    centres = np.full((count, 3), np.nan, np.float64)
    for i, line in enumerate(lines):
        tokens = line.split()
        if tokens and tokens[0].lower() == "invalid":
            continue
        if len(tokens) != 3 or not all(_is_number(t) for t in tokens):
            raise UserError(f"{path} line {i + 1}: expected 'x y z' or 'invalid', found '{line.strip()[:60]}'")
        centres[i] = [float(t) for t in tokens]
    if dataset.lower() == "msra":
        centres[:, 2] = np.abs(centres[:, 2])
    if DATASET_Y_UP.get(dataset.lower(), False):
        centres = flip_y(centres)
    return centres.astype(np.float32)


class BenchmarkDataset(PoseDataset):
    """Frames with labels in our convention; subclasses only read one depth image in mm.

    Frames with an `invalid` published centre are dropped from the train split; in the test
    split they stay (so frame order matches the ground truth) and use `centre_fn` instead.
    """

    dataset_name: str = ""
    intrinsics: Intrinsics

    def __init__(self, frame_ids: list[str], joints_mm: np.ndarray, split: str, centres_file: Path | None,
                 centre_fn: CentreFn | None, keep: np.ndarray | None = None) -> None:
        if len(frame_ids) != len(joints_mm):
            raise UserError(f"{self.dataset_name}: {len(frame_ids)} frames but {len(joints_mm)} labels")
        self.split = split
        self.frame_ids = list(frame_ids)
        self.joints_mm = np.asarray(joints_mm, np.float32)
        self.centre_fn = centre_fn or joints_box_centre
        self.file_centres_mm = None if centres_file is None else read_centres(centres_file, len(frame_ids),
                                                                              self.dataset_name)
        rows = np.ones(len(frame_ids), bool) if keep is None else np.asarray(keep, bool).copy()
        if self.file_centres_mm is not None and split == "train":
            rows &= np.isfinite(self.file_centres_mm).all(axis=1)
        self.rows = np.nonzero(rows)[0]

    def __len__(self) -> int:
        return len(self.rows)

    def _load_depth_mm(self, row: int) -> np.ndarray:
        """[H, W] float32 depth in mm (0 = no measurement) of frame `row` (index before filtering)."""
        raise NotImplementedError

    def centre_of(self, row: int, depth_mm: np.ndarray) -> np.ndarray:
        if self.file_centres_mm is not None and np.isfinite(self.file_centres_mm[row]).all():
            return self.file_centres_mm[row]
        centre = self.centre_fn(depth_mm, self.intrinsics, self.joints_mm[row])
        if centre is None:
            centre = joints_box_centre(depth_mm, self.intrinsics, self.joints_mm[row])
        return np.asarray(centre, np.float32)

    def __getitem__(self, index: int) -> Sample:
        if not -len(self.rows) <= index < len(self.rows):
            raise IndexError(index)
        row = int(self.rows[index])
        depth_mm = self._load_depth_mm(row)
        centre = self.centre_of(row, depth_mm)
        half = self.cube_mm / 2.0
        roi = cube_roi_px(centre, self.cube_mm, self.intrinsics)
        points = depth_to_points_mm(depth_mm, self.intrinsics, roi_px=roi,
                                    z_range_mm=(float(centre[2]) - half, float(centre[2]) + half))
        return Sample(points_mm=points, joints_mm=self.joints_mm[row].copy(), centre_mm=centre.copy(),
                      frame_id=self.frame_ids[row])


def check_split(split: str, dataset: str) -> str:
    if split not in ("train", "test"):
        raise UserError(f"{dataset}: split must be 'train' or 'test', not '{split}'")
    return split
