"""Azure Kinect DK cameras and recordings (.mkv) through the Azure Kinect SDK 1.4.2 C libraries.

Why ctypes and not pyk4a's Python API: the SDK no longer ships for current Linux distributions,
and `pyk4a-bundle` (the `kinect` extra) is the one package that carries it: libk4a,
libk4arecord and the depth engine inside a manylinux wheel. Its own extension module, however,
is compiled against NumPy 1 and does not import next to NumPy 2 (`_ARRAY_API not found`), which
this project needs. So we load the bundled libraries and call the SDK's stable C API directly
(a few dozen functions, declared below from `k4a.h` / `k4arecord/*.h` of SDK 1.4). Nothing of
pyk4a's Python code runs; a system install of the SDK (`libk4a.so.1.4`) works the same way.

What runs where: `KinectPlayback` and the recording writer (`capture/record.py`) use the real
libk4arecord on any machine (tested). `k4a_record_create` accepts a null device handle: the
recording then gets our calibration as its `calibration.json` attachment, which playback reports
exactly as it would a device's. `KinectCamera` (device open, start, captures, depth engine)
follows the same API but was never run against a camera here: no Azure Kinect is attached.

Depth modes are chosen by image size (`--width/--height`): 320x288 NFOV binned, 640x576 NFOV
unbinned (the default), 512x512 WFOV binned, 1024x1024 WFOV unbinned.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import re
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import UserError
from ..types import DepthFrame, Intrinsics
from .base import FrameSource, RecordingSource

INSTALL_HINT = ("Azure Kinect support needs the Azure Kinect SDK: `pip install 'handpose-live[kinect]'` "
                "(the pyk4a-bundle wheel carries libk4a 1.4.2, libk4arecord and the depth engine; Linux x86_64)")

# name: (k4a_depth_mode_t, width, height, calibration image size after binning, crop offset)
# The last two are the SDK's own mode table (transformation/mode_specific_calibration.c).
DEPTH_MODES = {
    "NFOV_2X2BINNED": (1, 320, 288, (512, 512), (96, 90)),
    "NFOV_UNBINNED": (2, 640, 576, (1024, 1024), (192, 180)),
    "WFOV_2X2BINNED": (3, 512, 512, (512, 512), (0, 0)),
    "WFOV_UNBINNED": (4, 1024, 1024, (1024, 1024), (0, 0)),
}
DEFAULT_DEPTH_MODE = "NFOV_UNBINNED"
MODE_BY_ID = {v[0]: k for k, v in DEPTH_MODES.items()}
FPS_IDS = {5: 0, 15: 1, 30: 2}               # k4a_fps_t
MODE_MAX_FPS = {"WFOV_UNBINNED": 15}         # the sensor's limit (SDK docs, hardware specification)
IMAGE_FORMAT_DEPTH16 = 4
RESULT_OK, WAIT_TIMEOUT, STREAM_EOF, BUFFER_TOO_SMALL = 0, 2, 2, 2
SEEK_BEGIN = 0
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
CALIBRATION_ATTACHMENT = "calibration.json"


def depth_mode_for_size(width: int, height: int, *, default_for_unset: bool = True) -> str:
    """The depth mode whose image is width x height; 640x480 (the command's default) means the default mode."""
    if default_for_unset and (int(width), int(height)) == (640, 480):
        return DEFAULT_DEPTH_MODE
    for name, (_, w, h, _, _) in DEPTH_MODES.items():
        if (w, h) == (int(width), int(height)):
            return name
    sizes = ", ".join(f"{w}x{h} {name}" for name, (_, w, h, _, _) in DEPTH_MODES.items())
    raise UserError(f"Azure Kinect has no {width}x{height} depth mode (modes: {sizes})")


# --------------------------------------------------------------------------------------------
# The C API (SDK 1.4): structures and prototypes
# --------------------------------------------------------------------------------------------
class _Extrinsics(ctypes.Structure):
    _fields_ = [("rotation", ctypes.c_float * 9), ("translation", ctypes.c_float * 3)]


class _Intrinsics(ctypes.Structure):   # k4a_calibration_intrinsics_t; parameters: cx cy fx fy k1..k6 codx cody p2 p1 r
    _fields_ = [("type", ctypes.c_int), ("parameter_count", ctypes.c_uint), ("v", ctypes.c_float * 15)]


class _Camera(ctypes.Structure):
    _fields_ = [("extrinsics", _Extrinsics), ("intrinsics", _Intrinsics), ("resolution_width", ctypes.c_int),
                ("resolution_height", ctypes.c_int), ("metric_radius", ctypes.c_float)]


class Calibration(ctypes.Structure):   # k4a_calibration_t
    _fields_ = [("depth_camera", _Camera), ("color_camera", _Camera), ("extrinsics", _Extrinsics * 16),
                ("depth_mode", ctypes.c_int), ("color_resolution", ctypes.c_int)]


class DeviceConfiguration(ctypes.Structure):   # k4a_device_configuration_t
    _fields_ = [("color_format", ctypes.c_int), ("color_resolution", ctypes.c_int), ("depth_mode", ctypes.c_int),
                ("camera_fps", ctypes.c_int), ("synchronized_images_only", ctypes.c_bool),
                ("depth_delay_off_color_usec", ctypes.c_int32), ("wired_sync_mode", ctypes.c_int),
                ("subordinate_delay_off_master_usec", ctypes.c_uint32), ("disable_streaming_indicator", ctypes.c_bool)]


class RecordConfiguration(ctypes.Structure):   # k4a_record_configuration_t
    _fields_ = [("color_format", ctypes.c_int), ("color_resolution", ctypes.c_int), ("depth_mode", ctypes.c_int),
                ("camera_fps", ctypes.c_int), ("color_track_enabled", ctypes.c_bool),
                ("depth_track_enabled", ctypes.c_bool), ("ir_track_enabled", ctypes.c_bool),
                ("imu_track_enabled", ctypes.c_bool), ("depth_delay_off_color_usec", ctypes.c_int32),
                ("wired_sync_mode", ctypes.c_int), ("subordinate_delay_off_master_usec", ctypes.c_uint32),
                ("start_timestamp_offset_usec", ctypes.c_uint32)]


_H = ctypes.c_void_p
_HP = ctypes.POINTER(ctypes.c_void_p)
_SIZE_P = ctypes.POINTER(ctypes.c_size_t)
_MESSAGE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)

