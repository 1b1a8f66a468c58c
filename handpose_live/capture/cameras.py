"""The cameras that `--camera` names, in one table (`CAMERAS`): how each opens, finds its devices,
replays and writes its recordings, and how `doctor` checks its SDK.

`open_source` (capture/sources.py), `record` and `doctor` read this table instead of comparing
camera names, and the help of `--camera`, `--serial`, `--input` and `record --out` is written
from it. An entry names its SDK's code with `lazy("module:name")` (a module of this package,
imported when first used), so a missing SDK breaks no import and slows no `--help`. The glue of
a camera whose constructor does not take a `CameraRequest`'s values as they are lives beside its
entry. Adding a camera is one module and one entry here (docs/architecture.md, "Add a camera").
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..types import Intrinsics

if TYPE_CHECKING:
    from .base import FrameSource


def lazy(ref: str) -> Callable[..., Any]:
    """`module:name` of `handpose_live.capture`, as a callable that imports the module on first use."""
    module, _, name = ref.partition(":")

    def call(*args, **kwargs):
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)(*args, **kwargs)

    call.__qualname__ = call.__name__ = ref
    return call


@dataclass(frozen=True)
class CameraRequest:
    """What the command line asks of a camera (`run`'s source options); each camera takes what
    applies to it: live cameras the first four, the synthetic camera the rest too."""

    serial: str | None = None
    width: int = 640
    height: int = 480
    fps: int = 30
    intrinsics: Intrinsics | None = None
    target: str = "hand"
    seed: int = 0
    frames: int | None = None     # bounds the synthetic camera
    realtime: bool = False        # paces the synthetic camera at `fps`
    hands: int = 1


@dataclass(frozen=True)
class Recording:
    """A recording file type: its player, and for `record` its writer."""

    suffix: str                                         # ".db3", lower case; "" for a folder
    read: Callable[..., FrameSource]                    # (path, realtime=, loop=[, topic=]) -> the player
    write: Callable[..., int] | None = None             # (path, frames, intrinsics, fps=, **prepared) -> frames written
    # `record`: opens the source for this type, (camera, request) -> (source, extra `write` keywords);
    # None: the camera as asked, nothing extra
    prepare: Callable[..., tuple[FrameSource, dict]] | None = None
    # a reader that shares its suffix with another: whether this file is its kind (checked first)
    claims: Callable[[Path], bool] | None = None
    topics: bool = False                                # `read` takes `topic=` (--topic: ROS recordings)
    label: str = ""                                     # in messages, for a type of no camera: "ROS 2 bag"


@dataclass(frozen=True)
class Camera:
    name: str                                           # the --camera value
    label: str                                          # in messages: "Azure Kinect"
    open: Callable[[CameraRequest], FrameSource]
    devices: Callable[[], list[dict[str, str]]] | None = None   # connected ones ({"serial": ...}); None: no device
    check: Callable[[], tuple[bool, str]] | None = None         # `doctor`'s row: (usable, details)
    recordings: tuple[Recording, ...] = ()
    help: str = ""                                      # said after the name in --camera's help
    auto_note: str = ""                                 # what `auto` leaves to --camera NAME, in --camera's help
    own_calibration: bool = True                        # reports its intrinsics (--intrinsics is refused)


# ---- glue of the cameras whose constructors take other values ---------------------------------

def _open_realsense(r: CameraRequest) -> FrameSource:
    from .realsense import RealSenseCamera
    return RealSenseCamera(serial=r.serial, width=r.width, height=r.height, fps=r.fps)


def _open_kinect(r: CameraRequest) -> FrameSource:
    """Depth mode by image size; 640x480 (the default) means NFOV unbinned."""
    from .kinect import KinectCamera, depth_mode_for_size
    return KinectCamera(serial=r.serial, depth_mode=depth_mode_for_size(r.width, r.height), fps=r.fps)


def _open_orbbec(r: CameraRequest) -> FrameSource:
    """The default options (640x480, 30 fps) mean the camera's default depth profile (many Orbbec
    cameras have no 640x480 mode); 0 = any, per value."""
    from .orbbec import OrbbecCamera
    w, h = (0, 0) if (r.width, r.height) == (640, 480) else (r.width, r.height)
    fps = 0 if (r.width, r.height, r.fps) == (640, 480, 30) else r.fps
    return OrbbecCamera(serial=r.serial, width=w, height=h, fps=fps)


def _open_synthetic(r: CameraRequest) -> FrameSource:
    """A size other than 640x480 without intrinsics: the D435 preset scaled to it."""
    try:
        from .synthetic import SyntheticCamera
    except ImportError as exc:
        raise UserError(f"the synthetic camera is not available in this installation ({exc})") from None
    intrinsics = r.intrinsics
    if intrinsics is None and (r.width, r.height) != (640, 480):
        from ..calib import load_intrinsics
        intrinsics = load_intrinsics("d435-640x480").scaled(r.width, r.height)
    return SyntheticCamera(intrinsics=intrinsics, fps=r.fps, target=r.target, seed=r.seed, frames=r.frames,
                           realtime=r.realtime, hands=r.hands)


def _check_realsense() -> tuple[bool, str]:
    import ctypes.util
    if not ctypes.util.find_library("usb-1.0"):
        return False, "libusb-1.0 missing: sudo apt-get install libusb-1.0-0"
    import pyrealsense2 as rs
    devices = [d.get_info(rs.camera_info.name) + " " + d.get_info(rs.camera_info.serial_number)
               for d in rs.context().query_devices()]
    return True, f"pyrealsense2 {rs.__version__}, libusb ok; devices: {', '.join(devices) if devices else 'none connected'}"


def _check_kinect() -> tuple[bool, str]:
    import os

    from .kinect import sdk_info
    info = sdk_info()
    devices = ", ".join(d["serial"] for d in info["devices"]) or "none connected"
    engine = "depth engine present" if info["depth_engine"] else "depth engine MISSING (live depth will fail)"
    return True, (f"Azure Kinect SDK {info['version']} ({info['origin']}: {os.path.basename(info['library'])}, "
                  f"{engine}); devices: {devices}")


def _check_orbbec() -> tuple[bool, str]:
    from .orbbec import list_devices, sdk_version
    version = sdk_version()
    devices = ", ".join(f"{d['name']} {d['serial']} ({d['connection']})" for d in list_devices()) or "none connected"
    return True, f"Orbbec SDK {version}; devices: {devices}"


# ---- the table: `auto` tries the cameras with devices in this order ----------------------------

_REALSENSE_PLAYER = lazy("realsense:RealSensePlayback")

CAMERAS: dict[str, Camera] = {c.name: c for c in (
    Camera("realsense", "RealSense", _open_realsense, lazy("realsense:list_devices"), _check_realsense, (
        Recording(".db3", _REALSENSE_PLAYER, lazy("record:write_db3")),     # librealsense's own recorder
        Recording(".bag", _REALSENSE_PLAYER, lazy("record:write_bag")))),   # ROS1, the RealSense Viewer's
    Camera("kinect", "Azure Kinect", _open_kinect, lazy("kinect:list_devices"), _check_kinect, (
        Recording(".mkv", lazy("kinect:KinectPlayback"), lazy("record:write_mkv"), lazy("record:mkv_source")),),
        help="Azure Kinect"),
    Camera("orbbec", "Orbbec", _open_orbbec, lazy("orbbec:auto_devices"), _check_orbbec,
           auto_note="Orbbec over USB; a network one: --camera orbbec"),
    Camera("synthetic", "synthetic", _open_synthetic, help="rendered, with exact ground truth",
           own_calibration=False),
)}


# Recordings of no one camera: ROS bags of any depth driver (capture/ros.py). librealsense's own
# .bag/.db3 are ROS bags too; `claims` tells a ROS recording from them, so these are tried first.
_ROS_PLAYER = lazy("ros:RosRecording")
_IS_ROS = lazy("ros:is_ros_recording")
OTHER_RECORDINGS: tuple[Recording, ...] = tuple(
    Recording(suffix, _ROS_PLAYER, claims=_IS_ROS, topics=True, label=label)
    for suffix, label in ((".bag", "ROS 1 bag"), (".db3", "ROS 2 bag"), (".mcap", "ROS 2 bag"), ("", "ROS 2 bag folder")))


def get_camera(name: str) -> Camera:
    camera = CAMERAS.get(name.lower())
    if camera is None:
        raise UserError(f"unknown camera '{name}' (choose from {', '.join(['auto', *CAMERAS])})")
    return camera


def _or(items: list[str]) -> str:
    """"a, b or c"."""
    return " or ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def devices_text() -> str:
    """"RealSense, Azure Kinect or Orbbec": the cameras `auto` looks for, in its order."""
    return _or([c.label for c in CAMERAS.values() if c.devices is not None])


def camera_help() -> str:
    """The help of `--camera`."""
    names = [c.name + (f" ({c.help})" if c.help else "") for c in CAMERAS.values()]
    notes = "".join(f"; {c.auto_note}" for c in CAMERAS.values() if c.auto_note)
    return f"auto (the first connected {devices_text()} camera, else synthetic{notes}) | " + " | ".join(names)


def connected(camera: Camera) -> list[dict[str, str]]:
    """Connected devices of one camera; none when its SDK is not installed or cannot run here."""
    if camera.devices is None:
        return []
    try:
        return camera.devices()
    except UserError:
        return []


def auto_camera(serial: str | None) -> tuple[str, str | None, str]:
    """(camera, serial, why) for `--camera auto`: the first connected camera (the one with `serial`
    if given) in `CAMERAS`' order, else the synthetic camera."""
    for camera in CAMERAS.values():
        devices = [d for d in connected(camera) if serial is None or d["serial"] == serial]
        if devices:
            return camera.name, devices[0]["serial"], f"auto: first connected camera, {camera.label} {devices[0]['serial']}"
    if serial is not None:
        raise UserError(f"no {devices_text()} camera with serial {serial} is connected")
    return "synthetic", None, f"auto: no {devices_text()} camera connected"


