"""Pull frames from a FrameSource on a background thread.

A live camera keeps producing while the model runs; queueing those frames would add lag, so
the thread keeps only the newest one and counts the ones it overwrote as dropped. A file has
no such hurry: the thread waits until the consumer took the previous frame, so a replay
processes every frame.
"""
from __future__ import annotations

import threading

from ..types import DepthFrame
from .base import FrameSource


class CaptureThread:
    """Latest-frame slot between a source (producer thread) and the pipeline (consumer).

    `get(timeout)` returns the next frame, None once the source has ended, re-raises an
    exception the source raised, and raises TimeoutError when nothing arrived in time.
    """

    def __init__(self, source: FrameSource):
        self.source = source
        self.live = bool(source.live)
        self.frames_in = 0
        self.dropped = 0
        self._cond = threading.Condition()
        self._slot: DepthFrame | None = None
        self._full = False
        self._done = False
        self._stopping = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"capture-{source.name}", daemon=True)

    def start(self) -> CaptureThread:
        self._thread.start()
        return self

    def _run(self) -> None:
        frames = self.source.frames()
        try:
            for frame in frames:
                with self._cond:
                    if not self.live:
                        self._cond.wait_for(lambda: not self._full or self._stopping)
                    if self._stopping:
                        break
                    if self._full:
                        self.dropped += 1
                    self._slot, self._full = frame, True
                    self.frames_in += 1
                    self._cond.notify_all()
        except BaseException as exc:  # handed to the consumer, which decides what it means
            self._error = exc
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def get(self, timeout: float | None = None) -> DepthFrame | None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._done, timeout):
                raise TimeoutError(f"no frame from {self.source.name} within {timeout} s")
            if self._full:
                frame, self._slot, self._full = self._slot, None, False
                self._cond.notify_all()
                return frame
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            return None

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the producer to finish; True if it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the producer to finish after its current frame, wait for it, then close the source."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.source.close()

    def __enter__(self) -> CaptureThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