_K4A = {
    "k4a_device_get_installed_count": (ctypes.c_uint32, []),
    "k4a_device_open": (ctypes.c_int, [ctypes.c_uint32, _HP]),
    "k4a_device_close": (None, [_H]),
    "k4a_device_get_serialnum": (ctypes.c_int, [_H, ctypes.c_char_p, _SIZE_P]),
    "k4a_device_get_raw_calibration": (ctypes.c_int, [_H, ctypes.c_char_p, _SIZE_P]),
    "k4a_device_get_calibration": (ctypes.c_int, [_H, ctypes.c_int, ctypes.c_int, ctypes.POINTER(Calibration)]),
    "k4a_device_start_cameras": (ctypes.c_int, [_H, ctypes.POINTER(DeviceConfiguration)]),
    "k4a_device_stop_cameras": (None, [_H]),
    "k4a_device_get_capture": (ctypes.c_int, [_H, _HP, ctypes.c_int32]),
    "k4a_calibration_get_from_raw": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                                                    ctypes.POINTER(Calibration)]),
    "k4a_capture_create": (ctypes.c_int, [_HP]),
    "k4a_capture_release": (None, [_H]),
    "k4a_capture_get_depth_image": (_H, [_H]),
    "k4a_capture_set_depth_image": (None, [_H, _H]),
    "k4a_image_create": (ctypes.c_int, [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, _HP]),
    "k4a_image_release": (None, [_H]),
    "k4a_image_get_buffer": (ctypes.POINTER(ctypes.c_uint8), [_H]),
    "k4a_image_get_size": (ctypes.c_size_t, [_H]),
    "k4a_image_get_format": (ctypes.c_int, [_H]),
    "k4a_image_get_width_pixels": (ctypes.c_int, [_H]),
    "k4a_image_get_height_pixels": (ctypes.c_int, [_H]),
    "k4a_image_get_stride_bytes": (ctypes.c_int, [_H]),
    "k4a_image_get_device_timestamp_usec": (ctypes.c_uint64, [_H]),
    "k4a_image_set_device_timestamp_usec": (None, [_H, ctypes.c_uint64]),
    "k4a_set_debug_message_handler": (ctypes.c_int, [_MESSAGE_CB, ctypes.c_void_p, ctypes.c_int]),
}
_K4ARECORD = {
    "k4a_record_create": (ctypes.c_int, [ctypes.c_char_p, _H, DeviceConfiguration, _HP]),
    "k4a_record_add_tag": (ctypes.c_int, [_H, ctypes.c_char_p, ctypes.c_char_p]),
    "k4a_record_add_attachment": (ctypes.c_int, [_H, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]),
    "k4a_record_write_header": (ctypes.c_int, [_H]),
    "k4a_record_write_capture": (ctypes.c_int, [_H, _H]),
    "k4a_record_flush": (ctypes.c_int, [_H]),
    "k4a_record_close": (None, [_H]),
    "k4a_playback_open": (ctypes.c_int, [ctypes.c_char_p, _HP]),
    "k4a_playback_close": (None, [_H]),
    "k4a_playback_get_raw_calibration": (ctypes.c_int, [_H, ctypes.c_char_p, _SIZE_P]),
    "k4a_playback_get_calibration": (ctypes.c_int, [_H, ctypes.POINTER(Calibration)]),
    "k4a_playback_get_record_configuration": (ctypes.c_int, [_H, ctypes.POINTER(RecordConfiguration)]),
    "k4a_playback_get_track_count": (ctypes.c_size_t, [_H]),
    "k4a_playback_get_track_name": (ctypes.c_int, [_H, ctypes.c_size_t, ctypes.c_char_p, _SIZE_P]),
    "k4a_playback_get_tag": (ctypes.c_int, [_H, ctypes.c_char_p, ctypes.c_char_p, _SIZE_P]),
    "k4a_playback_get_next_capture": (ctypes.c_int, [_H, _HP]),
    "k4a_playback_seek_timestamp": (ctypes.c_int, [_H, ctypes.c_int64, ctypes.c_int]),
}


