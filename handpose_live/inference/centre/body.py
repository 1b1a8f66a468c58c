"""Body search: the largest person-sized clusters of 3D points, once the room's planes are gone.

The search image is back-projected, the room's planes leave it (`planes.py`) and the points left
are grouped by Euclidean clustering, as people detectors do after ground removal: in 3D, thin limbs
stay joined to the body where a depth-jump segmentation would cut them off. A person is a cluster
whose x and y extents fit in the cube; the largest by surface area come first
(docs/centre-search.md, "Body search").
"""
from __future__ import annotations

import numpy as np

from ...geometry import pixels_to_points_mm
from ...types import Intrinsics
from .config import BodySearchConfig
from .geometry import CentreEstimate, mean_shift
from .planes import room_planes
from .search import CentreSearch

SPLIT_LEVELS = 1           # a cluster too wide for the cube is clustered again with half the cell, this many times


class BodySearch(CentreSearch):
    """Up to `limit` people, largest first, from one clustering of the search image."""

    config: BodySearchConfig

    def detect(self, depth: np.ndarray, intr: Intrinsics, small: np.ndarray, in_range: np.ndarray, limit: int
               ) -> list[CentreEstimate]:
        cfg = self.config
        s = cfg.segment_stride_px
        rows, cols = np.nonzero(in_range)
        points = pixels_to_points_mm(cols * s, rows * s, small[rows, cols], intr)
        if cfg.max_planes > 0:
            points = points[~room_planes(points, (rows, cols), small.shape, cfg.cube_mm, cfg.plane_tol_ratio,
                                         cfg.max_planes)]
        if len(points) * s * s < cfg.min_points:
            return []
        labels, count, extent = person_clusters(points, cfg)
        size = np.bincount(labels, minlength=count + 1)[1:]
        area_mm2 = np.bincount(labels, weights=points[:, 2].astype(np.float64) ** 2, minlength=count + 1)[1:]
        plausible = np.flatnonzero((extent[0] <= cfg.cube_mm) & (extent[1] <= cfg.cube_mm)
                                   & (size * s * s >= cfg.min_points))
        out = []
        for label in 1 + plausible[np.argsort(-area_mm2[plausible], kind="stable")][:limit]:
            person = points[labels == label]
            centre = mean_shift(person, person.mean(axis=0, dtype=np.float64), cfg.shift_radii_mm())
            out.append(CentreEstimate(centre, "detect", len(person) * s * s))
        return out


def person_clusters(points_mm: np.ndarray, cfg: BodySearchConfig) -> tuple[np.ndarray, int, list[np.ndarray]]:
    """Clusters of the points: (label per point, from 1; the number of labels; per label its x and
    y extents). A cluster too wide for the cube (people touching each other or furniture) is
    clustered again with finer cells, which may part what only touches."""
    labels, count = clusters(points_mm, cfg.cluster_cell_mm)
    extent = extents(points_mm, labels, count)
    cell = cfg.cluster_cell_mm
    for _ in range(SPLIT_LEVELS):
        big = np.flatnonzero((extent[0] > cfg.cube_mm) | (extent[1] > cfg.cube_mm)) + 1
        if not len(big):
            break
        cell /= 2.0
        member = np.isin(labels, big)
        sub, n = clusters(points_mm[member], cell)
        labels[member] = sub + count
        count += n
        extent = extents(points_mm, labels, count)
    return labels, count, extent


def clusters(points_mm: np.ndarray, cell_mm: float) -> tuple[np.ndarray, int]:
    """Euclidean clusters: the points' cells of a `cell_mm` grid, joined across the 26 neighbours;
    (cluster label per point, from 1; the number of clusters)."""
    keys = np.floor(points_mm / np.float32(cell_mm)).astype(np.int64)
    keys -= keys.min(axis=0)
    grid = np.zeros(tuple(keys.max(axis=0) + 1), bool)
    grid[keys[:, 0], keys[:, 1], keys[:, 2]] = True
    from scipy import ndimage  # imported here: hand runs never need it, and it is slow to import

    cells, count = ndimage.label(grid, structure=np.ones((3, 3, 3), bool))
    return cells[keys[:, 0], keys[:, 1], keys[:, 2]], int(count)


def extents(points_mm: np.ndarray, labels: np.ndarray, count: int) -> list[np.ndarray]:
    """Per cluster 1..count, its extent in x and in y (0 for a label no point has any more)."""
    from scipy import ndimage

    index = np.arange(1, count + 1)
    return [np.nan_to_num(np.subtract(ndimage.maximum(points_mm[:, k], labels, index),
                                      ndimage.minimum(points_mm[:, k], labels, index))) for k in range(2)]
