"""Azure Kinect recordings written and replayed by the real Azure Kinect SDK (libk4arecord 1.4.2
from the pyk4a-bundle wheel), without a camera: `k4a_record_create` takes a null device, our
calibration goes in as the `calibration.json` attachment, and playback reports it.

Skipped without the `kinect` extra. `pytest.importorskip("pyk4a")` cannot be the test for it:
pyk4a-bundle's own extension is built against NumPy 1 and never imports next to NumPy 2, while
the SDK libraries it carries (all we use) load fine; so the skip asks the SDK itself.
The live camera (`KinectCamera` streaming) is not covered: no Azure Kinect is attached here.
"""
from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handpose_live.capture import kinect, open_source
from handpose_live.capture.kinect import KinectPlayback
from handpose_live.errors import UserError
from handpose_live.records import nearest_subject, read_jsonl
from handpose_live.types import DepthFrame, Intrinsics


def _sdk_or_skip():
    try:
        return kinect.sdk()
    except UserError as exc:
        pytest.skip(f"Azure Kinect SDK not installed (pip install -e .[kinect]): {exc}")


MODE = "NFOV_2X2BINNED"            # the smallest depth mode: 320x288
W, H, N = 320, 288, 8
INTR = Intrinsics(fx=252.1, fy=252.15, cx=160.25, cy=165.5, width=W, height=H, name="test")


def pattern(i: int) -> np.ndarray:
    v, u = np.mgrid[0:H, 0:W]
    img = (u * 7 + v * 131 + i * 1009) % 65536
    img[0, 0] = 0
    img[-1, -1] = 65535
    return img.astype(np.uint16)


def frames(n: int = N):
    return [DepthFrame(pattern(i).astype(np.float32), INTR, timestamp_ms=i * 33.3, index=i) for i in range(n)]


@pytest.fixture(scope="module")
def sdk():
    return _sdk_or_skip()


@pytest.fixture
def recording(sdk, tmp_path) -> Path:
    from handpose_live.capture.record import write_mkv
    path = tmp_path / "rec.mkv"
    assert write_mkv(path, frames(), INTR) == N
    return path


def one_line(fn, match: str) -> str:
    with pytest.raises(UserError, match=match) as info:
        fn()
    assert "\n" not in str(info.value)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
def test_missing_sdk_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(kinect, "_sdk", None)
    monkeypatch.setattr(kinect, "_bundle_dir", lambda: None)
    monkeypatch.setattr(kinect.ctypes.util, "find_library", lambda name: None)
    for make in (kinect.KinectCamera, lambda: open_source("kinect"), kinect.list_devices):
        msg = one_line(make, "Azure Kinect SDK")
        assert "pip install 'handpose-live[kinect]'" in msg and "pyk4a-bundle" in msg
    mkv = tmp_path / "clip.mkv"
    mkv.write_bytes(kinect.EBML_MAGIC + b"\0" * 64)
    one_line(lambda: open_source("auto", mkv), "pip install")
    one_line(lambda: KinectPlayback(tmp_path / "missing.mkv"), "not found")


def test_depth_modes_by_image_size():
    assert kinect.depth_mode_for_size(640, 480) == "NFOV_UNBINNED"           # the command's default size
    assert kinect.depth_mode_for_size(512, 512) == "WFOV_2X2BINNED"
    assert kinect.depth_mode_for_size(1024, 1024) == "WFOV_UNBINNED"
    assert kinect.depth_mode_for_size(320, 288) == "NFOV_2X2BINNED"
    one_line(lambda: kinect.depth_mode_for_size(848, 480), "no 848x480 depth mode .modes: 320x288 NFOV_2X2BINNED")


def test_calibration_blob_gives_back_the_intrinsics_in_every_mode(sdk):
    """Our blob, parsed by k4a_calibration_get_from_raw, reproduces the intrinsics it was made
    for, and the other modes follow the SDK's own mode table (binning halves, crops shift)."""
    nfov = Intrinsics(fx=504.2, fy=504.3, cx=321.0, cy=331.0, width=640, height=576, distortion=(0.1, -0.02, 0.001,
                                                                                                   0.002, 0.003))
    raw = kinect.synthetic_raw_calibration(nfov, "NFOV_UNBINNED")
    got = {mode: kinect.mode_intrinsics(raw, mode) for mode in kinect.DEPTH_MODES}
    u = got["NFOV_UNBINNED"]
    assert (u.width, u.height) == (640, 576)
    np.testing.assert_allclose([u.fx, u.fy, u.cx, u.cy], [504.2, 504.3, 321.0, 331.0], atol=1e-4)
    np.testing.assert_allclose(u.distortion, nfov.distortion, atol=1e-6)
    b = got["NFOV_2X2BINNED"]
    np.testing.assert_allclose([b.fx, b.cx, b.cy], [u.fx / 2, u.cx / 2 - 0.25, u.cy / 2 - 0.25], atol=1e-3)
    w = got["WFOV_UNBINNED"]
    np.testing.assert_allclose([w.fx, w.cx, w.cy], [u.fx, u.cx + 192, u.cy + 180], atol=1e-3)
    assert (w.width, w.height, got["WFOV_2X2BINNED"].width) == (1024, 1024, 512)
    one_line(lambda: sdk.calibration_from_raw(b'{"CalibrationInformation": {}}', "NFOV_UNBINNED"),
             "rejected the calibration")


