"""Per-frame statistics shared by `run` and `bench`: stage latencies, subjects found, and the
error against the ground truth when the source knows it (the synthetic camera, recordings of it)."""
from __future__ import annotations

import random
from array import array
from dataclasses import dataclass, field

import numpy as np

from .types import DepthFrame, PoseResult


class Samples:
    """The values of one measure (a stage's latency, the joint error) in bounded memory: every value up
    to `capacity`, then a uniform random sample of all of them (reservoir sampling, fixed seed), so
    percentiles stay honest and a run of any length holds the same few kB. (Lists of every value
    grew by ~0.35 MB per 1,000 frames, each float a Python object: `benchmarks/soak_run.py`.)
    The mean and the count are exact; works where a list of floats did (len, iteration, NumPy)."""

    def __init__(self, capacity: int = 5000) -> None:
        self.capacity = int(capacity)
        self._values = array("d")
        self._rng = random.Random(0)
        self.count = 0
        self.total = 0.0

    def append(self, value: float) -> None:
        value = float(value)
        if len(self._values) < self.capacity:
            self._values.append(value)
        else:
            k = self._rng.randrange(self.count + 1)
            if k < self.capacity:
                self._values[k] = value
        self.count += 1
        self.total += value

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        return iter(self._values)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.array(self._values, dtype=dtype or np.float64)

    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")


@dataclass
class FrameStats:
    frames: int = 0
    found: int = 0
    stages: dict[str, Samples] = field(default_factory=dict)
    errors_mm: Samples = field(default_factory=Samples)
    sides_checked: int = 0      # true hands whose side is known and whose match reported one
    sides_correct: int = 0

    def add(self, frame: DepthFrame, result: PoseResult) -> None:
        """Each true subject is matched to the found subject nearest to it (mean joint distance), so
        a false positive elsewhere does not count as error; its handedness is checked when known."""
        self.frames += 1
        for k, v in result.latency_ms.items():
            self.stages.setdefault(k, Samples()).append(v)
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
        return self.errors_mm.mean() if self.errors_mm else None


@dataclass
class RunStats(FrameStats):
    """`FrameStats` plus what a whole run adds: its wall time, the source's counts and the viewer's summary."""

    wall_s: float = 0.0
    frames_in: int = 0
    dropped: int = 0
    started: bool = False        # frames began to flow (the outputs had their header): a summary is due
    viewer: dict | None = None   # a threaded viewer's `summary()`: draws, draw fps, stale results skipped
