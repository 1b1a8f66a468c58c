"""Heatmap targets for training and heatmap decoding (inside the exported graph).

Joint coordinates here are continuous OUTPUT-voxel coordinates (x, y, z), voxel centres at
integers (geometry.py); heatmaps are [N, J, H, H, H] with axes (z, y, x).
"""
from __future__ import annotations

import torch

SIGMA_VOX = 1.7  # the paper's Gaussian width, in output voxels


def gaussian_targets(joints_vox: torch.Tensor, grid: int, sigma: float = SIGMA_VOX) -> torch.Tensor:
    """One 3D Gaussian (peak 1) per joint: [N, J, 3] -> [N, J, H, H, H]."""
    r = torch.arange(grid, dtype=joints_vox.dtype, device=joints_vox.device)
    dx = (r[None, None, :] - joints_vox[..., 0:1]) ** 2      # [N, J, H]
    dy = (r[None, None, :] - joints_vox[..., 1:2]) ** 2
    dz = (r[None, None, :] - joints_vox[..., 2:3]) ** 2
    inv = -1.0 / (2 * sigma * sigma)
    gx, gy, gz = torch.exp(dx * inv), torch.exp(dy * inv), torch.exp(dz * inv)
    return gz[..., :, None, None] * gy[..., None, :, None] * gx[..., None, None, :]


def decode_heatmaps(heatmaps: torch.Tensor, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-joint argmax refined to sub-voxel precision by a parabola through log-values.

    Returns joints [N, J, 3] in continuous output-voxel coordinates (x, y, z) and the peak
    value per joint as confidence. Plain argmax has a one-voxel quantisation floor
    (4.5-7.8 mm). Along each axis the log of a Gaussian is a parabola, so fitting one through
    the peak and its two neighbours recovers the true centre of a Gaussian-shaped peak exactly
    (a 3x3x3 weighted mean, by contrast, pulls the estimate towards the peak voxel by up to
    ~0.25 voxel at the paper's sigma). The offset is clamped to half a voxel. Written with
    argmax/gather only, so it exports to ONNX and runs inside the model.
    """
    n, j, h = heatmaps.shape[0], heatmaps.shape[1], heatmaps.shape[-1]
    flat = heatmaps.reshape(n, j, h * h * h)
    confidence, idx = flat.max(dim=2)
    z = torch.div(idx, h * h, rounding_mode="floor")
    y = torch.div(idx, h, rounding_mode="floor") % h
    x = idx % h
    peak = torch.stack([x, y, z], dim=-1)                                    # [N, J, 3] (x, y, z)
    strides = torch.tensor([1, h, h * h], device=heatmaps.device)
    lower = (peak > 0).to(idx.dtype)
    upper = (peak < h - 1).to(idx.dtype)
    minus_idx = idx[..., None] - strides * lower                              # stays on the peak at a border
    plus_idx = idx[..., None] + strides * upper
    log_centre = torch.log(confidence.clamp(min=eps))[..., None]
    log_minus = torch.log(torch.gather(flat, 2, minus_idx).clamp(min=eps))
    log_plus = torch.log(torch.gather(flat, 2, plus_idx).clamp(min=eps))
    curvature = log_minus - 2 * log_centre + log_plus                         # < 0 at a proper maximum
    offset = 0.5 * (log_minus - log_plus) / torch.where(curvature < -1e-6, curvature, torch.full_like(curvature, -1e6))
    offset = offset.clamp(-0.5, 0.5) * lower * upper
    return peak.to(heatmaps.dtype) + offset, confidence
