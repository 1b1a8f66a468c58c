"""The 2D picture of a frame: depth colour map, projected skeleton, status text.

Pure (no window, no state) so the OpenCV viewer, the video writer and tests share it.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..geometry import camera_to_pixel
from ..skeletons import Skeleton
from ..types import DepthFrame, PoseResult

# Half of the depth window shown in full colour around the subject: narrow enough that the
# hand's relief and what is just behind it get distinct colours; everything else is dimmed.
HALF_RANGE_MM = {"hand": 120.0, "body": 1200.0}
DIM_OUTSIDE = 0.35
JOINT_RADIUS_PX = 4
BONE_THICKNESS_PX = 2


def skeleton_bgr(skeleton: Skeleton) -> list[tuple[int, int, int]]:
    """Per-joint finger colours as OpenCV BGR 0..255."""
    return [(int(round(b * 255)), int(round(g * 255)), int(round(r * 255))) for r, g, b in skeleton.colours()]


def _subject_depth_mm(result: PoseResult) -> float | None:
    for points in (result.centre_mm, result.joints_mm):
        if result.found and points is not None:
            z = np.asarray(points, np.float64).reshape(-1, 3)[:, 2]
            z = z[np.isfinite(z) & (z > 0)]
            if z.size:
                return float(np.median(z))
    return None


def _colour_table() -> np.ndarray:
    """[3 * 256, 3] BGR: the JET map, the same dimmed (outside the window), then black (no depth)."""
    jet = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0]
    return np.concatenate([jet, (jet * DIM_OUTSIDE).astype(np.uint8), np.zeros_like(jet)])


COLOURS = _colour_table()


def colourise_depth(depth_mm: np.ndarray, result: PoseResult, half_range_mm: float) -> np.ndarray:
    """JET colour map, near = red; window around the subject (or the scene's 2-98 % range).

    One lookup per pixel in a table of the map, its dimmed copy and black: the viewer draws this
    for every frame it shows, so it must stay cheap.
    """
    depth = np.asarray(depth_mm, np.float32)
    valid = np.isfinite(depth) & (depth > 0)
    centre_z = _subject_depth_mm(result)
    if centre_z is not None:
        near, far = centre_z - half_range_mm, centre_z + half_range_mm
    elif valid.any():
        near, far = (float(v) for v in np.percentile(depth[valid], (2, 98)))
    else:
        return np.zeros(depth.shape + (3,), np.uint8)
    far = max(far, near + 1.0)
    scaled = (far - np.where(valid, depth, far)) * (255.0 / (far - near))
    index = np.clip(scaled, 0, 255).astype(np.uint16)
    outside = valid & ((depth < near) | (depth > far))
    index += outside * np.uint16(256)
    index[~valid] = 512
    return COLOURS[index]


def draw_skeleton(image: np.ndarray, joints_mm: np.ndarray, skeleton: Skeleton, intrinsics) -> None:
    """Bones as lines, joints as filled circles, in finger colours, each with a dark outline."""
    uvz = camera_to_pixel(np.asarray(joints_mm, np.float64).reshape(-1, 3), intrinsics)
    ok = np.isfinite(uvz).all(axis=1) & (uvz[:, 2] > 0) & (np.abs(uvz[:, :2]) < 1e5).all(axis=1)
    px = [(int(round(u)), int(round(v))) for u, v in uvz[:, :2].tolist()] if ok.any() else []
    colours = skeleton_bgr(skeleton)
    bones = [(a, b) for a, b in skeleton.bones if a < len(px) and b < len(px) and ok[a] and ok[b]]
    for a, b in bones:
        cv2.line(image, px[a], px[b], (0, 0, 0), BONE_THICKNESS_PX + 2, cv2.LINE_AA)
    for a, b in bones:
        cv2.line(image, px[a], px[b], colours[b], BONE_THICKNESS_PX, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        cv2.circle(image, px[j], JOINT_RADIUS_PX + 1, (0, 0, 0), -1, cv2.LINE_AA)
        cv2.circle(image, px[j], JOINT_RADIUS_PX, colours[j], -1, cv2.LINE_AA)


def _put_text_lines(image: np.ndarray, lines: list[str]) -> None:
    scale = max(0.4, image.shape[0] / 960.0)
    y = 6
    for line in lines:
        (w, h), base = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.rectangle(image, (4, y), (12 + w, y + h + base + 6), (0, 0, 0), -1)
        cv2.putText(image, line, (8, y + h + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
        y += h + base + 10


def render_overlay(frame: DepthFrame, result: PoseResult, skeleton: Skeleton, fps: float | None = None) -> np.ndarray:
    """A new BGR uint8 image of the frame with the result drawn on it (inputs untouched)."""
    half = HALF_RANGE_MM.get(skeleton.target, HALF_RANGE_MM["hand"])
    image = colourise_depth(frame.depth_mm, result, half)
    if result.found and result.joints_mm is not None:
        draw_skeleton(image, result.joints_mm, skeleton, frame.intrinsics)
    subject = "hand" if skeleton.target == "hand" else "body"
    lines = [f"{subject} found" if result.found else f"no {subject}"]
    if fps is not None:
        lines.insert(0, f"{fps:.1f} fps")
    _put_text_lines(image, lines)
    return image
