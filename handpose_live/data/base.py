"""What every dataset loader yields, whatever the benchmark: points, joints and a centre in camera mm.

Camera mm here is the project convention (geometry.py): x right, y down, z forward. Loaders
convert y-up / negative-z labels on load. The voxelizer turns a `Sample` into a grid, so
loaders never voxelize themselves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Sample:
    points_mm: np.ndarray      # [P, 3] float32: valid depth points near the subject (inside the cube slab)
    joints_mm: np.ndarray      # [J, 3] float32 ground truth
    centre_mm: np.ndarray      # [3] float32 reference point the cube is centred on
    frame_id: str = ""


class PoseDataset:
    """Minimal map-style dataset (works as a torch Dataset): `len()` and `[i] -> Sample`."""

    skeleton_name: str = "hand21"
    cube_mm: float = 250.0

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Sample:
        raise NotImplementedError