def _bundle_dir() -> Path | None:
    """`pyk4a_bundle.libs` of an installed pyk4a-bundle wheel (found without importing pyk4a)."""
    from importlib import metadata
    try:
        dist = metadata.distribution("pyk4a-bundle")
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.parts[0] == "pyk4a_bundle.libs" and f.name.startswith("libk4a-"):
            return Path(str(dist.locate_file(f))).parent
    return None


def _library_paths() -> tuple[str, str, str]:
    """(libk4a, libk4arecord, where) from the pyk4a-bundle wheel, else from a system install."""
    folder = _bundle_dir()
    if folder is not None:
        k4a = sorted(folder.glob("libk4a-*.so*"))
        rec = sorted(folder.glob("libk4arecord-*.so*"))
        if k4a and rec:
            return str(k4a[0]), str(rec[0]), "pyk4a-bundle"
    k4a_name, rec_name = ctypes.util.find_library("k4a"), ctypes.util.find_library("k4arecord")
    if k4a_name and rec_name:
        return k4a_name, rec_name, "system"
    raise UserError(f"{INSTALL_HINT} (no libk4a found)")


class SDK:
    """The loaded libk4a + libk4arecord with their prototypes declared."""

    def __init__(self) -> None:
        # The SDK logs errors to stdout unless told otherwise; we turn them into one-line errors.
        os.environ.setdefault("K4A_ENABLE_LOG_TO_STDOUT", "0")
        k4a_path, rec_path, self.origin = _library_paths()
        try:
            self.k4a = ctypes.CDLL(k4a_path)
            self.rec = ctypes.CDLL(rec_path)   # its NEEDED libk4a resolves to the one just loaded (same soname)
        except OSError as exc:
            raise UserError(f"{INSTALL_HINT} ({exc})") from None
        for lib, table in ((self.k4a, _K4A), (self.rec, _K4ARECORD)):
            for name, (restype, argtypes) in table.items():
                fn = getattr(lib, name)
                fn.restype, fn.argtypes = restype, argtypes
                setattr(self, name[4:], fn)   # k4a_device_open -> self.device_open
        real = os.path.realpath(k4a_path) if os.path.sep in k4a_path else k4a_path
        match = re.search(r"\.so\.(\d+\.\d+(?:\.\d+)?)$", real)
        self.version = match.group(1) if match else "1.4 (version not in the file name)"
        self.library = real
        self.depth_engine = (Path(k4a_path).parent / "libdepthengine.so.2.0").is_file() if self.origin != "system" \
            else bool(ctypes.util.find_library("depthengine"))
        self._messages: list[str] = []
        self._callback = _MESSAGE_CB(self._on_message)   # kept alive as long as the SDK object

    def _on_message(self, _context, _level, _file, _line, message) -> None:
        self._messages.append((message or b"").decode("utf-8", "replace").strip())

    @contextlib.contextmanager
    def messages(self) -> Iterator[list[str]]:
        """libk4a's error messages during the block (device calls; libk4arecord keeps its own log)."""
        self._messages = []
        registered = self.set_debug_message_handler(self._callback, None, 1) == RESULT_OK   # level: ERROR
        try:
            yield self._messages
        finally:
            if registered:
                self.set_debug_message_handler(_MESSAGE_CB(), None, 5)   # null: unregister

    # ---- calibration -------------------------------------------------------------------------
    def calibration_from_raw(self, raw: bytes, depth_mode: str) -> Calibration:
        calibration = Calibration()
        blob = raw if raw.endswith(b"\0") else raw + b"\0"
        if self.calibration_get_from_raw(blob, len(blob), DEPTH_MODES[depth_mode][0], 0,
                                         ctypes.byref(calibration)) != RESULT_OK:
            raise UserError("the Azure Kinect SDK rejected the calibration (k4a_calibration_get_from_raw failed)")
        return calibration

    def depth_intrinsics(self, calibration: Calibration, name: str) -> Intrinsics:
        cam = calibration.depth_camera
        v = list(cam.intrinsics.v)
        return Intrinsics(fx=float(v[2]), fy=float(v[3]), cx=float(v[0]), cy=float(v[1]),
                          width=int(cam.resolution_width), height=int(cam.resolution_height), depth_scale_m=0.001,
                          distortion=(float(v[4]), float(v[5]), float(v[13]), float(v[12]), float(v[6])), name=name)

    # ---- captures ----------------------------------------------------------------------------
    def depth_of_capture(self, capture, intrinsics: Intrinsics, index: int) -> DepthFrame | None:
        """Copy a capture's DEPTH16 image into a DepthFrame (None when the capture has no depth)."""
        image = self.capture_get_depth_image(capture)
        if not image:
            return None
        try:
            w, h = self.image_get_width_pixels(image), self.image_get_height_pixels(image)
            stride, size = self.image_get_stride_bytes(image), self.image_get_size(image)
            if self.image_get_format(image) != IMAGE_FORMAT_DEPTH16 or (w, h) != (intrinsics.width, intrinsics.height) \
                    or stride < 2 * w or size < stride * h:
                raise UserError(f"frame {index}: a {w}x{h} depth image (format {self.image_get_format(image)}) "
                                f"where {intrinsics.width}x{intrinsics.height} DEPTH16 was expected")
            raw = np.ctypeslib.as_array(self.image_get_buffer(image), shape=(size,))
            rows = raw[: stride * h].reshape(h, stride)[:, : 2 * w]
            depth = rows.copy().view("<u2").astype(np.float32)
            t_ms = self.image_get_device_timestamp_usec(image) / 1000.0
        finally:
            self.image_release(image)
        return DepthFrame(depth_mm=depth, intrinsics=intrinsics, timestamp_ms=float(t_ms), index=index)

    def new_depth_capture(self, pixels: np.ndarray, timestamp_us: int):
        """A capture holding one DEPTH16 image with `pixels` (uint16 mm); the caller releases it."""
        h, w = pixels.shape
        capture, image = _H(), _H()
        if self.capture_create(ctypes.byref(capture)) != RESULT_OK:
            raise UserError("k4a_capture_create failed (out of memory?)")
        if self.image_create(IMAGE_FORMAT_DEPTH16, w, h, 2 * w, ctypes.byref(image)) != RESULT_OK:
            self.capture_release(capture)
            raise UserError("k4a_image_create failed (out of memory?)")
        buffer = np.ctypeslib.as_array(self.image_get_buffer(image), shape=(self.image_get_size(image),))
        buffer[: 2 * w * h] = np.ascontiguousarray(pixels, dtype="<u2").view(np.uint8).ravel()
        self.image_set_device_timestamp_usec(image, int(timestamp_us))
        self.capture_set_depth_image(capture, image)   # the capture takes its own reference
        self.image_release(image)
        return capture


