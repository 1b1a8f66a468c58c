"""Depth images as input (`run --input DIR_OR_GLOB_OR_FILE --intrinsics PRESET_OR_JSON`): each encoding
read back exactly, natural order, auto-detection, every error as one line through the real CLI,
and the shipped hand model on eight real RealSense SR305 frames."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose_live.calib import load_intrinsics
from handpose_live.capture.images import NYU_FAR_MM, ImageSequence, is_image_input, list_images, read_depth_image
from handpose_live.capture.sources import open_source
from handpose_live.errors import UserError
from handpose_live.resources import shipped_model
from handpose_live.types import Intrinsics

CLI_TIMEOUT_S = 180


def tiny(width=64, height=48, depth_scale_m=0.001, name="tiny") -> Intrinsics:
    return Intrinsics(fx=60.0, fy=60.0, cx=width / 2, cy=height / 2, width=width, height=height,
                      depth_scale_m=depth_scale_m, name=name)


def ramp(width=64, height=48, low=0, high=1500) -> np.ndarray:
    """Distinct integer depths, 0 (no measurement) included."""
    return np.linspace(low, high, width * height).round().astype(np.int64).reshape(height, width)


def write_nyu_png(path: Path, depth_mm: np.ndarray) -> None:
    bgr = np.zeros(depth_mm.shape + (3,), np.uint8)
    bgr[..., 0] = depth_mm & 0xFF          # blue: low byte
    bgr[..., 1] = depth_mm >> 8            # green: high byte; red unused
    assert cv2.imwrite(str(path), bgr)


# --- encodings -----------------------------------------------------------------------------------

def test_raw_16bit_png_in_eighths_of_a_millimetre(tmp_path):
    raw = ramp(high=12000).astype(np.uint16)                   # SR305-style units: 1/8 mm
    assert cv2.imwrite(str(tmp_path / "a.png"), raw)
    mm, used = read_depth_image(tmp_path / "a.png", tiny(depth_scale_m=0.000125), "auto")
    assert used == "raw" and mm.dtype == np.float32
    np.testing.assert_array_equal(mm, (raw / 8.0).astype(np.float32))
    assert mm[0, 0] == 0.0


def test_raw_npy_integer_and_float(tmp_path):
    raw = ramp().astype(np.uint16)
    np.save(tmp_path / "mm.npy", raw)
    mm, used = read_depth_image(tmp_path / "mm.npy", tiny(), "auto")
    assert used == "raw"
    np.testing.assert_array_equal(mm, raw.astype(np.float32))
    # float arrays follow the same rule: raw units x depth_scale_m (metres with a scale of 1.0, as ITOP)
    metres = raw.astype(np.float32) / 1000.0
    metres[0, 1], metres[0, 2], metres[0, 3] = np.nan, -0.5, np.inf
    np.save(tmp_path / "m.npy", metres)
    mm, used = read_depth_image(tmp_path / "m.npy", tiny(depth_scale_m=1.0), "raw")
    expected = (metres.astype(np.float64) * 1000.0).astype(np.float32)
    expected[0, 1:4] = 0.0
    assert used == "raw"
    np.testing.assert_allclose(mm, expected, atol=1e-3)
    assert (mm[0, 1:4] == 0).all()


def test_nyu_rgb_png_and_its_far_no_measurement_constant(tmp_path):
    depth = ramp(high=NYU_FAR_MM - 1)
    depth[0, 5], depth[0, 6], depth[0, 7] = NYU_FAR_MM, 2001, 0    # the far fill value and 0: no measurement
    write_nyu_png(tmp_path / "depth_1_0000001.png", depth)
    mm, used = read_depth_image(tmp_path / "depth_1_0000001.png", load_intrinsics("nyu").scaled(64, 48), "auto")
    assert used == "nyu-rgb"
    expected = depth.astype(np.float32)
    expected[0, 5:8] = 0.0
    np.testing.assert_array_equal(mm, expected)
    assert mm.max() == NYU_FAR_MM - 1
    # depth_scale_m does not apply: NYU stores millimetres
    mm2, _ = read_depth_image(tmp_path / "depth_1_0000001.png", tiny(depth_scale_m=0.000125), "nyu-rgb")
    np.testing.assert_array_equal(mm2, expected)


def test_auto_detection_and_named_encodings(tmp_path):
    grey8 = (ramp() % 256).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "grey8.png"), grey8)
    with pytest.raises(UserError, match="8-bit single-channel image, not depth"):
        read_depth_image(tmp_path / "grey8.png", tiny())
    mm, used = read_depth_image(tmp_path / "grey8.png", tiny(), "raw")      # named: taken as raw units
    assert used == "raw" and mm[0, 1] == grey8[0, 1]
    write_nyu_png(tmp_path / "nyu.png", ramp())
    with pytest.raises(UserError, match="3 channels; raw depth has one .*nyu-rgb"):
        read_depth_image(tmp_path / "nyu.png", tiny(), "raw")
    cv2.imwrite(str(tmp_path / "raw16.png"), ramp().astype(np.uint16))
    with pytest.raises(UserError, match="not an NYU RGB-packed depth image"):
        read_depth_image(tmp_path / "raw16.png", tiny(), "nyu-rgb")
    cv2.imwrite(str(tmp_path / "rgb16.png"), np.zeros((48, 64, 3), np.uint16) + 7)
    with pytest.raises(UserError, match="not a depth image"):
        read_depth_image(tmp_path / "rgb16.png", tiny())
    cv2.imwrite(str(tmp_path / "greyrgb.png"), np.repeat(grey8[..., None], 3, axis=2))
    with pytest.raises(UserError, match="grey picture stored as RGB"):
        read_depth_image(tmp_path / "greyrgb.png", tiny())


# --- order, clock, inputs ------------------------------------------------------------------------

def test_natural_order_and_the_clock(tmp_path):
    for n in (10, 2, 1, 33):
        cv2.imwrite(str(tmp_path / f"frame{n}.png"), np.full((48, 64), n, np.uint16))
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.name for p in list_images(tmp_path)] == ["frame1.png", "frame2.png", "frame10.png", "frame33.png"]
    assert [p.name for p in list_images(tmp_path / "frame*.png")] == ["frame1.png", "frame2.png", "frame10.png",
                                                                        "frame33.png"]
    with ImageSequence(tmp_path, tiny(), fps=20, loop=True) as source:
        frames = []
        for frame in source.frames():
            frames.append(frame)
            if len(frames) == 6:
                break
    assert [f.depth_mm[0, 0] for f in frames] == [1, 2, 10, 33, 1, 2]
    assert [f.index for f in frames] == list(range(6))
    assert [f.timestamp_ms for f in frames] == pytest.approx([0, 50, 100, 150, 200, 250])   # the loop keeps the clock


def test_which_inputs_are_images(tmp_path):
    (tmp_path / "x.bag").write_bytes(b"")
    assert is_image_input(tmp_path) and is_image_input(tmp_path / "a.PNG") and is_image_input(tmp_path / "d.npy")
    assert is_image_input(str(tmp_path / "*.png"))
    assert not is_image_input(tmp_path / "x.bag") and not is_image_input(tmp_path / "x.mkv")


def test_intrinsics_only_where_there_is_no_calibration(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.full((480, 640), 4000, np.uint16))
    source = open_source(input_path=tmp_path / "a.png", intrinsics="sr305")     # a preset name, loaded
    assert source.intrinsics.name == "sr305" and "1 frame, raw" in source.name
    assert next(iter(source.frames())).depth_mm[0, 0] == 500.0
    source.close()
    with pytest.raises(UserError, match="the recording .* carries its own calibration"):
        open_source(input_path=tmp_path / "x.bag", intrinsics="d435")
    with pytest.raises(UserError, match="the realsense camera reports its own calibration"):
        open_source("realsense", intrinsics="d435")
    with pytest.raises(UserError, match="--depth-encoding applies to depth images"):
        open_source("synthetic", depth_encoding="raw")
    synthetic = open_source("synthetic", intrinsics="kinect-v2", frames=1)       # renders with the preset
    assert (synthetic.intrinsics.width, synthetic.intrinsics.height) == (512, 424)
    synthetic.close()


def test_presets_for_the_common_sensors():
    for name in ("sr300", "sr305", "d415", "d435", "l515", "kinect-v1", "kinect-v2", "azure-kinect", "itop", "nyu"):
        assert load_intrinsics(name).name == name
        note = json.loads((Path(__file__).resolve().parents[1] / "calib" / f"{name}.json").read_text()).get("note", "")
        assert note, name
        if name not in ("itop", "nyu"):
            assert "calibration" in note and "better" in note, name
    sr305 = load_intrinsics("sr305")
    assert (sr305.fx, sr305.fy, sr305.cx, sr305.cy, sr305.width, sr305.height, sr305.depth_scale_m) == (
        476.007, 476.007, 313.683, 242.755, 640, 480, 0.000125)
    assert (load_intrinsics("kinect-v2").width, load_intrinsics("kinect-v2").height) == (512, 424)
    assert load_intrinsics("l515").depth_scale_m == 0.00025
    assert load_intrinsics("kinect-v1").fx == load_intrinsics("nyu").fx


# --- the CLI: one line and exit 2 ----------------------------------------------------------------

def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "handpose_live", *map(str, args)], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, cwd=cwd)


def only_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


def _error_cases(tmp: Path) -> dict[str, tuple[list, str]]:
    good = tmp / "good"
    good.mkdir()
    cv2.imwrite(str(good / "f1.png"), np.full((48, 64), 600, np.uint16))
    calib = tmp / "tiny.json"
    calib.write_text(json.dumps({"fx": 60, "fy": 60, "cx": 32, "cy": 24, "width": 64, "height": 48, "depth_scale_m": 0.001}))
    (tmp / "empty").mkdir()
    (tmp / "garbage.png").write_bytes(b"\x89PNG not really")
    (tmp / "bad.npy").write_bytes(b"no numpy header")
    cv2.imwrite(str(tmp / "grey8.png"), np.zeros((48, 64), np.uint8))
    later = tmp / "later"
    later.mkdir()
    for n in (1, 2, 3):
        cv2.imwrite(str(later / f"f{n}.png"), np.full((48, 64), 600, np.uint16))
    (later / "f4.png").write_bytes(b"truncated")
    run = ["run", "--viewer", "none", "--input"]
    return {
        "no intrinsics": (run + [good], "depth images need --intrinsics"),
        "unknown preset": (run + [good, "--intrinsics", "no-such-camera"], "unknown camera preset 'no-such-camera'"),
        "wrong size": (run + [good, "--intrinsics", "sr305"], "f1.png is 64x48 but the intrinsics sr305 are 640x480"),
        "empty folder": (run + [tmp / "empty", "--intrinsics", calib], "no depth images (.png, .npy) in folder"),
        "no glob match": (run + [tmp / "nothing*.png", "--intrinsics", calib], "no files match"),
        "missing file": (run + [tmp / "missing.png", "--intrinsics", calib], "depth image not found"),
        "unreadable png": (run + [tmp / "garbage.png", "--intrinsics", calib], "not a readable image"),
        "unreadable npy": (run + [tmp / "bad.npy", "--intrinsics", calib], "not a readable .npy array"),
        "not depth": (run + [tmp / "grey8.png", "--intrinsics", calib], "8-bit single-channel image, not depth"),
        "bad encoding": (run + [good, "--intrinsics", calib, "--depth-encoding", "bgr"], "--depth-encoding must be one of"),
        "bad image later": (run + [later, "--intrinsics", calib], "f4.png is not a readable image"),
        "intrinsics with a recording": (run + [tmp / "x.bag", "--intrinsics", "d435"], "carries its own calibration"),
        "bench without intrinsics": (["bench", "--input", good, "--frames", "1"], "depth images need --intrinsics"),
    }


CASES = ["no intrinsics", "unknown preset", "wrong size", "empty folder", "no glob match", "missing file",
         "unreadable png", "unreadable npy", "not depth", "bad encoding", "bad image later",
         "intrinsics with a recording", "bench without intrinsics"]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_cli_errors_are_one_line(tmp_path, case):
    args, expected = _error_cases(tmp_path)[case]
    proc = cli(*args)
    line = only_error_line(proc)
    assert expected in line, line
    if case != "bad image later":    # refused before the pipeline starts: nothing else on stderr
        assert proc.stderr.strip().splitlines() == [line], proc.stderr[-2000:]
    else:                            # three frames went through, then the summary, then the error
        assert "3 frames processed" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.slow
def test_bench_on_depth_images(tmp_path):
    for n in range(3):
        cv2.imwrite(str(tmp_path / f"d{n}.png"), np.full((480, 640), 5000 + n, np.uint16))
    proc = cli("bench", "--input", tmp_path, "--intrinsics", "sr305", "--frames", "10", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results[0]["frames"] == 3


# --- real frames ---------------------------------------------------------------------------------

def readme_hand_centres(readme: Path) -> dict[str, np.ndarray]:
    """`| 030 | -27, 96, 617 | ...` -> {"030": [-27, 96, 617]}."""
    rows = re.findall(r"^\|\s*(\d{3})\s*\|\s*(-?\d+),\s*(-?\d+),\s*(-?\d+)\s*\|", readme.read_text(), re.M)
    return {r[0]: np.array([float(v) for v in r[1:]]) for r in rows}


@pytest.mark.slow
def test_real_sr305_frames_end_to_end(shared_data, tmp_path):
    folder = shared_data / "real-depth"
    if not folder.is_dir():
        pytest.skip(f"no real depth frames at {folder}")
    centres = readme_hand_centres(folder / "README.md")
    names = [p.stem.split("-")[-1] for p in list_images(folder)]
    assert len(centres) == len(names) == 8 and set(names) == set(centres)
    out = tmp_path / "x.jsonl"
    proc = cli("run", "--input", folder, "--intrinsics", "sr305", "--viewer", "none", "--output", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "8 frames processed" in proc.stderr and "hand found in 8" in proc.stderr, proc.stderr[-3000:]
    assert "warning:" not in proc.stderr, proc.stderr[-3000:]          # their depth scale is right: no false alarm
    records = [r for r in map(json.loads, out.read_text().splitlines()) if "frame" in r]   # a header line has no "frame"
    assert len(records) == 8
    for name, record in zip(names, records):
        hands = record["hands"]
        assert len(hands) == 1, (name, hands)              # the person and the other arm behind are no hands
        distance = float(np.linalg.norm(np.asarray(hands[0]["centre_mm"]) - centres[name]))
        assert distance <= 40.0, (name, distance)          # the README's centre is +-30 mm
        assert hands[0]["handedness"] == "right", (name, hands[0])


@pytest.mark.slow
def test_a_wrong_depth_scale_is_said_once_with_the_fix(tmp_path, capsys):
    """Millimetre PNGs read as SR305 units (1/8 mm) put the scene a few centimetres away: nothing is found,
    so the first frames' implausible depth is said once, as `warning: ...`, with the scale that fits."""
    from handpose_live import Tracker
    from handpose_live.capture.synthetic import SyntheticCamera

    intr = load_intrinsics("sr305")
    for i, frame in enumerate(SyntheticCamera(seed=4, frames=3, intrinsics=intr).frames()):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.clip(frame.depth_mm, 0, 65535).astype(np.uint16))
    with Tracker(input=tmp_path, intrinsics="sr305", frames=3) as tracker:
        assert not any(result.hands for result in tracker)
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and err.startswith("warning: the depth looks implausible for sr305"), err
    assert "with depth_scale_m 0.001 (millimetres)" in err and "--intrinsics" in err
    mm = json.dumps({**{k: getattr(intr, k) for k in ("fx", "fy", "cx", "cy", "width", "height")}, "depth_scale_m": 0.001})
    (tmp_path / "mm.json").write_text(mm)
    with Tracker(input=tmp_path, intrinsics=str(tmp_path / "mm.json"), frames=3) as tracker:
        assert all(result.hands for result in tracker)
    assert "warning" not in capsys.readouterr().err
    frame = next(iter(SyntheticCamera(seed=4, frames=1, intrinsics=intr).frames()))
    own = Tracker.from_model(tracker.model_path)
    own.process(frame.depth_mm * 0.125, intr)                  # your own frames, scaled wrongly: the same warning
    own.process(frame.depth_mm * 0.125, intr)
    assert capsys.readouterr().err.count("warning: the depth looks implausible") == 1


def test_frames_without_depth_are_said_once(capsys):
    """Blank first frames (every pixel 0, or a handful measured) find nothing: after the third such frame one
    `warning: ...` line says the frames hold almost no depth; frames with depth from the start never hear it."""
    from handpose_live import Tracker
    from handpose_live.capture.synthetic import SyntheticCamera

    intr = load_intrinsics("d435")
    tracker = Tracker.from_model(shipped_model("hand", device="cpu"))
    blank = np.zeros((intr.height, intr.width), np.float32)
    blank[:5, :5] = 600.0                                          # 25 measured pixels: still no depth to speak of
    for _ in range(2):
        tracker.process(blank, intr)
    assert capsys.readouterr().err == ""
    for _ in range(3):
        assert not tracker.process(blank, intr).hands
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "the first 3 frames hold almost no depth" in err and "d435" in err, err
    other = Tracker.from_model(shipped_model("hand", device="cpu"))
    frames = list(SyntheticCamera(seed=4, frames=2, intrinsics=intr).frames())
    for depth in (frames[0].depth_mm, blank, blank, blank, frames[1].depth_mm):   # depth first: blank frames later are a scene
        other.process(depth, intr)
    assert "warning" not in capsys.readouterr().err
