"""The one voxelizer: points (or a depth image) -> binary occupancy grid, in PyTorch.

Training, export tests and live inference all call these functions, on CPU or CUDA tensors.
Grid layout and voxel coordinates are defined in geometry.py: [N, 1, S, S, S] with axes
(z, y, x); voxel i spans normalised [i/S - 0.5, (i+1)/S - 0.5) of the cube edge.

Augmentation (training only) follows the paper: scale about the cube centre, in-plane (x-y)
rotation, translation in input voxels; `augment_points_norm` applies the SAME transform to
points and joints, so targets stay consistent with the grid.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .geometry import clamp_roi, cube_roi_px, mm_to_norm
from .types import Intrinsics


@dataclass
class Augmentation:
    """Per-sample augmentation parameters (tensors of batch length)."""

    scale: torch.Tensor        # [N]
    angle_rad: torch.Tensor    # [N], rotation about the camera z axis
    shift_vox: torch.Tensor    # [N, 3] (x, y, z) in input voxels

    @staticmethod
    def sample(n: int, generator: torch.Generator | None = None, scale_range=(0.8, 1.2),
               max_angle_deg: float = 40.0, max_shift_vox: float = 4.0) -> Augmentation:
        u = torch.rand(n, 5, generator=generator)
        scale = scale_range[0] + (scale_range[1] - scale_range[0]) * u[:, 0]
        angle = torch.deg2rad(torch.tensor(max_angle_deg)) * (2 * u[:, 1] - 1)
        shift = max_shift_vox * (2 * u[:, 2:5] - 1)
        return Augmentation(scale, angle, shift)

    def to(self, device) -> Augmentation:
        return Augmentation(self.scale.to(device), self.angle_rad.to(device), self.shift_vox.to(device))


def normalise_points(points_mm: torch.Tensor, centre_mm: torch.Tensor, cube_mm: float | torch.Tensor) -> torch.Tensor:
    """Camera mm [N, P, 3] -> cube-normalised coordinates, the cube spanning [-0.5, 0.5)."""
    cube = torch.as_tensor(cube_mm, dtype=points_mm.dtype, device=points_mm.device).reshape(-1, 1, 1)
    return mm_to_norm(points_mm, centre_mm[:, None, :], cube)


def pad_points(clouds: list, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Point clouds of different sizes ([P_i, 3] arrays) -> one batch: points [N, P, 3] float32
    (zero padding) and the validity mask [N, P] that `voxelize_norm` takes."""
    n = len(clouds)
    p = max(1, max((len(c) for c in clouds), default=0))
    points = torch.zeros(n, p, 3, device=device)
    valid = torch.zeros(n, p, dtype=torch.bool, device=device)
    for i, c in enumerate(clouds):
        points[i, : len(c)] = torch.as_tensor(c, dtype=torch.float32)
        valid[i, : len(c)] = True
    return points, valid


def augment_points_norm(points_norm: torch.Tensor, aug: Augmentation, grid: int) -> torch.Tensor:
    """Apply scale, in-plane rotation and shift to normalised points [N, P, 3]."""
    c, s = torch.cos(aug.angle_rad), torch.sin(aug.angle_rad)
    x, y, z = points_norm.unbind(-1)
    xr = c[:, None] * x - s[:, None] * y
    yr = s[:, None] * x + c[:, None] * y
    out = torch.stack([xr, yr, z], dim=-1) * aug.scale[:, None, None]
    return out + (aug.shift_vox / grid)[:, None, :].to(out.dtype)


def voxelize_norm(points_norm: torch.Tensor, valid: torch.Tensor | None, grid: int) -> torch.Tensor:
    """Normalised points [N, P, 3] (+ validity mask [N, P]) -> occupancy [N, 1, S, S, S]."""
    n = points_norm.shape[0]
    idx = torch.floor((points_norm + 0.5) * grid).to(torch.int64)
    inside = ((idx >= 0) & (idx < grid)).all(dim=-1)
    if valid is not None:
        inside &= valid
    batch = torch.arange(n, device=points_norm.device)[:, None].expand_as(inside)
    flat = ((batch * grid + idx[..., 2]) * grid + idx[..., 1]) * grid + idx[..., 0]
    out = torch.zeros(n * grid ** 3, dtype=torch.float32, device=points_norm.device)
    out[flat[inside]] = 1.0
    return out.reshape(n, 1, grid, grid, grid)


def voxelize_points(points_mm: torch.Tensor, centre_mm: torch.Tensor, cube_mm: float | torch.Tensor, grid: int,
                    valid: torch.Tensor | None = None, aug: Augmentation | None = None) -> torch.Tensor:
    """Camera-mm points [N, P, 3] around `centre_mm` [N, 3] -> occupancy grid [N, 1, S, S, S]."""
    norm = normalise_points(points_mm, centre_mm, cube_mm)
    if aug is not None:
        norm = augment_points_norm(norm, aug, grid)
    return voxelize_norm(norm, valid, grid)


