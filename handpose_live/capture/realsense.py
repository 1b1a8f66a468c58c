"""Intel RealSense cameras and recordings (.bag, .db3) through pyrealsense2.

Depth arrives as uint16 in sensor units; we hand out float32 millimetres (0 = no measurement)
with the intrinsics and depth scale the device or the recording itself reports.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import UserError
from ..fileio import check_regular_file, describe_os_error
from ..types import DepthFrame, Intrinsics
from .base import FrameSource, RecordingSource

log = logging.getLogger(__name__)

RECORDING_SUFFIXES = (".bag", ".db3")


def rs_module():
    """Import pyrealsense2, turning the usual install problem into a one-line UserError."""
    try:
        import pyrealsense2 as rs
    except ImportError as exc:
        hint = " (install the system package libusb-1.0-0)" if "libusb" in str(exc) else " (pip install pyrealsense2)"
        raise UserError(f"pyrealsense2 cannot be imported: {exc}{hint}") from None
    return rs


def _reason(exc: BaseException) -> str:
    """librealsense messages span lines and repeat the request; keep the part that explains."""
    text = " ".join(str(exc).split())
    marker = "Reason: "
    return text.split(marker, 1)[1] if marker in text else text


def list_devices() -> list[dict[str, str]]:
    """Connected RealSense devices as dicts with name, serial, firmware, usb (empty if none)."""
    rs = rs_module()
    keys = {"name": rs.camera_info.name, "serial": rs.camera_info.serial_number,
            "firmware": rs.camera_info.firmware_version, "usb": rs.camera_info.usb_type_descriptor}
    found = []
    for dev in rs.context().query_devices():
        found.append({k: (dev.get_info(v) if dev.supports(v) else "") for k, v in keys.items()})
    return found


def _describe(devices: list[dict[str, str]]) -> str:
    return ", ".join(f"{d['name']} {d['serial']}" for d in devices) or "none"


def _clean_scale(depth_scale_m: float) -> float:
    """The SDK stores the scale as float32 (0.001 reads 0.0010000000475); drop that noise."""
    return round(float(depth_scale_m), 10)


def _to_frame(rs_depth, intrinsics: Intrinsics, index: int) -> DepthFrame:
    raw = np.asanyarray(rs_depth.get_data())
    depth_mm = raw.astype(np.float32) * np.float32(intrinsics.depth_scale_m * 1000.0)
    return DepthFrame(depth_mm=depth_mm, intrinsics=intrinsics, timestamp_ms=float(rs_depth.get_timestamp()),
                      index=index)


class RealSenseCamera(FrameSource):
    """A live RealSense depth stream (z16) that survives the cable being pulled.

    Reconnection: when no frame arrives within `frame_timeout_ms` (an unplugged camera makes
    wait_for_frames fail), the pipeline is stopped and the device list is polled every
    `reconnect_poll_s` until the same serial shows up again, then streaming restarts with the
    same settings. The wait is unbounded (Ctrl-C or `close()` ends it); `reconnect=False` raises
    instead.
    """

    live = True

    def __init__(self, serial: str | None = None, width: int = 640, height: int = 480, fps: int = 30,
                 reconnect: bool = True, frame_timeout_ms: int = 1000, reconnect_poll_s: float = 1.0):
        self.width, self.height, self.fps = int(width), int(height), int(fps)
        self.reconnect, self.frame_timeout_ms, self.reconnect_poll_s = reconnect, int(frame_timeout_ms), reconnect_poll_s
        self._pipe = None
        self._closing = False
        devices = list_devices()
        if not devices:
            raise UserError("no RealSense camera found (connected: none); check the USB3 cable and port")
        if serial is not None and serial not in {d["serial"] for d in devices}:
            raise UserError(f"RealSense with serial {serial} not found (connected: {_describe(devices)})")
        self.serial = serial or devices[0]["serial"]
        self.name = f"realsense:{self.serial}"
        self._start()

    def _start(self) -> None:
        rs = rs_module()
        pipe, cfg = rs.pipeline(), rs.config()
        cfg.enable_device(self.serial)
        cfg.enable_stream(rs.stream.depth, self.width, self.height, rs.format.z16, self.fps)
        try:
            profile = pipe.start(cfg)
        except RuntimeError as exc:
            raise UserError(f"cannot stream depth {self.width}x{self.height}@{self.fps} from RealSense "
                            f"{self.serial}: {_reason(exc)}") from None
        scale = profile.get_device().first_depth_sensor().get_depth_scale()
        stream = profile.get_stream(rs.stream.depth).as_video_stream_profile()
        self._intrinsics = Intrinsics.from_realsense(stream.get_intrinsics(), _clean_scale(scale), name=self.name)
        self._pipe = pipe

    def _stop(self) -> None:
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            try:
                pipe.stop()
            except RuntimeError:
                pass  # already stopped, or the device is gone

    def _wait_for_camera(self, exc: BaseException) -> None:
        log.warning("RealSense %s stopped delivering frames (%s); waiting for it to come back", self.serial,
                    _reason(exc))
        self._stop()
        while not self._closing:
            time.sleep(self.reconnect_poll_s)
            if self._closing:
                return
            if self.serial not in {d["serial"] for d in list_devices()}:
                continue
            try:
                self._start()
            except UserError as err:
                log.warning("%s; retrying", err)
                continue
            log.warning("RealSense %s reconnected", self.serial)
            return

    @property
    def intrinsics(self) -> Intrinsics:
        return self._intrinsics

    def frames(self) -> Iterator[DepthFrame]:
        index = 0
        while not self._closing:
            if self._pipe is None:
                return
            try:
                frameset = self._pipe.wait_for_frames(self.frame_timeout_ms)
            except RuntimeError as exc:
                if not self.reconnect:
                    raise UserError(f"RealSense {self.serial} stopped delivering frames: {_reason(exc)}") from None
                self._wait_for_camera(exc)
                continue
            depth = frameset.get_depth_frame()
            frame = _to_frame(depth, self._intrinsics, index) if depth else None
            del frameset, depth   # no librealsense frame is kept across a yield (see RealSensePlayback)
            if frame is not None:
                yield frame
                index += 1

    def close(self) -> None:
        self._closing = True
        self._stop()


def check_recording_path(path: Path, suffixes: tuple[str, ...] = RECORDING_SUFFIXES) -> Path:
    """A recording that exists, is readable and is not empty, or a one-line UserError.

    Opened here once because librealsense reports an unreadable file or folder as a corrupt one.
    """
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise UserError(f"{path}: unsupported recording type '{path.suffix}' (expected {', '.join(suffixes)})")
    check_regular_file(path, "recording")      # a FIFO would block the open below
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
    except (FileNotFoundError, NotADirectoryError):
        raise UserError(f"recording not found: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read recording {path}: {describe_os_error(exc)}") from None
    if size == 0:
        raise UserError(f"recording {path} is empty (0 bytes)")
    return path


DEPTH_TOPIC = re.compile(r"^/device_\d+/sensor_\d+/Depth_\d+/image/data(/[^/]+)?$")


def listed_depth_frames(path: Path) -> int | None:
    """How many depth frames a librealsense .db3 or .bag lists in its index (the busiest depth topic);
    None when the index cannot be read. Reads the index only (SQLite's table, a ROS 1 bag's
    connection records), never a frame: cheap, and independent of librealsense."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".db3":
            import sqlite3
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as db:
                counts = db.execute("SELECT t.name, COUNT(*) FROM messages m JOIN topics t ON m.topic_id = t.id "
                                    "GROUP BY t.name").fetchall()
        else:
            from rosbags.rosbag1 import Reader
            with Reader(path) as reader:
                counts = [(c.topic, c.msgcount) for c in reader.connections]
    except Exception:         # a damaged index: the player's own error, or its frame count, will tell
        return None
    depth = [int(n) for topic, n in counts if DEPTH_TOPIC.match(topic)]
    return max(depth) if depth else 0


