"""Geometry every centre search shares: the estimate, the search image, back-projection, mean shift.

The searches work on a strided copy of the depth (the search image) and on back-projected points;
every estimate ends pushed along its viewing ray, from the surface the camera sees to the inside
of the subject where the joints lie (docs/centre-search.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ...geometry import cube_roi_px, pixels_to_points_mm
from ...types import DepthFrame, Intrinsics
from .config import CentreConfig


@dataclass
class CentreEstimate:
    centre_mm: np.ndarray   # [3] camera mm
    method: str             # "track" | "detect" (geometric) | "learned" (the learned detector's candidate)
    num_points: int         # valid full-resolution pixels behind the estimate (approximate)
    probability: float | None = None   # the learned detector's palm probability at it ("learned" only)


def depth_image(frame: DepthFrame) -> np.ndarray | None:
    """The frame's depth as float32 mm, or None when it is not a 2D image."""
    depth = np.asarray(frame.depth_mm, dtype=np.float32)
    return depth if depth.ndim == 2 and depth.size else None


def back_project(depth_mm: np.ndarray, intr: Intrinsics, vs: np.ndarray, us: np.ndarray) -> np.ndarray:
    """Camera-mm points of the pixels (vs, us)."""
    return pixels_to_points_mm(us, vs, depth_mm[vs, us], intr)


def mean_shift(points_mm: np.ndarray, start_mm: np.ndarray, radii_mm: Iterable[float]) -> np.ndarray:
    """Centre of mass of the points in a sphere, repeated; stops where a sphere holds nothing."""
    centre = start_mm.astype(np.float64)
    for radius in radii_mm:
        inside = np.einsum("ij,ij->i", points_mm - centre, points_mm - centre) <= radius * radius
        if not inside.any():
            break
        centre = points_mm[inside].mean(axis=0, dtype=np.float64)
    return centre


def search_image(depth: np.ndarray, cfg: CentreConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """The strided depth and its in-range mask, or None when too little is in range."""
    s = cfg.segment_stride_px
    lo, hi = cfg.depth_range_mm
    small = depth[::s, ::s]
    in_range = (small >= lo) & (small <= hi)
    if int(in_range.sum()) * s * s < cfg.min_points:
        return None
    return small, in_range


def clear_cube(in_range: np.ndarray, small: np.ndarray, intr: Intrinsics, centre_mm: np.ndarray,
               cfg: CentreConfig) -> None:
    """Remove from the search image every pixel that lies in the cube around `centre_mm`."""
    s = cfg.segment_stride_px
    half = cfg.cube_mm / 2.0
    u0, v0, u1, v1 = cube_roi_px(centre_mm, cfg.cube_mm, intr)
    u0, v0 = max(u0 // s, 0), max(v0 // s, 0)
    u1, v1 = min(-(-u1 // s), small.shape[1]), min(-(-v1 // s), small.shape[0])
    if u1 <= u0 or v1 <= v0:
        return
    window = small[v0:v1, u0:u1]
    in_range[v0:v1, u0:u1] &= ~((window >= centre_mm[2] - half) & (window <= centre_mm[2] + half))


def with_surface_offset(estimate: CentreEstimate, offset_mm: float) -> CentreEstimate:
    """The estimate pushed `offset_mm` along its viewing ray, from the front surface into the subject."""
    if offset_mm:
        ray = estimate.centre_mm / np.linalg.norm(estimate.centre_mm)
        estimate.centre_mm = estimate.centre_mm + offset_mm * ray
    return estimate
