"""Hand search: the nearest blob in the depth, cut back to its hand end.

A hand held up to a camera is the nearest thing in view; the forearm behind it joins the same blob,
so the blob is cut to the end away from where the arm leaves it, and a shrinking mean shift pulls
the centre onto the palm. Several hands: each found blob leaves the search image and the search
runs again (docs/centre-search.md, "Hand search").
"""
from __future__ import annotations

import cv2
import numpy as np

from ...types import Intrinsics
from .config import HandSearchConfig
from .geometry import CentreEstimate, back_project, mean_shift
from .search import CentreSearch

NEAR_MARGIN_MM = 30.0      # blob pixels may be this much nearer than the robust nearest surface
EXIT_BAND_MM = 20.0        # blob pixels this close to the back of the depth band are arm exits


class HandSearch(CentreSearch):
    """Up to `limit` hands, nearest first."""

    config: HandSearchConfig

    def detect(self, depth: np.ndarray, intr: Intrinsics, small: np.ndarray, in_range: np.ndarray, limit: int
               ) -> list[CentreEstimate]:
        out: list[CentreEstimate] = []
        while len(out) < limit:
            estimate, taken = nearest_hand(depth, intr, small, in_range, self.config)
            if taken is None:
                break
            if estimate is not None:
                out.append(estimate)
            in_range = in_range & ~taken
        return out


def nearest_hand(depth: np.ndarray, intr: Intrinsics, small: np.ndarray, in_range: np.ndarray, cfg: HandSearchConfig
                 ) -> tuple[CentreEstimate | None, np.ndarray | None]:
    """The nearest blob's hand end: (estimate or None when the blob is too small, the blob's
    pixels in the search image), or (None, None) when nothing is left to search."""
    lo, hi = cfg.depth_range_mm
    if int(in_range.sum()) * cfg.segment_stride_px ** 2 < cfg.min_points:
        return None, None
    # The nearest surface is the minimum of a 3x3 max filter: a whole patch must be that near.
    far = np.where(in_range, small, np.inf).astype(np.float32)
    patch_far = cv2.dilate(far, np.ones((3, 3), np.uint8))
    seed_index = int(np.argmin(patch_far))
    nearest_mm = float(patch_far.flat[seed_index])
    if not np.isfinite(nearest_mm):
        return None, None
    z_lo, z_hi = max(lo, nearest_mm - NEAR_MARGIN_MM), min(hi, nearest_mm + cfg.band_mm)
    band = (in_range & (small >= z_lo) & (small <= z_hi)).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(band, connectivity=8)
    label = int(labels.flat[seed_index])
    if label == 0:   # the seed pixel itself is a speck nearer than its patch: drop the patch, search on
        taken = np.zeros_like(in_range)
        row, col = divmod(seed_index, small.shape[1])
        taken[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2] = True
        return None, taken
    taken = labels == label
    x0, y0, bw, bh = (int(v) for v in stats[label, :4])
    points, pixels = blob_points(depth, intr, labels, label, (x0, y0, bw, bh), z_lo, z_hi, cfg)
    num_points = len(points) * cfg.point_step_px ** 2
    if num_points < cfg.min_points:
        return None, taken
    hand = cut_forearm(points, pixels, depth.shape, z_hi, cfg)
    start = hand.mean(axis=0, dtype=np.float64)
    centre = mean_shift(hand, start, cfg.shift_radii_mm())
    return CentreEstimate(centre, "detect", num_points), taken


def blob_points(depth: np.ndarray, intr: Intrinsics, labels: np.ndarray, label: int,
                bbox_small: tuple[int, int, int, int], z_lo: float, z_hi: float, cfg: HandSearchConfig
                ) -> tuple[np.ndarray, np.ndarray]:
    """Full-resolution points (every `point_step_px`) of one component of the strided labels,
    and their (row, col) pixels."""
    s, step = cfg.segment_stride_px, cfg.point_step_px
    x, y, w, h = bbox_small
    v0, u0 = y * s, x * s
    v1, u1 = min((y + h) * s, depth.shape[0]), min((x + w) * s, depth.shape[1])
    rows = np.arange(v0, v1, step)
    cols = np.arange(u0, u1, step)
    window = depth[v0:v1:step, u0:u1:step]
    member = labels[(rows // s)[:, None], (cols // s)[None, :]] == label
    vs, us = np.nonzero(member & (window >= z_lo) & (window <= z_hi))
    return back_project(depth, intr, rows[vs], cols[us]), np.stack([rows[vs], cols[us]], axis=1)


def cut_forearm(points: np.ndarray, pixels: np.ndarray, shape: tuple[int, ...], z_hi: float,
                cfg: HandSearchConfig) -> np.ndarray:
    """Keep the blob's end away from where the arm leaves it (image border or back of the band):
    the points within `hand_length_mm` of the far end along the exit -> blob-centroid axis."""
    margin = cfg.segment_stride_px
    rows, cols = pixels[:, 0], pixels[:, 1]
    exits = ((rows < margin) | (rows >= shape[0] - margin) | (cols < margin) | (cols >= shape[1] - margin)
             | (points[:, 2] >= z_hi - EXIT_BAND_MM))
    if not exits.any():
        return points
    exit_mm = points[exits].mean(axis=0, dtype=np.float64)
    axis = points.mean(axis=0, dtype=np.float64) - exit_mm
    length = float(np.linalg.norm(axis))
    if length < 1e-6:
        return points
    along = (points - exit_mm.astype(np.float32)) @ (axis / length).astype(np.float32)
    tip = float(np.percentile(along, 99.0))
    hand = points[along >= tip - cfg.hand_length_mm]
    return hand if len(hand) else points