_sdk: SDK | None = None
_sdk_lock = threading.Lock()


def sdk() -> SDK:
    """The Azure Kinect SDK, loaded once, or a one-line UserError saying how to install it."""
    global _sdk
    with _sdk_lock:
        if _sdk is None:
            _sdk = SDK()
        return _sdk


def sdk_info() -> dict:
    """Version, library and connected devices, for `doctor` (raises UserError without the SDK)."""
    lib = sdk()
    return {"version": lib.version, "origin": lib.origin, "library": lib.library, "depth_engine": lib.depth_engine,
            "devices": list_devices()}


def _read_string(fn, *args) -> str:
    size = ctypes.c_size_t(0)
    fn(*args, None, ctypes.byref(size))
    if size.value == 0:
        return ""
    buf = ctypes.create_string_buffer(size.value)
    if fn(*args, buf, ctypes.byref(size)) != RESULT_OK:
        return ""
    return buf.raw[: size.value].rstrip(b"\0").decode("utf-8", "replace")


def _read_bytes(fn, *args) -> bytes | None:
    size = ctypes.c_size_t(0)
    if fn(*args, None, ctypes.byref(size)) != BUFFER_TOO_SMALL or size.value == 0:
        return None
    buf = ctypes.create_string_buffer(size.value)
    if fn(*args, buf, ctypes.byref(size)) != RESULT_OK:
        return None
    return buf.raw[: size.value]


