"""Orbbec depth cameras (Femto Bolt / Mega / Femto, Gemini 2 / 330, Astra 2) through Orbbec SDK v2.

`pyorbbecsdk2` carries the whole SDK (libOrbbecSDK 2.x with its extensions) in its wheel, so
nothing is installed by hand. Its wheel metadata for Python < 3.12 pins numpy<2 and
open3d==0.18 and pulls GUI packages for its examples, none of which its module needs: it
imports and runs with NumPy 2 (checked), so it is installed with `--no-deps` (see README).

Depth arrives as Y16 in units of the frame's depth scale (mm per unit: 1.0 on a Femto, 0.1 or
1.0 on a Gemini, by preset); we hand out float32 millimetres with the depth stream profile's
intrinsics. Orbbec cameras are accessed only through this SDK (Femto cameras also work through
Orbbec's K4A wrapper, which `capture/kinect.py` would load as a system libk4a).

NOT RUN ON HARDWARE: no Orbbec camera is attached where this was written. What the SDK does
without a device is tested for real: loading, version, context, enumeration (none found), and
converting SDK depth frames (created by the SDK from software, with a profile carrying
intrinsics and a depth scale) into ours. Live streaming follows the SDK's own examples
(Pipeline + Config.enable_stream + wait_for_frames).
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import UserError
from ..types import DepthFrame, Intrinsics
from .base import FrameSource

INSTALL_HINT = ("Orbbec support needs Orbbec SDK v2: `pip install --no-deps pyorbbecsdk2` (the wheel carries the "
                "SDK; --no-deps because its metadata pins numpy<2 and open3d 0.18, which it does not need)")

_ob = None
_ob_lock = threading.Lock()


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """The SDK prints 'load extensions from ...' on stdout when its module loads; keep stdout clean."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):   # no real stdout (embedded, closed): nothing to protect
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            try:
                yield
            finally:
                os.dup2(saved, 1)
    finally:
        os.close(saved)


def ob_module():
    """Import pyorbbecsdk (once, quietly, with the SDK's log files off) or raise the install hint."""
    global _ob
    with _ob_lock:
        if _ob is None:
            try:
                with _quiet_stdout():
                    import pyorbbecsdk as ob
            except Exception as exc:  # ImportError, or OSError from a missing shared library
                raise UserError(f"{INSTALL_HINT} ({type(exc).__name__}: {exc})".replace("\n", " ")) from None
            # By default the SDK writes ./Log/OrbbecSDK.log.txt into the working directory and
            # warnings to the console; errors reach the user as our one-line messages instead.
            ob.Context.set_logger_to_file(ob.OBLogLevel.NONE, "")
            ob.Context.set_logger_to_console(ob.OBLogLevel.NONE)
            _ob = ob
        return _ob


def sdk_version() -> str:
    ob = ob_module()
    return f"{ob.get_version()} (pyorbbecsdk2 {getattr(ob, '__version__', '?')})"


def _context():
    ob = ob_module()
    try:
        return ob.Context()
    except Exception as exc:
        raise UserError(f"Orbbec SDK: cannot create a context: {exc}") from None


def list_devices() -> list[dict[str, str]]:
    """Connected Orbbec cameras as dicts with name, serial, pid, connection (empty if none)."""
    devices = _context().query_devices()
    found = []
    for i in range(devices.get_count()):
        found.append({"name": devices.get_device_name_by_index(i),
                      "serial": devices.get_device_serial_number_by_index(i),
                      "pid": f"{devices.get_device_pid_by_index(i):04x}",
                      "connection": devices.get_device_connection_type_by_index(i)})
    return found


USB_VENDOR_ID = "2bc5"      # Orbbec's USB vendor id


def usb_attached(root: Path = Path("/sys/bus/usb/devices")) -> bool | None:
    """Whether an Orbbec device is on the USB bus (Linux sysfs: no such folder, no USB bus, as in a container
    without USB); None off Linux, where this cannot be told without the SDK."""
    if not sys.platform.startswith("linux"):
        return None
    if not root.is_dir():
        return False
    for device in root.iterdir():
        with contextlib.suppress(OSError):
            if (device / "idVendor").read_text().strip().lower() == USB_VENDOR_ID:
                return True
    return False


def auto_devices() -> list[dict[str, str]]:
    """The Orbbec cameras `--camera auto` finds: the SDK's list when an Orbbec device is on the USB bus (or
    the bus cannot be read), else none, without creating the SDK's context: its discovery waits for replies
    from the network, seconds of every start without a camera. A network camera: `--camera orbbec`."""
    return [] if usb_attached() is False else list_devices()


def _describe(devices: list[dict[str, str]]) -> str:
    return ", ".join(f"{d['name']} {d['serial']}" for d in devices) or "none"


def intrinsics_of_profile(profile, depth_scale_mm: float, name: str) -> Intrinsics:
    """Our Intrinsics from an SDK VideoStreamProfile (pinhole + Brown-Conrady k1 k2 p1 p2 k3)."""
    intr = profile.get_intrinsic()
    try:
        dist = profile.get_distortion()
        distortion = tuple(float(v) for v in (dist.k1, dist.k2, dist.p1, dist.p2, dist.k3))
    except Exception:
        distortion = (0.0,) * 5
    width, height = int(intr.width) or int(profile.get_width()), int(intr.height) or int(profile.get_height())
    return Intrinsics(fx=float(intr.fx), fy=float(intr.fy), cx=float(intr.cx), cy=float(intr.cy), width=width,
                      height=height, depth_scale_m=round(float(depth_scale_mm), 6) / 1000.0, distortion=distortion, name=name)


