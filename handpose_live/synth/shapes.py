"""Surface primitives shared by the hand and body models: tapered capsules and ellipsoids.

A subject is a `Surface`: capsules (two end points, two radii) and ellipsoids (centre and a
3x3 matrix whose columns are the scaled semi-axes), all in camera mm. The renderer turns it
into one triangle mesh; keeping the primitives analytic lets the models stay a few lines each.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Surface:
    capsule_a_mm: list = field(default_factory=list)
    capsule_b_mm: list = field(default_factory=list)
    capsule_r_mm: list = field(default_factory=list)      # (r_a, r_b)
    ellipsoid_c_mm: list = field(default_factory=list)
    ellipsoid_axes_mm: list = field(default_factory=list)  # 3x3, columns = semi-axes

    def capsule(self, a, b, r_a: float, r_b: float | None = None) -> None:
        self.capsule_a_mm.append(np.asarray(a, np.float64))
        self.capsule_b_mm.append(np.asarray(b, np.float64))
        self.capsule_r_mm.append((float(r_a), float(r_a if r_b is None else r_b)))

    def ellipsoid(self, centre, axes) -> None:
        self.ellipsoid_c_mm.append(np.asarray(centre, np.float64))
        self.ellipsoid_axes_mm.append(np.asarray(axes, np.float64))

    def transformed(self, rotation: np.ndarray, translation_mm: np.ndarray, mirror_x: bool = False) -> Surface:
        """Local -> camera: x' = R (M x) + t, where M mirrors x for a left hand."""
        m = np.diag([-1.0 if mirror_x else 1.0, 1.0, 1.0])
        rm = rotation @ m
        out = Surface()
        out.capsule_a_mm = [rm @ p + translation_mm for p in self.capsule_a_mm]
        out.capsule_b_mm = [rm @ p + translation_mm for p in self.capsule_b_mm]
        out.capsule_r_mm = list(self.capsule_r_mm)
        out.ellipsoid_c_mm = [rm @ p + translation_mm for p in self.ellipsoid_c_mm]
        out.ellipsoid_axes_mm = [rm @ a for a in self.ellipsoid_axes_mm]
        return out

    def extend(self, other: Surface) -> None:
        self.capsule_a_mm += other.capsule_a_mm
        self.capsule_b_mm += other.capsule_b_mm
        self.capsule_r_mm += other.capsule_r_mm
        self.ellipsoid_c_mm += other.ellipsoid_c_mm
        self.ellipsoid_axes_mm += other.ellipsoid_axes_mm


def _sphere_template(n_lon: int, n_lat: int):
    """UV sphere whose equator ring is doubled: the south half belongs to end a, the north to b."""
    lats = np.concatenate([np.linspace(-np.pi / 2, 0, n_lat + 1)[1:], np.linspace(0, np.pi / 2, n_lat + 1)[:-1]])
    lons = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    lat, lon = np.meshgrid(lats, lons, indexing="ij")
    ring = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1).reshape(-1, 3)
    verts = np.concatenate([[[0, 0, -1]], ring, [[0, 0, 1]]])
    side_b = np.concatenate([[False], np.repeat(np.arange(2 * n_lat) >= n_lat, n_lon), [True]])
    faces = []
    rings = 2 * n_lat
    for j in range(n_lon):
        k = (j + 1) % n_lon
        faces.append((0, 1 + k, 1 + j))
        for i in range(rings - 1):
            a, b = 1 + i * n_lon + j, 1 + i * n_lon + k
            c, d = a + n_lon, b + n_lon
            faces += [(a, b, d), (a, d, c)]
        top = len(verts) - 1
        faces.append((1 + (rings - 1) * n_lon + j, 1 + (rings - 1) * n_lon + k, top))
    return verts.astype(np.float64), side_b, np.asarray(faces, np.int64)


_CAPSULE_V, _CAPSULE_SIDE, _CAPSULE_F = _sphere_template(16, 4)


