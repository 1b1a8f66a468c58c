"""Per-frame statistics shared by `run` and `bench`: stage latencies, subjects found, and the
error against the ground truth when the source knows it (the synthetic camera, recordings of it)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..types import DepthFrame, PoseResult


@dataclass
class FrameStats:
    frames: int = 0
    found: int = 0
    stages: dict[str, list[float]] = field(default_factory=dict)
    errors_mm: list[float] = field(default_factory=list)

    def add(self, frame: DepthFrame, result: PoseResult) -> None:
        self.frames += 1
        for k, v in result.latency_ms.items():
            self.stages.setdefault(k, []).append(v)
        if not result.found:
            return
        self.found += 1
        truth = frame.ground_truth_mm
        if truth is not None and result.joints_mm is not None and truth.shape == result.joints_mm.shape:
            self.errors_mm.append(float(np.linalg.norm(result.joints_mm - truth, axis=1).mean()))

    def percentiles(self) -> dict[str, tuple[float, float]]:
        """{stage: (p50, p95)} in ms."""
        return {k: (float(np.percentile(v, 50)), float(np.percentile(v, 95))) for k, v in self.stages.items()}

    @property
    def mean_error_mm(self) -> float | None:
        return float(np.mean(self.errors_mm)) if self.errors_mm else None
