"""Pick a FrameSource from the command-line options (`--camera`, `--input`)."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..types import Intrinsics
from .base import FrameSource

CAMERAS = ("auto", "realsense", "kinect", "orbbec", "synthetic")


def _synthetic(intrinsics, fps, target, seed, frames, realtime, hands=1) -> FrameSource:
    try:
        from .synthetic import SyntheticCamera
    except ImportError as exc:
        raise UserError(f"the synthetic camera is not available in this installation ({exc})") from None
    return SyntheticCamera(intrinsics=intrinsics, fps=fps, target=target, seed=seed, frames=frames, realtime=realtime,
                           hands=hands)


def _connected(camera: str) -> list[dict[str, str]]:
    """Connected cameras of one kind; none when its SDK is not installed or cannot run here."""
    if camera == "realsense":
        from .realsense import list_devices
    elif camera == "kinect":
        from .kinect import list_devices
    else:
        from .orbbec import list_devices
    try:
        return list_devices()
    except UserError:
        return []


def _auto(serial: str | None) -> tuple[str, str | None, str]:
    """(camera, serial, why): the first connected RealSense, Azure Kinect or Orbbec camera (the one
    with `serial` if given), else the synthetic camera."""
    for camera, label in (("realsense", "RealSense"), ("kinect", "Azure Kinect"), ("orbbec", "Orbbec")):
        devices = [d for d in _connected(camera) if serial is None or d["serial"] == serial]
        if devices:
            return camera, devices[0]["serial"], f"auto: first connected camera, {label} {devices[0]['serial']}"
    if serial is not None:
        raise UserError(f"no RealSense, Azure Kinect or Orbbec camera with serial {serial} is connected")
    return "synthetic", None, "auto: no RealSense, Azure Kinect or Orbbec camera connected"


def open_source(camera: str = "auto", input_path: str | Path | None = None, target: str = "hand", *,
                realtime: bool = False, loop: bool = False, serial: str | None = None, width: int = 640,
                height: int = 480, fps: int = 30, seed: int = 0, frames: int | None = None,
                intrinsics: Intrinsics | str | Path | None = None, depth_encoding: str = "auto",
                hands: int = 1) -> FrameSource:
    """A recording when `input_path` is given (by extension), else the named camera.

    `auto` means the first connected RealSense, Azure Kinect or Orbbec camera, in that order,
    otherwise the synthetic camera; the source's name says which and why. `frames` only bounds the
    synthetic camera and `hands` (1 or 2) is what it shows; `realtime` paces recordings and the
    synthetic camera at their frame rate.

    Depth images (a folder, a glob pattern, a .png or .npy file) need `intrinsics` (an `Intrinsics`,
    a preset name or a calib JSON path) and replay at `fps`; the synthetic camera uses `intrinsics`
    when given; cameras and recordings carry their own calibration, so `intrinsics` is refused there.
    """
    if isinstance(intrinsics, (str, Path)):
        from ..calib import load_intrinsics
        intrinsics = load_intrinsics(intrinsics)
    if input_path is not None:
        from .images import ENCODINGS, ImageSequence, is_image_input
        if is_image_input(input_path):
            return ImageSequence(input_path, intrinsics, depth_encoding, fps=fps, realtime=realtime, loop=loop)
        if intrinsics is not None:
            raise UserError(f"--intrinsics applies to depth images and the synthetic camera; the recording {input_path} "
                            "carries its own calibration")
        if depth_encoding != "auto":
            raise UserError(f"--depth-encoding applies to depth images (.png, .npy), not to {input_path}"
                            if depth_encoding in ENCODINGS else
                            f"unknown depth encoding '{depth_encoding}' (choose from {', '.join(ENCODINGS)})")
        path = Path(input_path)
        suffix = path.suffix.lower()
        if suffix in (".bag", ".db3"):
            from .realsense import RealSensePlayback
            return RealSensePlayback(path, realtime=realtime, loop=loop)
        if suffix == ".mkv":
            from .kinect import KinectPlayback
            return KinectPlayback(path, realtime=realtime, loop=loop)
        if not suffix and not path.exists():
            raise UserError(f"input not found: {path}")
        raise UserError(f"{path}: unsupported recording type '{path.suffix}' (expected .bag, .db3 or .mkv, "
                        "or depth images: a folder, a glob pattern, .png or .npy)")
    camera = camera.lower()
    if camera not in CAMERAS:
        raise UserError(f"unknown camera '{camera}' (choose from {', '.join(CAMERAS)})")
    why = None
    if camera == "auto":
        camera, serial, why = _auto(serial)
    if depth_encoding != "auto":
        raise UserError("--depth-encoding applies to depth images (--input FOLDER, GLOB, .png or .npy)")
    if intrinsics is not None and camera != "synthetic":
        raise UserError(f"--intrinsics applies to depth images and the synthetic camera; the {camera} camera "
                        "reports its own calibration")
    source = _camera(camera, serial, width, height, fps)
    if source is None:
        if intrinsics is None and (width, height) != (640, 480):
            from ..calib import load_intrinsics
            intrinsics = load_intrinsics("d435-640x480").scaled(width, height)
        source = _synthetic(intrinsics, fps, target, seed, frames, realtime, hands)
    if why:
        source.name = f"{source.name} ({why})"
    return source


def _camera(camera: str, serial: str | None, width: int, height: int, fps: int) -> FrameSource | None:
    """A live camera, or None for the synthetic one."""
    if camera == "realsense":
        from .realsense import RealSenseCamera
        return RealSenseCamera(serial=serial, width=width, height=height, fps=fps)
    if camera == "kinect":   # depth mode by image size; 640x480 (the default) means NFOV unbinned
        from .kinect import KinectCamera, depth_mode_for_size
        return KinectCamera(serial=serial, depth_mode=depth_mode_for_size(width, height), fps=fps)
    if camera == "orbbec":   # the default options (640x480, 30 fps) mean the camera's default depth profile
        from .orbbec import OrbbecCamera  # (many Orbbec cameras have no 640x480 mode); 0 = any, per value
        w, h = (0, 0) if (width, height) == (640, 480) else (width, height)
        f = 0 if (width, height, fps) == (640, 480, 30) else fps
        return OrbbecCamera(serial=serial, width=w, height=h, fps=f)
    return None
