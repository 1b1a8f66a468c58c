"""Orbbec cameras through the real Orbbec SDK v2 (pyorbbecsdk2), as far as it goes without a camera.

Tested for real: the SDK loads quietly (no stdout chatter, no ./Log folder), reports its version,
creates a context and enumerates (no device here), and our conversion of SDK depth frames: the
frames are made by the SDK itself (Frame.create_video_frame) with data, depth scale, timestamp
and stream-profile intrinsics set through its API. NOT tested: live streaming (OrbbecCamera
past enumeration) and playback of Orbbec .bag files. The SDK offers no way to make either
without a device: Pipeline and RecordDevice need a Device, and a Device comes only from
hardware (or from a playback file, which only RecordDevice writes).
"""
from __future__ import annotations

import ctypes
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from handpose_live.errors import UserError

ob = pytest.importorskip("pyorbbecsdk", reason="Orbbec SDK not installed (pip install --no-deps pyorbbecsdk2)")

from handpose_live.capture import open_source, orbbec  # noqa: E402


def sdk_depth_frame(pixels: np.ndarray, scale_mm: float, timestamp_us: int, fx=5.0, fy=5.5, cx=3.5, cy=1.5):
    """A depth frame created by the SDK, filled through its data pointer, with profile intrinsics."""
    h, w = pixels.shape
    frame = ob.Frame.create_video_frame(ob.OBFrameType.DEPTH_FRAME, ob.OBFormat.Y16, w, h).as_depth_frame()
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    address = get_pointer(frame.get_data_pointer(), b"frame_data_pointer")
    data = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    assert frame.get_data_size() >= len(data)
    ctypes.memmove(address, data, len(data))
    frame.set_value_scale(scale_mm)
    ob.Frame.set_frame_device_timestamp_us(frame, timestamp_us)
    intr = ob.OBCameraIntrinsic()
    intr.fx, intr.fy, intr.cx, intr.cy, intr.width, intr.height = fx, fy, cx, cy, w, h
    frame.get_stream_profile().as_video_stream_profile().set_intrinsic(intr)
    return frame


