"""The one interface every depth source implements (cameras, recordings, the synthetic camera)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterator

from ..types import DepthFrame, Intrinsics


class FrameSource(ABC):
    """Yields `DepthFrame`s (depth in float32 mm, 0 = invalid) until the source ends.

    `frames()` may be called once. Sources raise `UserError` for bad input (missing or corrupt
    file, no depth stream) before the first frame, so the CLI can print one line and exit.
    """

    name: str = "source"
    live: bool = False          # a camera (frames can be dropped) vs a file (every frame counts)

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
