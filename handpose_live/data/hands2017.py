"""HANDS 2017 (BigHand2.2M): 16-bit depth PNGs and `Training_Annotation.txt` (xyz mm, y down), 21 joints.

Only the training set has public labels, so only `split="train"` exists.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..calib import load_intrinsics
from ..errors import UserError
from .common import BenchmarkDataset, CentreFn, check_split, read_table, require_dir, require_file

HANDS2017_NUM_JOINTS = 21


class Hands2017Dataset(BenchmarkDataset):
    """`<root>/training/Training_Annotation.txt` + `<root>/training/images/image_D<n:08d>.png`."""

    dataset_name = "HANDS2017"
    skeleton_name = "hands2017_21"
    cube_mm = 250.0

    def __init__(self, root: Path, split: str = "train", centres_file: Path | None = None,
                 centre_fn: CentreFn | None = None) -> None:
        check_split(split, "HANDS2017")
        if split != "train":
            raise UserError("HANDS2017: test labels are not public; only split 'train' is available")
        folder = require_dir(Path(root) / "training", "HANDS2017", "the training folder")
        names, values = read_table(require_file(folder / "Training_Annotation.txt", "HANDS2017", "label file"),
                                   HANDS2017_NUM_JOINTS * 3, named=True, what="image name then 21 joints x x y z")
        self.image_dir = require_dir(folder / "images", "HANDS2017", "the image folder")
        for name in {names[0], names[-1]} if names else ():
            require_file(self.image_dir / name, "HANDS2017", "depth image")
        self.intrinsics = load_intrinsics("hands2017")
        super().__init__(names, values.reshape(-1, HANDS2017_NUM_JOINTS, 3), split, centres_file, centre_fn)

    def _load_depth_mm(self, row: int) -> np.ndarray:
        path = require_file(self.image_dir / self.frame_ids[row], "HANDS2017", "depth image")
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None or image.ndim != 2 or image.dtype != np.uint16:
            raise UserError(f"HANDS2017: {path} is not a 16-bit single-channel depth PNG")
        return image.astype(np.float32)
