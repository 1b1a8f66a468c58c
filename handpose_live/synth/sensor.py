"""A RealSense-like depth sensor applied to a noise-free render.

Model (active stereo, baseline B = 50 mm, depth measured from the left imager):
1. Stereo shadow: a pixel the right imager cannot see (hidden behind a nearer surface to its
   right, i.e. its right-image column u - fx*B/z is not left of every nearer point to its right)
   reads 0. This is the invalid band left of foreground objects that D4xx cameras show.
2. Grazing angles: away from silhouettes, where the angle between the surface normal and
   the viewing ray exceeds ~80 degrees (cos < 0.17), pixels are lost with probability 0.8.
3. Silhouette edges: pixels with a depth jump above 20 mm in their 3x3 neighbourhood are lost
   with probability 0.4.
4. Depth noise: Gaussian, sigma_mm = z_mm^2 * subpixel / (fx * B) with subpixel = 0.08 px, the
   stereo RMS-error formula (for a D435 at 640x480, fx = 383: 1.04 mm at 0.5 m, 4.2 mm at
   1 m, 16.7 mm at 2 m), multiplied by 1 / max(cos_slant, 0.35), cos_slant = normal . optical axis, on slanted
   surfaces (not at silhouettes); a fronto-parallel wall has the plain sigma everywhere.
5. Holes: a few random discs of radius 1-3 px (about 1 per 4000 px) and 0.2 % isolated
   dropped pixels.
6. Range: depths outside [min_depth_mm, max_depth_mm] read 0; quantised to the depth unit
   (1 mm for depth_scale_m = 0.001, or the sensor's own `unit_mm`).
7. Structured light (`disparity_step_px` > 0): the noisy disparity is rounded to that step
   before it becomes depth again, which gives the Kinect v1's depth terraces; `edge_grow_px`
   widens the lost band at silhouettes (its correlation window blurs edges away).
Every random draw comes from the `np.random.Generator` passed in, so a seed fixes the output.

`SENSORS` names three families. The crowded synthetic world (`world.py`) draws one per frame
so a model sees more than one camera's kind of noise:
- `d4xx`: the defaults above (RealSense D415/D435/D455, active stereo).
- `sr300`: RealSense SR300/SR305 coded light: 0.125 mm depth unit and 0.2-1.5 m range (Zabatani
  et al., TPAMI 2020); the noise level and the lost edge band are estimates, not measured.
- `kinect-v1`: structured light, baseline 75 mm and disparity in 1/8 px at f = 580 px (as
  simkinect, ICRA 2014); 0.07 px disparity noise, i.e. the error growing as z^2 to about 4 cm at
  5 m (Khoshelham & Elberink, Sensors 2012); near range 0.4 m (near mode) is an estimate.
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


SENSORS = {
    "d4xx": SensorModel(),
    "sr300": SensorModel(baseline_mm=50.0, subpixel_px=0.05, edge_drop=0.5, edge_grow_px=1, min_depth_mm=200.0,
                         max_depth_mm=1500.0, unit_mm=0.125),
    "kinect-v1": SensorModel(baseline_mm=75.0, subpixel_px=0.07, disparity_step_px=0.125, focal_px=580.0,
                             edge_drop=0.6, edge_grow_px=1, holes_per_px=1 / 2000, min_depth_mm=400.0,
                             max_depth_mm=4000.0),
}

# The sensor family that scenes seen through each camera preset are rendered with. There is no
# time-of-flight model yet: Kinect v2 and Azure Kinect take the stereo model, as before.
PRESET_SENSOR = {"d435-640x480": "d4xx", "sr305": "sr300", "nyu": "kinect-v1", "kinect-v2": "d4xx",
                 "azure-kinect-nfov": "d4xx"}
