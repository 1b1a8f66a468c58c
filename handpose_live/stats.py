"""Per-frame statistics shared by `run` and `bench`: stage latencies, subjects found, and the
error against the ground truth when the source knows it (the synthetic camera, recordings of it)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .types import DepthFrame, PoseResult


@dataclass
class FrameStats:
    frames: int = 0
    found: int = 0
    stages: dict[str, list[float]] = field(default_factory=dict)
    errors_mm: list[float] = field(default_factory=list)
    sides_checked: int = 0      # true hands whose side is known and whose match reported one
    sides_correct: int = 0

    def add(self, frame: DepthFrame, result: PoseResult) -> None:
        """Each true subject is matched to the found subject nearest to it (mean joint distance), so
        a false positive elsewhere does not count as error; its handedness is checked when known."""
        self.frames += 1
        for k, v in result.latency_ms.items():
            self.stages.setdefault(k, []).append(v)
        if not result.found:
            return
        self.found += 1
        if frame.ground_truth_mm is None:
            return
        truths = np.asarray(frame.ground_truth_mm)
        truths = truths[None] if truths.ndim == 2 else truths
        sides = frame.ground_truth_sides or (None,) * len(truths)
        for truth, side in zip(truths, sides):
            errors = [(float(np.linalg.norm(np.asarray(s.joints_mm) - truth, axis=1).mean()), s)
                      for s in result.subjects if np.shape(s.joints_mm) == truth.shape]
            if not errors:
                continue
            error, subject = min(errors, key=lambda e: e[0])
            self.errors_mm.append(error)
            if side is not None and subject.handedness is not None:
                self.sides_checked += 1
                self.sides_correct += int(subject.handedness == side)

    def percentiles(self) -> dict[str, tuple[float, float]]:
        """{stage: (p50, p95)} in ms."""
        return {k: (float(np.percentile(v, 50)), float(np.percentile(v, 95))) for k, v in self.stages.items()}

    @property
    def mean_error_mm(self) -> float | None:
        return float(np.mean(self.errors_mm)) if self.errors_mm else None


@dataclass
class RunStats(FrameStats):
    """`FrameStats` plus what a whole run adds: its wall time, the source's counts and the viewer's summary."""

    wall_s: float = 0.0
    frames_in: int = 0
    dropped: int = 0
    started: bool = False        # frames began to flow (the outputs had their header): a summary is due
    viewer: dict | None = None   # a threaded viewer's `summary()`: draws, draw fps, stale results skipped
