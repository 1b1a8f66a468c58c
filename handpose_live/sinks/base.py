"""The one interface every consumer of pipeline output implements.

The app loop only calls `write` per frame and `close` once, so files, network, and
viewers can be combined freely. Sinks must not modify the frame or the result.
"""
from __future__ import annotations

from ..types import DepthFrame, PoseResult


class Sink:
    """Consumes one (frame, result) pair per frame; `close` finishes (fsync, screenshot) and releases."""

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources. Safe to call more than once."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


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
