"""Pick a FrameSource from the command-line options (`--camera`, `--input`); the cameras and their
recording types are the entries of `cameras.CAMERAS`."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..types import Intrinsics
from . import cameras
from .base import FrameSource


def open_source(camera: str = "auto", input_path: str | Path | None = None, target: str = "hand", *,
                realtime: bool = False, loop: bool = False, serial: str | None = None, width: int = 640,
                height: int = 480, fps: int = 30, seed: int = 0, frames: int | None = None,
                intrinsics: Intrinsics | str | Path | None = None, depth_encoding: str = "auto",
                hands: int = 1, topic: str | None = None, strict: bool = False) -> FrameSource:
    """A recording when `input_path` is given (by extension), else the named camera.

    `auto` means the first connected camera in `cameras.CAMERAS`' order (RealSense, Azure Kinect,
    Orbbec), otherwise the synthetic camera; the source's name says which and why. `frames` only
    bounds the synthetic camera and `hands` (1 or 2) is what it shows; `realtime` paces recordings
    and the synthetic camera at their frame rate.

    Depth images (a folder, a glob pattern, a .png or .npy file) need `intrinsics` (an `Intrinsics`,
    a preset name or a calib JSON path) and replay at `fps`; the synthetic camera uses `intrinsics`
    when given; cameras and recordings carry their own calibration, so `intrinsics` is refused there.
    `topic` picks the depth topic of a ROS recording that has several. `strict`: a recording whose
    index lists frames its SDK cannot read is an error (else a warning; `RecordingSource`).
    """
    if isinstance(intrinsics, (str, Path)):
        from ..calib import load_intrinsics
        intrinsics = load_intrinsics(intrinsics)
    if input_path is not None:
        from .images import ENCODINGS, ImageSequence, is_image_input
        if is_image_input(input_path):
            _no_topic(topic, input_path)
            return ImageSequence(input_path, intrinsics, depth_encoding, fps=fps, realtime=realtime, loop=loop)
        if not Path(input_path).suffix and not Path(input_path).exists():   # neither a file nor a folder (a bag's):
            raise UserError(f"input not found: {input_path}")                 # said before the options it would refuse
        if intrinsics is not None:
            raise UserError(f"--intrinsics applies to depth images and the synthetic camera; the recording {input_path} "
                            "carries its own calibration")
        if depth_encoding != "auto":
            raise UserError(f"--depth-encoding applies to depth images (.png, .npy), not to {input_path}"
                            if depth_encoding in ENCODINGS else
                            f"unknown depth encoding '{depth_encoding}' (choose from {', '.join(ENCODINGS)})")
        path = Path(input_path)
        found = cameras.recording_type(path)
        if found is not None:
            if found[1].topics:
                source = found[1].read(path, realtime=realtime, loop=loop, topic=topic)
            else:
                _no_topic(topic, path)
                source = found[1].read(path, realtime=realtime, loop=loop)
            source.strict = strict
            return source
        raise UserError(f"{path}: unsupported recording type '{path.suffix}' (expected {cameras.recording_types_text()}, "
                        "or depth images: a folder, a glob pattern, .png or .npy)")
    _no_topic(topic, None)
    why = None
    if camera.lower() == "auto":
        camera, serial, why = cameras.auto_camera(serial)
    chosen = cameras.get_camera(camera)
    if depth_encoding != "auto":
        raise UserError("--depth-encoding applies to depth images (--input FOLDER, GLOB, .png or .npy)")
    if intrinsics is not None and chosen.own_calibration:
        raise UserError(f"--intrinsics applies to depth images and the synthetic camera; the {chosen.name} camera "
                        "reports its own calibration")
    source = chosen.open(cameras.CameraRequest(serial=serial, width=width, height=height, fps=fps, intrinsics=intrinsics,
                                               target=target, seed=seed, frames=frames, realtime=realtime, hands=hands))
    if why:
        source.name = f"{source.name} ({why})"
    return source


def _no_topic(topic: str | None, path) -> None:
    if topic is not None:
        kinds = ", ".join(r.suffix or "a ROS 2 bag folder" for r in cameras.OTHER_RECORDINGS)
        raise UserError(f"--topic applies to ROS recordings ({kinds}), not to {'a camera' if path is None else path}")
