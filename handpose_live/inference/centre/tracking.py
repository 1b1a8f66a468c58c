"""Tracking: a subject's centre in this frame, seeded from its previous joints.

The seed is the centre of the previous joints' bounding box; this frame's points in the cube
around it refine it with the config's tracking mean shift (`track_radii_mm`). Too few points
there means the subject is lost and detection takes over (docs/centre-search.md, "Tracking").
"""
from __future__ import annotations

import numpy as np

from ...geometry import cube_roi_px
from ...types import Intrinsics
from .config import CentreConfig
from .geometry import CentreEstimate, back_project, mean_shift


def confident(joints_mm: np.ndarray, confidence: np.ndarray | None, min_confidence: float) -> bool:
    """Whether previous joints can seed tracking: finite [J, 3] joints whose mean confidence (when
    given) reaches `min_confidence`."""
    joints = np.asarray(joints_mm)
    if joints.ndim != 2 or joints.shape[1] != 3 or len(joints) == 0 or not np.isfinite(joints).all():
        return False
    if confidence is None:
        return True
    return float(np.mean(confidence)) >= min_confidence


def track_centre(depth: np.ndarray, intr: Intrinsics, joints_mm: np.ndarray, cfg: CentreConfig,
                 others_mm: list[np.ndarray] | None = None) -> CentreEstimate | None:
    """Refine the previous joints' centre on this frame's points, or None when too few are left;
    points nearer to another subject's seed (`others_mm`) than to this one's belong to that subject
    and are left out."""
    seed = (joints_mm.min(axis=0) + joints_mm.max(axis=0)) / 2.0
    half = cfg.cube_mm / 2.0
    if seed[2] + half < cfg.depth_range_mm[0] or seed[2] - half > cfg.depth_range_mm[1]:
        return None
    u0, v0, u1, v1 = cube_roi_px(seed, cfg.cube_mm, intr)
    u0, v0 = max(u0, 0), max(v0, 0)
    u1, v1 = min(u1, depth.shape[1]), min(v1, depth.shape[0])
    if u1 <= u0 or v1 <= v0:
        return None
    step = cfg.point_step_px
    window = depth[v0:v1:step, u0:u1:step]
    z_lo = max(cfg.depth_range_mm[0], seed[2] - half)
    z_hi = min(cfg.depth_range_mm[1], seed[2] + half)
    vs, us = np.nonzero((window >= z_lo) & (window <= z_hi))
    points = back_project(depth, intr, vs * step + v0, us * step + u0)
    in_cube = np.all(np.abs(points - seed.astype(np.float32)) <= half, axis=1)
    own = np.sum((points - seed.astype(np.float32)) ** 2, axis=1)
    for other in others_mm or []:
        in_cube &= own <= np.sum((points - np.asarray(other, np.float32)) ** 2, axis=1)
    num_points = int(in_cube.sum()) * step * step
    if num_points < cfg.min_points:
        return None
    centre = mean_shift(points[in_cube], seed, cfg.track_radii_mm())
    return CentreEstimate(centre, "track", num_points)