def depth_frame_to_ours(depth_frame, intrinsics: Intrinsics, index: int) -> DepthFrame:
    """Copy an SDK DepthFrame (Y16 in units of its depth scale) into a float32-millimetre DepthFrame."""
    ob = ob_module()
    w, h = int(depth_frame.get_width()), int(depth_frame.get_height())
    if (w, h) != (intrinsics.width, intrinsics.height) or depth_frame.get_format() != ob.OBFormat.Y16:
        raise UserError(f"Orbbec frame {index}: {w}x{h} {depth_frame.get_format()} where "
                        f"{intrinsics.width}x{intrinsics.height} Y16 depth was expected")
    raw = np.frombuffer(depth_frame.get_data(), dtype="<u2", count=w * h).reshape(h, w)
    depth = raw.astype(np.float32) * np.float32(depth_frame.get_depth_scale())
    return DepthFrame(depth_mm=depth, intrinsics=intrinsics, timestamp_ms=depth_frame.get_timestamp_us() / 1000.0,
                      index=index)


class OrbbecCamera(FrameSource):
    """A live Orbbec depth stream: `width`/`height`/`fps` 0 take the camera's default depth profile."""

    live = True
    wait_ms = 250
    stall_timeout_s = 5.0

    def __init__(self, serial: str | None = None, width: int = 0, height: int = 0, fps: int = 0):
        ob = ob_module()
        devices = list_devices()
        if not devices:
            raise UserError(f"no Orbbec camera connected (Orbbec SDK {ob.get_version()} found none)")
        if serial is not None and serial not in {d["serial"] for d in devices}:
            raise UserError(f"Orbbec camera serial {serial} not found (connected: {_describe(devices)})")
        self._closing, self._lock = False, threading.Lock()
        try:
            device_list = _context().query_devices()
            device = (device_list.get_device_by_serial_number(serial) if serial is not None
                      else device_list.get_device_by_index(0))
            info = device.get_device_info()
            self.serial = info.get_serial_number()
            self.name = f"orbbec:{info.get_name()} {self.serial}"
            pipeline = ob.Pipeline(device)
            profiles = pipeline.get_stream_profile_list(ob.OBSensorType.DEPTH_SENSOR)
            if width or height or fps:
                profile = profiles.get_video_stream_profile(int(width), int(height), ob.OBFormat.Y16, int(fps))
            else:
                profile = profiles.get_default_video_stream_profile()
            config = ob.Config()
            config.enable_stream(profile)
            pipeline.start(config)
        except UserError:
            raise
        except Exception as exc:   # OBError / RuntimeError from the SDK
            wanted = f"{width}x{height}@{fps}" if width or height or fps else "the default depth profile"
            raise UserError(f"cannot stream {wanted} from Orbbec camera {serial or devices[0]['serial']}: "
                            f"{' '.join(str(exc).split())}") from None
        self._pipeline = pipeline
        self._profile = profile.as_video_stream_profile()
        # The depth scale comes with the frames; take it from the first one (and check it streams).
        first = self._wait_first_depth()
        scale = round(float(first.get_depth_scale()), 6)   # float32 in the SDK: 0.1 reads 0.10000000149
        self._intrinsics = intrinsics_of_profile(self._profile, scale, self.name)
        if not self._intrinsics.fx > 1.0:   # some firmwares leave the profile's intrinsics empty
            param = pipeline.get_camera_param()
            d = param.depth_intrinsic
            self._intrinsics = Intrinsics(fx=d.fx, fy=d.fy, cx=d.cx, cy=d.cy, width=d.width, height=d.height,
                                          depth_scale_m=scale / 1000.0, name=self.name)
        self._first = depth_frame_to_ours(first, self._intrinsics, 0)

    def _wait_first_depth(self):
        waited = 0.0
        while waited < self.stall_timeout_s:
            frames = self._pipeline.wait_for_frames(self.wait_ms)
            depth = frames.get_depth_frame() if frames is not None else None
            if depth is not None:
                return depth
            waited += self.wait_ms / 1000.0
        self.close()
        raise UserError(f"Orbbec camera {self.serial} started but sent no depth frame in {self.stall_timeout_s:.0f} s")

    @property
    def intrinsics(self) -> Intrinsics:
        return self._intrinsics

    def frames(self) -> Iterator[DepthFrame]:
        first, self._first = self._first, None
        if first is not None:
            yield first
        index, silent_s = 1, 0.0
        while not self._closing:
            with self._lock:
                if self._pipeline is None:
                    return
                frames = self._pipeline.wait_for_frames(self.wait_ms)
                depth = frames.get_depth_frame() if frames is not None else None
                frame = depth_frame_to_ours(depth, self._intrinsics, index) if depth is not None else None
                del frames, depth    # no SDK frame is kept across a yield
            if frame is None:
                silent_s += self.wait_ms / 1000.0
                if silent_s > self.stall_timeout_s:
                    raise UserError(f"Orbbec camera {self.serial} sent no frame for {self.stall_timeout_s:.0f} s")
                continue
            silent_s = 0.0
            yield frame
            index += 1

    def close(self) -> None:
        self._closing = True
        with self._lock:
            pipeline, self._pipeline = getattr(self, "_pipeline", None), None
            if pipeline is not None:
                with contextlib.suppress(Exception):
                    pipeline.stop()