def list_devices() -> list[dict[str, str]]:
    """Connected Azure Kinects as dicts with index and serial (empty if none)."""
    lib = sdk()
    found = []
    with lib.messages():
        for index in range(int(lib.device_get_installed_count())):
            device = _H()
            if lib.device_open(index, ctypes.byref(device)) != RESULT_OK:
                found.append({"index": str(index), "serial": "(busy)"})
                continue
            try:
                found.append({"index": str(index), "serial": _read_string(lib.device_get_serialnum, device)})
            finally:
                lib.device_close(device)
    return found


def synthetic_raw_calibration(intrinsics: Intrinsics, depth_mode: str | None = None, serial: str = "synthetic") -> bytes:
    """A factory-calibration blob (the JSON every Azure Kinect stores) for a depth camera whose
    `depth_mode` image has `intrinsics`; the SDK turns it back into the same pixel intrinsics
    (to float32 precision). Colour camera and IMU entries are neutral: the SDK requires them."""
    mode = depth_mode or depth_mode_for_size(intrinsics.width, intrinsics.height, default_for_unset=False)
    _, w, h, (bw, bh), (ox, oy) = DEPTH_MODES[mode]
    if (intrinsics.width, intrinsics.height) != (w, h):
        raise UserError(f"{mode} depth images are {w}x{h}, not {intrinsics.width}x{intrinsics.height}")
    k1, k2, p1, p2, k3 = (list(intrinsics.distortion) + [0.0] * 5)[:5]
    # raw calibration: unitized and 0-cornered (the SDK subtracts the crop and 0.5 px per mode)
    depth_params = [(intrinsics.cx + 0.5 + ox) / bw, (intrinsics.cy + 0.5 + oy) / bh, intrinsics.fx / bw,
                    intrinsics.fy / bh, k1, k2, k3, 0, 0, 0, 0, 0, p2, p1, 1.7]
    color_params = [0.5, 0.5, 0.49, 0.65, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.7]
    identity = [1, 0, 0, 0, 1, 0, 0, 0, 1]

    def camera(location, purpose, params, width, height, translation):
        return {"Intrinsics": {"ModelParameterCount": 15, "ModelParameters": params,
                               "ModelType": "CALIBRATION_LensDistortionModelBrownConrady"},
                "Location": location, "Purpose": purpose, "MetricRadius": 1.7,
                "Rt": {"Rotation": identity, "Translation": translation},
                "SensorHeight": height, "SensorWidth": width, "Shutter": "CALIBRATION_ShutterTypeUndefined",
                "ThermalAdjustmentParams": {"Params": [0] * 12}}

    def imu(kind, translation):
        return {"BiasTemperatureModel": [0] * 12, "BiasUncertainty": [0.0001] * 3,
                "Id": "CALIBRATION_InertialSensorId_LSM6DSM",
                "MixingMatrixTemperatureModel": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                                                 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
                "ModelTypeMask": 16, "Noise": [0.001, 0.001, 0.001, 0, 0, 0],
                "Rt": {"Rotation": identity, "Translation": translation}, "SecondOrderScaling": [0] * 9,
                "SensorType": kind, "TemperatureBounds": [5, 60], "TemperatureC": 0}

    blob = {"CalibrationInformation": {
        "Cameras": [camera("CALIBRATION_CameraLocationD0", "CALIBRATION_CameraPurposeDepth", depth_params, 1024, 1024,
                           [0, 0, 0]),
                    camera("CALIBRATION_CameraLocationPV0", "CALIBRATION_CameraPurposePhotoVideo", color_params, 4096,
                           3072, [-0.032, -0.002, 0.004])],
        "InertialSensors": [imu("CALIBRATION_InertialSensorType_Gyro", [0, 0, 0]),
                            imu("CALIBRATION_InertialSensorType_Accelerometer", [-0.051, 0.004, 0.001])],
        "Metadata": {"SerialId": serial, "FactoryCalDate": "", "Version": {"Major": 1, "Minor": 2},
                     "DeviceName": "handpose-live synthetic camera", "Notes": "written by handpose-live"}}}
    return json.dumps(blob, indent=1).encode()


