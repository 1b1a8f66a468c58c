"""Regression baselines for the paper's representation ablation (docs/results.md).

V2V-PoseNet's central claim is that voxels in and per-voxel likelihoods out beat regressing
joint coordinates, whether from a depth image (2D CNN) or from voxels (3D CNN). These two
networks are those alternatives, sized to cost about as much per frame as `v2v-lite`
(0.3-0.6 GMAC), and both predict joints in cube-normalised units (the cube spans [-0.5, 0.5), see voxelize.py).
"""
from __future__ import annotations

import torch
from torch import nn

from handpose_live.modeling.blocks import Pool3DBlock, Res2DBlock, Res3DBlock


def _regression_head(features: int, num_joints: int) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(features, 1024), nn.ReLU(inplace=True), nn.Dropout(0.3),
                         nn.Linear(1024, num_joints * 3))


class DepthToCoords2D(nn.Module):
    """Depth image [N,1,S,S] (cube-normalised depth x 2, background 1) -> joints [N,J,3], DeepPrior-style."""

    def __init__(self, num_joints: int = 21, size: int = 64, width: int = 32):
        super().__init__()
        w = width
        self.num_joints = num_joints
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True), Res2DBlock(w, w),
            nn.MaxPool2d(2), Res2DBlock(w, 2 * w),
            nn.MaxPool2d(2), Res2DBlock(2 * w, 4 * w),
            nn.MaxPool2d(2), Res2DBlock(4 * w, 8 * w),
            nn.MaxPool2d(2),
        )
        self.head = _regression_head(8 * w * (size // 16) ** 2, num_joints)

    def forward(self, depth):
        return self.head(self.features(depth)).reshape(depth.shape[0], self.num_joints, 3)


class VoxelToCoords3D(nn.Module):
    """Occupancy grid [N,1,S,S,S] (axes z, y, x) -> joints [N,J,3] by 3D CNN regression.

    A stride-2 stem and an early pool keep it trainable on a CPU (3D convolutions at full
    resolution cost ~10x more); regression needs the coarse grid only.
    """

    def __init__(self, num_joints: int = 21, grid: int = 64, width: int = 16):
        super().__init__()
        w = width
        self.num_joints = num_joints
        self.features = nn.Sequential(
            nn.Conv3d(1, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm3d(w), nn.ReLU(inplace=True),
            Pool3DBlock(2), Res3DBlock(w, 2 * w),
            Pool3DBlock(2), Res3DBlock(2 * w, 4 * w),
            Pool3DBlock(2),
        )
        self.head = _regression_head(4 * w * (grid // 16) ** 3, num_joints)

    def forward(self, voxels):
        return self.head(self.features(voxels)).reshape(voxels.shape[0], self.num_joints, 3)


def depth_image_norm(points_norm: torch.Tensor, valid: torch.Tensor, size: int) -> torch.Tensor:
    """Orthographic depth image of cube-normalised points: [N,P,3] -> [N,1,size,size] (rows y, cols x).

    Each pixel holds the nearest z in the cube, scaled to [-1, 1]; empty pixels are 1, the
    cube's back face. Same x-y footprint and resolution as the voxel grid, so the 2D baseline
    sees what the voxel networks see, minus the depth quantisation.
    """
    n = points_norm.shape[0]
    ij = ((points_norm[..., :2] + 0.5) * size).floor().long()
    inside = valid & (ij >= 0).all(-1) & (ij < size).all(-1) & (points_norm[..., 2] < 0.5)
    flat = (ij[..., 1] * size + ij[..., 0]).clamp(0, size * size - 1)
    z = (2 * points_norm[..., 2]).clamp(-1, 1).masked_fill(~inside, 1.0)
    image = torch.ones(n, size * size, dtype=points_norm.dtype)
    image.scatter_reduce_(1, flat, z, reduce="amin", include_self=True)
    return image.reshape(n, 1, size, size)
