"""ITOP (human body, side or top view): HDF5 depth in metres and labels in metres, y up, 15 joints."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..calib import load_intrinsics
from ..errors import UserError
from ..geometry import DATASET_Y_UP, flip_y
from .common import BenchmarkDataset, CentreFn, check_split, require_dir, require_file

ITOP_NUM_JOINTS = 15


class ITOPDataset(BenchmarkDataset):
    """`<root>/ITOP_<view>_<split>_depth_map.h5` (`id`, `data`) + `ITOP_<view>_<split>_labels.h5`.

    Only `is_valid` frames are kept by default (`valid_only`), the frames ITOP's own protocol
    trains and scores on; a centres file still has one line per frame of the HDF5 file.
    The depth file is opened lazily, so the dataset can be handed to DataLoader workers.
    """

    dataset_name = "ITOP"
    skeleton_name = "itop15"
    cube_mm = 2000.0

    def __init__(self, root: Path, split: str = "train", centres_file: Path | None = None,
                 centre_fn: CentreFn | None = None, view: str = "side", valid_only: bool = True) -> None:
        import h5py
        check_split(split, "ITOP")
        if view not in ("side", "top"):
            raise UserError(f"ITOP: view must be 'side' or 'top', not '{view}'")
        root = require_dir(Path(root), "ITOP", "the dataset folder")
        self.depth_path = require_file(root / f"ITOP_{view}_{split}_depth_map.h5", "ITOP", "depth file")
        labels_path = require_file(root / f"ITOP_{view}_{split}_labels.h5", "ITOP", "label file")
        try:
            with h5py.File(labels_path, "r") as f:
                ids = [i.decode() if isinstance(i, bytes) else str(i) for i in f["id"][()]]
                valid = np.asarray(f["is_valid"][()]).astype(bool).reshape(-1)
                world_m = np.asarray(f["real_world_coordinates"][()], np.float64)
            with h5py.File(self.depth_path, "r") as f:
                depth_shape = f["data"].shape
        except KeyError as exc:
            raise UserError(f"ITOP: {labels_path} or {self.depth_path} lacks a dataset: {exc}") from None
        except OSError as exc:
            raise UserError(f"ITOP: cannot read HDF5 file: {exc}") from None
        if world_m.shape != (len(ids), ITOP_NUM_JOINTS, 3) or len(valid) != len(ids):
            raise UserError(f"ITOP: {labels_path} holds {len(ids)} ids, {len(valid)} is_valid and "
                            f"real_world_coordinates of shape {world_m.shape}; expected (N, 15, 3)")
        self.intrinsics = load_intrinsics("itop")
        if depth_shape[0] != len(ids) or tuple(depth_shape[1:]) != (self.intrinsics.height, self.intrinsics.width):
            raise UserError(f"ITOP: {self.depth_path} data has shape {depth_shape} but the labels have "
                            f"{len(ids)} frames of 240x320")
        joints = world_m * 1000.0
        joints = flip_y(joints) if DATASET_Y_UP["itop"] else joints
        self._depth_file = None
        super().__init__(ids, joints, split, centres_file, centre_fn, keep=valid if valid_only else None)

    def _load_depth_mm(self, row: int) -> np.ndarray:
        import h5py
        if self._depth_file is None:
            self._depth_file = h5py.File(self.depth_path, "r")
        depth_m = np.asarray(self._depth_file["data"][row], np.float32)
        return np.where(np.isfinite(depth_m) & (depth_m > 0), depth_m * 1000.0, 0.0).astype(np.float32)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_depth_file"] = None
        return state
