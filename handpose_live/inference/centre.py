"""Online reference point (cube centre) for V2V-PoseNet, from the depth image alone.

The released V2V code read precomputed centres from files; a live system computes one per frame.

Hand detection (`method="detect"`):
1. On a 4x-strided copy of the depth, the nearest surface is the minimum of a 3x3 max filter, so
   a near value counts only when a whole 12x12 px patch is that near (flying pixels and speckle
   never win).
2. Pixels in [nearest - 30 mm, nearest + band_mm] connected (8-neighbours) to that patch form
   the blob: the hand plus whatever stretch of forearm lies within the band.
3. Forearm counter-measure: the arm leaves the blob through the image border or through the
   back of the depth band ("exit" pixels). The hand is the blob's far end from the exit
   centroid, so only points within `hand_length_mm` of the extreme projection along the
   exit -> blob-centroid axis are kept. Without exit pixels (a floating hand) nothing is cut.
4. Mean shift: start at the kept points' centre of mass, then recompute the centre of mass of
   the points within a sphere whose radius shrinks from cube/2 to 0.3 cube, which pulls the
   estimate onto the palm (the densest part) and away from any forearm left over.

Body detection:
1. The room's planes leave the search first: RANSAC on the strided points finds the largest
   plane, removes its inliers (distance within `plane_tol_ratio` of the depth) and looks again,
   up to `max_planes`. A floor touches the feet by smooth depth, so without this the person and
   the floor form one blob too wide to be a person. A plane counts only when its largest patch
   (its inliers joined on a grid of blocks in the image) is at least 1.25 cubes long, or spans the
   cube one way and half of it the other (2nd-98th percentiles): no person does, so a torso is
   never removed, while a strip of floor between the camera's view and a wall is. A plane too
   small is set aside (not sampled again, not removed) and the search goes on, up to 2 times.
   The sampling has a fixed seed (the same frame gives the same centre) and is preemptive: every
   hypothesis is scored on 200 points, the best 8 on all the samples, and the winner is refit by
   least squares on the samples it explains.
2. The person is the largest cluster, by metric surface area, whose x and y extents fit in the
   cube: the points left are grouped by Euclidean clustering (cells of `cluster_cell_mm`, joined
   across their 26 neighbours), as people detectors do after ground removal. In 3D, thin limbs
   far away stay joined to the body, where a depth-jump segmentation of the image cuts them off
   wherever sensor noise or a hole crosses them; sparse noise makes only tiny clusters. A
   cluster too wide for the cube (people touching each other or furniture) is clustered again
   with half the cell, which parts what only touches.
3. Its centre of mass is refined by mean shift in the cube.
Known limitation: a person lying on the floor is partly removed with it.

Tracking (`method="track"`), the policy: when previous joints are given and their mean
confidence is at least `track_min_confidence` (every joint counts when no confidence is given),
the seed is the centre of the joints' bounding box. The current frame's points inside the cube
around the seed then refine it: for hands, the same shrinking mean shift as detection (so the two
modes agree and switching between them does not make the cube jump; the bounding-box centre sits
towards extended fingertips); for bodies, one centre-of-mass step within `track_radius_mm`.
Fewer than `min_points` valid pixels inside the cube around the seed means the target is lost,
and detection runs instead. Tracking follows the previous target even when something else is
nearer, which detection alone would jump to.

Several subjects (`detect(frame, limit, exclude)`): for hands, after a candidate is found, its
blob leaves the search image and the search runs again, up to `limit` candidates; for bodies, the
`limit` largest plausible clusters of the one clustering; the cubes of subjects that are already
tracked are cleared first, so detection only proposes new ones. Detection proposes,
it does not decide: the pipeline runs the pose network on every candidate and keeps those whose
heatmaps are confident (a torso or a table edge gives flat, low heatmaps).

Every estimate is finally pushed `surface_offset_mm` along the viewing ray: the points are the
front surface, the joints (and ground-truth centres) lie inside the hand.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy import ndimage

from ..geometry import cube_roi_px, pixels_to_points_mm
from ..targets import get_target
from ..types import DepthFrame, Intrinsics
from .detector import HandDetector

_NEAR_MARGIN_MM = 30.0      # blob pixels may be this much nearer than the robust nearest surface
_EXIT_BAND_MM = 20.0        # blob pixels this close to the back of the depth band are arm exits
_PLANE_SAMPLES = 1500       # RANSAC: points sampled from the search image
_PLANE_HYPOTHESES = 128     # RANSAC: 3-point plane hypotheses per plane
_PLANE_PRESCORE = 200       # RANSAC: every hypothesis is scored on this many samples first...
_PLANE_FINALISTS = 8        # ...and this many best on all of them
_PATCH_BLOCK_PX = 3         # body: a plane's patches are joined on blocks of this many search-image pixels
_SPLIT_LEVELS = 1           # body: a cluster too wide for the cube is clustered again with half the cell
_PLANE_LONG = 1.25          # body: a plane this many cubes long is a room's even when narrow (a strip of floor)
_PLANE_RETRIES = 2          # body: planes too small for a room that may be set aside before the search ends


@dataclass(frozen=True)
class CentreConfig:
    """Parameters of the centre search; `for_target` gives the defaults for hands and bodies."""

    target: str = "hand"
    cube_mm: float = 250.0
    depth_range_mm: tuple[float, float] = (150.0, 1000.0)
    min_points: int = 150               # valid full-resolution pixels a plausible target has
    band_mm: float = 150.0              # depth band behind the nearest surface (hand)
    hand_length_mm: float = 200.0       # blob length kept from the hand's extreme end
    cluster_cell_mm: float = 100.0      # body: grid cell of the Euclidean clustering
    segment_stride_px: int = 4          # subsampling of the segmentation image
    point_step_px: int = 2              # subsampling of back-projected points
    track_min_confidence: float = 0.3
    track_radius_mm: float = 75.0
    shift_radii: tuple[float, ...] = (0.5, 0.45, 0.4, 0.35, 0.3)   # mean-shift radii / cube_mm
    surface_offset_mm: float = 10.0     # the camera sees the front surface; joints lie inside
    max_planes: int = 0                 # body: room planes (floor, walls) removed before the search
    plane_tol_ratio: float = 0.04       # body: plane inlier distance, as a fraction of depth

    @classmethod
    def for_target(cls, target: str = "hand", cube_mm: float | None = None) -> CentreConfig:
        """Defaults from the target registry (`targets.py`), scaled to the model's cube."""
        t = get_target(target)
        cube = t.cube_mm if cube_mm is None else float(cube_mm)
        common = cls(target=t.name, cube_mm=cube, depth_range_mm=t.depth_range_mm, min_points=t.min_points,
                     track_radius_mm=0.3 * cube)
        if t.name == "hand":
            return replace(common, band_mm=0.6 * cube, hand_length_mm=0.8 * cube, surface_offset_mm=0.04 * cube)
        # Bodies: every 4th pixel for the centre of mass of a 2 m cube (2: 4.7 -> 1.9 ms, the same error).
        return replace(common, band_mm=cube, hand_length_mm=cube, shift_radii=(0.5, 0.5, 0.5), surface_offset_mm=0.0,
                       point_step_px=4, max_planes=3)


