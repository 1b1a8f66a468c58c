"""A viewer on a thread of its own, so that drawing never costs the camera rate.

Drawing a frame costs as much as estimating its pose or more, so the pipeline hands each result
through a latest-only slot (`LatestSlot`) and never waits; this thread draws the newest result at
most `rate_hz` times a second and skips stale ones. GUI toolkits must be driven from the thread
that created the window, so this thread owns the viewer for its whole life; other threads only
put results, read `quit_requested` and ask for a screenshot or the end. A draw also holds the GIL,
so the thread spends at most `MAX_DRAW_SHARE` of the wall time drawing, halved down to
`MIN_DRAW_SHARE` while the pipeline misses frames: a slow machine shows fewer frames rather than
processing fewer. An exception here ends the thread and is raised by the next `write` or `close`;
no call waits without a time limit. Why, with measurements: docs/design-notes.md, `sinks/viewer_thread.py`.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError
from ..types import DepthFrame, PoseResult
from .base import FpsMeter, Sink, Viewer

DISPLAY_RATE_HZ = 30.0     # draws per second at most: a 30 fps camera's rate, a display's at least half
MAX_DRAW_SHARE = 0.5       # of the wall time the viewer thread may spend drawing, while the pipeline keeps up
MIN_DRAW_SHARE = 0.05      # ... and at least, however far behind it is (the window stays alive)
SHARE_GROWTH_S = 1.0       # the share grows by half again after this long without missed frames
OPEN_TIMEOUT_S = 60.0      # creating a window (Open3D compiles its shaders)
CALL_TIMEOUT_S = 30.0      # a screenshot, or the last draw and screenshot at close


class LatestSlot:
    """Holds the newest item only: `put` never waits and replaces an item not yet taken (counted
    in `replaced`); `take` returns the item (None when empty) and empties the slot.

    With `note`, a small note of each replaced item (`note(item)`) is kept, oldest first, up to
    `max_notes`: what the taker skipped, in order, without holding on to the items themselves.
    """

    def __init__(self, note: Callable[[Any], Any] | None = None, max_notes: int = 1024) -> None:
        self.cond = threading.Condition()
        self.puts = 0
        self.replaced = 0
        self._item: Any = None
        self._full = False
        self.put_time = 0.0                    # time.monotonic() of the last put
        self._note = note
        self._notes: deque = deque(maxlen=max_notes)

    @property
    def full(self) -> bool:
        return self._full

    def put(self, item) -> None:
        with self.cond:
            if self._full:
                self.replaced += 1
                if self._note is not None:
                    self._notes.append(self._note(self._item))
            self._item, self._full = item, True
            self.put_time = time.monotonic()
            self.puts += 1
            self.cond.notify_all()

    def take(self):
        with self.cond:
            item, self._item, self._full = self._item, None, False
            return item

    def take_notes(self) -> list:
        """The notes of the items replaced since the last call, oldest first."""
        with self.cond:
            notes = list(self._notes)
            self._notes.clear()
            return notes


def _observed(item: tuple) -> PoseResult:
    """What a viewer observes of a result it will not draw: the result, with its frame (the
    camera's size and intrinsics frame the view), which `run`'s results carry already."""
    frame, result = item[0], item[1]
    return result if result.frame is not None else replace(result, frame=frame)


class _Request:
    """A call the viewer thread carries out for another thread (a screenshot), and its outcome."""

    def __init__(self, call: Callable[[Viewer], None]) -> None:
        self.call = call
        self.done = threading.Event()
        self.error: BaseException | None = None


class ViewerThread(Sink):
    """Runs the viewer that `make_viewer()` creates on a thread of its own.

    `write` hands (frame, result) over and returns at once; `quit_requested` is the viewer's;
    `screenshot(path)` draws the newest result and saves it; `close` draws the newest result
    (so the viewer's own screenshot at close shows the last frame), closes the viewer and ends
    the thread. `draws` and `stale` count what was drawn and what was skipped.
    """

    def __init__(self, make_viewer: Callable[[], Viewer], name: str = "viewer", rate_hz: float = DISPLAY_RATE_HZ,
                 max_draw_share: float = MAX_DRAW_SHARE, open_timeout_s: float = OPEN_TIMEOUT_S) -> None:
        if not rate_hz > 0 or not 0 < max_draw_share <= 1:
            raise ValueError(f"rate_hz must be positive and max_draw_share in (0, 1], got {rate_hz}, {max_draw_share}")
        self.name = name
        self.period_s = 1.0 / rate_hz
        self.max_draw_share = max_draw_share
        self.draw_share = max_draw_share       # the share now (the viewer thread's)
        self.lowest_share = max_draw_share
        self.missed = 0                        # frames of the source the pipeline did not process (gaps)
        self._last_index: int | None = None
        self.draws = 0
        self.showing = False
        self._make_viewer = make_viewer
        # a stale result is not drawn, but the viewer still sees it (`Viewer.observe`, e.g. the
        # view following the subjects), so skipping changes which frames are drawn, not how
        self._slot = LatestSlot(note=_observed)
        self._fps = FpsMeter()
        self._quit = threading.Event()
        self._ready = threading.Event()
        self._requests: list[_Request] = []
        self._stopping = False
        self._finished = False                 # the thread has ended (no request is taken any more)
        self._closed = False
        self._error: BaseException | None = None
        self._first_draw_s: float | None = None
        self._last_draw_s: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"viewer-{name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(open_timeout_s):
            self._stop(0.0)
            raise UserError(f"the {name} viewer did not open its window within {open_timeout_s:g} s")
        if self._error is not None:            # creating the viewer failed: the thread has ended
            self._thread.join(CALL_TIMEOUT_S)
            self._closed = True
            self._raise_error()

    # ---- the app's side ------------------------------------------------------------------

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        self._raise_error()
        if self._closed:
            raise ValueError(f"the {self.name} viewer is closed")
        if self._last_index is not None and frame.index > self._last_index + 1:
            self.missed += frame.index - self._last_index - 1     # read by the viewer thread
        self._last_index = frame.index
        self._slot.put((frame, result, self._fps.tick()))

    @property
    def quit_requested(self) -> bool:
        return self._quit.is_set()

    @property
    def stale(self) -> int:
        """Results replaced by a newer one before the viewer drew them."""
        return self._slot.replaced

    def summary(self) -> dict:
        """What the viewer did: draws, draws per second while results came, stale results skipped."""
        first, last = self._first_draw_s, self._last_draw_s
        fps = (self.draws - 1) / (last - first) if self.draws > 1 and first is not None and last and last > first else 0.0
        return {"name": self.name, "showing": self.showing, "results": self._slot.puts, "draws": self.draws,
                "draw_fps": round(fps, 1), "stale": self.stale, "missed": self.missed,
                "lowest_draw_share": round(self.lowest_share, 3)}

    def screenshot(self, path) -> None:
        """Draw the newest result handed over and save the image (on the viewer's thread)."""
        path = Path(path)
        self._call(lambda viewer: viewer.screenshot(path), f"saving {path}")

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the viewer thread to end (it ends on close or on an error); True if it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        """Draw the newest result, close the viewer (its screenshot), end the thread; raise its error."""
        if self._closed:
            return
        self._closed = True
        if not self._stop(CALL_TIMEOUT_S):
            raise UserError(f"the {self.name} viewer did not close within {CALL_TIMEOUT_S:g} s")
        self._raise_error()

    def _stop(self, timeout: float) -> bool:
        with self._slot.cond:
            self._stopping = True
            self._slot.cond.notify_all()
        return self.join(timeout)

    def _call(self, call: Callable[[Viewer], None], what: str) -> None:
        self._raise_error()
        if self._closed:
            raise ValueError(f"the {self.name} viewer is closed")
        request = _Request(call)
        with self._slot.cond:
            if self._finished:
                self._raise_error()
                raise UserError(f"the {self.name} viewer stopped before {what}")
            self._requests.append(request)
            self._slot.cond.notify_all()
        if not request.done.wait(CALL_TIMEOUT_S):
            raise UserError(f"the {self.name} viewer did not finish {what} within {CALL_TIMEOUT_S:g} s")
        if request.error is not None:
            if request.error is self._error:
                self._error = None
            raise request.error

    def _raise_error(self) -> None:
        """Raise the viewer thread's exception once, in the caller's thread."""
        error, self._error = self._error, None
        if error is not None:
            raise error

    # ---- the viewer's thread -------------------------------------------------------------

    def _run(self) -> None:
        viewer = None
        try:
            viewer = self._make_viewer()
            self.showing = bool(getattr(viewer, "showing", True))
            self._ready.set()
            self._loop(viewer)
        except BaseException as exc:      # raised in the app's thread by the next write or close
            self._error = exc
        finally:
            self._ready.set()
            if viewer is not None:
                try:
                    viewer.close()      # after an error too: the window must go (its screenshot may fail)
                except BaseException as exc:
                    self._error = self._error or exc
            with self._slot.cond:        # whoever waits for a request learns the thread is gone
                requests, self._requests = self._requests, []
                self._finished = True
            for request in requests:
                request.error = self._error or UserError(f"the {self.name} viewer stopped")
                request.done.set()

    def _draw_due(self, now: float, next_draw: float) -> bool:
        """Whether to draw the result in the slot now (with the slot's lock held).

        Once the display period (and the draw share) allow it, a result is drawn while it is
        fresh: handed over within the last half period, so the pipeline has just finished and is
        waiting for the camera, and the draw overlaps that wait rather than the next frame's
        work. A result older than that is drawn only when no newer one came for two periods (the
        pipeline is idle or slower than the display).
        """
        if not self._slot.full or now < next_draw:
            return False
        age = now - self._slot.put_time
        return age <= self.period_s / 2 or age >= 2 * self.period_s

    def _wake_time(self, now: float, next_draw: float, next_poll: float) -> float:
        wake = next_poll
        if self._slot.full:
            put = self._slot.put_time
            for candidate in sorted((next_draw, put + self.period_s / 2, put + 2 * self.period_s)):
                if candidate > now and self._draw_due(candidate, next_draw):
                    wake = min(wake, candidate)
                    break
        return wake

    def _loop(self, viewer: Viewer) -> None:
        cond = self._slot.cond
        next_draw = next_poll = share_changed = time.monotonic()
        missed_seen = 0
        while True:
            with cond:
                while not (self._stopping or self._requests):
                    if not self.showing:             # nobody sees it: draw only for an image
                        cond.wait()
                        if not (self._stopping or self._requests):
                            break                    # a new result: let the viewer see the stale ones
                        continue
                    now = time.monotonic()
                    if now >= next_poll or self._draw_due(now, next_draw):
                        break
                    cond.wait(self._wake_time(now, next_draw, next_poll) - now)
                stopping = self._stopping
                requests, self._requests = self._requests, []
                draw = self._slot.full and (bool(requests) or stopping
                                            or (self.showing and self._draw_due(time.monotonic(), next_draw)))
            for stale in self._slot.take_notes():
                viewer.observe(stale)
            if draw:
                start = time.monotonic()
                frame, result, fps = self._slot.take()
                viewer.draw(frame, result, fps)
                if self.showing:
                    viewer.poll()                    # renders it (Open3D) or paints it (OpenCV)
                end = time.monotonic()
                self.draws += 1
                self._first_draw_s = self._first_draw_s or start
                self._last_draw_s = end
                missed = self.missed
                if missed > missed_seen:             # the pipeline missed frames: yield to it
                    self.draw_share = max(MIN_DRAW_SHARE, self.draw_share / 2)
                    self.lowest_share = min(self.lowest_share, self.draw_share)
                    missed_seen, share_changed = missed, end
                elif end - share_changed >= SHARE_GROWTH_S and self.draw_share < self.max_draw_share:
                    self.draw_share = min(self.max_draw_share, self.draw_share * 1.5)
                    share_changed = end
                next_draw = start + max(self.period_s, (end - start) / self.draw_share)
                next_poll = end + self.period_s
            for request in requests:
                try:
                    request.call(viewer)
                except Exception as exc:           # the caller's error (an unwritable path), not the viewer's
                    request.error = exc
                request.done.set()
            if stopping:
                return
            if self.showing and time.monotonic() >= next_poll:
                viewer.poll()
                next_poll = time.monotonic() + self.period_s
            if viewer.quit_requested:
                self._quit.set()
