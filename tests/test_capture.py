"""CaptureThread semantics, source selection and the messages of unavailable cameras."""
from __future__ import annotations

import dataclasses
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from handpose_live.capture import open_source
from handpose_live.capture.base import FrameSource
from handpose_live.capture.thread import CaptureThread
from handpose_live.errors import UserError
from handpose_live.types import DepthFrame, Intrinsics

INTR = Intrinsics(fx=50.0, fy=50.0, cx=3.5, cy=2.5, width=8, height=6)


class CountingSource(FrameSource):
    """A tiny source of our own interface: frame i has every pixel equal to i.

    `gate` (a semaphore) lets a test release frames one by one; `fail_after` raises after that
    many frames; `produced` counts frames handed to the thread.
    """

    name = "counting"

    def __init__(self, n: int, live: bool, gate: threading.Semaphore | None = None, fail_after: int | None = None):
        self.n, self.live, self.gate, self.fail_after = n, live, gate, fail_after
        self.produced = 0
        self.closed = False

    @property
    def intrinsics(self):
        return INTR

    def frames(self):
        for i in range(self.n):
            if self.fail_after is not None and i == self.fail_after:
                raise RuntimeError("camera exploded")
            if self.gate is not None:
                self.gate.acquire()
            self.produced += 1
            yield DepthFrame(depth_mm=np.full((6, 8), i, np.float32), intrinsics=INTR, index=i)

    def close(self):
        self.closed = True


def test_file_mode_hands_over_every_frame_in_order():
    src = CountingSource(50, live=False)
    with CaptureThread(src) as cap:
        got = []
        while (frame := cap.get(timeout=10)) is not None:
            got.append(frame.index)
            assert src.produced <= len(got) + 2   # the producer blocks: at most one frame ahead in the slot
        assert cap.get(timeout=10) is None
    assert got == list(range(50))
    assert (cap.frames_in, cap.dropped) == (50, 0)
    assert src.closed


def test_live_mode_keeps_only_the_newest_frame():
    src = CountingSource(20, live=True)
    cap = CaptureThread(src).start()
    assert cap.join(timeout=10)            # the consumer was busy while all 20 frames arrived
    assert cap.get(timeout=10).index == 19
    assert cap.get(timeout=10) is None
    assert (cap.frames_in, cap.dropped) == (20, 19)
    cap.stop()


def test_live_mode_step_by_step():
    gate = threading.Semaphore(0)
    src = CountingSource(6, live=True, gate=gate)
    cap = CaptureThread(src).start()
    gate.release()
    assert cap.get(timeout=10).index == 0
    gate.release(3)                        # frames 1, 2, 3 arrive; we look only after the third
    while cap.frames_in < 4:
        threading.Event().wait(0.001)
    assert cap.get(timeout=10).index == 3
    assert cap.dropped == 2
    with pytest.raises(TimeoutError):
        cap.get(timeout=0.01)              # nothing new yet: no stale frame is handed out twice
    gate.release(2)
    assert cap.join(timeout=10)
    assert cap.get(timeout=10).index == 5
    assert cap.get(timeout=10) is None
    assert (cap.frames_in, cap.dropped) == (6, 3)
    cap.stop()


@pytest.mark.parametrize("live", [False, True])
def test_exception_reaches_the_consumer(live):
    src = CountingSource(10, live=live, fail_after=3)
    cap = CaptureThread(src).start()
    if live:
        assert cap.join(timeout=10)        # frames 0 and 1 were overwritten before we looked
    got = []
    with pytest.raises(RuntimeError, match="camera exploded"):
        while True:
            got.append(cap.get(timeout=10).index)
    assert got == ([0, 1, 2] if not live else [2])
    assert cap.get(timeout=10) is None
    cap.stop()


def test_stop_while_file_producer_waits():
    src = CountingSource(100, live=False)
    cap = CaptureThread(src).start()
    assert cap.get(timeout=10).index == 0
    cap.stop()
    assert cap.join(timeout=10) and src.closed
    assert src.produced <= 3


def test_realsense_camera_absent_lists_what_was_found(monkeypatch):
    from handpose_live.capture import realsense
    monkeypatch.setattr(realsense, "list_devices", lambda: [])
    with pytest.raises(UserError, match=r"no RealSense camera found \(connected: none\)"):
        realsense.RealSenseCamera()
    monkeypatch.setattr(realsense, "list_devices", lambda: [{"name": "Intel RealSense D435", "serial": "123",
                                                             "firmware": "5.16", "usb": "3.2"}])
    with pytest.raises(UserError, match="serial 999 not found .connected: Intel RealSense D435 123."):
        realsense.RealSenseCamera(serial="999")


def test_list_devices_runs_without_a_camera():
    from handpose_live.capture.realsense import list_devices
    devices = list_devices()
    assert isinstance(devices, list)
    assert all(set(d) == {"name", "serial", "firmware", "usb"} for d in devices)


def test_open_source_errors_and_auto(monkeypatch, tmp_path):
    with pytest.raises(UserError, match="unknown camera 'webcam'"):
        open_source("webcam")
    with pytest.raises(UserError, match="unsupported recording type '.avi'"):
        open_source("auto", tmp_path / "x.avi")
    from handpose_live.capture import cameras
    picked = []
    monkeypatch.setattr(cameras, "connected", lambda camera: [])      # no RealSense, Kinect or Orbbec
    monkeypatch.setitem(cameras.CAMERAS, "synthetic", dataclasses.replace(
        cameras.CAMERAS["synthetic"], open=lambda request: picked.append(request) or SimpleNamespace(name="synthetic")))
    assert open_source("auto", frames=5, seed=3).name == (
        "synthetic (auto: no RealSense, Azure Kinect or Orbbec camera connected)")
    assert (picked[0].seed, picked[0].frames) == (3, 5)


def test_closing_a_camera_ends_its_wait_for_reconnection(monkeypatch):
    from handpose_live.capture import realsense
    monkeypatch.setattr(realsense, "list_devices", lambda: [{"name": "D435", "serial": "123", "firmware": "",
                                                             "usb": ""}])
    monkeypatch.setattr(realsense.RealSenseCamera, "_start", lambda self: None)
    camera = realsense.RealSenseCamera(reconnect_poll_s=0.01)
    monkeypatch.setattr(realsense, "list_devices", lambda: [])          # unplugged, never comes back
    waiter = threading.Thread(target=camera._wait_for_camera, args=(RuntimeError("Frame didn't arrive"),))
    waiter.start()
    camera.close()
    waiter.join(timeout=5)
    assert not waiter.is_alive()