def mode_intrinsics(raw_calibration: bytes, depth_mode: str, name: str = "azure-kinect") -> Intrinsics:
    """The depth intrinsics the SDK derives from a calibration blob for `depth_mode`."""
    lib = sdk()
    return lib.depth_intrinsics(lib.calibration_from_raw(raw_calibration, depth_mode), name)


# --------------------------------------------------------------------------------------------
# Live camera
# --------------------------------------------------------------------------------------------
class KinectCamera(FrameSource):
    """A live Azure Kinect depth stream (uint16 mm; intrinsics from the device's calibration).

    NOT RUN ON HARDWARE: written against the SDK 1.4 C API that the recording code exercises.
    """

    live = True
    capture_timeout_ms = 250      # short waits, so close() is noticed quickly
    stall_timeout_s = 5.0

    def __init__(self, serial: str | None = None, depth_mode: str = DEFAULT_DEPTH_MODE, fps: int = 30):
        if depth_mode not in DEPTH_MODES:
            raise UserError(f"unknown Azure Kinect depth mode {depth_mode} (modes: {', '.join(DEPTH_MODES)})")
        if int(fps) not in FPS_IDS or int(fps) > MODE_MAX_FPS.get(depth_mode, 30):
            allowed = [f for f in FPS_IDS if f <= MODE_MAX_FPS.get(depth_mode, 30)]
            raise UserError(f"Azure Kinect {depth_mode} runs at {', '.join(map(str, allowed))} fps, not {fps}")
        self._sdk = lib = sdk()
        self.depth_mode, self.fps = depth_mode, int(fps)
        self._lock = threading.Lock()
        self._device, self._started, self._closing = None, False, False
        devices = list_devices()
        if not devices:
            raise UserError(f"no Azure Kinect connected (Azure Kinect SDK {lib.version} found none)")
        described = ", ".join(d["serial"] for d in devices)
        if serial is None:
            index = int(devices[0]["index"])
        else:
            match = [d for d in devices if d["serial"] == serial]
            if not match:
                raise UserError(f"Azure Kinect serial {serial} not found (connected: {described})")
            index = int(match[0]["index"])
        device = _H()
        with lib.messages() as messages:
            if lib.device_open(index, ctypes.byref(device)) != RESULT_OK:
                raise UserError(f"cannot open Azure Kinect {index}: {_last(messages, 'in use by another program?')}")
            self._device = device
            self.serial = _read_string(lib.device_get_serialnum, device)
            self.name = f"kinect:{self.serial or index}"
            config = DeviceConfiguration(color_format=0, color_resolution=0, depth_mode=DEPTH_MODES[depth_mode][0],
                                         camera_fps=FPS_IDS[self.fps], synchronized_images_only=False,
                                         depth_delay_off_color_usec=0, wired_sync_mode=0,
                                         subordinate_delay_off_master_usec=0, disable_streaming_indicator=False)
            calibration = Calibration()
            if lib.device_get_calibration(device, DEPTH_MODES[depth_mode][0], 0,
                                          ctypes.byref(calibration)) != RESULT_OK:
                self.close()
                raise UserError(f"cannot read the calibration of Azure Kinect {self.serial}: {_last(messages)}")
            self.raw_calibration = _read_bytes(lib.device_get_raw_calibration, device)
            if lib.device_start_cameras(device, ctypes.byref(config)) != RESULT_OK:
                self.close()
                raise UserError(f"cannot stream {depth_mode} depth at {self.fps} fps from Azure Kinect "
                                f"{self.serial}: {_last(messages)}")
            self._started = True
        self._intrinsics = lib.depth_intrinsics(calibration, self.name)

    @property
    def intrinsics(self) -> Intrinsics:
        return self._intrinsics

    def frames(self) -> Iterator[DepthFrame]:
        lib, index, silent_s = self._sdk, 0, 0.0
        while not self._closing:
            with self._lock:
                if self._device is None:
                    return
                capture = _H()
                result = lib.device_get_capture(self._device, ctypes.byref(capture), self.capture_timeout_ms)
                if result == RESULT_OK:
                    try:
                        frame = lib.depth_of_capture(capture, self._intrinsics, index)
                    finally:
                        lib.capture_release(capture)
            if result == WAIT_TIMEOUT:
                silent_s += self.capture_timeout_ms / 1000.0
                if silent_s > self.stall_timeout_s:
                    raise UserError(f"Azure Kinect {self.serial} sent no frame for {self.stall_timeout_s:.0f} s")
                continue
            if result != RESULT_OK:
                raise UserError(f"Azure Kinect {self.serial} stopped delivering frames (unplugged?)")
            silent_s = 0.0
            if frame is not None:
                yield frame
                index += 1

    def close(self) -> None:
        self._closing = True
        with self._lock:
            device, self._device = self._device, None
            if device is not None:
                if self._started:
                    self._sdk.device_stop_cameras(device)
                self._sdk.device_close(device)


