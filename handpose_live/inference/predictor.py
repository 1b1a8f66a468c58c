"""The predictor owns pre- and post-processing around the exported model.

depth frame + reference point -> voxelize (torch, on the GPU when the session is) -> ONNX
model -> joints in output voxels -> camera mm. Callers never touch grids or heatmaps.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..geometry import voxel_to_mm
from ..skeletons import generic_skeleton, get_skeleton
from ..types import Intrinsics
from ..voxelize import pad_points, voxelize_depth_many, voxelize_points
from .runtime import keep_freed_memory, open_session


class Predictor:
    def __init__(self, model_path: Path, device: str = "auto", threads: int | None = None,
                 backend: str = "onnxruntime"):
        self.path = Path(model_path)
        self.session = open_session(model_path, backend=backend, device=device, threads=threads)
        self.info = self.session.info
        self.device = torch.device("cuda" if self.session.on_gpu else "cpu")
        self.crops = 0           # cubes sent through the network so far (candidates, re-centring passes): `bench`
        keep_freed_memory()      # per-frame temporaries stay mapped (runtime.py: 13.7 -> 6.5 ms voxelize, body)
        if self.device.type == "cpu":
            # The voxelizer's tensors are small (~1 ms on one core); a second torch thread only
            # spins against ONNX Runtime's pool for the same cores (p95 1.6 -> 200 ms measured).
            torch.set_num_threads(1)
        try:
            self.skeleton = get_skeleton(self.info.skeleton)
        except UserError:
            self.skeleton = generic_skeleton(self.info.num_joints)

    @property
    def cube_mm(self) -> float:
        return self.info.cube_mm

    def predict_depth(self, depth_mm: np.ndarray | torch.Tensor, intr: Intrinsics, centre_mm: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """One frame, one subject -> (joints_mm [J,3], confidence [J], {"voxelize": ms, "inference": ms})."""
        joints, conf, stage = self.predict_centres(depth_mm, intr, np.asarray(centre_mm, np.float64)[None])
        return joints[0], conf[0], stage

    def predict_centres(self, depth_mm: np.ndarray | torch.Tensor, intr: Intrinsics, centres_mm: np.ndarray,
                        split_among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """One frame, N subjects in one batch -> (joints_mm [N,J,3], confidence [N,J], stage ms);
        `split_among`: the frame's subject centres, whose overlapping cubes share out their points
        (`voxelize.voxelize_depth_many`)."""
        t0 = time.perf_counter()
        centres_mm = np.asarray(centres_mm, np.float64).reshape(-1, 3)
        depth = torch.as_tensor(depth_mm, dtype=torch.float32).to(self.device, non_blocking=True)
        voxels = voxelize_depth_many(depth, intr, centres_mm, self.info.cube_mm, self.info.input_grid, split_among)
        self.crops += len(centres_mm)
        t1 = time.perf_counter()
        joints_vox, conf = self.session.run(voxels)
        t2 = time.perf_counter()
        joints_mm = voxel_to_mm(joints_vox, centres_mm[:, None, :], self.info.cube_mm, self.info.output_grid)
        return joints_mm, conf, {"voxelize": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3}

    def predict_points(self, points_mm: list[np.ndarray], centres_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A batch of point clouds (dataset evaluation) -> (joints_mm [N,J,3], confidence [N,J])."""
        pts, valid = pad_points(points_mm)
        centres = torch.as_tensor(np.asarray(centres_mm, np.float32))
        voxels = voxelize_points(pts.to(self.device), centres.to(self.device), self.info.cube_mm,
                                 self.info.input_grid, valid=valid.to(self.device))
        joints_vox, conf = self.session.run(voxels)
        joints_mm = voxel_to_mm(joints_vox, np.asarray(centres_mm)[:, None, :], self.info.cube_mm, self.info.output_grid)
        return joints_mm, conf
