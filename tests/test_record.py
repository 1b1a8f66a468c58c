"""Recordings written by handpose-live play back bit-exactly through pyrealsense2 itself."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from handpose_live.capture import sources
from handpose_live.capture.base import FrameSource
from handpose_live.capture.realsense import RealSensePlayback
from handpose_live.capture.record import atomic_path, realsense_typestore, write_bag, write_db3
from handpose_live.commands.record import RecordOptions, record
from handpose_live.errors import UserError
from handpose_live.types import DepthFrame, Intrinsics

W, H, N = 64, 48, 10
INTR = Intrinsics(fx=52.5, fy=53.25, cx=31.5, cy=23.75, width=W, height=H, name="test")
WRITERS = {".db3": write_db3, ".bag": write_bag}


def pattern(i: int) -> np.ndarray:
    """A uint16 image unique per frame, covering low and high values."""
    v, u = np.mgrid[0:H, 0:W]
    img = (u * 7 + v * 131 + i * 1009) % 65536
    img[0, 0] = 0          # an invalid pixel stays 0
    img[-1, -1] = 65535
    return img.astype(np.uint16)


def frames(n: int = N):
    return [DepthFrame(depth_mm=pattern(i).astype(np.float32), intrinsics=INTR, timestamp_ms=i * 33.3, index=i)
            for i in range(n)]


@pytest.fixture(params=[".db3", ".bag"])
def recording(request, tmp_path) -> Path:
    path = tmp_path / f"rec{request.param}"
    assert WRITERS[request.param](path, frames(), INTR) == N
    return path


def test_roundtrip_every_frame_exact(recording):
    with RealSensePlayback(recording) as src:
        got = list(src.frames())
        intr = src.intrinsics
    assert len(got) == N
    for i, f in enumerate(got):
        assert f.depth_mm.dtype == np.float32
        np.testing.assert_array_equal(f.depth_mm, pattern(i).astype(np.float32))
        assert f.index == i
    assert [f.timestamp_ms for f in got] == sorted(f.timestamp_ms for f in got)
    assert (intr.width, intr.height) == (W, H)
    assert intr.fx == pytest.approx(INTR.fx) and intr.fy == pytest.approx(INTR.fy)
    assert intr.cx == pytest.approx(INTR.cx) and intr.cy == pytest.approx(INTR.cy)
    assert intr.depth_scale_m == 0.001


def test_loop_restarts(recording):
    with RealSensePlayback(recording, loop=True) as src:
        it = src.frames()
        got = [next(it) for _ in range(N + 3)]
    np.testing.assert_array_equal(got[N].depth_mm, pattern(0))
    np.testing.assert_array_equal(got[N + 2].depth_mm, pattern(2))
    assert got[-1].index == N + 2
    stamps = [f.timestamp_ms for f in got]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))          # the clock runs on across passes
    assert stamps[N] - stamps[N - 1] == pytest.approx(1000 / 30, abs=0.01)


def test_stopping_early_returns_at_once(tmp_path):
    """A slow consumer stops a replay halfway: librealsense's reader is blocked handing over
    the next frame; closing must not wait for it (playback.pause() did, 10 s)."""
    from handpose_live.capture.thread import CaptureThread

    path = tmp_path / "long.db3"
    write_db3(path, frames(60), INTR, paced=False)
    capture = CaptureThread(RealSensePlayback(path)).start()
    for _ in range(3):
        capture.get(timeout=10)
        time.sleep(0.05)
    t0 = time.perf_counter()
    capture.stop()
    assert time.perf_counter() - t0 < 1.0


def test_open_source_picks_playback(recording):
    from handpose_live.capture import open_source
    with open_source("auto", recording) as src:
        assert isinstance(src, RealSensePlayback) and src.live is False


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    def broken():
        yield frames(1)[0]
        raise KeyboardInterrupt
    for ext, writer in WRITERS.items():
        with pytest.raises(KeyboardInterrupt):
            writer(tmp_path / f"x{ext}", broken(), INTR)
    assert list(tmp_path.iterdir()) == []
    with atomic_path(tmp_path / "y.bag") as tmp:
        assert tmp.parent == tmp_path and not tmp.exists()
        tmp.write_bytes(b"ok")
    assert (tmp_path / "y.bag").read_bytes() == b"ok" and len(list(tmp_path.iterdir())) == 1


def test_wrong_frame_size_rejected(tmp_path):
    bad = DepthFrame(depth_mm=np.zeros((H + 1, W), np.float32), intrinsics=INTR)
    with pytest.raises(UserError, match="64x49"):
        write_bag(tmp_path / "x.bag", [bad], INTR)


def one_line_error(path, match: str) -> str:
    with pytest.raises(UserError, match=match) as info:
        RealSensePlayback(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_missing_file_and_wrong_extension(tmp_path):
    one_line_error(tmp_path / "nope.db3", "not found")
    (tmp_path / "clip.mp4").write_bytes(b"x")
    one_line_error(tmp_path / "clip.mp4", "unsupported recording type")


@pytest.mark.parametrize("ext", [".db3", ".bag"])
def test_truncated_and_random_files(tmp_path, ext):
    full = tmp_path / f"full{ext}"
    WRITERS[ext](full, frames(), INTR)
    data = full.read_bytes()
    half = tmp_path / f"half{ext}"
    half.write_bytes(data[: len(data) // 2])
    one_line_error(half, "truncated or corrupt")
    noise = tmp_path / f"noise{ext}"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    one_line_error(noise, "truncated or corrupt")
    empty = tmp_path / f"empty{ext}"
    empty.write_bytes(b"")
    one_line_error(empty, "empty")


def test_recording_without_depth_stream(tmp_path):
    """An infrared-only recording made with librealsense's own recorder."""
    import pyrealsense2 as rs
    path = tmp_path / "ir.db3"
    dev = rs.software_device()
    sensor = dev.add_sensor("Stereo Module")
    intr = rs.intrinsics()
    intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy = W, H, 50.0, 50.0, 31.5, 23.5
    vs = rs.video_stream()
    vs.type, vs.index, vs.uid, vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = rs.stream.infrared, 1, 0, W, H, 30, 1, rs.format.y8
    vs.intrinsics = intr
    profile = sensor.add_video_stream(vs).as_video_stream_profile()
    recorder = rs.recorder(str(path), dev)
    sink = rs.frame_queue(1)   # no Python callback on librealsense's threads
    sensor.open(profile)
    sensor.start(sink)
    for i in range(3):
        f = rs.software_video_frame()
        f.pixels, f.stride, f.bpp, f.timestamp = np.full((H, W), i, np.uint8), W, 1, i * 33.3
        f.domain, f.frame_number, f.profile = rs.timestamp_domain.hardware_clock, i, profile
        sensor.on_video_frame(f)
    sensor.stop()
    sensor.close()
    del sink, f
    del recorder
    del profile, sensor, dev
    assert "infrared" in one_line_error(path, "no depth stream")


