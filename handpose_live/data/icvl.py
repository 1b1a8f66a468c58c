"""ICVL: 16-bit depth PNGs and text labels in (u, v, d), 16 joints, y down."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..calib import load_intrinsics
from ..errors import UserError
from ..geometry import pixel_to_camera_mm
from .common import BenchmarkDataset, CentreFn, check_split, read_table, require_dir, require_file

ICVL_NUM_JOINTS = 16
ICVL_TEST_FILES = ("test_seq_1.txt", "test_seq_2.txt")


def read_icvl_depth_mm(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise UserError(f"ICVL: cannot read depth image {path}")
    if image.ndim != 2 or image.dtype != np.uint16:
        raise UserError(f"ICVL: {path} is not a 16-bit single-channel depth PNG (shape {image.shape}, {image.dtype})")
    return image.astype(np.float32)


class ICVLDataset(BenchmarkDataset):
    """Train: `<root>/Training/labels.txt` + `Training/Depth/<path>`; test: `<root>/Testing/test_seq_{1,2}.txt`
    + `Testing/Depth/<path>` (the two sequences in that order). Labels are (u, v, d) per joint;
    they become mm with the ICVL camera (calib preset `icvl`), the same one that back-projects
    the depth, so joints and points agree.
    """

    dataset_name = "ICVL"
    skeleton_name = "icvl16"
    cube_mm = 200.0

    def __init__(self, root: Path, split: str = "train", centres_file: Path | None = None,
                 centre_fn: CentreFn | None = None) -> None:
        check_split(split, "ICVL")
        folder_name = "Training" if split == "train" else "Testing"
        folder = require_dir(Path(root) / folder_name, "ICVL", f"the {split} folder")
        label_files = [folder / "labels.txt"] if split == "train" else [folder / f for f in ICVL_TEST_FILES]
        names: list[str] = []
        uvd = []
        for label_file in label_files:
            file_names, values = read_table(require_file(label_file, "ICVL", "label file"), ICVL_NUM_JOINTS * 3,
                                            named=True, what="image path then 16 joints x u v d")
            names += file_names
            uvd.append(values.reshape(-1, ICVL_NUM_JOINTS, 3))
        self.depth_dir = require_dir(folder / "Depth", "ICVL", "the depth image folder")
        self.intrinsics = load_intrinsics("icvl")
        for name in {names[0], names[-1]} if names else ():
            require_file(self.depth_dir / name, "ICVL", "depth image")
        joints = pixel_to_camera_mm(np.concatenate(uvd), self.intrinsics)
        super().__init__(names, joints, split, centres_file, centre_fn)

    def _load_depth_mm(self, row: int) -> np.ndarray:
        return read_icvl_depth_mm(require_file(self.depth_dir / self.frame_ids[row], "ICVL", "depth image"))
