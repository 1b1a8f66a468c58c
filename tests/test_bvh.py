"""`run --output take.bvh` (handpose_live/sinks/bvh.py): the take's forward kinematics are the records' joints,
one file per subject id, a take being recorded survives a kill, and real Blender imports it (headless)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from handpose_live.errors import UserError
from handpose_live.inference.kinematics import SkeletonTrack, skeleton_model
from handpose_live.records import read_jsonl, stream_header
from handpose_live.sinks.bvh import BvhWriter, depth_first, forward_kinematics
from handpose_live.skeletons import HAND21
from handpose_live.types import DepthFrame, Intrinsics, Joints, PoseResult, Subject

REPO = Path(__file__).resolve().parents[1]
INTR = Intrinsics(fx=385.0, fy=385.0, cx=319.5, cy=239.5, width=640, height=480)
FRAME = DepthFrame(np.zeros((4, 4), np.float32), INTR)
HEADER = stream_header("hand", "hand21", "v2v-lite-hand.onnx", INTR)


def read_bvh(path: Path) -> tuple[list[str], list[int], int, float, np.ndarray]:
    """(joint names in file order, each one's parent as an index into that order, Frames, Frame Time, motion)."""
    lines = path.read_text().splitlines()
    k = lines.index("MOTION")
    names, parents, stack, pending = [], [], [], None
    for line in lines[:k]:
        word = line.split()
        if word[0] in ("ROOT", "JOINT"):
            parents.append(next((j for j in reversed(stack) if j is not None), -1))
            names.append(word[1])
            pending = len(names) - 1
        elif word[0] == "End":
            pending = None
        elif word[0] == "{":
            stack.append(pending)
        elif word[0] == "}":
            stack.pop()
    count, frame_time = int(lines[k + 1].split()[1]), float(lines[k + 2].split()[2])
    motion = np.array([[float(v) for v in line.split()] for line in lines[k + 3:k + 3 + count]])
    return names, parents, count, frame_time, motion


def file_positions(path: Path) -> tuple[list[str], np.ndarray]:
    """Every frame's joint positions in camera mm from the file's own channels (numpy forward kinematics)."""
    names, _, _, _, motion = read_bvh(path)
    order = [HAND21.joints.index(n) for n in names]
    parents = [order.index(HAND21.parents()[j]) if HAND21.parents()[j] >= 0 else -1 for j in order]
    out = []
    for row in motion:
        v = row.reshape(-1, 6)
        out.append(forward_kinematics(v[:, :3], v[:, 3:], parents) * [1, -1, -1])
    return names, np.array(out)


def subjects(rng, ids, track_of, t_ms):
    out = []
    for sid in ids:
        joints = np.array(HAND21_REST) + rng.normal(0, 3, (21, 3)) + [0, 0, 500]
        motion = track_of[sid].update(joints, np.full(21, 0.8), t_ms)
        out.append(Subject(sid, joints.mean(0), Joints(motion.joints_mm, HAND21.joints), np.full(21, 0.8), 0.8,
                           orientations=motion.orientations, local_orientations=motion.local_orientations))
    return out


HAND21_REST = [[0, 0, 0], [25, 15, 5], [45, 35, 10], [60, 55, 12], [70, 75, 14]] + [
    [x, 90, 0] for x in (24.0,)] + [[24, 130, 0], [24, 153, 0], [24, 172, 0]] + [
    [5, 95, 0], [5, 140, 0], [5, 167, 0], [5, 187, 0], [-13, 88, 0], [-13, 130, 0], [-13, 156, 0], [-13, 176, 0],
    [-29, 78, 0], [-29, 110, 0], [-29, 128, 0], [-29, 145, 0]]


def test_one_file_per_subject_its_frames_and_kinematics(tmp_path):
    rng = np.random.default_rng(0)
    model = skeleton_model(HAND21)
    tracks = {3: SkeletonTrack(model), 5: SkeletonTrack(model)}
    writer = BvhWriter(tmp_path / "take.bvh", fps=30)
    writer.begin(HEADER)
    written = {3: [], 5: []}
    for k in range(12):
        ids = [3, 5] if 4 <= k < 10 else [3]
        result = PoseResult(k, k * 1000 / 30, subjects(rng, ids, tracks, k * 1000 / 30))
        writer.write(FRAME, result)
        for s in result.subjects:
            written[s.id].append(np.asarray(s.joints_mm))
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.bvh", "take.id5.bvh"]
    for sid, name in ((3, "take.bvh"), (5, "take.id5.bvh")):
        names, parents, count, frame_time, motion = read_bvh(tmp_path / name)
        order = depth_first(list(HAND21.parents()), 0)
        assert names == [HAND21.joints[j] for j in order]
        assert parents == [order.index(HAND21.parents()[j]) if j else -1 for j in order]
        assert count == len(written[sid]) == len(motion) and frame_time == pytest.approx(1 / 30, rel=1e-6)
        _, positions = file_positions(tmp_path / name)
        order = [HAND21.joints.index(n) for n in names]
        assert np.abs(positions - np.array(written[sid])[:, order]).max() < 1e-3


def test_dropped_frames_repeat_the_pose_so_the_take_keeps_time(tmp_path):
    rng = np.random.default_rng(1)
    tracks = {0: SkeletonTrack(skeleton_model(HAND21))}
    with BvhWriter(tmp_path / "t.bvh", fps=30) as writer:
        writer.begin(HEADER)
        for k in (0, 1, 2, 3, 4, 7, 8):          # frames 5 and 6 dropped
            writer.write(FRAME, PoseResult(k, k * 1000 / 30, subjects(rng, [0], tracks, k * 1000 / 30)))
    _, _, count, _, motion = read_bvh(tmp_path / "t.bvh")
    assert count == 9 and np.array_equal(motion[4], motion[5]) and np.array_equal(motion[5], motion[6])


def test_a_take_cut_by_a_kill_is_a_valid_file(tmp_path):
    """Frames are written as they come and the count after each: a file copied mid-take (what a SIGKILL
    leaves) has a count that matches its whole lines."""
    rng = np.random.default_rng(2)
    tracks = {0: SkeletonTrack(skeleton_model(HAND21))}
    writer = BvhWriter(tmp_path / "live.bvh", fps=30)
    writer.begin(HEADER)
    for k in range(7):
        writer.write(FRAME, PoseResult(k, k * 1000 / 30, subjects(rng, [0], tracks, k * 1000 / 30)))
    shutil.copy(tmp_path / "live.bvh", tmp_path / "killed.bvh")
    writer.close()
    names, _, count, _, motion = read_bvh(tmp_path / "killed.bvh")
    assert count == 7 == len(motion) and len(names) == 21


def test_a_skeleton_without_a_tree_is_one_line(tmp_path):
    writer = BvhWriter(tmp_path / "x.bvh")
    with pytest.raises(UserError, match="kinematic tree"):
        writer.begin(stream_header("hand", "nyu14"))
    writer.close()
    with pytest.raises(UserError, match=r"\.bvh"):
        BvhWriter(tmp_path / "x.txt")


@pytest.mark.slow
def test_run_records_a_take_that_survives_sigkill(tmp_path):
    take = tmp_path / "take.bvh"
    proc = subprocess.Popen([sys.executable, "-m", "handpose_live", "run", "--camera", "synthetic", "--no-realtime",
                             "--viewer", "none", "--quiet", "--output", str(take)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and (not take.exists() or take.read_text().count("\n") < 160):
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    names, _, count, _, motion = read_bvh(take)
    assert len(names) == 21 and count >= 20 and len(motion) == count


def _blender() -> str:
    path = shutil.which("blender")
    if path is None:
        pytest.skip("Blender is not installed (apt-get install blender; .ci/setup.sh installs it)")
    return path


@pytest.mark.slow
def test_blender_imports_the_take_with_its_bones_frames_and_joints(tmp_path):
    """`run --output take.jsonl --output take.bvh`, then real Blender, headless: the armature has the
    skeleton's joints as bones (the tree of the header), the take's frame count and rate, and its bones'
    heads (Blender's own forward kinematics) are the joints of the JSONL of the same run within 1 mm."""
    blender = _blender()
    jsonl, take = tmp_path / "take.jsonl", tmp_path / "take.bvh"
    made = subprocess.run([sys.executable, "-m", "handpose_live", "run", "--camera", "synthetic", "--frames", "24",
                           "--no-realtime", "--viewer", "none", "--quiet", "--output", str(jsonl), "--output", str(take)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)    # both files from one run, as a user
    assert made.returncode == 0, made.stderr[-2000:]
    header, records = read_jsonl(jsonl)
    first = records[0]["hands"][0]["id"]
    frames = [next(h for h in r["hands"] if h["id"] == first) for r in records if any(h["id"] == first for h in r["hands"])]
    out = tmp_path / "blender.json"
    proc = subprocess.run([blender, "-b", "--factory-startup", "--python", str(REPO / "benchmarks" / "blender_take.py"),
                           "--", "dump", str(take), str(out)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0 and out.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    got = json.loads(out.read_text())
    names = header["joint_names"]
    assert sorted(got["bones"]) == sorted(names)
    parents = header["parents"]
    assert got["parents"] == {n: (names[parents[j]] if parents[j] >= 0 else None) for j, n in enumerate(names)}
    assert got["frame_end"] - got["frame_start"] + 1 == len(frames) == len(got["frames"])
    assert got["fps"] == pytest.approx(30.0)
    worst = 0.0
    for record, bones in zip(frames, got["frames"]):
        heads = np.array([bones[n][0] for n in names]) * 1000.0          # Blender: metres, (x, -z, y) of the file
        camera = np.stack([heads[:, 0], -heads[:, 2], heads[:, 1]], axis=1)
        worst = max(worst, float(np.abs(camera - np.array(record["joints_mm"])).max()))
    assert worst < 1.0, f"Blender's joints differ from the JSONL by {worst:.3f} mm"
