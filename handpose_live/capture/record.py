"""Write depth frames as recordings that the cameras' own SDKs play back.

`.db3` goes through librealsense's own recorder on a software device (the only format that
pyrealsense2 >= 2.58 records); `.bag` (ROS1, what years of RealSense Viewer recordings are)
is written in pure Python with `rosbags`; `.mkv` (Azure Kinect) goes through the Azure Kinect
SDK's own recorder, libk4arecord, with no device: it takes captures we build and a calibration
blob we attach (see `capture/kinect.py`). Pixels are stored as uint16 millimetres
(depth units 0.001). All writers go to a temporary file next to the target and rename it at
the end, so an interrupted run never leaves a half recording under the final name. The frames
of a `.db3` are counted back from its index before the rename: librealsense's recorder only logs
a failed write (a full disk), so a short file is kept (whole, readable) and reported as an error.
Which camera writes which type is the camera registry's (`capture/cameras.py`); the `record`
command itself is `commands/record.py`.
"""
from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..errors import UserError
from ..fileio import atomic_path, fsync_dir, short_write_reason
from ..types import DepthFrame, Intrinsics
from .base import FrameSource
from .cameras import CameraRequest
from .realsense import rs_module

DEPTH_UNITS_M = 0.001
STATIC_BAG_TIME_NS = 1  # librealsense only applies options (Depth_Units) stored at the start; time 0 is invalid

STREAM_INFO_MSG = "uint32 fps\nstring encoding\nbool is_recommended\n"


