"""Pure camera and cube geometry. All axis conventions of the project are stated here, once.

Camera space (everything inside handpose-live): millimetres, x right, y DOWN, z forward,
the RealSense / OpenCV convention. A pixel (u, v) with depth z_mm maps to
    x = (u - cx) * z / fx,   y = (v - cy) * z / fy,   z = z.
Some datasets label joints y-UP (y = (cy - v) z / fy): NYU, MSRA, ITOP. Loaders convert them
with `flip_y` once, on load; MSRA also stores z negative. Nothing downstream ever sees y-up.

Voxel grids: a cube of edge `cube_mm` centred on a reference point. A grid of S voxels per
axis is stored as [D, H, W] = [z, y, x] (so depth bins are the leading spatial axis), and
voxel index i along an axis covers normalised [(i/S) - 0.5, (i+1)/S - 0.5) of the cube edge.
Continuous voxel coordinates put the CENTRE of voxel i at i; coordinate vectors are (x, y, z).

Every formula here is written once. The element-wise ones (`back_project`, `mm_to_norm`,
`norm_to_voxel`, ...) use only arithmetic, so they serve NumPy arrays and torch tensors
alike: the live voxelizer (torch, maybe on the GPU), training (torch) and the centre
estimator and synthetic world (NumPy) share them.
"""
from __future__ import annotations

import numpy as np

from .types import Intrinsics

# Dataset label conventions, applied by the loaders (y up -> our y down).
DATASET_Y_UP = {"nyu": True, "icvl": False, "msra": True, "hands2017": False, "itop": True}


def flip_y(points: np.ndarray) -> np.ndarray:
    """Switch between y-up and y-down camera space (an involution)."""
    out = np.array(points, dtype=np.float64 if np.asarray(points).dtype == np.float64 else np.float32, copy=True)
    out[..., 1] = -out[..., 1]
    return out


def back_project(u, v, z, intr: Intrinsics):
    """Pixel (u, v) with depth z (mm) -> camera-space (x, y, z): THE back-projection.
    Works element-wise on NumPy arrays or torch tensors (pass float32 for float32 results)."""
    return (u - intr.cx) * z / intr.fx, (v - intr.cy) * z / intr.fy, z