@pytest.mark.slow
def test_sdk_loads_quietly_and_finds_no_camera(tmp_path):
    code = ("from handpose_live.capture import orbbec; print(orbbec.sdk_version()); print(orbbec.list_devices())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    version, devices = proc.stdout.splitlines()     # nothing else on stdout ("load extensions from ...")
    assert version.startswith("2.") and "pyorbbecsdk2" in version
    assert devices == "[]"
    assert list(tmp_path.iterdir()) == []            # the SDK's default ./Log folder is not created


@pytest.mark.slow
def test_no_camera_gives_one_line_errors():
    with pytest.raises(UserError, match=r"no Orbbec camera connected \(Orbbec SDK 2\.") as info:
        orbbec.OrbbecCamera()
    assert "\n" not in str(info.value)
    with pytest.raises(UserError, match="no Orbbec camera connected"):
        open_source("orbbec", serial="CL8F12345")


def test_sdk_depth_frame_becomes_millimetres_with_profile_intrinsics():
    pixels = (np.arange(6 * 8, dtype=np.uint16) * 10).reshape(6, 8)
    pixels[0, 0] = 0
    frame = sdk_depth_frame(pixels, 0.1, 33_333)        # a Gemini in 0.1 mm units
    profile = frame.get_stream_profile().as_video_stream_profile()
    intr = orbbec.intrinsics_of_profile(profile, frame.get_depth_scale(), "orbbec:test")
    assert (intr.fx, intr.fy, intr.cx, intr.cy, intr.width, intr.height) == (5.0, 5.5, 3.5, 1.5, 8, 6)
    assert intr.depth_scale_m == 0.0001                  # float32 noise of the SDK's 0.1 removed
    ours = orbbec.depth_frame_to_ours(frame, intr, 4)
    assert ours.depth_mm.dtype == np.float32 and ours.index == 4 and ours.timestamp_ms == pytest.approx(33.333)
    np.testing.assert_allclose(ours.depth_mm, pixels * 0.1, rtol=1e-6)
    assert ours.depth_mm[0, 0] == 0

    femto = sdk_depth_frame(pixels, 1.0, 0)              # a Femto in mm
    np.testing.assert_array_equal(orbbec.depth_frame_to_ours(femto, intr, 0).depth_mm, pixels.astype(np.float32))


def test_frame_of_another_size_is_refused():
    frame = sdk_depth_frame(np.zeros((6, 8), np.uint16), 1.0, 0)
    intr = orbbec.intrinsics_of_profile(frame.get_stream_profile().as_video_stream_profile(), 1.0, "x")
    small = sdk_depth_frame(np.zeros((4, 8), np.uint16), 1.0, 0)
    with pytest.raises(UserError, match="4 .*8x6 Y16 depth was expected"):
        orbbec.depth_frame_to_ours(small, intr, 0)


def test_sdk_playback_of_a_file_not_written_by_its_recorder_fails_in_the_sdk(tmp_path):
    """The SDK's playback needs a recording that only its RecordDevice (a real device) writes: an empty file
    is refused at once. Asked in a fresh process, with network-camera discovery off (our own context from the
    wheel's config with EnumerateNetDevice false, kept while playback is asked): with it on, PlaybackDevice
    starts the discovery thread and, when it fails, stops it at once; on a busy machine that thread often
    starts waiting only after the stop was signalled and holds the failed call for its 60-s timeout (a
    race in the SDK, seen with the CPU loaded: half the calls took 60 s, none with discovery off)."""
    config = (Path(ob.__file__).parent / "OrbbecSDKConfig.xml").read_text()
    no_net = re.sub(r"<EnumerateNetDevice>\s*true\s*</EnumerateNetDevice>", "<EnumerateNetDevice>false</EnumerateNetDevice>",
                    config)
    assert "<EnumerateNetDevice>false</EnumerateNetDevice>" in no_net
    (tmp_path / "no-net.xml").write_text(no_net)
    empty = tmp_path / "none.bag"
    empty.write_bytes(b"")
    code = (f"import pyorbbecsdk as ob\ncontext = ob.Context({str(tmp_path / 'no-net.xml')!r})\n"
            f"try:\n    ob.PlaybackDevice({str(empty)!r})\n"
            "except Exception as exc:\n    print('refused:', exc)")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert "refused: Error reading version line" in proc.stdout, proc.stdout + proc.stderr
    assert time.monotonic() - t0 < 50, "the SDK waited out a timeout before refusing the file"


def test_auto_looks_for_orbbec_cameras_on_the_usb_bus_first(tmp_path, monkeypatch):
    """`--camera auto` creates the Orbbec SDK's context (whose discovery waits seconds for network replies)
    only when an Orbbec device is on the USB bus, or off Linux where that cannot be told"""
    bus = tmp_path / "devices"
    for name, vendor in (("1-1", "8086"), ("1-2", "046d")):
        (bus / name).mkdir(parents=True)
        (bus / name / "idVendor").write_text(vendor + "\n")
    (bus / "usb1").mkdir()                              # a hub without the file: skipped
    assert orbbec.usb_attached(bus) is False
    (bus / "2-1").mkdir()
    (bus / "2-1" / "idVendor").write_text("2BC5\n")
    assert orbbec.usb_attached(bus) is True
    assert orbbec.usb_attached(tmp_path / "no-usb-bus") is False
    monkeypatch.setattr(orbbec.sys, "platform", "win32")
    assert orbbec.usb_attached(bus) is None
    asked = []
    monkeypatch.setattr(orbbec, "list_devices", lambda: asked.append(1) or [])
    monkeypatch.setattr(orbbec, "usb_attached", lambda: False)
    assert orbbec.auto_devices() == [] and not asked
    monkeypatch.setattr(orbbec, "usb_attached", lambda: None)
    assert orbbec.auto_devices() == [] and asked == [1]