def test_roundtrip_every_frame_exact(recording):
    with KinectPlayback(recording) as src:
        got = list(src.frames())
        intr = src.intrinsics
        assert src.tag("K4A_DEPTH_MODE") == MODE
        blob = json.loads(src.raw_calibration().rstrip(b"\0"))
    assert blob["CalibrationInformation"]["Metadata"]["DeviceName"] == "handpose-live synthetic camera"
    assert len(got) == N
    for i, f in enumerate(got):
        assert f.depth_mm.dtype == np.float32 and f.index == i
        np.testing.assert_array_equal(f.depth_mm, pattern(i).astype(np.float32))
    np.testing.assert_allclose([f.timestamp_ms for f in got], [i * 33.3 for i in range(N)], atol=1e-3)
    assert (intr.width, intr.height, intr.depth_scale_m) == (W, H, 0.001)
    np.testing.assert_allclose([intr.fx, intr.fy, intr.cx, intr.cy], [INTR.fx, INTR.fy, INTR.cx, INTR.cy], atol=1e-4)


def test_loop_continues_the_clock_and_open_source_dispatches(recording):
    with open_source("auto", recording, loop=True) as src:
        assert isinstance(src, KinectPlayback) and src.live is False
        it = src.frames()
        got = [next(it) for _ in range(N + 2)]
    np.testing.assert_array_equal(got[N].depth_mm, pattern(0))
    assert got[N].index == N and got[N].timestamp_ms == pytest.approx(got[N - 1].timestamp_ms + 1000 / 30, abs=1e-3)


def test_frames_of_the_wrong_size_or_rate_are_refused(sdk, tmp_path):
    from handpose_live.capture.record import write_mkv
    d435 = Intrinsics(fx=380, fy=380, cx=320, cy=240, width=640, height=480)
    one_line(lambda: write_mkv(tmp_path / "x.mkv", [], d435), "no 640x480 depth mode")
    one_line(lambda: write_mkv(tmp_path / "x.mkv", [], INTR, fps=60), "5, 15 or 30 fps")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_nothing(sdk, tmp_path):
    from handpose_live.capture.record import write_mkv

    def broken():
        yield frames(1)[0]
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        write_mkv(tmp_path / "x.mkv", broken(), INTR)
    assert list(tmp_path.iterdir()) == []


def _raw_recording(sdk, path: Path, depth_mode: int, with_calibration: bool, image_format: int, size: tuple[int, int],
                   setter: str, n: int = 2) -> None:
    """A recording made directly with libk4arecord (no device), for the malformed cases."""
    config = kinect.DeviceConfiguration(color_format=0, color_resolution=0, depth_mode=depth_mode, camera_fps=2,
                                        wired_sync_mode=0)
    handle = ctypes.c_void_p()
    assert sdk.record_create(str(path).encode(), None, config, ctypes.byref(handle)) == 0
    if with_calibration:
        raw = kinect.synthetic_raw_calibration(INTR, MODE)
        assert sdk.record_add_attachment(handle, b"calibration.json", raw, len(raw)) == 0
    assert sdk.record_write_header(handle) == 0
    set_image = getattr(sdk.k4a, setter)
    set_image.argtypes, set_image.restype = [ctypes.c_void_p, ctypes.c_void_p], None
    w, h = size
    for i in range(n):
        capture, image = ctypes.c_void_p(), ctypes.c_void_p()
        assert sdk.capture_create(ctypes.byref(capture)) == 0
        assert sdk.image_create(image_format, w, h, 2 * w, ctypes.byref(image)) == 0
        sdk.image_set_device_timestamp_usec(image, 33333 * i)
        set_image(capture, image)
        assert sdk.record_write_capture(handle, capture) == 0
        sdk.image_release(image)
        sdk.capture_release(capture)
    assert sdk.record_flush(handle) == 0
    sdk.record_close(handle)