# ---- recordings ---------------------------------------------------------------------------------

def recordings(writable: bool = False) -> list[tuple[Camera | None, Recording]]:
    """Every recording type (only those `record` writes, with `writable`), the ones that `claim` their
    files first; the camera is None for a type of no one camera (ROS bags)."""
    claiming = [(None, r) for r in OTHER_RECORDINGS]
    own = [(c, r) for c in CAMERAS.values() for r in c.recordings]
    return [(c, r) for c, r in claiming + own if r.write is not None or not writable]


def recording_types_text(writable: bool = False) -> str:
    """".db3, .bag, .mkv, .mcap or a ROS 2 bag folder"."""
    kinds = dict.fromkeys(r.suffix or "a ROS 2 bag folder" for _, r in sorted(recordings(writable),
                                                                           key=lambda cr: cr[0] is None))
    return _or(list(kinds))


def recordings_by_camera_text() -> str:
    """".db3 or .bag (RealSense), .mkv (Azure Kinect)": what `record` writes, per camera."""
    return ", ".join(f"{_or([r.suffix for r in c.recordings if r.write])} ({c.label})"
                     for c in CAMERAS.values() if any(r.write for r in c.recordings))


def recording_type(path: str | Path, writable: bool = False) -> tuple[Camera, Recording] | None:
    """The camera (None: no one camera's) and recording type of a file, by its suffix (a folder: "")
    and, for the types that share a suffix, by what the file holds; None when no type is its."""
    path = Path(path)
    try:
        suffix = "" if path.is_dir() else path.suffix.lower()
    except OSError:            # a folder we may not enter: its reader reports that, in one line
        suffix = path.suffix.lower()
    for camera, recording in recordings(writable):
        if recording.suffix == suffix and (recording.claims is None or recording.claims(path)):
            return camera, recording
    return None