def depth_to_u16_mm(frame: DepthFrame, intrinsics: Intrinsics) -> np.ndarray:
    """float32 mm -> uint16 mm (rounded; invalid, negative and out-of-range depths become 0)."""
    depth = np.asarray(frame.depth_mm)
    if depth.shape != (intrinsics.height, intrinsics.width):
        raise UserError(f"frame {frame.index} is {depth.shape[1]}x{depth.shape[0]} but the recording is "
                        f"{intrinsics.width}x{intrinsics.height}")
    depth = np.nan_to_num(depth.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    depth = np.rint(depth)
    depth[(depth < 0) | (depth > 65535)] = 0
    return np.ascontiguousarray(depth.astype(np.uint16))


def _timestamps_ms(frames: Iterable[DepthFrame], fps: float) -> Iterator[tuple[DepthFrame, float]]:
    """Frame times relative to the first frame, forced strictly increasing (players need that)."""
    period_ms = 1000.0 / fps
    first = prev = None
    for frame in frames:
        if first is None:
            first = float(frame.timestamp_ms)
            t = 0.0
        else:
            t = float(frame.timestamp_ms) - first
            if not t > prev:
                t = prev + period_ms
        prev = t
        yield frame, t


def _rs_intrinsics(rs, intr: Intrinsics):
    out = rs.intrinsics()
    out.width, out.height = int(intr.width), int(intr.height)
    out.fx, out.fy, out.ppx, out.ppy = float(intr.fx), float(intr.fy), float(intr.cx), float(intr.cy)
    out.model = rs.distortion.brown_conrady
    out.coeffs = [float(c) for c in (list(intr.distortion) + [0.0] * 5)[:5]]
    return out


def write_db3(path: str | Path, frames: Iterable[DepthFrame], intrinsics: Intrinsics, fps: int = 30,
              paced: bool = True) -> int:
    """Record `frames` to a ROS2 .db3 through librealsense's recorder; returns the frame count.

    The recorder must exist before the sensor opens or it records nothing; an empty `frames`
    gives a file without streams (pyrealsense2 then reports it as having no depth stream).
    The recorder stamps each message with its arrival time, not the frame's timestamp, so
    frames are pushed no faster than their timestamps (`paced`): unpaced, a real-time replay
    plays the whole file in a blink and drops most frames (non-real-time replay is unaffected).
    """
    rs = rs_module()
    path = Path(path)
    count = 0
    with atomic_path(path) as tmp:
        device = rs.software_device()
        device.register_info(rs.camera_info.name, "handpose-live software camera")
        device.register_info(rs.camera_info.serial_number, "00000000")
        sensor = device.add_sensor("Stereo Module")
        stream = rs.video_stream()
        stream.type, stream.index, stream.uid = rs.stream.depth, 0, 0
        stream.width, stream.height, stream.fps = int(intrinsics.width), int(intrinsics.height), int(fps)
        stream.bpp, stream.fmt = 2, rs.format.z16
        stream.intrinsics = _rs_intrinsics(rs, intrinsics)
        profile = sensor.add_video_stream(stream).as_video_stream_profile()
        sensor.add_read_only_option(rs.option.depth_units, DEPTH_UNITS_M)
        recorder = rs.recorder(str(tmp), device)
        sink = rs.frame_queue(1)  # native sink: no Python callback runs on librealsense's threads
        sw = None
        opened = started = False
        try:
            sensor.open(profile)
            opened = True
            sensor.start(sink)
            started = True
            start_s = time.monotonic()
            for frame, t_ms in _timestamps_ms(frames, fps):
                pixels = depth_to_u16_mm(frame, intrinsics)
                if paced:
                    time.sleep(max(0.0, start_s + t_ms / 1000.0 - time.monotonic()))
                sw = rs.software_video_frame()
                sw.pixels, sw.stride, sw.bpp = pixels, int(intrinsics.width) * 2, 2
                sw.timestamp, sw.domain = t_ms, rs.timestamp_domain.hardware_clock
                sw.frame_number, sw.profile, sw.depth_units = count, profile, DEPTH_UNITS_M
                sensor.on_video_frame(sw)
                count += 1
        finally:
            # Ordered teardown, also on errors: otherwise a traceback keeps this frame's locals
            # (device, sensor, recorder) alive and the collector destroys them later, anywhere.
            if started:
                sensor.stop()
            if opened:
                sensor.close()
            del sink, sw            # frames still queued belong to the sensor: release them first
            del recorder            # finishes the file while the device still exists
            del profile, sensor, stream, device
        _check_stored(path, tmp, count)
    return count


def _check_stored(path: Path, tmp: Path, count: int) -> None:
    """librealsense's recorder logs a failed write (a full disk, the file-size limit) and goes on, so
    the frames that reached the file are counted from its index. Short: the frames stored are kept
    under the final name (a shorter recording, whole and readable) and the user is told, one line."""
    from .realsense import listed_depth_frames

    stored = listed_depth_frames(tmp)
    if stored is None or stored >= count:
        return
    why = short_write_reason(tmp)
    if stored == 0:
        raise UserError(f"cannot write {path}: {why}: none of the {count} depth frames reached the disk; "
                        "nothing was written")
    target = path.resolve() if path.is_symlink() else path
    os.replace(tmp, target)
    fsync_dir(target.parent)
    raise UserError(f"cannot write {path}: {why}: only {stored} of {count} depth frames reached the disk; "
                    f"those {stored} are kept in {path}")


def realsense_typestore():
    """ROS1 Noetic types plus realsense_msgs/StreamInfo, which librealsense bags need."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS1_NOETIC)
    store.register(get_types_from_msg(STREAM_INFO_MSG, "realsense_msgs/msg/StreamInfo"))
    return store


def write_bag(path: str | Path, frames: Iterable[DepthFrame], intrinsics: Intrinsics, fps: int = 30) -> int:
    """Write a ROS1 .bag in the layout librealsense reads (file version 3); returns the frame count.

    Static messages sit at bag time 1 ns and frames strictly later: librealsense drops a frame
    stamped at the static time, and ignores Depth_Units (falling back to 0.01) if it is stored later.
    """
    from rosbags.rosbag1 import Writer

    store = realsense_typestore()
    T = store.types
    path = Path(path)
    prefix = "/device_0/sensor_0"
    period_ns = int(round(1e9 / fps))

    def header(seq: int, t_ns: int):
        stamp = T["builtin_interfaces/msg/Time"](sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000)
        return T["std_msgs/msg/Header"](seq=seq, stamp=stamp, frame_id="depth")

    k = np.array([intrinsics.fx, 0, intrinsics.cx, 0, intrinsics.fy, intrinsics.cy, 0, 0, 1], np.float64)
    p = np.array([intrinsics.fx, 0, intrinsics.cx, 0, 0, intrinsics.fy, intrinsics.cy, 0, 0, 0, 1, 0], np.float64)
    coeffs = np.array((list(intrinsics.distortion) + [0.0] * 5)[:5], np.float64)
    key_value = T["diagnostic_msgs/msg/KeyValue"]
    static = [
        ("/file_version", "std_msgs/msg/UInt32", T["std_msgs/msg/UInt32"](data=3)),
        ("/device_0/info", "diagnostic_msgs/msg/KeyValue", key_value(key="Name", value="handpose-live software camera")),
        (f"{prefix}/info", "diagnostic_msgs/msg/KeyValue", key_value(key="Name", value="Stereo Module")),
        (f"{prefix}/Depth_0/info", "realsense_msgs/msg/StreamInfo",
         T["realsense_msgs/msg/StreamInfo"](fps=int(fps), encoding="mono16", is_recommended=True)),
        (f"{prefix}/Depth_0/info/camera_info", "sensor_msgs/msg/CameraInfo", T["sensor_msgs/msg/CameraInfo"](
            header=header(0, STATIC_BAG_TIME_NS), height=int(intrinsics.height), width=int(intrinsics.width),
            distortion_model="Brown Conrady", D=coeffs, K=k, R=np.eye(3).ravel(), P=p, binning_x=0, binning_y=0,
            roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))),
        (f"{prefix}/option/Depth_Units/value", "std_msgs/msg/Float32", T["std_msgs/msg/Float32"](data=DEPTH_UNITS_M)),
    ]
    image = T["sensor_msgs/msg/Image"]
    count = 0
    with atomic_path(path) as tmp:
        with Writer(tmp) as writer:
            for topic, msgtype, msg in static:
                conn = writer.add_connection(topic, msgtype, typestore=store)
                writer.write(conn, STATIC_BAG_TIME_NS, store.serialize_ros1(msg, msgtype))
            conn = writer.add_connection(f"{prefix}/Depth_0/image/data", "sensor_msgs/msg/Image", typestore=store)
            for frame, t_ms in _timestamps_ms(frames, fps):
                pixels = depth_to_u16_mm(frame, intrinsics).astype("<u2", copy=False)
                t_ns = STATIC_BAG_TIME_NS + period_ns + int(round(t_ms * 1e6))
                msg = image(header=header(count, t_ns), height=int(intrinsics.height), width=int(intrinsics.width),
                            encoding="mono16", is_bigendian=0, step=int(intrinsics.width) * 2,
                            data=pixels.view(np.uint8).ravel())
                writer.write(conn, t_ns, store.serialize_ros1(msg, "sensor_msgs/msg/Image"))
                count += 1
    return count


def write_mkv(path: str | Path, frames: Iterable[DepthFrame], intrinsics: Intrinsics, fps: int = 30,
              raw_calibration: bytes | None = None) -> int:
    """Record `frames` as an Azure Kinect .mkv through libk4arecord; returns the frame count.

    The frames must have the size of a Kinect depth mode (which one is read from it).
    `raw_calibration` is the device's calibration blob (a live Kinect's); without it one is made
    from `intrinsics`. Either way it is checked: the SDK must derive exactly `intrinsics` from it
    for that mode, so the recording replays with the intrinsics the frames were made with.
    """
    from . import kinect

    lib = kinect.sdk()
    path = Path(path)
    mode = kinect.depth_mode_for_size(intrinsics.width, intrinsics.height, default_for_unset=False)
    if int(fps) not in kinect.FPS_IDS:
        raise UserError(f"Azure Kinect recordings run at 5, 15 or 30 fps, not {fps}")
    raw = raw_calibration if raw_calibration is not None else kinect.synthetic_raw_calibration(intrinsics, mode)
    got = kinect.mode_intrinsics(raw, mode)
    want = (intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy)
    if not np.allclose((got.fx, got.fy, got.cx, got.cy), want, rtol=0, atol=1e-3):
        raise UserError(f"the calibration gives {mode} intrinsics {got.fx:.3f} {got.fy:.3f} {got.cx:.3f} {got.cy:.3f}, "
                        f"not the frames' {' '.join(f'{v:.3f}' for v in want)}")
    config = kinect.DeviceConfiguration(color_format=0, color_resolution=0, depth_mode=kinect.DEPTH_MODES[mode][0],
                                        camera_fps=kinect.FPS_IDS[int(fps)], synchronized_images_only=False,
                                        depth_delay_off_color_usec=0, wired_sync_mode=0,
                                        subordinate_delay_off_master_usec=0, disable_streaming_indicator=False)
    count = 0
    with atomic_path(path) as tmp:
        handle = kinect._H()
        if lib.record_create(str(tmp).encode(), None, config, ctypes.byref(handle)) != kinect.RESULT_OK:
            raise UserError(f"cannot write {path}: k4a_record_create failed")
        try:
            blob = raw.rstrip(b"\0")
            ok = lib.record_add_attachment(handle, kinect.CALIBRATION_ATTACHMENT.encode(), blob, len(blob)) == 0
            ok = ok and lib.record_add_tag(handle, b"K4A_CALIBRATION_FILE", kinect.CALIBRATION_ATTACHMENT.encode()) == 0
            ok = ok and lib.record_add_tag(handle, b"K4A_DEVICE_SERIAL_NUMBER", b"handpose-live") == 0
            if not ok or lib.record_write_header(handle) != kinect.RESULT_OK:
                raise UserError(f"cannot write {path}: libk4arecord refused the header")
            for frame, t_ms in _timestamps_ms(frames, fps):
                capture = lib.new_depth_capture(depth_to_u16_mm(frame, intrinsics), int(round(t_ms * 1000.0)))
                try:
                    written = lib.record_write_capture(handle, capture) == kinect.RESULT_OK
                finally:
                    lib.capture_release(capture)
                if not written:
                    raise UserError(f"cannot write {path}: libk4arecord refused frame {count} (disk full?)")
                count += 1
            if lib.record_flush(handle) != kinect.RESULT_OK:
                raise UserError(f"cannot write {path}: libk4arecord could not flush it (disk full?)")
        finally:
            lib.record_close(handle)   # finishes the file (cues, seek head) before it is renamed
    return count


def mkv_source(camera: str, request: CameraRequest) -> tuple[FrameSource, dict]:
    """The source of an Azure Kinect recording, and the calibration blob to store with it (the
    `raw_calibration` of `write_mkv`); `record` calls it through the camera registry.

    The synthetic camera films through a Kinect calibration (typical NFOV intrinsics, the
    `azure-kinect-nfov` preset), in the depth mode that the requested size names; a live Kinect
    brings its own factory calibration.
    """
    from ..calib import load_intrinsics
    from . import kinect
    from .cameras import auto_camera, get_camera
    from .sources import open_source

    r = request
    mode = kinect.depth_mode_for_size(r.width, r.height)
    if camera.lower() == "auto":
        camera = auto_camera(None)[0]
    if not get_camera(camera).own_calibration:      # the synthetic camera
        raw = kinect.synthetic_raw_calibration(load_intrinsics("azure-kinect-nfov"), "NFOV_UNBINNED")
        intrinsics = kinect.mode_intrinsics(raw, mode, name=f"synthetic-kinect-{mode.lower()}")
        source = open_source("synthetic", None, r.target, intrinsics=intrinsics, fps=r.fps, seed=r.seed, frames=r.frames)
        return source, {"raw_calibration": raw}
    _, w, h, _, _ = kinect.DEPTH_MODES[mode]
    source = open_source(camera, None, r.target, width=w, height=h, fps=r.fps, seed=r.seed, frames=r.frames)
    raw = getattr(source, "raw_calibration", None)
    if raw is None:
        source.close()
        raise UserError(f"{camera}: only the synthetic camera and an Azure Kinect record to .mkv "
                        "(record RealSense cameras to .db3 or .bag)")
    return source, {"raw_calibration": raw}
