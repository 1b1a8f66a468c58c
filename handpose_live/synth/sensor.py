"""A RealSense-like depth sensor applied to a noise-free render.

An active-stereo model (baseline B, depth from the left imager) with these effects, in order:
the stereo shadow (pixels the right imager cannot see read 0), losses at grazing angles and at
silhouette edges, depth noise growing as z^2 (the stereo RMS-error formula, more on slanted
surfaces), random holes, the range limits and quantisation to the depth unit, and for structured
light (`disparity_step_px` > 0) disparity terraces and a wider lost band at silhouettes.
Every random draw comes from the `np.random.Generator` passed in, so a seed fixes the output.
`SENSORS` names four families (`d4xx`, `sr300`, `kinect-v1`, and `tof`, `ToFSensorModel`); the crowded synthetic world
(`world.py`) draws one per frame so a model sees more than one camera's kind of noise.
Each effect's formula and parameters, and their sources: docs/design-notes.md, `synth/sensor.py`.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..geometry import back_project
from ..types import Intrinsics


@dataclass(frozen=True)
class SensorModel:
    baseline_mm: float = 50.0
    subpixel_px: float = 0.08
    grazing_cos: float = 0.17
    grazing_drop: float = 0.8
    edge_jump_mm: float = 20.0
    edge_drop: float = 0.4
    holes_per_px: float = 1 / 4000
    speckle_drop: float = 0.002
    min_depth_mm: float = 105.0
    max_depth_mm: float = 10000.0
    disparity_step_px: float = 0.0    # > 0: disparity quantised to this step (structured light)
    focal_px: float = 0.0             # the sensor's own focal length for disparity; 0: the camera's fx
    unit_mm: float = 0.0              # depth unit; 0: the intrinsics' depth_scale_m
    edge_grow_px: int = 0             # widen the silhouette band that may be lost

    def _focal(self, fx: float) -> float:
        return self.focal_px or fx

    def sigma_mm(self, z_mm: np.ndarray, fx: float) -> np.ndarray:
        """Noise standard deviation of a fronto-parallel surface at depth z_mm."""
        return np.square(z_mm, dtype=np.float32) * np.float32(self.subpixel_px / (self._focal(fx) * self.baseline_mm))

    def apply(self, depth_mm: np.ndarray, intr: Intrinsics, rng: np.random.Generator,
              offset_px: tuple[int, int] = (0, 0)) -> np.ndarray:
        """Noisy, quantised float32 depth (0 = invalid) from a clean render of the window whose
        top-left pixel is `offset_px` = (u0, v0) in the full image."""
        z = np.asarray(depth_mm, np.float32)
        h, w = z.shape
        valid = z > 0
        u0, v0 = offset_px
        keep = valid & ~self._stereo_shadow(z, intr, u0)
        zf = np.where(valid, z, np.float32(self.max_depth_mm * 2))
        kernel = np.ones((3, 3), np.uint8)
        jump = cv2.dilate(zf, kernel) - cv2.erode(zf, kernel)
        edge = jump > self.edge_jump_mm
        if self.edge_grow_px:
            edge = cv2.dilate(edge.astype(np.uint8), np.ones((2 * self.edge_grow_px + 1,) * 2, np.uint8)).astype(bool)
        cos, slant_cos = self._view_cos(z, intr, u0, v0)
        grazing = (cos < self.grazing_cos) & ~edge
        # One uniform draw serves the three exclusive-or-rare drop decisions of a pixel.
        uniform = rng.random((h, w), dtype=np.float32)
        keep &= ~(grazing & (uniform < self.grazing_drop))
        keep &= ~(edge & (uniform < self.edge_drop))
        keep &= uniform >= self.speckle_drop
        holes = np.ones((h, w), np.uint8)
        for _ in range(rng.poisson(h * w * self.holes_per_px)):
            cv2.circle(holes, (int(rng.integers(w)), int(rng.integers(h))), int(rng.integers(1, 4)), 0, -1)
        keep &= holes.astype(bool)
        sigma = self.sigma_mm(z, intr.fx) / np.where(edge, np.float32(1), np.maximum(slant_cos, np.float32(0.35)))
        noisy = z + sigma * rng.standard_normal((h, w), dtype=np.float32)
        if self.disparity_step_px > 0:
            fb = np.float32(self._focal(intr.fx) * self.baseline_mm)
            step = np.float32(self.disparity_step_px)
            disparity = np.round(fb / np.maximum(noisy, np.float32(1.0)) / step) * step
            noisy = np.where(disparity > 0, fb / np.maximum(disparity, step), np.float32(0))
        unit_mm = np.float32(self.unit_mm or intr.depth_scale_m * 1000.0)
        noisy = np.round(noisy / unit_mm) * unit_mm
        keep &= (noisy >= self.min_depth_mm) & (noisy <= self.max_depth_mm)
        return np.where(keep, noisy, np.float32(0)).astype(np.float32)

    def _stereo_shadow(self, z: np.ndarray, intr: Intrinsics, u0: int) -> np.ndarray:
        disparity = np.where(z > 0, np.float32(intr.fx * self.baseline_mm) / np.maximum(z, 1e-3), 0).astype(np.float32)
        x_right = np.arange(z.shape[1], dtype=np.float32)[None, :] + np.float32(u0) - disparity
        suffix_min = np.minimum.accumulate(x_right[:, ::-1], axis=1)[:, ::-1]
        right_of = np.concatenate([suffix_min[:, 1:], np.full((z.shape[0], 1), np.inf, np.float32)], axis=1)
        return (z > 0) & (right_of < x_right - 0.5)

    @staticmethod
    def _view_cos(z: np.ndarray, intr: Intrinsics, u0: int, v0: int) -> tuple[np.ndarray, np.ndarray]:
        """|cos| of the angle between the surface normal (from depth gradients) and the ray, and
        between the normal and the optical axis (the slant that spreads disparity error).

        With P = z r, r = (rx, ry, 1), the normal P_u x P_v is proportional to
        (-a, -b, a rx + b ry + z) with a = fx dz/du, b = fy dz/dv, and its dot with r is z.
        """
        h, w = z.shape
        rx, ry, _ = back_project(np.arange(u0, u0 + w, dtype=np.float32), np.arange(v0, v0 + h, dtype=np.float32),
                                 np.float32(1.0), intr)   # ray directions (unit depth)
        rx, ry = rx[None, :], ry[:, None]
        a = cv2.filter2D(z, -1, _DIFF_U, borderType=cv2.BORDER_REPLICATE) * np.float32(intr.fx)
        b = cv2.filter2D(z, -1, _DIFF_V, borderType=cv2.BORDER_REPLICATE) * np.float32(intr.fy)
        c = a * rx + b * ry + z
        n_len = np.maximum(np.sqrt(a * a + b * b + c * c), np.float32(1e-6))
        ray_cos = np.abs(z) / (n_len * np.sqrt(rx * rx + ry * ry + 1))
        return ray_cos.astype(np.float32), (np.abs(c) / n_len).astype(np.float32)


_DIFF_U = np.array([[-0.5, 0, 0.5]], np.float32)
_DIFF_V = _DIFF_U.T.copy()


@dataclass(frozen=True)
class ToFSensorModel:
    """A continuous-wave time-of-flight camera (Kinect v2, Azure Kinect, Orbbec Femto): no stereo
    shadow or disparity steps; noise a few mm growing linearly with depth; flying pixels at
    silhouettes (a depth between the foreground and the background, as the pixel mixes both
    returns); dropouts at grazing angles and on dark speckles; the mode's range limits."""

    noise_mm: float = 1.5
    noise_per_m: float = 1.5          # extra mm of noise per metre of depth
    flying: float = 0.5               # share of silhouette pixels that become flying pixels
    edge_jump_mm: float = 60.0
    grazing_cos: float = 0.12
    grazing_drop: float = 0.8
    speckle_drop: float = 0.003
    min_depth_mm: float = 500.0
    max_depth_mm: float = 5500.0

    def apply(self, depth_mm: np.ndarray, intr: Intrinsics, rng: np.random.Generator,
              offset_px: tuple[int, int] = (0, 0)) -> np.ndarray:
        z = np.asarray(depth_mm, np.float32)
        h, w = z.shape
        valid = z > 0
        zf = np.where(valid, z, np.float32(self.max_depth_mm * 2))
        kernel = np.ones((3, 3), np.uint8)
        near, far = cv2.erode(zf, kernel), cv2.dilate(zf, kernel)
        edge = (far - near) > self.edge_jump_mm
        uniform = rng.random((h, w), dtype=np.float32)
        mix = rng.random((h, w), dtype=np.float32)
        fly = edge & (uniform < self.flying)
        z = np.where(fly, near + mix * (far - near), z)
        valid &= ~(fly & (far >= self.max_depth_mm * 2))      # no return behind: the pixel stays empty
        cos, _ = SensorModel._view_cos(zf, intr, offset_px[0], offset_px[1])
        keep = valid & ~((cos < self.grazing_cos) & ~edge & (uniform < self.grazing_drop))
        keep &= rng.random((h, w), dtype=np.float32) >= self.speckle_drop
        sigma = np.float32(self.noise_mm) + z * np.float32(self.noise_per_m / 1000.0)
        noisy = np.round(z + sigma * rng.standard_normal((h, w), dtype=np.float32))
        keep &= (noisy >= self.min_depth_mm) & (noisy <= self.max_depth_mm)
        return np.where(keep, noisy, np.float32(0)).astype(np.float32)


SENSORS = {
    "d4xx": SensorModel(),
    "sr300": SensorModel(baseline_mm=50.0, subpixel_px=0.05, edge_drop=0.5, edge_grow_px=1, min_depth_mm=200.0,
                         max_depth_mm=1500.0, unit_mm=0.125),
    "kinect-v1": SensorModel(baseline_mm=75.0, subpixel_px=0.07, disparity_step_px=0.125, focal_px=580.0,
                             edge_drop=0.6, edge_grow_px=1, holes_per_px=1 / 2000, min_depth_mm=400.0,
                             max_depth_mm=4000.0),
    "tof": ToFSensorModel(),
}

# The sensor family that scenes seen through each camera preset are rendered with. There is no
# time-of-flight model yet: Kinect v2 and Azure Kinect take the stereo model, as before.
PRESET_SENSOR = {"d435-640x480": "d4xx", "sr305": "sr300", "nyu": "kinect-v1", "kinect-v2": "d4xx",
                 "azure-kinect-nfov": "d4xx"}
