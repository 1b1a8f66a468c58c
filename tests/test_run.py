"""The live app end to end: real recordings made by pyrealsense2's software device, replayed
through `handpose-live run` with the shipped model, checked record by record."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handpose_live.capture.record import write_bag, write_db3
from handpose_live.capture.synthetic import SyntheticCamera
from handpose_live.resources import default_model
from handpose_live.types import DepthFrame

pytestmark = pytest.mark.slow      # the real `run` command in its own process

FRAMES = 24
SEED = 3


def cli(*args, check_rc=0):
    proc = subprocess.run([sys.executable, "-m", "handpose_live", *map(str, args)], capture_output=True, text=True,
                          timeout=300)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def synthetic_frames():
    cam = SyntheticCamera(seed=SEED, frames=FRAMES)
    return list(cam.frames()), cam.intrinsics


@pytest.fixture(scope="module")
def recording(tmp_path_factory, synthetic_frames):
    frames, intr = synthetic_frames
    path = tmp_path_factory.mktemp("rec") / "hand.db3"
    assert write_db3(path, frames, intr) == FRAMES
    return path


def _records(path: Path) -> list[dict]:
    """The frame records of a JSONL file (its first line is the stream header)."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert "joint_names" in lines[0] and "frame" not in lines[0]
    return lines[1:]


def test_replay_db3_through_the_whole_pipeline(tmp_path, recording, synthetic_frames):
    out = tmp_path / "joints.jsonl"
    proc = cli("run", "--input", recording, "--output", out, "--viewer", "none")
    assert "frames processed" in proc.stderr
    records = _records(out)
    assert [r["frame"] for r in records] == list(range(FRAMES))        # every frame, in order
    truth = np.stack([f.ground_truth_mm for f in synthetic_frames[0]])
    found = [r for r in records if r["hands"]]
    assert len(found) >= 0.9 * FRAMES
    errors = []
    for r in found:
        hand = r["hands"][0]
        joints = np.array(hand["joints_mm"])
        assert joints.shape == (21, 3) and len(hand["confidence"]) == 21 and len(hand["centre_mm"]) == 3
        assert set(r["latency_ms"]) >= {"centre", "voxelize", "inference", "decode"}
        assert 250 < joints[:, 2].mean() < 900                              # millimetres, in front of the camera
        errors.append(np.linalg.norm(joints - truth[r["frame"]], axis=1).mean())
    # the shipped model's card states ~its accuracy; this floor catches a broken pipeline or export
    assert np.mean(errors) < 30.0, f"mean error {np.mean(errors):.1f} mm"


def test_replay_bag_and_csv(tmp_path, synthetic_frames):
    frames, intr = synthetic_frames
    bag = tmp_path / "hand.bag"
    write_bag(bag, frames[:8], intr)
    out = tmp_path / "joints.csv"
    cli("run", "--input", bag, "--output", out, "--viewer", "none", "--quiet")
    lines = out.read_text().splitlines()
    assert len(lines) == 1 + 8 and lines[0].startswith("frame,timestamp_ms,subjects,id,handedness")


def test_all_zero_depth_reports_no_hand(tmp_path, synthetic_frames):
    _, intr = synthetic_frames
    zeros = [DepthFrame(np.zeros((intr.height, intr.width), np.float32), intr, i * 33.3, i) for i in range(5)]
    rec = tmp_path / "empty.db3"
    write_db3(rec, zeros, intr)
    out = tmp_path / "o.jsonl"
    cli("run", "--input", rec, "--output", out, "--viewer", "none", "--quiet")
    records = _records(out)
    assert len(records) == 5 and all(r["hands"] == [] for r in records)


def _exactly(img, bgr) -> int:
    return int((img == np.asarray(bgr, np.uint8)).all(axis=2).sum())


@pytest.mark.slow
def test_headless_screenshots_show_the_skeleton(tmp_path, recording):
    import cv2

    from handpose_live.sinks.overlay import frame_panels, subject_bgr
    from handpose_live.skeletons import HAND21
    from handpose_live.types import PoseResult

    for viewer in ("open3d", "opencv"):
        shot = tmp_path / f"{viewer}.png"
        cli("run", "--input", recording, "--frames", 6, "--viewer", viewer, "--screenshot", shot, "--quiet")
        img = cv2.imread(str(shot))
        assert img is not None and img.shape[0] > 100
        # the index finger's colour (orange): the skeleton draws it, and the legend below it
        above_legend = img[:-int(0.1 * img.shape[0])]
        b, g, r = (above_legend[..., k].astype(int) for k in range(3))
        assert ((r > 200) & (g > 120) & (g < 200) & (b < 60)).sum() > 20, viewer
        assert _exactly(above_legend, subject_bgr(0)) > 100, viewer       # hand #0's box and label
        legend = frame_panels(PoseResult(0, 0.0), HAND21, img.shape[1], img.shape[0], crisp=viewer == "open3d")[1]
        assert np.array_equal(img[legend.y:legend.y + legend.height, legend.x:legend.x + legend.width], legend.image)


@pytest.mark.slow
def test_screenshots_of_two_hands_label_each(tmp_path):
    """The synthetic camera's two hands (#0 right, #1 left): each viewer's screenshot shows both,
    each with its box and label in its own colour (the second hand is found within the first frames)."""
    import cv2

    from handpose_live.sinks.overlay import subject_bgr

    for viewer in ("opencv", "open3d"):
        shot = tmp_path / f"{viewer}.png"
        cli("run", "--camera", "synthetic", "--synthetic-hands", 2, "--frames", 24, "--viewer", viewer,
            "--screenshot", shot, "--quiet")
        img = cv2.imread(str(shot))
        for subject_id in (0, 1):
            assert _exactly(img, subject_bgr(subject_id)) > 100, (viewer, subject_id)


@pytest.mark.parametrize("args,message", [
    (["--input", "missing.db3"], "not found"),
    (["--input", "junk.db3"], "not a readable RealSense recording"),
    (["--input", "REC", "--model", "HAND", "--target", "body"], "is a hand model but --target is body"),
    (["--input", "REC", "--output", "/nonexistent-dir/o.jsonl"], ""),
    (["--input", "REC", "--model", "foreign.onnx"], "not a handpose-live model"),
    (["--input", "REC", "--viewer", "vr"], "unknown viewer"),
    # the viewer opens on its own thread; its failure to open is still one line before any frame
    (["--input", "REC", "--viewer", "open3d", "--screenshot", "/nonexistent-dir/shot.png"], "nonexistent-dir"),
])
def test_bad_input_is_one_line(tmp_path, recording, args, message):
    (tmp_path / "junk.db3").write_bytes(b"\x00" * 5000)
    from onnx import TensorProto, helper, save

    g = helper.make_graph([helper.make_node("Identity", ["voxels"], ["joints_vox"])], "g",
                          [helper.make_tensor_value_info("voxels", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("joints_vox", TensorProto.FLOAT, [1])])
    save(helper.make_model(g, ir_version=8, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "foreign.onnx")
    named = {"HAND": str(default_model("hand")), "REC": str(recording),
             **{f: str(tmp_path / f) for f in ("missing.db3", "junk.db3", "foreign.onnx")}}
    args = [named.get(a, a) for a in args]
    proc = cli("run", *args, "--quiet", check_rc=2)
    err = proc.stderr.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_shipped_model_is_self_describing():
    from handpose_live.inference.runtime import read_model_info

    info = read_model_info(default_model("hand"))
    assert info.arch == "v2v-lite" and info.skeleton == "hand21" and info.target == "hand"
    assert "synthetic" in info.training_data
