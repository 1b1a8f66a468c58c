"""The room's large planes (floor, walls) among the body search's points, by RANSAC.

A floor touches the feet by smooth depth, so without removing it the person and the floor form one
cluster too wide to be a person. A plane counts as the room's only when its largest patch in the
image is bigger than any person could be; a smaller one is set aside and the search goes on. The
sampling has a fixed seed, so the same frame gives the same planes (docs/centre-search.md, "Body
search").

Distances are computed column by column rather than as matrix products: at these sizes that is
faster, and BLAS would start threads of its own beside the inference runtime's.
"""
from __future__ import annotations

import cv2
import numpy as np

PLANE_SAMPLES = 1500       # points sampled from the search image
PLANE_HYPOTHESES = 128     # 3-point plane hypotheses per plane
PLANE_PRESCORE = 200       # every hypothesis is scored on this many samples first...
PLANE_FINALISTS = 8        # ...and this many best on all of them
PATCH_BLOCK_PX = 3         # a plane's patches are joined on blocks of this many search-image pixels
PLANE_LONG = 1.25          # a plane this many cubes long is a room's even when narrow (a strip of floor)
PLANE_RETRIES = 2          # planes too small for a room that may be set aside before the search ends

Columns = tuple[np.ndarray, np.ndarray, np.ndarray]   # the points' x, y, z as contiguous float32


def room_planes(points_mm: np.ndarray, pixels_rc: tuple[np.ndarray, np.ndarray], shape: tuple[int, int],
                cube_mm: float, tol_ratio: float, max_planes: int) -> np.ndarray:
    """Which points lie on the room's large planes, up to `max_planes` of them; `pixels_rc`: the
    points' (rows, cols) in an image of `shape`; inliers lie within `tol_ratio` x depth."""
    on_plane = np.zeros(len(points_mm), bool)
    set_aside = np.zeros(len(points_mm), bool)   # explained by a plane too small for a room: not sampled again
    rng = np.random.default_rng(0)
    x, y, z = (np.ascontiguousarray(points_mm[:, k], np.float32) for k in range(3))
    xyz = (x, y, z)
    tol = (tol_ratio * z).astype(np.float32)
    found = 0
    for _ in range(max_planes + PLANE_RETRIES):
        left = np.flatnonzero(~on_plane)
        pool = np.flatnonzero(~on_plane & ~set_aside)
        if len(pool) < 3 * PLANE_PRESCORE:
            break
        sample = points_mm[rng.choice(pool, min(PLANE_SAMPLES, len(pool)), replace=False)].astype(np.float64)
        fit = fit_plane(sample, rng, tol_ratio)
        if fit is None:
            break
        mean, axes = fit
        normal = axes[:, 0]
        inliers = left[np.abs(along(xyz, normal, left) + np.float32(-float((normal * mean).sum()))) <= tol[left]]
        if not room_sized(xyz, largest_patch(inliers, pixels_rc, shape), axes, cube_mm):
            set_aside[inliers] = True   # a plane this small could be a person: keep it, look for another
            continue
        on_plane[inliers] = True
        found += 1
        if found == max_planes:
            break
    return on_plane


def fit_plane(sample: np.ndarray, rng: np.random.Generator, tol_ratio: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The plane that explains most of the sample (preemptive RANSAC), refit by least squares on
    the samples it explains: (a point on it, its axes as columns, the normal first), or None."""
    a, b, c = (sample[rng.integers(0, len(sample), PLANE_HYPOTHESES)] for _ in range(3))
    normals = np.cross(b - a, c - a)
    norms = np.sqrt((normals * normals).sum(axis=1))
    good = norms > 1e-9
    if not good.any():
        return None
    normals = normals[good] / norms[good, None]
    offsets = -(normals * a[good]).sum(axis=1)
    prescores = _votes(sample[:PLANE_PRESCORE], normals, offsets, tol_ratio)
    finalists = np.argsort(-prescores, kind="stable")[:PLANE_FINALISTS]
    best = finalists[int(np.argmax(_votes(sample, normals[finalists], offsets[finalists], tol_ratio)))]
    n = normals[best]
    members = sample[np.abs(sample[:, 0] * n[0] + sample[:, 1] * n[1] + sample[:, 2] * n[2] + offsets[best])
                     <= tol_ratio * sample[:, 2]]
    if len(members) < 3:
        return None
    mean = members.mean(axis=0)
    centred = members - mean
    _, axes = np.linalg.eigh(np.einsum("ni,nj->ij", centred, centred))   # smallest eigenvector first: the normal
    return mean, axes


def _votes(points: np.ndarray, normals: np.ndarray, offsets: np.ndarray, tol_ratio: float) -> np.ndarray:
    """Per plane hypothesis, how many of the points lie within `tol_ratio` x depth of it."""
    n, p = normals, points
    dist = np.abs(n[:, None, 0] * p[None, :, 0] + n[:, None, 1] * p[None, :, 1] + n[:, None, 2] * p[None, :, 2]
                  + offsets[:, None])
    return (dist <= tol_ratio * p[None, :, 2]).sum(axis=1)


def along(xyz: Columns, direction: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The indexed points' coordinate along `direction` (float32)."""
    x, y, z = xyz
    return (x[index] * np.float32(direction[0]) + y[index] * np.float32(direction[1])
            + z[index] * np.float32(direction[2]))


def largest_patch(inliers: np.ndarray, pixels_rc: tuple[np.ndarray, np.ndarray], shape: tuple[int, int]
                  ) -> np.ndarray:
    """The inliers of the plane's largest patch in the image, joined on a grid of blocks: a floor
    seen at a grazing angle keeps only a few of its pixels, yet nearly every block of it keeps one,
    while sensor noise scatters inliers of any plane over the whole view, filling few blocks."""
    b = PATCH_BLOCK_PX
    brow, bcol = pixels_rc[0][inliers] // b, pixels_rc[1][inliers] // b
    mask = np.zeros((-(-shape[0] // b), -(-shape[1] // b)), np.uint8)
    mask[brow, bcol] = 1
    _, labels = cv2.connectedComponents(mask, connectivity=8)
    patch_of = labels[brow, bcol]
    return inliers[patch_of == np.argmax(np.bincount(patch_of))]


def room_sized(xyz: Columns, patch: np.ndarray, axes: np.ndarray, cube_mm: float) -> bool:
    """Whether a patch is larger than a person (2nd-98th percentile extents along the plane's two
    axes): 1.25 cubes long, or the cube one way and half of it the other."""
    spans = []
    for k in (1, 2):
        lo, hi = np.percentile(along(xyz, axes[:, k], patch), [2.0, 98.0])
        spans.append(float(hi - lo))
    spans.sort()
    return spans[1] >= PLANE_LONG * cube_mm or (spans[1] >= cube_mm and spans[0] >= cube_mm / 2.0)
