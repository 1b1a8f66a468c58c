"""The one interface every consumer of pipeline output implements, and what viewers add to it.

The app loop only calls `write` per frame and `close` once, so files, network, and
viewers can be combined freely. Sinks must not modify the frame or the result.

Viewers are split into `draw` (new content) and `poll` (window events) because GUI toolkits
(GLFW under Open3D, Qt or GTK under OpenCV) must be driven from the one thread that created the
window: `write` runs both on the caller's thread, `sinks.viewer_thread.ViewerThread` runs them on
a thread of its own so that drawing never sets the pipeline's pace.
"""
from __future__ import annotations

import os
import time

from ..types import DepthFrame, PoseResult


class Sink:
    """Consumes one (frame, result) pair per frame; `close` finishes (fsync, screenshot) and releases.

    `begin(header)` comes once before the first `write`, with the stream header of
    `records.stream_header` (joint names, bones, target, model, intrinsics), which a file or a
    stream carries once rather than in every record.
    """

    def begin(self, header: dict) -> None:
        """The stream header, once, before the first frame; sinks that need it keep it."""

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources. Safe to call more than once."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


class Viewer(Sink):
    """A sink that shows results in a window (or renders off-screen for screenshots).

    Create, draw, poll, screenshot and close it on one thread. `showing` is False when nobody
    can see it (no display): then drawing is only needed for an image (screenshot, close).
    `quit_requested` turns true when the user asks to quit (q / Esc / window closed); the app
    loop reads it, the viewer does not stop other stages itself.
    """

    showing: bool = True
    quit_requested: bool = False

    def draw(self, frame: DepthFrame, result: PoseResult, fps: float | None = None) -> None:
        """Show this result (`fps`: the rate results arrive at, for viewers that print it)."""
        raise NotImplementedError

    def observe(self, result: PoseResult) -> None:
        """A result that will not be drawn (a newer one came first): update what depends on every
        result (a view following the subject), without drawing."""

    def poll(self) -> bool:
        """Handle window events (and finish a pending render); True once the user asked to quit."""
        return self.quit_requested

    def screenshot(self, path) -> None:
        """Save what is shown now as an image, atomically."""
        raise NotImplementedError

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        self.draw(frame, result)
        self.poll()


def display_available() -> bool:
    """Whether a window can be shown (X11 or Wayland); without one, viewers render off-screen or not at all."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class FpsMeter:
    """Frames per second now: the inverse of the smoothed interval between frames (smoothing the rate
    itself would overstate it when intervals vary, 1/mean(dt) < mean(1/dt)), so with a steady pipeline
    it agrees with `run`'s summary, which also counts the start-up (model warm-up, first window)."""

    def __init__(self, smoothing: float = 0.9) -> None:
        self.smoothing = smoothing
        self.fps: float | None = None
        self._interval_s: float | None = None
        self._last_s: float | None = None

    def tick(self) -> float | None:
        now = time.perf_counter()
        if self._last_s is not None and now > self._last_s:
            dt = now - self._last_s
            self._interval_s = dt if self._interval_s is None else self.smoothing * self._interval_s + (1 - self.smoothing) * dt
            self.fps = 1.0 / self._interval_s
        self._last_s = now
        return self.fps


def close_all(sinks) -> None:
    """Close every sink, even after one failed (a full disk must not cost the others their data);
    then raise the first failure."""
    first: Exception | None = None
    for sink in sinks:
        try:
            sink.close()
        except Exception as exc:
            first = first or exc
    if first is not None:
        raise first
