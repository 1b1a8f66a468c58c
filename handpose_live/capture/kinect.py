"""Azure Kinect DK and Orbbec Femto (through Orbbec's K4A wrapper) via the optional `pyk4a`.

UNTESTED HERE: pyk4a needs the native Azure Kinect SDK, which cannot be installed on the
development machines, so only the missing-SDK message is covered by tests. The code follows
pyk4a's documented API (PyK4A / PyK4APlayback, capture.depth in uint16 mm, calibration
camera matrix and distortion for the depth camera).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import UserError
from ..types import DepthFrame, Intrinsics
from .base import FrameSource

INSTALL_HINT = ("Kinect support needs pyk4a: `pip install pyk4a` plus the Azure Kinect SDK, or `pip install "
                "pyk4a-bundle` (requires numpy<2); Orbbec Femto cameras work through Orbbec's K4A wrapper")

# Depth image size per pyk4a DepthMode name.
DEPTH_MODE_SIZE_PX = {"NFOV_2X2BINNED": (320, 288), "NFOV_UNBINNED": (640, 576),
                      "WFOV_2X2BINNED": (512, 512), "WFOV_UNBINNED": (1024, 1024), "PASSIVE_IR": (1024, 1024)}
FPS_NAMES = {5: "FPS_5", 15: "FPS_15", 30: "FPS_30"}


def import_pyk4a():
    """Import pyk4a or raise the one-line install hint (also when its native library is missing)."""
    try:
        import pyk4a
    except Exception as exc:  # ImportError, or OSError from a missing k4a shared library
        raise UserError(f"{INSTALL_HINT} ({type(exc).__name__}: {exc})".replace("\n", " ")) from None
    return pyk4a


def _intrinsics(pyk4a, calibration, depth_mode_name: str, name: str) -> Intrinsics:
    width, height = DEPTH_MODE_SIZE_PX[depth_mode_name]
    k = np.asarray(calibration.get_camera_matrix(pyk4a.CalibrationType.DEPTH), dtype=np.float64)
    dist = np.asarray(calibration.get_distortion_coefficients(pyk4a.CalibrationType.DEPTH), dtype=np.float64)
    return Intrinsics(fx=float(k[0, 0]), fy=float(k[1, 1]), cx=float(k[0, 2]), cy=float(k[1, 2]), width=width,
                      height=height, depth_scale_m=0.001, distortion=tuple(float(c) for c in dist.ravel()), name=name)


def _depth_frame(capture, intrinsics: Intrinsics, index: int) -> DepthFrame | None:
    depth = capture.depth
    if depth is None:
        return None
    return DepthFrame(depth_mm=np.asarray(depth, dtype=np.float32), intrinsics=intrinsics,
                      timestamp_ms=float(capture.depth_timestamp_usec) / 1000.0, index=index)


class KinectCamera(FrameSource):
    """A live Azure Kinect / Femto depth stream (uint16 mm, intrinsics from the device calibration)."""

    live = True

    def __init__(self, device_id: int = 0, depth_mode: str = "NFOV_UNBINNED", fps: int = 30):
        pyk4a = import_pyk4a()
        if depth_mode not in DEPTH_MODE_SIZE_PX or int(fps) not in FPS_NAMES:
            raise UserError(f"Kinect: unsupported depth mode {depth_mode} or fps {fps} "
                            f"(modes: {', '.join(DEPTH_MODE_SIZE_PX)}; fps: 5, 15, 30)")
        config = pyk4a.Config(color_resolution=pyk4a.ColorResolution.OFF,
                              depth_mode=getattr(pyk4a.DepthMode, depth_mode),
                              camera_fps=getattr(pyk4a.FPS, FPS_NAMES[int(fps)]), synchronized_images_only=False)
        self._k4a = pyk4a.PyK4A(config=config, device_id=device_id)
        try:
            self._k4a.start()
        except Exception as exc:
            raise UserError(f"cannot start Kinect device {device_id}: {exc}") from None
        self.name = f"kinect:{device_id}"
        self._intrinsics = _intrinsics(pyk4a, self._k4a.calibration, depth_mode, self.name)
        self._running = True

    @property
    def intrinsics(self) -> Intrinsics:
        return self._intrinsics

    def frames(self) -> Iterator[DepthFrame]:
        index = 0
        while self._running:
            frame = _depth_frame(self._k4a.get_capture(), self._intrinsics, index)
            if frame is not None:
                yield frame
                index += 1

    def close(self) -> None:
        if self._running:
            self._running = False
            self._k4a.stop()


class KinectPlayback(FrameSource):
    """Replays an Azure Kinect .mkv recording; every frame unless `realtime` paces it."""

    live = False

    def __init__(self, path: str | Path, realtime: bool = False, loop: bool = False):
        path = Path(path)
        if path.suffix.lower() != ".mkv":
            raise UserError(f"{path}: Kinect recordings are .mkv files")
        if not path.is_file():
            raise UserError(f"recording not found: {path}")
        pyk4a = import_pyk4a()
        self.path, self.realtime, self.loop, self.name = path, realtime, loop, f"playback:{path.name}"
        self._playback = pyk4a.PyK4APlayback(str(path))
        try:
            self._playback.open()
            mode = self._playback.configuration["depth_mode"]
            self._intrinsics = _intrinsics(pyk4a, self._playback.calibration, mode.name, path.name)
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"{path} is not a readable Kinect recording: {exc}") from None
        self._open = True

    @property
    def intrinsics(self) -> Intrinsics:
        return self._intrinsics

    def frames(self) -> Iterator[DepthFrame]:
        index, start_wall, start_ts = 0, None, None
        while self._open:
            try:
                capture = self._playback.get_next_capture()
            except EOFError:
                if index == 0:
                    raise UserError(f"recording {self.path} contains no depth frames") from None
                if not self.loop:
                    return
                self._playback.seek(0)
                start_wall = None
                continue
            frame = _depth_frame(capture, self._intrinsics, index)
            if frame is None:
                continue
            if self.realtime:
                if start_wall is None:
                    start_wall, start_ts = time.monotonic(), frame.timestamp_ms
                delay_s = (frame.timestamp_ms - start_ts) / 1000.0 - (time.monotonic() - start_wall)
                if delay_s > 0:
                    time.sleep(delay_s)
            yield frame
            index += 1

    def close(self) -> None:
        if self._open:
            self._open = False
            self._playback.close()