@dataclass
class CentreEstimate:
    centre_mm: np.ndarray   # [3] camera mm
    method: str             # "track" | "detect" (geometric) | "learned" (the learned detector's candidate)
    num_points: int         # valid full-resolution pixels behind the estimate (approximate)


def _back_project(depth_mm: np.ndarray, intr: Intrinsics, vs: np.ndarray, us: np.ndarray) -> np.ndarray:
    return pixels_to_points_mm(us, vs, depth_mm[vs, us], intr)


def _room_planes(points_mm: np.ndarray, pixels_rc: tuple[np.ndarray, np.ndarray], shape: tuple[int, int],
                 cube_mm: float, tol_ratio: float, max_planes: int) -> np.ndarray:
    """Which points lie on the room's large planes (see the module docstring, body detection 1);
    `pixels_rc`: the points' (rows, cols) in an image of `shape`. A plane's size is the extent of
    its largest patch in the image (inliers joined on a grid of blocks), not of all its inliers:
    sensor noise scatters inliers of any plane over the whole view.

    Distances are computed column by column rather than as matrix products: these sizes are
    faster that way, and BLAS would start threads of its own beside the inference runtime's.
    """
    on_plane = np.zeros(len(points_mm), bool)
    rng = np.random.default_rng(0)
    x, y, z = (np.ascontiguousarray(points_mm[:, k], np.float32) for k in range(3))
    tol_all = (tol_ratio * z).astype(np.float32)

    def distance(n, d, idx=slice(None)):   # |n . p + d| for one plane, every point (or idx)
        return np.abs(x[idx] * np.float32(n[0]) + y[idx] * np.float32(n[1]) + z[idx] * np.float32(n[2]) + np.float32(d))

    set_aside = np.zeros(len(points_mm), bool)   # explained by a plane too small for a room: not sampled again
    found = 0
    for _ in range(max_planes + _PLANE_RETRIES):
        left = np.flatnonzero(~on_plane)
        pool = np.flatnonzero(~on_plane & ~set_aside)
        if len(pool) < 3 * _PLANE_PRESCORE:
            break
        sample = points_mm[rng.choice(pool, min(_PLANE_SAMPLES, len(pool)), replace=False)].astype(np.float64)
        a, b, c = (sample[rng.integers(0, len(sample), _PLANE_HYPOTHESES)] for _ in range(3))
        normals = np.cross(b - a, c - a)
        norms = np.sqrt((normals * normals).sum(axis=1))
        good = norms > 1e-9
        if not good.any():
            break
        normals = normals[good] / norms[good, None]
        offsets = -(normals * a[good]).sum(axis=1)

        def votes(hyp: np.ndarray, count: int) -> np.ndarray:   # inliers among the first `count` samples
            p = sample[:count]
            n = normals[hyp]
            dist = np.abs(n[:, None, 0] * p[None, :, 0] + n[:, None, 1] * p[None, :, 1] + n[:, None, 2] * p[None, :, 2]
                          + offsets[hyp, None])
            return (dist <= tol_ratio * p[None, :, 2]).sum(axis=1)

        finalists = np.argsort(-votes(np.arange(len(normals)), _PLANE_PRESCORE), kind="stable")[:_PLANE_FINALISTS]
        best = finalists[int(np.argmax(votes(finalists, len(sample))))]
        # Refit on the sample's inliers (least squares: the covariance's smallest eigenvector).
        n = normals[best]
        members = sample[np.abs(sample[:, 0] * n[0] + sample[:, 1] * n[1] + sample[:, 2] * n[2] + offsets[best])
                         <= tol_ratio * sample[:, 2]]
        if len(members) < 3:
            break
        mean = members.mean(axis=0)
        centred = members - mean
        _, vecs = np.linalg.eigh(np.einsum("ni,nj->ij", centred, centred))
        normal = vecs[:, 0]
        dist = distance(normal, -float((normal * mean).sum()), left)
        inl = left[dist <= tol_all[left]]
        # Patches on a grid of _PATCH_BLOCK_PX blocks: a floor seen at a grazing angle keeps only a
        # few of its pixels, yet nearly every block of it keeps one; scattered noise fills few blocks.
        b = _PATCH_BLOCK_PX
        brow, bcol = pixels_rc[0][inl] // b, pixels_rc[1][inl] // b
        mask = np.zeros((-(-shape[0] // b), -(-shape[1] // b)), np.uint8)
        mask[brow, bcol] = 1
        _, labels = cv2.connectedComponents(mask, connectivity=8)
        patch_of = labels[brow, bcol]
        patch = inl[patch_of == np.argmax(np.bincount(patch_of))]
        spans = []
        for k in (1, 2):   # the largest patch's extent along the plane's two axes
            along = x[patch] * np.float32(vecs[0, k]) + y[patch] * np.float32(vecs[1, k]) + z[patch] * np.float32(vecs[2, k])
            lo, hi = np.percentile(along, [2.0, 98.0])
            spans.append(float(hi - lo))
        spans.sort()
        if not (spans[1] >= _PLANE_LONG * cube_mm or (spans[1] >= cube_mm and spans[0] >= cube_mm / 2.0)):
            set_aside[inl] = True   # a plane this small could be a person: keep it, look for another
            continue
        on_plane[inl] = True
        found += 1
        if found == max_planes:
            break
    return on_plane


def _clusters(points_mm: np.ndarray, cell_mm: float) -> tuple[np.ndarray, int]:
    """Euclidean clusters: the points' cells of a `cell_mm` grid, joined across the 26 neighbours;
    (cluster label per point, from 1; the number of clusters)."""
    keys = np.floor(points_mm / np.float32(cell_mm)).astype(np.int64)
    keys -= keys.min(axis=0)
    grid = np.zeros(tuple(keys.max(axis=0) + 1), bool)
    grid[keys[:, 0], keys[:, 1], keys[:, 2]] = True
    cells, count = ndimage.label(grid, structure=np.ones((3, 3, 3), bool))
    return cells[keys[:, 0], keys[:, 1], keys[:, 2]], int(count)


def _extents(points_mm: np.ndarray, labels: np.ndarray, count: int) -> list[np.ndarray]:
    """Per cluster 1..count, its extent in x and in y (0 for a label no point has any more)."""
    index = np.arange(1, count + 1)
    return [np.nan_to_num(np.subtract(ndimage.maximum(points_mm[:, k], labels, index),
                                      ndimage.minimum(points_mm[:, k], labels, index))) for k in range(2)]


def _mean_shift(points_mm: np.ndarray, start_mm: np.ndarray, radii_mm) -> np.ndarray:
    """Centre of mass of the points in a sphere, repeated; stops where a sphere holds nothing."""
    centre = start_mm.astype(np.float64)
    for radius in radii_mm:
        inside = np.einsum("ij,ij->i", points_mm - centre, points_mm - centre) <= radius * radius
        if not inside.any():
            break
        centre = points_mm[inside].mean(axis=0, dtype=np.float64)
    return centre


class CentreEstimator:
    """Computes the cube centre of one frame; holds no state between frames.

    With a learned `detector` (`inference/detector.py`), hand candidates come from its palm
    heatmap: each palm pixel gets the near surface's depth there (the 25th percentile of the valid
    depths in a 9x9 window), and the cube around that point is refined by the same shrinking mean
    shift as tracking. Without one, the geometric detection above runs.
    """

    def __init__(self, config: CentreConfig | None = None, detector: HandDetector | None = None):
        self.config = config or CentreConfig.for_target("hand")
        self.detector = detector if self.config.target == "hand" else None

    def estimate(self, frame: DepthFrame, previous_joints_mm: np.ndarray | None = None,
                 previous_confidence: np.ndarray | None = None) -> CentreEstimate | None:
        """One subject: tracked from the previous joints when they are confident, else detected."""
        estimate = None
        if previous_joints_mm is not None:
            estimate = self.track(frame, previous_joints_mm, previous_confidence)
        if estimate is None:
            found = self.detect(frame, limit=1)
            estimate = found[0] if found else None
        return estimate

    def track(self, frame: DepthFrame, previous_joints_mm: np.ndarray,
              previous_confidence: np.ndarray | None = None, others_mm: list[np.ndarray] | None = None
              ) -> CentreEstimate | None:
        """The subject of the previous joints in this frame, or None when it is lost; `others_mm`:
        the other tracked subjects' previous centres, whose points this one must not pull in."""
        depth = self._depth(frame)
        if depth is None or not self._confident(previous_joints_mm, previous_confidence):
            return None
        return self._offset(self._track(depth, frame.intrinsics, np.asarray(previous_joints_mm, np.float64), others_mm))

    def detect(self, frame: DepthFrame, limit: int = 1, exclude_mm: list[np.ndarray] | None = None
               ) -> list[CentreEstimate]:
        """Up to `limit` candidates, nearest (hands) or largest (bodies) first, none inside the cubes
        around the centres in `exclude_mm` (subjects already tracked)."""
        depth = self._depth(frame)
        if depth is None or limit < 1:
            return []
        if self.detector is not None:
            return self._detect_learned(depth, frame.intrinsics, limit, exclude_mm or [])
        found = self._in_range(depth)
        if found is None:
            return []
        small, in_range = found
        for centre in exclude_mm or []:
            self._clear_cube(in_range, small, frame.intrinsics, np.asarray(centre, np.float64))
        if self.config.target == "body":
            return [e for e in map(self._offset, self._detect_bodies(frame.intrinsics, small, in_range, limit)) if e]
        out: list[CentreEstimate] = []
        while len(out) < limit:
            estimate, taken = self._detect_hand(depth, frame.intrinsics, small, in_range)
            if taken is None:
                break
            estimate = self._offset(estimate)
            if estimate is not None:
                out.append(estimate)
            in_range = in_range & ~taken
        return out

    def _detect_learned(self, depth: np.ndarray, intr: Intrinsics, limit: int, exclude_mm: list) -> list[CentreEstimate]:
        cfg = self.config
        assert self.detector is not None
        lo, hi = cfg.depth_range_mm
        taken = [np.asarray(c, np.float64) for c in exclude_mm]
        out: list[CentreEstimate] = []
        for u, v, _ in self.detector.propose(depth, limit + len(taken) + 2, fx=intr.fx):
            ui, vi = int(round(u)), int(round(v))
            window = depth[max(vi - 4, 0):vi + 5, max(ui - 4, 0):ui + 5]
            zs = window[(window >= lo) & (window <= hi)]
            if zs.size == 0:
                continue
            seed = pixels_to_points_mm(np.array([u]), np.array([v]), np.array([np.percentile(zs, 25)]), intr)[0]
            estimate = self._track(depth, intr, seed[None].astype(np.float64))
            if estimate is None:
                continue
            if any(np.linalg.norm(estimate.centre_mm - c) < 0.25 * cfg.cube_mm for c in taken):
                continue
            estimate.method = "learned"
            taken.append(estimate.centre_mm)
            out.append(self._offset(estimate) or estimate)
            if len(out) >= limit:
                break
        return out

    @staticmethod
    def _depth(frame: DepthFrame) -> np.ndarray | None:
        depth = np.asarray(frame.depth_mm, dtype=np.float32)
        return depth if depth.ndim == 2 and depth.size else None

    def _offset(self, estimate: CentreEstimate | None) -> CentreEstimate | None:
        if estimate is not None and self.config.surface_offset_mm:
            ray = estimate.centre_mm / np.linalg.norm(estimate.centre_mm)
            estimate.centre_mm = estimate.centre_mm + self.config.surface_offset_mm * ray
        return estimate

    def _clear_cube(self, in_range: np.ndarray, small: np.ndarray, intr: Intrinsics, centre_mm: np.ndarray) -> None:
        """Remove from the search image every pixel that lies in the cube around `centre_mm`."""
        s = self.config.segment_stride_px
        half = self.config.cube_mm / 2.0
        u0, v0, u1, v1 = cube_roi_px(centre_mm, self.config.cube_mm, intr)
        u0, v0 = max(u0 // s, 0), max(v0 // s, 0)
        u1, v1 = min(-(-u1 // s), small.shape[1]), min(-(-v1 // s), small.shape[0])
        if u1 <= u0 or v1 <= v0:
            return
        window = small[v0:v1, u0:u1]
        in_range[v0:v1, u0:u1] &= ~((window >= centre_mm[2] - half) & (window <= centre_mm[2] + half))

    def _confident(self, joints_mm: np.ndarray, confidence: np.ndarray | None) -> bool:
        joints = np.asarray(joints_mm)
        if joints.ndim != 2 or joints.shape[1] != 3 or len(joints) == 0 or not np.isfinite(joints).all():
            return False
        if confidence is None:
            return True
        return float(np.mean(confidence)) >= self.config.track_min_confidence

    def _track(self, depth: np.ndarray, intr: Intrinsics, joints_mm: np.ndarray,
               others_mm: list[np.ndarray] | None = None) -> CentreEstimate | None:
        """Refine the previous joints' centre on this frame's points; points nearer to another
        subject's seed (`others_mm`) than to this one's belong to that subject and are left out."""
        cfg = self.config
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
        points = _back_project(depth, intr, vs * step + v0, us * step + u0)
        in_cube = np.all(np.abs(points - seed.astype(np.float32)) <= half, axis=1)
        own = np.sum((points - seed.astype(np.float32)) ** 2, axis=1)
        for other in others_mm or []:
            in_cube &= own <= np.sum((points - np.asarray(other, np.float32)) ** 2, axis=1)
        num_points = int(in_cube.sum()) * step * step
        if num_points < cfg.min_points:
            return None
        radii = (cfg.track_radius_mm,) if cfg.target == "body" else [r * cfg.cube_mm for r in cfg.shift_radii]
        centre = _mean_shift(points[in_cube], seed, radii)
        return CentreEstimate(centre, "track", num_points)

    def _blob_points(self, depth: np.ndarray, intr: Intrinsics, labels: np.ndarray, label: int,
                     bbox_small: tuple[int, int, int, int], z_lo: float, z_hi: float) -> tuple[np.ndarray, np.ndarray]:
        """Full-resolution points (every `point_step_px`) of one component of the strided labels."""
        s, step = self.config.segment_stride_px, self.config.point_step_px
        x, y, w, h = bbox_small
        v0, u0 = y * s, x * s
        v1, u1 = min((y + h) * s, depth.shape[0]), min((x + w) * s, depth.shape[1])
        rows = np.arange(v0, v1, step)
        cols = np.arange(u0, u1, step)
        window = depth[v0:v1:step, u0:u1:step]
        member = labels[(rows // s)[:, None], (cols // s)[None, :]] == label
        vs, us = np.nonzero(member & (window >= z_lo) & (window <= z_hi))
        return _back_project(depth, intr, rows[vs], cols[us]), np.stack([rows[vs], cols[us]], axis=1)

    def _in_range(self, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The downsampled depth and its in-range mask, or None when too little is in range."""
        s = self.config.segment_stride_px
        lo, hi = self.config.depth_range_mm
        small = depth[::s, ::s]
        in_range = (small >= lo) & (small <= hi)
        if int(in_range.sum()) * s * s < self.config.min_points:
            return None
        return small, in_range

    def _detect_hand(self, depth: np.ndarray, intr: Intrinsics, small: np.ndarray, in_range: np.ndarray
                     ) -> tuple[CentreEstimate | None, np.ndarray | None]:
        """The nearest blob's hand end: (estimate or None when the blob is too small, the blob's
        pixels in the search image), or (None, None) when nothing is left to search."""
        cfg = self.config
        lo, hi = cfg.depth_range_mm
        if int(in_range.sum()) * cfg.segment_stride_px ** 2 < cfg.min_points:
            return None, None
        far = np.where(in_range, small, np.inf).astype(np.float32)
        patch_far = cv2.dilate(far, np.ones((3, 3), np.uint8))
        seed_index = int(np.argmin(patch_far))
        nearest_mm = float(patch_far.flat[seed_index])
        if not np.isfinite(nearest_mm):
            return None, None
        z_lo, z_hi = max(lo, nearest_mm - _NEAR_MARGIN_MM), min(hi, nearest_mm + cfg.band_mm)
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
        points, pixels = self._blob_points(depth, intr, labels, label, (x0, y0, bw, bh), z_lo, z_hi)
        num_points = len(points) * cfg.point_step_px ** 2
        if num_points < cfg.min_points:
            return None, taken
        hand = self._cut_forearm(points, pixels, depth.shape, z_hi)
        start = hand.mean(axis=0, dtype=np.float64)
        centre = _mean_shift(hand, start, [r * cfg.cube_mm for r in cfg.shift_radii])
        return CentreEstimate(centre, "detect", num_points), taken

    def _cut_forearm(self, points: np.ndarray, pixels: np.ndarray, shape: tuple[int, int], z_hi: float) -> np.ndarray:
        """Keep the blob's end away from where the arm leaves it (image border or back of the band)."""
        cfg = self.config
        margin = cfg.segment_stride_px
        rows, cols = pixels[:, 0], pixels[:, 1]
        exits = ((rows < margin) | (rows >= shape[0] - margin) | (cols < margin) | (cols >= shape[1] - margin)
                 | (points[:, 2] >= z_hi - _EXIT_BAND_MM))
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

    def _detect_bodies(self, intr: Intrinsics, small: np.ndarray, in_range: np.ndarray, limit: int
                       ) -> list[CentreEstimate]:
        """The `limit` largest person-sized clusters, largest first: the search image is back-projected,
        its room planes removed and its points clustered once for all of them."""
        cfg = self.config
        s = cfg.segment_stride_px
        rows, cols = np.nonzero(in_range)
        points = pixels_to_points_mm(cols * s, rows * s, small[rows, cols], intr)
        if cfg.max_planes > 0:
            points = points[~_room_planes(points, (rows, cols), small.shape, cfg.cube_mm, cfg.plane_tol_ratio,
                                          cfg.max_planes)]
        if len(points) * s * s < cfg.min_points:
            return []
        labels, count = _clusters(points, cfg.cluster_cell_mm)
        extent = _extents(points, labels, count)
        cell = cfg.cluster_cell_mm
        for _ in range(_SPLIT_LEVELS):   # too wide: people touching each other or furniture; finer cells may part them
            big = np.flatnonzero((extent[0] > cfg.cube_mm) | (extent[1] > cfg.cube_mm)) + 1
            if not len(big):
                break
            cell /= 2.0
            member = np.isin(labels, big)
            sub, n = _clusters(points[member], cell)
            labels[member] = sub + count
            count += n
            extent = _extents(points, labels, count)
        size = np.bincount(labels, minlength=count + 1)[1:]
        area_mm2 = np.bincount(labels, weights=points[:, 2].astype(np.float64) ** 2, minlength=count + 1)[1:]
        plausible = np.flatnonzero((extent[0] <= cfg.cube_mm) & (extent[1] <= cfg.cube_mm)
                                   & (size * s * s >= cfg.min_points))
        out = []
        for label in 1 + plausible[np.argsort(-area_mm2[plausible], kind="stable")][:limit]:
            person = points[labels == label]
            centre = _mean_shift(person, person.mean(axis=0, dtype=np.float64), [r * cfg.cube_mm for r in cfg.shift_radii])
            out.append(CentreEstimate(centre, "detect", len(person) * s * s))
        return out