def _last(messages: list[str], fallback: str = "the SDK gave no reason") -> str:
    return messages[-1] if messages else fallback


# --------------------------------------------------------------------------------------------
# Recordings
# --------------------------------------------------------------------------------------------
def _check_mkv(path: Path) -> Path:
    from .realsense import check_recording_path

    path = check_recording_path(path, (".mkv",))
    with open(path, "rb") as f:
        head = f.read(4)
    if head != EBML_MAGIC:
        raise UserError(f"{path} is not a Matroska file, so not an Azure Kinect recording (truncated or corrupt?)")
    return path


def open_report(path: Path) -> dict:
    """What `probe` runs in its child: open the file and read its header and first frame as
    `KinectPlayback` does (libk4arecord aborts the process on some damaged files)."""
    with KinectPlayback(path, _probed=True) as playback:
        first = next(playback._one_pass(0), None)
        return {"first_frame": first is not None}


class KinectPlayback(RecordingSource):
    """Replays an Azure Kinect .mkv recording (depth track, calibration from the file) through libk4arecord.

    Every frame, as fast as they are taken, unless `realtime` paces them by their timestamps.
    With `loop`, each pass continues the clock one frame period after the previous pass.
    """

    live = False

    def __init__(self, path: str | Path, realtime: bool = False, loop: bool = False, _probed: bool = False):
        from .probe import probe

        self.path = _check_mkv(Path(path))
        self.realtime, self.loop, self.name = bool(realtime), bool(loop), f"playback:{self.path.name}"
        lib = self._sdk = sdk()          # a missing SDK: said here, with how to install it
        if not _probed:
            probe("kinect:open_report", self.path, "Azure Kinect recording")   # libk4arecord aborts on some damaged files
        handle = _H()
        if lib.playback_open(str(self.path).encode(), ctypes.byref(handle)) != RESULT_OK:
            raise UserError(f"{self.path} is not a readable Azure Kinect recording (truncated or corrupt?)")
        self._playback = handle
        try:
            self._intrinsics, self._period_ms = self._read_header()
        except BaseException:
            self.close()
            raise

    def _read_header(self) -> tuple[Intrinsics, float]:
        lib, handle = self._sdk, self._playback
        config = RecordConfiguration()
        if lib.playback_get_record_configuration(handle, ctypes.byref(config)) != RESULT_OK:
            raise UserError(f"{self.path}: cannot read the recording's configuration (corrupt?)")
        if not config.depth_track_enabled or config.depth_mode not in MODE_BY_ID:
            tracks = [_read_string(lib.playback_get_track_name, handle, i)
                      for i in range(int(lib.playback_get_track_count(handle)))]
            raise UserError(f"recording {self.path} has no depth track (tracks: {', '.join(tracks) or 'none'})")
        calibration = Calibration()
        if lib.playback_get_calibration(handle, ctypes.byref(calibration)) != RESULT_OK:
            raise UserError(f"recording {self.path} has no usable calibration (the {CALIBRATION_ATTACHMENT} "
                            "attachment is missing or invalid), so its depth cannot be placed in 3D")
        intrinsics = lib.depth_intrinsics(calibration, self.path.name)
        fps = {v: k for k, v in FPS_IDS.items()}.get(config.camera_fps, 30)
        return intrinsics, 1000.0 / fps

    @property
    def intrinsics(self) -> Intrinsics:
        return self._intrinsics

    def _one_pass(self, first_index: int) -> Iterator[DepthFrame]:
        lib, index = self._sdk, first_index
        while self._playback is not None:
            capture = _H()
            result = lib.playback_get_next_capture(self._playback, ctypes.byref(capture))
            if result == STREAM_EOF:
                return
            if result != RESULT_OK:
                raise UserError(f"recording {self.path} is truncated or corrupt after frame {index}")
            try:
                frame = lib.depth_of_capture(capture, self._intrinsics, index)
            finally:
                lib.capture_release(capture)
            if frame is not None:
                yield frame
                index += 1

    def _is_open(self) -> bool:
        return self._playback is not None

    def _rewind(self) -> None:
        if self._sdk.playback_seek_timestamp(self._playback, 0, SEEK_BEGIN) != RESULT_OK:
            raise UserError(f"cannot rewind {self.path} for --loop")

    def tag(self, name: str) -> str:
        """A tag of the recording (e.g. K4A_DEPTH_MODE), '' when absent."""
        return _read_string(self._sdk.playback_get_tag, self._playback, name.encode()) if self._playback else ""

    def raw_calibration(self) -> bytes | None:
        return _read_bytes(self._sdk.playback_get_raw_calibration, self._playback) if self._playback else None

    def close(self) -> None:
        handle, self._playback = getattr(self, "_playback", None), None
        if handle is not None:
            self._sdk.playback_close(handle)
