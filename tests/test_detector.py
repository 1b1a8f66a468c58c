"""The learned hand detector: the shipped file finds palms on whole synthetic frames and nothing on a
bare wall, refuses foreign files in one line, and `train-detector` renders, trains, resumes and
exports a file the runtime loads."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handpose_live.capture.synthetic import SyntheticCamera
from handpose_live.errors import UserError
from handpose_live.geometry import camera_to_pixel
from handpose_live.inference.detector import Detector
from handpose_live.resources import default_detector, default_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def detector() -> Detector:
    path = default_detector()
    assert path is not None, "the hand detector ships in models/"
    return Detector(path)


def test_shipped_detector_finds_both_hands_and_not_a_wall(detector):
    hits = total = 0
    for frame in SyntheticCamera(seed=11, frames=6, hands=2).frames():
        props = detector.propose(frame.depth_mm, 4)
        for centre in frame.ground_truth_centre_mm:
            u, v, _ = camera_to_pixel(centre, frame.intrinsics)
            total += 1
            hits += any(np.hypot(pu - u, pv - v) < 40 for pu, pv, _ in props)
    assert hits >= 0.8 * total
    intr = frame.intrinsics
    _, u = np.mgrid[0:intr.height, 0:intr.width]
    wall = (1000.0 + 0.2 * (u - intr.cx)).astype(np.float32)
    assert detector.propose(wall, 4) == []
    assert detector.heatmap(wall).shape == (30, 40)
    odd = detector.heatmap(np.zeros((424, 512), np.float32))       # any size: cropped to whole cells
    assert odd.shape == (26, 32)


def test_stride_follows_a_short_focal_length_and_finds_hands_in_a_binned_mode(detector):
    """A camera of short focal length (Azure Kinect NFOV binned, 320x288, fx 252) is strided less,
    so its hands are as many detector pixels wide as in training; long focal lengths keep the file's."""
    from handpose_live.calib import load_intrinsics

    assert [detector.stride_for(fx) for fx in (None, 383.0, 659.4, 1000.0, 252.1, 150.0, 60.0)] == [4, 4, 4, 4, 2, 1, 1]
    intr = load_intrinsics("azure-kinect").scaled(320, 288)
    hits = {True: 0, False: 0}
    total = 0
    for frame in SyntheticCamera(intrinsics=intr, seed=11, frames=6, hands=2).frames():
        for centre in frame.ground_truth_centre_mm:
            u, v, _ = camera_to_pixel(centre, frame.intrinsics)
            total += 1
            for aware in hits:
                props = detector.propose(frame.depth_mm, 4, fx=intr.fx if aware else None)
                hits[aware] += any(np.hypot(pu - u, pv - v) < 20 for pu, pv, _ in props)
    assert hits[True] >= 0.8 * total and hits[True] > hits[False], (hits, total)


def test_a_pose_model_is_not_a_detector():
    with pytest.raises(UserError, match="not a handpose-live detector"):
        Detector(default_model("hand"))
    with pytest.raises(UserError, match="detector not found"):
        Detector(Path("no/such/detector.onnx"))


@pytest.mark.slow
def test_train_detector_renders_trains_resumes_and_exports(tmp_path):
    common = [sys.executable, "-m", "handpose_live", "train-detector", "--data", tmp_path / "data", "--frames", "100",
              "--batch", "64", "--out", tmp_path / "det.onnx", "--checkpoint", tmp_path / "ck.pt", "--threads", "2"]
    first = subprocess.run([*map(str, common), "--epochs", "1"], capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "epoch 1/1" in first.stdout + first.stderr and (tmp_path / "det.onnx").is_file()
    again = subprocess.run([*map(str, common), "--epochs", "1", "--resume"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    out = again.stdout + again.stderr
    assert "resumed" in out and "after epoch 1" in out and "epoch 1/1:" not in out     # nothing left to train
    other = subprocess.run([*map(str, common), "--epochs", "3", "--resume"], capture_output=True, text=True, timeout=600)
    assert other.returncode == 2 and other.stderr.strip().startswith("error:") and "--epochs" in other.stderr
    det = Detector(tmp_path / "det.onnx")
    assert det.meta["training_data"]["frames"] == 100 and det.input_stride == 4
    bad = subprocess.run([*map(str, common[:4]), "--frames", "0"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: --frames must be at least 1")


def test_scene_sensor_models_are_recorded_and_not_mixed(tmp_path):
    import json

    from handpose_live.synth.sensor import SENSORS
    from handpose_live.training.detector import CAMERAS, SHARD, render_shards, scene_sensor, scene_settings
    stereo, per = scene_settings("stereo"), scene_settings("per-camera")
    assert stereo == {"generator": "scenes-1", "cameras": list(CAMERAS)}          # the shipped file's scenes, unchanged
    assert per["generator"] == "scenes-2" and dict(zip(CAMERAS, per["sensors"]))["sr305"] == "sr300"
    assert scene_sensor(stereo, "sr305") is SENSORS["d4xx"] and scene_sensor(per, "sr305") is SENSORS["sr300"]
    assert scene_sensor(per, "nyu") is SENSORS["kinect-v1"]
    (tmp_path / "index.json").write_text(json.dumps({"generator": "scenes-1", "seed": 0, "shard": SHARD,
                                                     "cameras": list(CAMERAS), "size": [160, 120]}))
    with pytest.raises(UserError, match="other settings"):
        render_shards(tmp_path, 1, 0, "per-camera")
    with pytest.raises(UserError, match="--sensors"):
        scene_settings("tof")


def test_scene_shards_render_only_the_scenes_asked_for_and_grow(tmp_path):
    """`train-detector --frames N` renders N scenes, not a whole shard of SHARD; a shard of fewer scenes is the
    start of a longer one (each shard draws its scenes in order from its own generator), so asking for more
    renders that shard again, longer, with the same first scenes, and asking for fewer renders nothing"""
    from handpose_live.training.detector import SHARD, _scenes_in, load_scenes, render_shards

    said: list[str] = []
    shard = render_shards(tmp_path, 12, 0, log=said.append)[0]
    assert _scenes_in(shard) == 12 < SHARD and len(said) == 1 and said[0].startswith("rendered 12/12 scenes")
    first, hands = load_scenes([shard], 12)
    render_shards(tmp_path, 8, 0, log=said.append)
    assert len(said) == 1 and _scenes_in(shard) == 12          # nothing rendered
    render_shards(tmp_path, 20, 0, log=said.append)
    assert len(said) == 2 and _scenes_in(shard) == 20
    longer, more = load_scenes([shard], 20)
    np.testing.assert_array_equal(longer[:12], first)
    assert all(np.array_equal(a, b) for a, b in zip(more[:12], hands))
    shard.write_bytes(b"not a zip")
    assert _scenes_in(shard) == 0