def voxelize_depth(depth_mm: torch.Tensor, intr: Intrinsics, centre_mm, cube_mm: float, grid: int) -> torch.Tensor:
    """Live path: one depth image [H, W] (mm, 0 = invalid) -> occupancy [1, 1, S, S, S]."""
    return voxelize_depth_many(depth_mm, intr, np.asarray(centre_mm, np.float64).reshape(1, 3), cube_mm, grid)


def voxelize_depth_many(depth_mm: torch.Tensor, intr: Intrinsics, centres_mm: np.ndarray, cube_mm: float,
                        grid: int, split_among: np.ndarray | None = None) -> torch.Tensor:
    """One depth image, N cube centres [N, 3] -> occupancy [N, 1, S, S, S].

    `split_among` (the frame's subject centres [M, 3]): where another of them lies within one cube
    edge of a cube's centre, that cube keeps only the points nearer to its own centre than to the
    other's in x and z (camera frame): two people side by side, or one behind the other, each fill
    their own cube instead of both filling both.

    The grid of `voxelize_points(roi_points_mm(...))` (the back-projection of geometry.py, then
    mm -> voxel), folded into one affine map per axis and run on the cube's whole pixel window:
    voxel index = trunc(z * a[u] + b) with a per column / row (x, y) or a constant (z), shifted
    by S so that truncation is a floor on everything that can be inside. No `nonzero`, no gather;
    pixels that miss the cube write to one spare cell. Same occupancy up to float rounding at voxel
    boundaries (tests/test_voxelize.py); a near person's window (a whole 640x480 frame, 186k points
    in the slab) went from ~19 to ~4 ms on one core.
    """
    dev = depth_mm.device
    g = int(grid)
    out = torch.zeros(len(centres_mm), g ** 3 + 1, dtype=torch.float32, device=dev)   # last cell: misses
    scale = g / float(cube_mm)                              # voxels per mm
    for i, centre in enumerate(np.asarray(centres_mm, np.float64).reshape(-1, 3)):
        cx, cy, cz = (float(c) for c in centre)
        u0, v0, u1, v1 = clamp_roi(cube_roi_px(centre, cube_mm, intr), depth_mm.shape[1], depth_mm.shape[0])
        if u1 <= u0 or v1 <= v0:
            continue
        z = depth_mm[v0:v1, u0:u1].to(torch.float32)
        # x = (u - cx_px) * z / fx  ->  x voxel + S = z * a[u] + (S/2 - cx * scale + S), likewise y and z.
        ax = ((torch.arange(u0, u1, dtype=torch.float64, device=dev) - intr.cx) / intr.fx * scale).to(torch.float32)
        ay = ((torch.arange(v0, v1, dtype=torch.float64, device=dev) - intr.cy) / intr.fy * scale).to(torch.float32)
        ix = torch.addcmul(torch.tensor(1.5 * g - cx * scale, device=dev), z, ax[None, :]).to(torch.int32)
        iy = torch.addcmul(torch.tensor(1.5 * g - cy * scale, device=dev), z, ay[:, None]).to(torch.int32)
        iz = (z * scale + (1.5 * g - cz * scale)).to(torch.int32)
        lo = torch.minimum(torch.minimum(ix, iy), iz)
        hi = torch.maximum(torch.maximum(ix, iy), iz)
        keep = (lo >= g) & (hi < 2 * g)          # NaN / inf depths cast to INT_MIN: outside
        if cz - cube_mm / 2 <= 0:                # only then can a missing depth (0) land in the cube
            keep &= z > 0
        if split_among is not None:
            keep &= _nearest_of(z, ax / scale, centre, np.asarray(split_among, np.float64).reshape(-1, 3), cube_mm)
        flat = (iz * g + iy) * g + ix - (g * g * g + g * g + g)
        out[i].index_fill_(0, torch.where(keep, flat, g ** 3).reshape(-1).to(torch.int64), 1.0)
    return out[:, :-1].reshape(-1, 1, g, g, g)


def _nearest_of(z: torch.Tensor, rx: torch.Tensor, centre: np.ndarray, others: np.ndarray, cube_mm: float) -> torch.Tensor:
    """[h, w] bool: the window's points (depth z, x = z * rx per column) nearer in x-z to `centre` than
    to any of `others` that lie within `cube_mm` of it (itself excluded)."""
    d = np.hypot(others[:, 0] - centre[0], others[:, 2] - centre[2])
    near = others[(d > 1e-6) & (d < cube_mm)]
    keep = torch.ones_like(z, dtype=torch.bool)
    if not len(near):
        return keep
    x = z * rx[None, :]
    own = (x - float(centre[0])) ** 2 + (z - float(centre[2])) ** 2
    for c in near:
        keep &= own <= (x - float(c[0])) ** 2 + (z - float(c[2])) ** 2
    return keep