def _frames(axis: np.ndarray) -> np.ndarray:
    """[K, 3, 3] orthonormal frames whose third column is `axis` (unit, [K, 3])."""
    helper = np.where(np.abs(axis[:, :1]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(axis, e1)
    return np.stack([e1, e2, axis], axis=2)


def surface_mesh(surface: Surface) -> tuple[np.ndarray, np.ndarray]:
    """Vertices [N, 3] float32 and triangles [T, 3] uint32 of all primitives."""
    verts, tris, offset = [], [], 0
    if surface.capsule_a_mm:
        a = np.asarray(surface.capsule_a_mm)
        b = np.asarray(surface.capsule_b_mm)
        r = np.asarray(surface.capsule_r_mm)
        axis = b - a
        length = np.linalg.norm(axis, axis=1, keepdims=True)
        axis = np.where(length > 1e-6, axis / np.maximum(length, 1e-6), np.array([[0, 0, 1.0]]))
        local = np.einsum("kij,mj->kmi", _frames(axis), _CAPSULE_V)          # [K, M, 3]
        side = _CAPSULE_SIDE[None, :, None]
        ends = np.where(side, b[:, None], a[:, None])
        radii = np.where(side[..., 0], r[:, 1:2], r[:, 0:1])[..., None]
        v = ends + radii * local
        k, m = v.shape[:2]
        verts.append(v.reshape(-1, 3))
        tris.append((_CAPSULE_F[None] + (np.arange(k) * m)[:, None, None]).reshape(-1, 3))
        offset = k * m
    if surface.ellipsoid_c_mm:
        c = np.asarray(surface.ellipsoid_c_mm)
        ax = np.asarray(surface.ellipsoid_axes_mm)
        v = c[:, None] + np.einsum("kij,mj->kmi", ax, _CAPSULE_V)
        k, m = v.shape[:2]
        verts.append(v.reshape(-1, 3))
        tris.append((_CAPSULE_F[None] + (offset + np.arange(k) * m)[:, None, None]).reshape(-1, 3))
    if not verts:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint32)
    return np.concatenate(verts).astype(np.float32), np.concatenate(tris).astype(np.uint32)


def rotation_about(axis, angle_rad: float) -> np.ndarray:
    """Rodrigues rotation matrix."""
    axis = np.asarray(axis, np.float64)
    axis = axis / np.linalg.norm(axis)
    x, y, z = axis
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + np.sin(angle_rad) * k + (1 - np.cos(angle_rad)) * (k @ k)


def rotation_vector(r: np.ndarray) -> np.ndarray:
    """The rotation vector (axis times angle in radians, the angle in [0, pi]) of a rotation matrix: the
    inverse of `rotation_about`, through its unit quaternion (the largest of its four terms first, so it
    holds near 0 and near pi)."""
    (r00, r01, r02), (r10, r11, r12), (r20, r21, r22) = np.asarray(r, np.float64).tolist()
    trace = r00 + r11 + r22
    i = int(np.argmax([trace, r00, r11, r22]))
    if i == 0:
        w = 0.5 * np.sqrt(1.0 + trace)
        x, y, z = (r21 - r12) / (4 * w), (r02 - r20) / (4 * w), (r10 - r01) / (4 * w)
    elif i == 1:
        x = 0.5 * np.sqrt(1.0 + r00 - r11 - r22)
        w, y, z = (r21 - r12) / (4 * x), (r01 + r10) / (4 * x), (r02 + r20) / (4 * x)
    elif i == 2:
        y = 0.5 * np.sqrt(1.0 - r00 + r11 - r22)
        w, x, z = (r02 - r20) / (4 * y), (r01 + r10) / (4 * y), (r12 + r21) / (4 * y)
    else:
        z = 0.5 * np.sqrt(1.0 - r00 - r11 + r22)
        w, x, y = (r10 - r01) / (4 * z), (r02 + r20) / (4 * z), (r12 + r21) / (4 * z)
    v = np.array([x, y, z]) * (1.0 if w >= 0 else -1.0)
    s = float(np.linalg.norm(v))
    return v * (2.0 * np.arctan2(s, abs(w)) / s) if s > 1e-12 else 2.0 * v


def rotation_from_vector(rotvec: np.ndarray) -> np.ndarray:
    """The rotation matrix of a rotation vector (`rotation_vector`'s inverse)."""
    angle = float(np.linalg.norm(rotvec))
    return rotation_about(rotvec, angle) if angle > 0 else np.eye(3)


def slerp(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """The rotation a fraction `w` of the way from rotation matrix `a` to `b`, the shorter way round."""
    return a @ rotation_from_vector(w * rotation_vector(a.T @ b))