def pixel_to_camera_mm(uvd: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """[..., 3] (u_px, v_px, depth_mm) -> [..., 3] camera-space mm."""
    uvd = np.asarray(uvd, dtype=np.float64)
    return np.stack(back_project(uvd[..., 0], uvd[..., 1], uvd[..., 2], intr), axis=-1)


def camera_to_pixel(xyz_mm: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """[..., 3] camera-space mm -> [..., 3] (u_px, v_px, depth_mm)."""
    xyz = np.asarray(xyz_mm, dtype=np.float64)
    z = xyz[..., 2]
    safe = np.where(np.abs(z) < 1e-9, 1e-9, z)
    u = xyz[..., 0] * intr.fx / safe + intr.cx
    v = xyz[..., 1] * intr.fy / safe + intr.cy
    return np.stack([u, v, z], axis=-1)


def depth_to_points_mm(depth_mm: np.ndarray, intr: Intrinsics, roi_px: tuple[int, int, int, int] | None = None,
                       z_range_mm: tuple[float, float] | None = None) -> np.ndarray:
    """Back-project a depth image to an [P, 3] float32 point cloud in camera mm.

    Zero, negative and non-finite depths never become points. `roi_px` = (u0, v0, u1, v1)
    restricts to a pixel window (end exclusive); `z_range_mm` keeps z0 <= z <= z1.
    """
    u0, v0, u1, v1 = clamp_roi(roi_px, depth_mm.shape[1], depth_mm.shape[0])
    if u1 <= u0 or v1 <= v0:
        return np.zeros((0, 3), np.float32)
    z = np.asarray(depth_mm[v0:v1, u0:u1], dtype=np.float32)
    valid = np.isfinite(z) & (z > 0)
    if z_range_mm is not None:
        valid &= (z >= z_range_mm[0]) & (z <= z_range_mm[1])
    vs, us = np.nonzero(valid)
    return pixels_to_points_mm(us + u0, vs + v0, z[vs, us], intr)


def pixels_to_points_mm(us: np.ndarray, vs: np.ndarray, zs: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """Integer pixel coordinates and their depths -> [P, 3] float32 camera mm."""
    x, y, z = back_project(np.asarray(us, np.float32), np.asarray(vs, np.float32), np.asarray(zs, np.float32), intr)
    return np.stack([x, y, z], axis=1).astype(np.float32, copy=False)


def clamp_roi(roi_px: tuple[int, int, int, int] | None, width: int, height: int) -> tuple[int, int, int, int]:
    """A pixel window (u0, v0, u1, v1), end exclusive, clipped to a width x height image
    (None = the whole image). It may come out empty (u1 <= u0 or v1 <= v0)."""
    if roi_px is None:
        return 0, 0, int(width), int(height)
    u0, v0, u1, v1 = roi_px
    return max(int(u0), 0), max(int(v0), 0), min(int(u1), int(width)), min(int(v1), int(height))


def cube_roi_px(centre_mm: np.ndarray, cube_mm: float, intr: Intrinsics,
                near_face_only: bool = False) -> tuple[int, int, int, int]:
    """Pixel window (u0, v0, u1, v1) that contains the cube's projection (end exclusive): the
    bounds of its 8 projected corners (near faces clamped to 1 mm in front of the camera).

    A cube off the optical axis reaches further towards the image centre with its far face
    than with its near one (x / z shrinks with z); a window of the near face alone cuts that
    strip off. `near_face_only=True` is that window: generator synth-2 renders it, so its
    datasets stay reproducible (synth/world.py); nothing else should ask for it."""
    cx, cy, cz = (float(c) for c in centre_mm)
    half = cube_mm / 2.0
    depths = (max(cz - half, 1.0),) if near_face_only else (max(cz - half, 1.0), max(cz + half, 1.0))
    us = [(cx + sx * half) * intr.fx / z + intr.cx for sx in (-1, 1) for z in depths]
    vs = [(cy + sy * half) * intr.fy / z + intr.cy for sy in (-1, 1) for z in depths]
    return (int(np.floor(min(us))), int(np.floor(min(vs))), int(np.ceil(max(us))) + 1, int(np.ceil(max(vs))) + 1)


# The three spaces of a cube: camera mm, normalised (the cube spans [-0.5, 0.5)), continuous voxels.
# Element-wise (NumPy or torch); `centre_mm` and `cube_mm` must broadcast against the points.
def mm_to_norm(points_mm, centre_mm, cube_mm):
    """Camera mm -> cube-normalised coordinates."""
    return (points_mm - centre_mm) / cube_mm


def norm_to_mm(points_norm, centre_mm, cube_mm):
    return points_norm * cube_mm + centre_mm


def norm_to_voxel(points_norm, grid: int):
    """Cube-normalised -> continuous voxel coordinates, voxel centres at integers."""
    return (points_norm + 0.5) * grid - 0.5


def voxel_to_norm(points_vox, grid: int):
    return (points_vox + 0.5) / grid - 0.5


def mm_to_voxel(points_mm: np.ndarray, centre_mm: np.ndarray, cube_mm: float, grid: int) -> np.ndarray:
    """Camera mm -> continuous voxel coordinates (x, y, z) (float64 NumPy)."""
    return norm_to_voxel(mm_to_norm(np.asarray(points_mm, np.float64), np.asarray(centre_mm, np.float64), cube_mm), grid)


def voxel_to_mm(voxels: np.ndarray, centre_mm: np.ndarray, cube_mm: float, grid: int) -> np.ndarray:
    """Inverse of `mm_to_voxel`."""
    return norm_to_mm(voxel_to_norm(np.asarray(voxels, np.float64), grid), np.asarray(centre_mm, np.float64), cube_mm)
