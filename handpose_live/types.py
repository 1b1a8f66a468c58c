"""Small typed records passed between pipeline stages.

Every stage of capture -> frame -> centre -> voxels -> model -> joints -> sinks speaks in
these types, so no stage needs to know how another one works.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import UserError


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole depth-camera intrinsics.

    `depth_scale_m` is metres per raw depth unit (0.001 for a RealSense or Kinect in mm).
    `distortion` holds Brown-Conrady coefficients (k1, k2, p1, p2, k3); depth back-projection
    ignores them, as V2V-PoseNet and every benchmark do, but they are kept for the record.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    depth_scale_m: float = 0.001
    distortion: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)
    name: str = ""

    def __post_init__(self) -> None:
        values = (self.fx, self.fy, self.cx, self.cy, self.depth_scale_m)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise UserError(f"intrinsics {self.name or ''} contain a non-finite value: {values}".replace("  ", " "))
        if self.fx <= 0 or self.fy <= 0:
            raise UserError(f"intrinsics {self.name}: focal lengths must be positive (fx={self.fx}, fy={self.fy})")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise UserError(f"intrinsics {self.name}: image size must be positive ({self.width}x{self.height})")
        if self.depth_scale_m <= 0:
            raise UserError(f"intrinsics {self.name}: depth scale must be positive ({self.depth_scale_m})")
        if not (0 <= self.cx <= self.width and 0 <= self.cy <= self.height):
            raise UserError(
                f"intrinsics {self.name}: principal point ({self.cx}, {self.cy}) lies outside the "
                f"{self.width}x{self.height} image"
            )

    @classmethod
    def from_realsense(cls, rs_intrinsics, depth_scale_m: float = 0.001, name: str = "realsense") -> Intrinsics:
        """Build from a `pyrealsense2.intrinsics` object (a stream profile's intrinsics)."""
        return cls(
            fx=float(rs_intrinsics.fx), fy=float(rs_intrinsics.fy),
            cx=float(rs_intrinsics.ppx), cy=float(rs_intrinsics.ppy),
            width=int(rs_intrinsics.width), height=int(rs_intrinsics.height),
            depth_scale_m=float(depth_scale_m),
            distortion=tuple(float(c) for c in rs_intrinsics.coeffs),
            name=name,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["distortion"] = list(self.distortion)
        return d

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same camera at another resolution (for resized streams)."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height,
                          self.depth_scale_m, self.distortion, self.name)


@dataclass
class DepthFrame:
    """One depth image in millimetres (float32, 0 = no measurement) with its camera."""

    depth_mm: np.ndarray
    intrinsics: Intrinsics
    timestamp_ms: float = 0.0
    index: int = 0
    ground_truth_mm: np.ndarray | None = None  # synthetic sources know the true joints
    ground_truth_centre_mm: np.ndarray | None = None


@dataclass
class PoseResult:
    """What the pipeline produces for one frame, in camera space (mm, x right, y down, z forward)."""

    frame_index: int
    timestamp_ms: float
    found: bool
    centre_mm: np.ndarray | None = None
    joints_mm: np.ndarray | None = None      # [J, 3]
    confidence: np.ndarray | None = None     # [J]
    latency_ms: dict[str, float] = field(default_factory=dict)

    def to_record(self) -> dict:
        def _list(a):
            return None if a is None else np.round(np.asarray(a, dtype=np.float64), 3).tolist()
        return {
            "frame": int(self.frame_index),
            "timestamp_ms": float(self.timestamp_ms),
            "found": bool(self.found),
            "centre_mm": _list(self.centre_mm),
            "joints_mm": _list(self.joints_mm),
            "confidence": _list(self.confidence),
            "latency_ms": {k: round(float(v), 3) for k, v in self.latency_ms.items()},
        }
