"""Z-depth rendering of capsule subjects and planes for any pinhole `Intrinsics`.

Meshes (subject + distractors) go through Open3D's `RaycastingScene` (BVH, multithreaded);
planes (wall, table, floor) are intersected analytically, which is exact and costs one
division per pixel. Rays have direction ((u - cx)/fx, (v - cy)/fy, 1), so the hit distance
is the z-depth directly, and pixel (u, v) samples the pixel centre at integer coordinates, as
`geometry.depth_to_points_mm` assumes. Rendering a `roi_px` window only is what makes dataset
generation fast: a hand crop is a fraction of the frame.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ..geometry import back_project, clamp_roi
from ..open3d_import import load as load_open3d
from ..types import Intrinsics
from .shapes import Surface, surface_mesh

o3d = load_open3d()
o3c = o3d.core


@dataclass
class Plane:
    """Points x with normal . x = offset_mm (camera space), unit normal."""

    normal: np.ndarray
    offset_mm: float


@dataclass
class Background:
    planes: list[Plane] = field(default_factory=list)
    distractors: Surface = field(default_factory=Surface)


@functools.lru_cache(maxsize=8)
def _ray_grid(intr: Intrinsics) -> np.ndarray:
    """[H, W, 6] float32 rays (origin 0) for every pixel centre."""
    u, v, _ = back_project(np.arange(intr.width, dtype=np.float32), np.arange(intr.height, dtype=np.float32),
                           np.float32(1.0), intr)   # directions: the back-projection at unit depth
    rays = np.zeros((intr.height, intr.width, 6), np.float32)
    rays[..., 3] = u[None, :]
    rays[..., 4] = v[:, None]
    rays[..., 5] = 1.0
    return rays


def clip_roi(roi_px, intr: Intrinsics) -> tuple[int, int, int, int]:
    return clamp_roi(roi_px, intr.width, intr.height)


def _count(surface: Surface) -> int:
    return len(surface.capsule_a_mm) + len(surface.ellipsoid_c_mm)


def _single(surface: Surface, i: int) -> Surface:
    """Primitive i of a surface (capsules first, then ellipsoids) as its own surface."""
    one = Surface()
    n = len(surface.capsule_a_mm)
    if i < n:
        one.capsule(surface.capsule_a_mm[i], surface.capsule_b_mm[i], *surface.capsule_r_mm[i])
    else:
        one.ellipsoid(surface.ellipsoid_c_mm[i - n], surface.ellipsoid_axes_mm[i - n])
    return one


def _mesh_window(verts: np.ndarray, intr: Intrinsics, roi_px) -> tuple[int, int, int, int] | None:
    """Pixel window covering the projected mesh inside roi_px (the whole roi if a vertex is
    behind the camera), or None when the mesh misses it: rays outside can only hit planes."""
    if not len(verts):
        return None
    u0, v0, u1, v1 = roi_px
    z = verts[:, 2]
    if np.any(z <= 1.0):
        return roi_px
    u = verts[:, 0] * np.float32(intr.fx) / z + np.float32(intr.cx)
    v = verts[:, 1] * np.float32(intr.fy) / z + np.float32(intr.cy)
    box = (max(int(np.floor(u.min())) - 1, u0), max(int(np.floor(v.min())) - 1, v0),
           min(int(np.ceil(u.max())) + 2, u1), min(int(np.ceil(v.max())) + 2, v1))
    return box if box[2] > box[0] and box[3] > box[1] else None


def render_depth_mm(surface: Surface, background: Background, intr: Intrinsics,
                    roi_px: tuple[int, int, int, int] | None = None, max_depth_mm: float = 20000.0) -> np.ndarray:
    """Noise-free z-depth (float32 mm, 0 = nothing hit) of the window `roi_px` (clipped to the image)."""
    u0, v0, u1, v1 = clip_roi(roi_px, intr)
    if u1 <= u0 or v1 <= v0:
        return np.zeros((max(v1 - v0, 0), max(u1 - u0, 0)), np.float32)
    rays = _ray_grid(intr)[v0:v1, u0:u1]
    depth = np.full(rays.shape[:2], np.inf, np.float32)
    whole = Surface()
    whole.extend(surface)
    whole.extend(background.distractors)
    verts, tris = surface_mesh(whole)
    # Cast only where a mesh can be: the subject's window and each distractor's own window.
    parts = [surface] + [_single(background.distractors, i) for i in range(_count(background.distractors))]
    boxes = [b for b in (_mesh_window(surface_mesh(p)[0], intr, (u0, v0, u1, v1)) for p in parts) if b is not None]
    if len(tris) and boxes:
        scene = o3d.t.geometry.RaycastingScene()
        scene.add_triangles(o3c.Tensor.from_numpy(verts), o3c.Tensor.from_numpy(tris))
        for bu0, bv0, bu1, bv1 in boxes:
            sub = np.ascontiguousarray(rays[bv0 - v0:bv1 - v0, bu0 - u0:bu1 - u0])
            hit = scene.cast_rays(o3c.Tensor.from_numpy(sub), nthreads=0)["t_hit"].numpy()
            depth[bv0 - v0:bv1 - v0, bu0 - u0:bu1 - u0] = hit
    dirs = rays[..., 3:]
    for plane in background.planes:
        denom = dirs @ np.asarray(plane.normal, np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.float32(plane.offset_mm) / denom
        z = np.where((z > 0) & np.isfinite(z), z, np.inf)
        depth = np.minimum(depth, z)
    depth = np.where(depth <= max_depth_mm, depth, 0.0).astype(np.float32)
    return depth
