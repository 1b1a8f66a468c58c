"""Hand candidates from the learned detector (`inference/detector.py`) instead of the geometric search.

The detector gives palm pixels, best first; each gets the near surface's depth there (the 25th
percentile of the valid depths in a 9x9 window), and the cube around that point is refined by the
tracking mean shift, so a candidate lands where tracking would put it (docs/centre-search.md,
"Learned detector").
"""
from __future__ import annotations

import numpy as np

from ...geometry import pixels_to_points_mm
from ...types import Intrinsics
from ..detector import Detector
from .config import CentreConfig
from .geometry import CentreEstimate
from .tracking import track_centre

WINDOW_PX = 4              # the depth of a palm pixel: the valid depths within this many pixels of it
DUPLICATE_CUBES = 0.25     # a candidate this near (x cube edge) to one taken before repeats it


def learned_candidates(detector: Detector, depth: np.ndarray, intr: Intrinsics, cfg: CentreConfig, limit: int,
                       exclude_mm: list[np.ndarray]) -> list[CentreEstimate]:
    """Up to `limit` candidates, best first, none repeating another or a centre in `exclude_mm`."""
    lo, hi = cfg.depth_range_mm
    taken = [np.asarray(c, np.float64) for c in exclude_mm]
    out: list[CentreEstimate] = []
    for u, v, probability in detector.propose(depth, limit + len(taken) + 2, fx=intr.fx):
        ui, vi = int(round(u)), int(round(v))
        window = depth[max(vi - WINDOW_PX, 0):vi + WINDOW_PX + 1, max(ui - WINDOW_PX, 0):ui + WINDOW_PX + 1]
        zs = window[(window >= lo) & (window <= hi)]
        if zs.size == 0:
            continue
        seed = pixels_to_points_mm(np.array([u]), np.array([v]), np.array([np.percentile(zs, 25)]), intr)[0]
        estimate = track_centre(depth, intr, seed[None].astype(np.float64), cfg)
        if estimate is None:
            continue
        if any(np.linalg.norm(estimate.centre_mm - c) < DUPLICATE_CUBES * cfg.cube_mm for c in taken):
            continue
        estimate.method, estimate.probability = "learned", probability
        taken.append(estimate.centre_mm)
        out.append(estimate)
        if len(out) >= limit:
            break
    return out