def open_report(path: Path) -> dict:
    """What `probe` runs in its child: load the file as librealsense does, list its streams, and count
    the depth frames its index lists. A one-line UserError for a file librealsense refuses."""
    rs = rs_module()
    ctx = rs.context()
    try:
        device = ctx.load_device(str(path))
    except RuntimeError as exc:
        raise UserError(f"{path} is not a readable RealSense recording (truncated or corrupt?): {_reason(exc)}") from None
    try:
        streams = sorted({p.stream_type().name for s in device.query_sensors() for p in s.get_stream_profiles()})
    except RuntimeError as exc:      # e.g. `map::at` for a file without the depth topics
        raise UserError(f"recording {path} has no depth stream (librealsense cannot list its streams: "
                        f"{_reason(exc)})") from None
    if "depth" not in streams:
        raise UserError(f"recording {path} has no depth stream (streams: {', '.join(streams) or 'none'})")
    return {"streams": streams, "frames": listed_depth_frames(path)}


class RealSensePlayback(RecordingSource):
    """Replays a .bag (ROS1) or .db3 (ROS2) recording.

    With `realtime=False` (the default) librealsense hands over every frame as fast as we take
    them; realtime playback drops frames whenever the consumer is slower than the recording.
    The end of the file is the playback status turning `stopped` while no frame arrives.
    With `loop`, each pass continues the clock of the previous one, one frame period after its
    last frame, so `timestamp_ms` never goes back.
    """

    live = False
    wait_ms = 100
    stall_timeout_s = 10.0   # realtime only: a recording silent this long is treated as ended

    def _pace(self, frame: DepthFrame) -> None:
        """librealsense paces realtime playback itself (`set_real_time`)."""

    def __init__(self, path: str | Path, realtime: bool = False, loop: bool = False):
        self.path = check_recording_path(Path(path))
        self.realtime, self.loop = bool(realtime), bool(loop)
        self.name = f"playback:{self.path.name}"
        self._pipe = None
        self._check_streams()
        self._start()

    def _check_streams(self) -> None:
        """Open the file in a child process first (`probe.py`: librealsense hangs or aborts on some
        damaged files), telling corrupt files and depth-less ones apart; note how many depth frames
        its index lists, to report the ones a pass could not read (`RecordingSource`)."""
        from .probe import probe

        found = probe("realsense:open_report", self.path, "RealSense recording")
        self._listed_frames = found.get("frames")

    def _expected_frames(self) -> int | None:
        return getattr(self, "_listed_frames", None)

    def _start(self) -> None:
        rs = rs_module()
        pipe, cfg = rs.pipeline(), rs.config()
        cfg.enable_device_from_file(str(self.path), repeat_playback=False)
        cfg.enable_stream(rs.stream.depth)
        started = False
        try:
            # Switch real time off on the resolved device BEFORE streaming starts: set after
            # pipe.start(), the first frames are already played in real time and can be lost
            # (seen with .db3: frame 0 missing, or a restarted pass delivering only the last frame).
            # resolve() caches its profile in `cfg`, so pipe.start(cfg) streams from this very device.
            cfg.resolve(pipe).get_device().as_playback().set_real_time(self.realtime)
            profile = pipe.start(cfg)
            started = True
            device = profile.get_device()
            playback = device.as_playback()
            playback.set_real_time(self.realtime)
            scale = device.first_depth_sensor().get_depth_scale()
            stream = profile.get_stream(rs.stream.depth).as_video_stream_profile()
            intrinsics = Intrinsics.from_realsense(stream.get_intrinsics(), _clean_scale(scale),
                                                   name=self.path.name)
            period_ms = 1000.0 / stream.fps() if stream.fps() > 0 else 0.0
        except RuntimeError as exc:
            if started:
                self._stop_pipe(pipe)
            raise UserError(f"cannot play {self.path}: {_reason(exc)}") from None
        self._intrinsics, self._period_ms = intrinsics, period_ms
        self._stopped = rs.playback_status.stopped
        self._playback, self._pipe = playback, pipe

    @staticmethod
    def _stop_pipe(pipe) -> None:
        try:
            pipe.stop()
        except RuntimeError:
            pass  # not streaming any more (end of file), nothing to stop

    def _stop(self) -> None:
        """Stop streaming, then drop our librealsense handles in a fixed order, on this thread.

        The pipeline is stopped while we still hold the playback device; then our device handle
        goes, then the pipeline (which destroys the device and its reader thread). Nothing is left
        for the garbage collector to destroy later, at an arbitrary point or on another thread.
        Callers make sure no other thread is inside `frames()` (CaptureThread joins it first).

        No `playback.pause()` before the stop: without real time, librealsense's reader thread
        blocks handing over a frame until we take it, and pause() waits for that same thread, so
        after an early stop it gave up only after 10 s ("timeout waiting for pause, possible
        deadlock detected", librealsense issue #12518), leaving its task to run on the reader
        thread later, while the sensors were being torn down. `pipeline.stop()` stops the syncer
        first, which releases a blocked hand-over (librealsense PRs #4758, #8625): it returns at once.

        `pipeline.stop()` returns before the device's reader thread has run its own stop, though, and
        destroying the device with that work still queued aborted the process now and then ("pure
        virtual method called") while other threads kept the CPUs busy. `pause()` *after* the stop
        queues one more task on the reader thread and waits for its queue to drain, and the reader
        is no longer blocked, so it returns at once; only then do our handles go.
        """
        pipe, self._pipe = self._pipe, None
        playback, self._playback = getattr(self, "_playback", None), None
        if pipe is not None:
            self._stop_pipe(pipe)
        if playback is not None:
            try:
                playback.pause()
            except RuntimeError:
                pass   # nothing left to flush
        del playback
        del pipe

    @property
    def intrinsics(self) -> Intrinsics:
        return self._intrinsics

    def _one_pass(self, first_index: int) -> Iterator[DepthFrame]:
        index, silent_s = first_index, 0.0
        while self._pipe is not None:
            ok, frameset = self._pipe.try_wait_for_frames(self.wait_ms)
            if not ok:
                if self._playback.current_status() == self._stopped:
                    return
                silent_s += self.wait_ms / 1000.0
                if self.realtime and silent_s > self.stall_timeout_s:
                    return
                continue
            silent_s = 0.0
            depth = frameset.get_depth_frame()
            frame = _to_frame(depth, self._intrinsics, index) if depth else None
            # Never keep a librealsense frame across a yield: a suspended generator would hold it
            # past close(), and releasing it after its pipeline is gone can abort the process.
            del frameset, depth
            if frame is not None:
                yield frame
                index += 1

    def _is_open(self) -> bool:
        return self._pipe is not None

    def _rewind(self) -> None:
        self._stop()
        self._start()

    def close(self) -> None:
        self._stop()
