"""NYU Hand Pose: RGB-packed depth PNGs and `joint_data.mat`, frontal Kinect, 14 evaluation joints."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..calib import load_intrinsics
from ..errors import UserError
from ..geometry import DATASET_Y_UP, flip_y
from .common import BenchmarkDataset, CentreFn, check_split, require_dir, require_file

NYU_EVAL_JOINTS = [0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32]
NYU_NUM_JOINTS = 36


def read_nyu_depth_mm(path: Path) -> np.ndarray:
    """Depth in mm = (G << 8) | B; red is unused."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise UserError(f"NYU: cannot read depth image {path}")
    if image.ndim != 3 or image.shape[2] < 3 or image.dtype != np.uint8:
        raise UserError(f"NYU: {path} is not an RGB-packed 8-bit depth PNG (shape {image.shape}, {image.dtype})")
    return ((image[:, :, 1].astype(np.uint16) << 8) | image[:, :, 0]).astype(np.float32)


def load_nyu_labels(mat_path: Path) -> np.ndarray:
    """`joint_xyz` of the frontal Kinect, 14 evaluation joints, -> [N, 14, 3] mm in our convention."""
    from scipy.io import loadmat
    try:
        mat = loadmat(str(mat_path), variable_names=["joint_xyz"])
    except Exception as exc:  # scipy raises several types for a damaged or non-MATLAB file
        raise UserError(f"NYU: cannot read {mat_path} as a MATLAB file: {exc}") from None
    xyz = mat.get("joint_xyz")
    if xyz is None or xyz.ndim != 4 or xyz.shape[2] != NYU_NUM_JOINTS or xyz.shape[3] != 3:
        shape = None if xyz is None else xyz.shape
        raise UserError(f"NYU: {mat_path} must hold joint_xyz of shape (kinects, N, 36, 3), found {shape}")
    joints = np.asarray(xyz[0][:, NYU_EVAL_JOINTS], np.float64)
    return flip_y(joints) if DATASET_Y_UP["nyu"] else joints


class NYUDataset(BenchmarkDataset):
    """`<root>/<split>/joint_data.mat` + `<root>/<split>/depth_1_<n:07d>.png` (n 1-based, Kinect 1).

    Frame ids are `<split>/depth_1_<n>.png`, as in the public evaluation kit's test list.
    """

    dataset_name = "NYU"
    skeleton_name = "nyu14"
    cube_mm = 250.0

    def __init__(self, root: Path, split: str = "train", centres_file: Path | None = None,
                 centre_fn: CentreFn | None = None) -> None:
        check_split(split, "NYU")
        self.folder = require_dir(Path(root) / split, "NYU", f"the {split} folder")
        joints = load_nyu_labels(require_file(self.folder / "joint_data.mat", "NYU"))
        self.intrinsics = load_intrinsics("nyu")
        self.root = Path(root)
        ids = [f"{split}/depth_1_{n:07d}.png" for n in range(1, len(joints) + 1)]
        for name in {ids[0], ids[-1]} if ids else ():
            require_file(self.root / name, "NYU", "depth image")
        super().__init__(ids, joints, split, centres_file, centre_fn)

    def _load_depth_mm(self, row: int) -> np.ndarray:
        path = require_file(self.root / self.frame_ids[row], "NYU", "depth image")
        depth = read_nyu_depth_mm(path)
        if depth.shape != (self.intrinsics.height, self.intrinsics.width):
            raise UserError(f"NYU: {path} is {depth.shape[1]}x{depth.shape[0]}, expected 640x480")
        return depth
