"""The regression baselines of the representation ablation (benchmarks/ablation.py)."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from baselines import DepthToCoords2D, VoxelToCoords3D, depth_image_norm


def test_depth_image_keeps_the_nearest_point_per_pixel_and_drops_outside_points():
    pts = torch.tensor([[[0.01, 0.01, 0.20], [0.012, 0.013, -0.10], [-0.49, 0.30, 0.0],
                         [0.6, 0.0, 0.0], [0.0, 0.2, 0.7], [0.3, 0.3, 0.1]]])
    valid = torch.tensor([[True, True, True, True, True, False]])
    img = depth_image_norm(pts, valid, 64)
    assert img.shape == (1, 1, 64, 64)
    assert img[0, 0, 32, 32] == -0.2            # nearer of the two points in pixel (32, 32), z scaled x2
    assert img[0, 0, 51, 0] == 0.0              # x -0.49 -> column 0, y 0.30 -> row 51
    assert (img != 1).sum() == 2                # outside x, behind the cube and invalid points leave no trace


def test_baselines_regress_joints_in_cube_units():
    torch.manual_seed(0)
    assert DepthToCoords2D(14)(torch.rand(2, 1, 64, 64)).shape == (2, 14, 3)
    assert VoxelToCoords3D(14)(torch.rand(2, 1, 64, 64, 64)).shape == (2, 14, 3)
