"""The 2D viewer built on `overlay.Overlay`: an OpenCV window (the .mp4 writer is `sinks/video.py`).

It works on a machine without a display: the window is simply not opened there, and a
screenshot is the picture the window would show (the same view, labels, legend and status).
A screenshot is a whole artefact, written atomically (`fileio.atomic_path`).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError
from ..fileio import atomic_write
from ..skeletons import Skeleton
from ..types import DepthFrame, PoseResult
from .base import FpsMeter, Viewer, display_available
from .files import check_writable_target
from .overlay import Overlay, render_overlay

WINDOW_NAME = "handpose-live"
QUIT_KEYS = (ord("q"), 27)


def save_image(path, image: np.ndarray) -> None:
    """The image encoded in memory (its suffix picks the format), then written atomically: never a half
    image under `path`, and a write error (a full disk) said as such (cv2.imwrite only returns False)."""
    path = Path(path)
    check_writable_target(path)
    try:
        ok, data = cv2.imencode(path.suffix, image)
    except cv2.error:
        ok = False
    if not ok:
        raise UserError(f"cannot write image {path}: unknown image type '{path.suffix}'")
    atomic_write(path, lambda f: f.write(data.tobytes()))


class OpenCvViewer(Viewer):
    """Shows the overlay in a window when a display exists; keeps the last image for screenshots.

    `quit_requested` turns true when the user presses q / Esc or closes the window; the app
    loop reads it (the viewer does not stop other stages itself). `write` draws and polls on the
    caller's thread; `ViewerThread` calls `draw` and `poll` on its own. The view follows the
    subjects through every result, drawn or skipped (`observe`), so the picture is the same
    whichever results are drawn.
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
        self._overlay = Overlay(skeleton, hint=True)
        self._last: tuple | None = None       # (frame, result, fps, view) not yet rendered
        self._image: np.ndarray | None = None

    @property
    def last_image(self) -> np.ndarray | None:
        """The overlay of the newest frame. Headless, it is drawn only when asked for (a
        screenshot at the end), so an invisible viewer costs nothing per frame."""
        if self._last is not None:
            frame, result, fps, view = self._last
            self._image = render_overlay(frame, result, self.skeleton, fps=fps, view=view, hint=True)
            self._last = None
        return self._image

    def draw(self, frame: DepthFrame, result: PoseResult, fps: float | None = None) -> None:
        self._last = (frame, result, fps, self._overlay.follow(result, frame.intrinsics))
        if self.showing:
            cv2.imshow(WINDOW_NAME, self.last_image)   # painted by the event loop of the next poll
            self._window_open = True

    def observe(self, result: PoseResult) -> None:
        self._overlay.follow(result)

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
