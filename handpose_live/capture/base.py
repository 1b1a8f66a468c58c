"""The one interface every depth source implements (cameras, recordings, the synthetic camera)."""
from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterator

from ..errors import UserError
from ..types import DepthFrame, Intrinsics


class FrameSource(ABC):
    """Yields `DepthFrame`s (depth in float32 mm, 0 = invalid) until the source ends.

    `frames()` may be called once. Sources raise `UserError` for bad input (missing or corrupt
    file, no depth stream) before the first frame, so the CLI can print one line and exit.
    """

    name: str = "source"
    live: bool = False          # a camera (frames can be dropped) vs a file (every frame counts)
    strict: bool = False        # recordings: frames the index lists but a pass could not read are an error

    @property
    @abstractmethod
    def intrinsics(self) -> Intrinsics: ...

    @abstractmethod
    def frames(self) -> Iterator[DepthFrame]: ...

    def close(self) -> None:
        """Release the device or file; safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RecordingSource(FrameSource):
    """A recording replayed pass after pass (`--loop`) on one clock.

    Subclasses give one pass over the file (`_one_pass`), say whether they are still open and
    how to rewind; `frames()` numbers the frames across passes and shifts each pass's timestamps
    so that `timestamp_ms` keeps increasing by one frame period over the seam.
    """

    path: Path
    loop: bool = False
    _period_ms: float = 1000.0 / 30.0

    @abstractmethod
    def _one_pass(self, first_index: int) -> Iterator[DepthFrame]: ...

    @abstractmethod
    def _is_open(self) -> bool: ...

    @abstractmethod
    def _rewind(self) -> None: ...

    realtime: bool = False
    _start_wall: float | None = None     # realtime pacing: wall clock and timestamp of the first frame
    _start_ts: float = 0.0

    def _expected_frames(self) -> int | None:
        """How many depth frames the file's index lists (None: unknown); a pass is checked against it."""
        return None

    def _check_pass(self, played: int) -> None:
        """After a whole pass: frames that the index lists but the SDK could not read are damage, said
        as one `warning:` line (`strict`: a UserError). Real-time playback may drop frames by design."""
        expected = self._expected_frames()
        if self.realtime or expected is None or played >= expected:
            return
        text = (f"{expected - played} of {expected} depth frames of {self.path} unreadable "
                f"(damaged recording?); {played} played")
        if self.strict:
            raise UserError(f"{text} (--strict)")
        sys.stderr.write(f"warning: {text}\n")
        sys.stderr.flush()

    def _pace(self, frame: DepthFrame) -> None:
        """Called before each frame is handed out: with `realtime`, sleep until the frame's time
        (the first frame's wall clock plus its timestamp's distance from the first one)."""
        if not self.realtime:
            return
        if self._start_wall is None:
            self._start_wall, self._start_ts = time.monotonic(), frame.timestamp_ms
        delay_s = (frame.timestamp_ms - self._start_ts) / 1000.0 - (time.monotonic() - self._start_wall)
        if delay_s > 0:
            time.sleep(delay_s)

    def frames(self) -> Iterator[DepthFrame]:
        index, offset_ms, last_ms = 0, 0.0, None   # offset added to this pass's clock; last timestamp out
        while True:
            start = index
            for frame in self._one_pass(index):
                if index == start and last_ms is not None:
                    offset_ms = last_ms + self._period_ms - frame.timestamp_ms
                frame.timestamp_ms += offset_ms
                last_ms = frame.timestamp_ms
                self._pace(frame)
                yield frame
                index += 1
            if not self._is_open():  # closed while we were reading
                return
            if start == 0:
                self._check_pass(index)
            if index == start:
                if index == 0:
                    raise UserError(f"recording {self.path} contains no depth frames")
                return
            if not self.loop:
                return
            self._rewind()
