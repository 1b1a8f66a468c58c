"""2D viewers built on `render_overlay`: an OpenCV window and an mp4 writer.

Both work on a machine without a display: the window is simply not opened there, and
cv2.VideoWriter needs none. A screenshot is a whole artefact, written atomically
(`fileio.atomic_path`). A video is a stream like the record files: written under its final name
as it goes and finished on close. An mp4 gets its index (moov) only when the writer is released,
so a video cut by SIGKILL keeps its frames but needs a repair tool to play; OpenCV's FFmpeg
writer offers no fragmented mp4 that would avoid it.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError
from ..fileio import atomic_path, describe_os_error
from ..skeletons import Skeleton
from ..types import DepthFrame, PoseResult
from .base import FpsMeter, Sink, Viewer, display_available
from .files import check_writable_target
from .overlay import render_overlay

WINDOW_NAME = "handpose-live"
QUIT_KEYS = (ord("q"), 27)


def save_image(path, image: np.ndarray) -> None:
    """cv2.imwrite, atomically: never a half image under `path`."""
    path = Path(path)
    check_writable_target(path)
    with atomic_path(path) as temp:   # keeps the suffix, which picks the image format
        try:
            ok = cv2.imwrite(str(temp), image)
        except cv2.error:
            ok = False
        if not ok:
            raise UserError(f"cannot write image {path} (unwritable or unknown image type '{path.suffix}')")


class OpenCvViewer(Viewer):
    """Shows the overlay in a window when a display exists; keeps the last image for screenshots.

    `quit_requested` turns true when the user presses q / Esc or closes the window; the app
    loop reads it (the viewer does not stop other stages itself). `write` draws and polls on the
    caller's thread; `ViewerThread` calls `draw` and `poll` on its own.
    """

    def __init__(self, skeleton: Skeleton, window: bool = True, screenshot_path=None) -> None:
        self.skeleton = skeleton
        self.showing = bool(window) and display_available()
        if self.showing and threading.current_thread() is not threading.main_thread():
            # Qt's GUI works on the thread that first used it (`ViewerThread`), but at exit Qt cleans
            # up on the main thread and prints "Timers cannot be stopped from another thread": noise.
            os.environ.setdefault("QT_LOGGING_RULES", "default.warning=false")
        self.screenshot_path = None if screenshot_path is None else Path(screenshot_path)
        if self.screenshot_path is not None:
            check_writable_target(self.screenshot_path)
        self.quit_requested = False
        self._fps = FpsMeter()
        self._window_open = False
        self._last: tuple | None = None       # (frame, result, fps) not yet rendered
        self._image: np.ndarray | None = None

    @property
    def last_image(self) -> np.ndarray | None:
        """The overlay of the newest frame. Headless, it is drawn only when asked for (a
        screenshot at the end), so an invisible viewer costs nothing per frame."""
        if self._last is not None:
            self._image = render_overlay(self._last[0], self._last[1], self.skeleton, fps=self._last[2])
            self._last = None
        return self._image

    def draw(self, frame: DepthFrame, result: PoseResult, fps: float | None = None) -> None:
        self._last = (frame, result, fps)
        if self.showing:
            cv2.imshow(WINDOW_NAME, self.last_image)   # painted by the event loop of the next poll
            self._window_open = True

    def poll(self) -> bool:
        if self._window_open and not self.quit_requested:
            key = cv2.waitKey(1) & 0xFF
            closed = cv2.getWindowProperty(WINDOW_NAME, cv2.WND_PROP_VISIBLE) < 1
            if key in QUIT_KEYS or closed:
                self.quit_requested = True
        return self.quit_requested

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        self.draw(frame, result, self._fps.tick())
        self.poll()

    def screenshot(self, path) -> None:
        image = self.last_image
        if image is None:
            raise UserError(f"no frame shown yet, nothing to save to {path}")
        save_image(path, image)

    def close(self) -> None:
        if self.screenshot_path is not None and self.last_image is not None:
            self.screenshot(self.screenshot_path)
            self.screenshot_path = None
        if self._window_open:
            cv2.destroyWindow(WINDOW_NAME)
            cv2.waitKey(1)
            self._window_open = False


class VideoWriterSink(Sink):
    """Writes the overlay as an mp4 (mp4v) video; the size is taken from the first frame."""

    def __init__(self, path, fps: float, skeleton: Skeleton) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".mp4":
            raise UserError(f"unsupported video file {self.path}: use a .mp4 name")
        if not fps > 0:
            raise UserError(f"video fps must be positive (got {fps})")
        self.fps = float(fps)
        self.skeleton = skeleton
        check_writable_target(self.path)
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self._closed = False

    def _open(self, width: int, height: int) -> None:
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
        if not writer.isOpened():
            raise UserError(f"cannot write video {self.path}: the file cannot be created, or OpenCV has no mp4v "
                            "encoder here")
        self._writer, self._size = writer, (width, height)

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        if self._closed:
            raise ValueError(f"VideoWriterSink for {self.path} is closed")
        image = render_overlay(frame, result, self.skeleton)
        if self._writer is None:
            self._open(image.shape[1], image.shape[0])
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_NEAREST)
        self._writer.write(image)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.release()   # writes the mp4 index
            _fsync_path(self.path)


def _fsync_path(path: Path) -> None:
    """What the writer released, on disk (it has no fsync of its own)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {describe_os_error(exc)}") from None
    finally:
        os.close(fd)
