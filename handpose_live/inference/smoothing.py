"""One-Euro filter (Casiez et al., CHI 2012) for joint trajectories.

Slow motion is smoothed hard (low cutoff, little jitter); fast motion raises the cutoff through
the speed term, so the output does not lag. Speeds are in input units per second (mm/s for
joints in mm); timestamps are in milliseconds as carried by `DepthFrame.timestamp_ms`.
"""
from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    tau_s = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz))
    return 1.0 / (1.0 + tau_s / dt_s)


class OneEuroFilter:
    """Element-wise One-Euro filter over arrays of any fixed shape (e.g. joints [J, 3])."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.007, d_cutoff: float = 1.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("min_cutoff and d_cutoff must be positive and beta non-negative")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        """Forget the trajectory (call when the target is lost, so a new one is not dragged)."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t_ms: float | None = None

    def __call__(self, x: np.ndarray, timestamp_ms: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._dx is None or self._t_ms is None or self._x.shape != x.shape \
                or timestamp_ms < self._t_ms:
            self._x, self._dx, self._t_ms = x.copy(), np.zeros_like(x), float(timestamp_ms)
            return x.copy()
        dt_s = (timestamp_ms - self._t_ms) / 1000.0
        if dt_s == 0.0:
            return self._x.copy()
        dx = (x - self._x) / dt_s
        self._dx = self._dx + _alpha(self.d_cutoff, dt_s) * (dx - self._dx)
        cutoff_hz = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff_hz, dt_s) * (x - self._x)
        self._t_ms = float(timestamp_ms)
        return self._x.copy()

    filter = __call__