def test_bag_without_depth_topic(tmp_path):
    from rosbags.rosbag1 import Writer
    store = realsense_typestore()
    path = tmp_path / "nodepth.bag"
    with Writer(path) as w:
        for topic, msgtype, msg in [
            ("/file_version", "std_msgs/msg/UInt32", store.types["std_msgs/msg/UInt32"](data=3)),
            ("/device_0/info", "diagnostic_msgs/msg/KeyValue",
             store.types["diagnostic_msgs/msg/KeyValue"](key="Name", value="x")),
        ]:
            w.write(w.add_connection(topic, msgtype, typestore=store), 1, store.serialize_ros1(msg, msgtype))
    one_line_error(path, "no depth stream")


@pytest.mark.parametrize("ext", [".db3", ".bag"])
def test_zero_frames(tmp_path, ext):
    path = tmp_path / f"zero{ext}"
    assert WRITERS[ext](path, [], INTR) == 0
    with pytest.raises(UserError, match="no depth (stream|frames)"):
        with RealSensePlayback(path) as src:
            list(src.frames())


class FakeCamera(FrameSource):
    """Our own FrameSource interface, standing in for a camera so the record command is tested alone."""

    name, live = "fake", True

    @property
    def intrinsics(self):
        return INTR

    def frames(self):
        yield from frames(N)


def _record(camera: str, frames: int, out: Path, **options) -> int:
    """`handpose-live record --camera CAMERA --frames N --out OUT ...`, in process."""
    return record(RecordOptions(camera=camera, frames=frames, out=out, **options))


@pytest.fixture
def fake_camera(monkeypatch):
    monkeypatch.setattr(sources, "open_source", lambda *a, **k: FakeCamera())


@pytest.mark.parametrize("ext", [".db3", ".bag"])
def test_record_command_writes_what_it_says(tmp_path, ext, fake_camera, capsys):
    out = tmp_path / f"demo{ext}"
    assert _record("realsense", 4, out) == 4
    assert f"wrote {out}: 4 depth frames 64x48" in capsys.readouterr().out
    with RealSensePlayback(out) as src:
        got = list(src.frames())
    assert [int(f.depth_mm[5, 5]) for f in got] == [int(pattern(i)[5, 5]) for i in range(4)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_record_command_bad_input(tmp_path, fake_camera):
    with pytest.raises(UserError, match="--frames must be at least 1"):
        _record("synthetic", 0, tmp_path / "a.db3")
    with pytest.raises(UserError, match="use .db3 or .bag"):
        _record("synthetic", 5, tmp_path / "a.mp4")
    with pytest.raises(UserError, match="does not exist"):
        _record("synthetic", 5, tmp_path / "missing" / "a.bag")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        _record("synthetic", 5, tmp_path / "file" / "a.bag")
    with pytest.raises(UserError, match="cannot write"):   # even root cannot create files in /proc
        _record("synthetic", 5, Path("/proc/handpose-live-test.db3"))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):
            with pytest.raises(UserError, match="permission denied"):
                _record("synthetic", 5, locked / "a.bag")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("ext", [".db3", ".bag"])
def test_record_command_synthetic(tmp_path, ext, capsys):
    pytest.importorskip("handpose_live.capture.synthetic")
    out = tmp_path / f"demo{ext}"
    assert _record("synthetic", 4, out, width=80, height=60) == 4
    assert "wrote" in capsys.readouterr().out
    with RealSensePlayback(out) as src:
        got = list(src.frames())
        assert (src.intrinsics.width, src.intrinsics.height) == (80, 60)
    assert len(got) == 4 and all(f.depth_mm.max() > 0 for f in got)
