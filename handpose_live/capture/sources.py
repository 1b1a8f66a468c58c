"""Pick a FrameSource from the command-line options (`--camera`, `--input`)."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..types import Intrinsics
from .base import FrameSource

CAMERAS = ("auto", "realsense", "kinect", "synthetic")


def _synthetic(intrinsics, fps, target, seed, frames, realtime) -> FrameSource:
    try:
        from .synthetic import SyntheticCamera
    except ImportError as exc:
        raise UserError(f"the synthetic camera is not available in this installation ({exc})") from None
    return SyntheticCamera(intrinsics=intrinsics, fps=fps, target=target, seed=seed, frames=frames, realtime=realtime)


def _realsense_connected() -> bool:
    from .realsense import list_devices
    try:
        return bool(list_devices())
    except UserError:  # pyrealsense2 unusable here: no RealSense either
        return False


def open_source(camera: str = "auto", input_path: str | Path | None = None, target: str = "hand", *,
                realtime: bool = False, loop: bool = False, serial: str | None = None, width: int = 640,
                height: int = 480, fps: int = 30, seed: int = 0, frames: int | None = None,
                intrinsics: Intrinsics | None = None) -> FrameSource:
    """A recording when `input_path` is given (by extension), else the named camera.

    `auto` means a connected RealSense, otherwise the synthetic camera. `frames` only bounds the
    synthetic camera; `realtime` paces recordings and the synthetic camera at their frame rate.
    """
    if input_path is not None:
        path = Path(input_path)
        suffix = path.suffix.lower()
        if suffix in (".bag", ".db3"):
            from .realsense import RealSensePlayback
            return RealSensePlayback(path, realtime=realtime, loop=loop)
        if suffix == ".mkv":
            from .kinect import KinectPlayback
            return KinectPlayback(path, realtime=realtime, loop=loop)
        raise UserError(f"{path}: unsupported recording type '{path.suffix}' (expected .bag, .db3 or .mkv)")
    camera = camera.lower()
    if camera not in CAMERAS:
        raise UserError(f"unknown camera '{camera}' (choose from {', '.join(CAMERAS)})")
    if camera == "auto":
        camera = "realsense" if _realsense_connected() else "synthetic"
    if camera == "realsense":
        from .realsense import RealSenseCamera
        return RealSenseCamera(serial=serial, width=width, height=height, fps=fps)
    if camera == "kinect":
        from .kinect import KinectCamera
        return KinectCamera(fps=fps)
    if intrinsics is None and (width, height) != (640, 480):
        from ..calib import load_intrinsics
        intrinsics = load_intrinsics("d435-640x480").scaled(width, height)
    return _synthetic(intrinsics, fps, target, seed, frames, realtime)