def test_bad_recordings_get_one_line_errors(sdk, recording, tmp_path):
    data = recording.read_bytes()
    cases = {"half": data[: len(data) // 2], "tail": data[:-1000], "head": data[:4000],
             "noise": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()}
    for name, content in cases.items():
        path = tmp_path / f"{name}.mkv"
        path.write_bytes(content)
        msg = one_line(lambda p=path: KinectPlayback(p), "truncated or corrupt")
        assert name != "noise" or "not a Matroska file" in msg
    (tmp_path / "empty.mkv").write_bytes(b"")
    one_line(lambda: KinectPlayback(tmp_path / "empty.mkv"), "empty")
    (tmp_path / "clip.mp4").write_bytes(data[:100])
    one_line(lambda: open_source("auto", tmp_path / "clip.mp4"), "unsupported recording type")

    ir_only = tmp_path / "ir.mkv"   # passive IR mode: an IR track and no depth track
    _raw_recording(sdk, ir_only, 5, True, 5, (1024, 1024), "k4a_capture_set_ir_image")
    assert "tracks: IR" in one_line(lambda: KinectPlayback(ir_only), "has no depth track")

    uncalibrated = tmp_path / "nocal.mkv"
    _raw_recording(sdk, uncalibrated, 1, False, kinect.IMAGE_FORMAT_DEPTH16, (W, H), "k4a_capture_set_depth_image")
    one_line(lambda: KinectPlayback(uncalibrated), "no usable calibration .the calibration.json attachment")


def test_no_camera_here(sdk):
    """What the SDK says without a device: none installed, and the one-line errors around it."""
    assert kinect.list_devices() == []
    msg = one_line(kinect.KinectCamera, r"no Azure Kinect connected \(Azure Kinect SDK 1\.4")
    assert sdk.version in msg
    one_line(lambda: kinect.KinectCamera(depth_mode="WFOV_UNBINNED", fps=30), "runs at 5, 15 fps, not 30")
    one_line(lambda: open_source("kinect", width=848, height=480), "no 848x480 depth mode")
    assert sdk.depth_engine   # the wheel carries libdepthengine.so.2.0 that live depth needs


# ---------------------------------------------------------------------------------------------
# End to end: `record --camera synthetic --out x.mkv`, then `run --input x.mkv`, against the same
# frames from a .db3 (pyrealsense2's recorder) and the synthetic ground truth.
FRAMES, SEED = 24, 3


def cli(*args):
    proc = subprocess.run([sys.executable, "-m", "handpose_live", *map(str, args)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _errors(jsonl: Path, truth: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    _, records = read_jsonl(jsonl)
    assert [r["frame"] for r in records] == list(range(FRAMES))
    found = [r for r in records if r["hands"]]
    assert len(found) >= 0.9 * FRAMES
    return np.array([np.linalg.norm(np.array(nearest_subject(r, truth[r["frame"]])["joints_mm"]) - truth[r["frame"]],
                                    axis=1).mean() for r in found]), records


@pytest.mark.slow
def test_synthetic_mkv_replays_like_the_same_frames_from_db3(sdk, tmp_path):
    from handpose_live.calib import load_intrinsics
    from handpose_live.capture.record import write_db3
    from handpose_live.capture.synthetic import SyntheticCamera

    mkv = tmp_path / "demo.mkv"
    out = cli("record", "--camera", "synthetic", "--frames", FRAMES, "--seed", SEED, "--out", mkv).stdout
    assert f"wrote {mkv}: {FRAMES} depth frames 640x576 @ 30 fps" in out

    # the same frames: the synthetic camera through the calibration the recording carries
    raw = kinect.synthetic_raw_calibration(load_intrinsics("azure-kinect-nfov"), "NFOV_UNBINNED")
    intr = kinect.mode_intrinsics(raw, "NFOV_UNBINNED")
    cam = SyntheticCamera(intrinsics=intr, seed=SEED, frames=FRAMES)
    synthetic = list(cam.frames())
    truth = np.stack([f.ground_truth_mm for f in synthetic])
    with KinectPlayback(mkv) as src:
        assert src.intrinsics.fx == intr.fx and src.intrinsics.cy == intr.cy
        for mine, theirs in zip(src.frames(), synthetic):
            np.testing.assert_array_equal(mine.depth_mm, np.rint(theirs.depth_mm))
    db3 = tmp_path / "demo.db3"
    write_db3(db3, synthetic, intr, paced=False)

    results = {}
    for rec in (mkv, db3):
        jsonl = tmp_path / f"{rec.suffix[1:]}.jsonl"
        proc = cli("run", "--input", rec, "--output", jsonl, "--viewer", "none")
        assert f"source: playback:{rec.name}" in proc.stdout + proc.stderr
        results[rec.suffix] = _errors(jsonl, truth)
    err_mkv, rec_mkv = results[".mkv"]
    err_db3, rec_db3 = results[".db3"]
    print(f"mean joint error: .mkv {err_mkv.mean():.2f} mm, .db3 {err_db3.mean():.2f} mm over {len(err_mkv)} frames")
    assert err_mkv.mean() < 30.0
    assert abs(err_mkv.mean() - err_db3.mean()) < 0.05
    for a, b in zip(rec_mkv, rec_db3):
        assert len(a["hands"]) == len(b["hands"])
        for ha, hb in zip(a["hands"], b["hands"]):
            np.testing.assert_allclose(ha["joints_mm"], hb["joints_mm"], atol=0.05)


@pytest.mark.slow
def test_cli_bad_mkv_is_one_line_exit_2(sdk, tmp_path):
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(kinect.EBML_MAGIC + b"\x00" * 1000)
    proc = subprocess.run([sys.executable, "-m", "handpose_live", "run", "--input", str(bad), "--viewer", "none"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in proc.stderr
    assert "truncated or corrupt" in proc.stderr and proc.stdout == ""
