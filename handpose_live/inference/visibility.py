"""Which joints of a subject the camera sees: per joint `visible` (True: seen, False: hidden or outside
the image), from the joint's pixel, the depth measured around it and its heatmap confidence. Pure NumPy,
no I/O; the pipeline calls `mark_visible` for every subject (`pipeline.PosePipeline._subject`).

A joint is hidden when
- its pixel (rounded) lies outside the depth image, or the joint is not finite or not in front of the camera;
- the depth measured around its pixel, the median of the valid depths of a `WINDOW_PX` x `WINDOW_PX`
  window (robust to holes, noise and a silhouette's edge), is nearer than the joint's depth minus
  `TOLERANCE_FRACTION` x the subject's cube: something else is in front of it (the palm in front of a
  finger, a desk in front of the legs, another person). The tolerance scales with the cube because
  both things it must absorb do: a joint lies inside its body part, under a surface about a part's
  radius nearer (8-10 mm for a finger, 40-150 mm for a limb or the torso), and the network's joint
  error is about 1/25 of the cube (10 mm of the hand's 250 mm, 60-100 mm of the body's 2000 mm).
  A window without any valid depth says nothing against the joint: it counts as seen;
- its heatmap peak is under `MIN_CONFIDENCE`: the network itself does not see it.
The thresholds come from synthetic frames whose true visibility is known (`benchmarks/visibility.py`;
docs/results.md, "Joint visibility"). The record caps a hidden joint's confidence at
`types.HIDDEN_CONFIDENCE`; its position is the fitted skeleton's (inference/kinematics.py).
"""
from __future__ import annotations

import functools

import numpy as np

from ..geometry import camera_to_pixel
from ..types import DepthFrame, Intrinsics, Subject

WINDOW_PX = 5               # the square of pixels around a joint's pixel whose median depth is compared
TOLERANCE_FRACTION = 0.1    # a joint is hidden when that depth is nearer than its own minus this x the cube
MIN_CONFIDENCE = 0.2        # or when its heatmap peak is under this


@functools.lru_cache(maxsize=8)
def _offsets(window_px: int) -> tuple[np.ndarray, np.ndarray]:
    """(du, dv) [K] of the pixels of a `window_px` square around its centre."""
    side = 2 * (int(window_px) // 2) + 1
    dv, du = np.divmod(np.arange(side * side), side)
    return du - side // 2, dv - side // 2


def window_depth_mm(depth_mm: np.ndarray, u: np.ndarray, v: np.ndarray, window_px: int = WINDOW_PX) -> np.ndarray:
    """[N] the median of the valid (> 0, finite) depths in the `window_px` square around each pixel
    (u, v) (integers; the part of a window outside the image is ignored); NaN where none is valid."""
    depth = np.asarray(depth_mm)
    h, w = depth.shape[:2]
    du, dv = _offsets(window_px)
    us = np.asarray(u, np.int64).reshape(-1, 1) + du
    vs = np.asarray(v, np.int64).reshape(-1, 1) + dv
    inside = (us >= 0) & (us < w) & (vs >= 0) & (vs < h)
    values = depth[np.minimum(np.maximum(vs, 0), h - 1), np.minimum(np.maximum(us, 0), w - 1)].astype(np.float64)
    valid = inside & (values > 0) & (values < np.inf)
    ordered = np.sort(np.where(valid, values, np.inf), axis=1)
    count = valid.sum(axis=1)
    rows = np.arange(len(count))
    low, high = np.maximum(count - 1, 0) // 2, np.minimum(count // 2, ordered.shape[1] - 1)
    median = (ordered[rows, low] + ordered[rows, high]) / 2
    return np.where(count > 0, median, np.nan)


def joint_visibility(joints_mm: np.ndarray, confidence: np.ndarray | None, depth_mm: np.ndarray,
                     intrinsics: Intrinsics, tolerance_mm: float, min_confidence: float = MIN_CONFIDENCE,
                     window_px: int = WINDOW_PX) -> np.ndarray:
    """[J] bool: each joint (camera mm [J, 3]) seen in the depth image (mm, 0 = none) of a camera of
    `intrinsics`: its pixel in the image, nothing measured nearer than its depth minus `tolerance_mm`
    around that pixel, and its `confidence` (heatmap peak; None: not used) at least `min_confidence`."""
    joints = np.asarray(joints_mm, np.float64).reshape(-1, 3)
    depth = np.asarray(depth_mm)
    h, w = depth.shape[:2]
    uvz = camera_to_pixel(joints, intrinsics)
    finite = np.isfinite(uvz).all(axis=1) & (uvz[:, 2] > 0)
    uv = np.where(finite[:, None], np.rint(uvz[:, :2]), -1.0)
    u, v = uv[:, 0].astype(np.int64), uv[:, 1].astype(np.int64)
    visible = finite & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    if visible.any():
        measured = window_depth_mm(depth, u[visible], v[visible], window_px)
        visible[visible] = ~(measured < uvz[visible, 2] - float(tolerance_mm))     # NaN (no depth): not hidden
    if confidence is not None:
        visible &= np.asarray(confidence, np.float64).reshape(-1) >= min_confidence   # NaN: not seen
    return visible


def mark_visible(subject: Subject, frame: DepthFrame, cube_mm: float) -> None:
    """Set `subject.visible` from its (fitted) joints, its heatmap peaks and the frame's depth; the
    tolerance is `TOLERANCE_FRACTION` of the subject's cube (`cube_mm`)."""
    subject.visible = joint_visibility(subject.joints_mm, subject.confidence, frame.depth_mm, frame.intrinsics,
                                       TOLERANCE_FRACTION * float(cube_mm))
