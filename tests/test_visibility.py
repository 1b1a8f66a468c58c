"""Per-joint visibility (handpose_live/inference/visibility.py) against an independent reference on constructed
depth images, and what the outputs carry: the record's `visible` and capped confidence (validated by the JSON
Schema), the CSV's <joint>_visible columns after the old ones, OSC's /<s>/<id>/visible, and the pipeline."""
from __future__ import annotations

import csv
import json

import jsonschema
import numpy as np
import pytest
from pythonosc.osc_message import OscMessage

from handpose_live.inference.visibility import (
    MIN_CONFIDENCE,
    TOLERANCE_FRACTION,
    WINDOW_PX,
    joint_visibility,
    mark_visible,
    window_depth_mm,
)
from handpose_live.records import SCHEMA_FILE, stream_header
from handpose_live.sinks.files import CsvWriter, csv_columns
from handpose_live.sinks.osc import OscSender
from handpose_live.skeletons import HAND21
from handpose_live.types import HIDDEN_CONFIDENCE, DepthFrame, Intrinsics, Joints, PoseResult, Subject

INTR = Intrinsics(fx=400.0, fy=400.0, cx=320.0, cy=240.0, width=640, height=480)
TOL = 25.0


def reference(joints, conf, depth, intr, tolerance_mm, floor=MIN_CONFIDENCE, window=WINDOW_PX):
    """One joint at a time, written out plainly: the pixel, the window's valid depths, their median."""
    out = []
    r = window // 2
    for k, (x, y, z) in enumerate(np.asarray(joints, float)):
        if not (np.isfinite([x, y, z]).all() and z > 0):
            out.append(False)
            continue
        u, v = int(np.rint(intr.fx * x / z + intr.cx)), int(np.rint(intr.fy * y / z + intr.cy))
        if not (0 <= u < depth.shape[1] and 0 <= v < depth.shape[0]):
            out.append(False)
            continue
        patch = depth[max(v - r, 0):v + r + 1, max(u - r, 0):u + r + 1]
        valid = patch[(patch > 0) & np.isfinite(patch)]
        hidden = valid.size > 0 and float(np.median(valid)) < z - tolerance_mm
        out.append(not hidden and (conf is None or conf[k] >= floor))
    return np.array(out)


def at_pixel(u: float, v: float, z: float) -> list[float]:
    return [(u - INTR.cx) * z / INTR.fx, (v - INTR.cy) * z / INTR.fy, z]


def scene() -> np.ndarray:
    """A wall at 1000 mm, a box at 600 mm over pixels 100..199 x 100..199, a hole (no depth) at 400..449 x 300..349."""
    depth = np.full((480, 640), 1000.0, np.float32)
    depth[100:200, 100:200] = 600.0
    depth[300:350, 400:450] = 0.0
    return depth


def test_outside_behind_a_box_visible_hole_and_unsure_joints():
    depth = scene()
    joints = np.array([
        at_pixel(320, 240, 1010),      # on the wall: seen (its surface 10 mm nearer, within the tolerance)
        at_pixel(150, 150, 1000),      # behind the box: hidden
        at_pixel(-30, 240, 1000),      # left of the image: hidden
        at_pixel(320, 500, 1000),      # below it: hidden
        at_pixel(150, 150, 610),       # on the box itself: seen
        at_pixel(425, 325, 1200),      # in a hole: nothing says it is hidden
        at_pixel(500, 100, 1000),      # seen, but the network is unsure
        [0.0, 0.0, -50.0],             # behind the camera
        [np.nan, 0.0, 800.0],          # no joint
        at_pixel(320, 240, 1030),      # 30 mm behind the wall's surface: hidden by it (beyond the tolerance)
    ])
    conf = np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.02, 0.9, 0.9, 0.9])
    got = joint_visibility(joints, conf, depth, INTR, TOL)
    assert got.tolist() == [True, False, False, False, True, True, False, False, False, False]
    assert np.array_equal(got, reference(joints, conf, depth, INTR, TOL))
    assert joint_visibility(joints, None, depth, INTR, TOL)[6]          # without peaks: the depth alone


def test_the_rule_matches_the_reference_on_random_scenes():
    rng = np.random.default_rng(3)
    for _ in range(20):
        depth = rng.uniform(300, 1500, (480, 640)).astype(np.float32)
        depth[rng.random((480, 640)) < 0.3] = 0.0                    # holes
        u, v = rng.uniform(-40, 680, 50), rng.uniform(-40, 520, 50)
        z = rng.uniform(200, 1600, 50)
        joints = np.stack([(u - INTR.cx) * z / INTR.fx, (v - INTR.cy) * z / INTR.fy, z], axis=1)
        conf = rng.uniform(0, 1, 50)
        tol = float(rng.uniform(5, 200))
        assert np.array_equal(joint_visibility(joints, conf, depth, INTR, tol), reference(joints, conf, depth, INTR, tol))


def test_window_median_ignores_holes_and_the_image_edge():
    depth = scene()
    got = window_depth_mm(depth, np.array([0, 639, 100, 101, 425, 400]), np.array([0, 479, 100, 101, 325, 300]))
    assert got[0] == 1000.0 and got[1] == 1000.0                # the corners: the window's part in the image
    assert got[2] == 1000.0 and got[3] == 600.0                  # the box's corner: 9 of 25 pixels; one in: 16 of 25
    assert np.isnan(got[4])                                      # all holes
    assert got[5] == 1000.0                                      # a hole's corner: the wall's pixels only


def test_mark_visible_uses_the_cube_and_the_subject_fields():
    depth = scene()
    joints = np.array([at_pixel(320, 240, 1010), at_pixel(150, 150, 1000)])
    s = Subject(0, joints.mean(0), joints, np.array([0.8, 0.8]), 0.8)
    mark_visible(s, DepthFrame(depth, INTR), cube_mm=250.0)
    assert s.visible.tolist() == [True, False]
    s.joints_mm = np.array([at_pixel(320, 240, 1000 + 0.9 * TOLERANCE_FRACTION * 2000), at_pixel(150, 150, 1000)])
    mark_visible(s, DepthFrame(depth, INTR), cube_mm=2000.0)       # a body's cube: a wider tolerance
    assert s.visible.tolist() == [True, False]


# ---- what the outputs carry ------------------------------------------------------------------------

def hand_subject(visible=None) -> Subject:
    names = HAND21.joints
    joints = np.array([[10.0 * j, 5.0 * j, 500.0] for j in range(21)])
    conf = np.linspace(0.05, 0.95, 21)
    return Subject(2, joints.mean(0), Joints(joints, names), Joints(conf, names), float(conf.mean()),
                   joints_px=np.zeros((21, 2)), visible=visible)


def hidden_some() -> np.ndarray:
    visible = np.ones(21, bool)
    visible[[1, 4, 20]] = False
    return visible


def test_record_has_visible_and_caps_a_hidden_joints_confidence_and_validates():
    schema = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    header = stream_header("hand", "hand21", "m.onnx", INTR)
    schema.validate(header)
    assert "visible" in header["units"]
    subject = hand_subject(hidden_some())
    record = json.loads(json.dumps(PoseResult(4, 0.0, [subject]).to_record()))
    schema.validate(record)
    hand = record["hands"][0]
    assert hand["visible"] == hidden_some().tolist()
    conf = np.asarray(subject.confidence)
    for j in range(21):
        expected = conf[j] if hidden_some()[j] else min(conf[j], HIDDEN_CONFIDENCE)
        assert hand["confidence"][j] == pytest.approx(expected, abs=1e-4)
    assert hand["confidence"][20] == HIDDEN_CONFIDENCE and hand["confidence"][1] < HIDDEN_CONFIDENCE
    assert np.array_equal(subject.confidence, conf)                       # the API keeps the heatmap peaks
    older = json.loads(json.dumps(PoseResult(4, 0.0, [hand_subject()]).to_record()))
    assert "visible" not in older["hands"][0]
    schema.validate(older)                                                # optional
    bad = json.loads(json.dumps(record))
    bad["hands"][0]["visible"][0] = 1
    with pytest.raises(jsonschema.ValidationError):
        schema.validate(bad)


def test_csv_adds_visible_columns_after_the_old_ones(tmp_path):
    header = stream_header("hand", "hand21", "m.onnx", INTR)
    path = tmp_path / "poses.csv"
    with CsvWriter(path, 21) as writer:
        writer.begin(header)
        writer.write(DepthFrame(np.zeros((4, 4), np.float32), INTR), PoseResult(1, 0.0, [hand_subject(hidden_some())]))
        writer.write(DepthFrame(np.zeros((4, 4), np.float32), INTR), PoseResult(2, 33.0, [hand_subject()]))
        writer.write(DepthFrame(np.zeros((4, 4), np.float32), INTR), PoseResult(3, 66.0, []))
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    columns = rows[0]
    bones = [tuple(b) for b in header["bones"]]
    old = csv_columns(HAND21.joints, bones)
    assert columns[:len(old)] == old and columns[len(old):] == [f"{n}_visible" for n in HAND21.joints]
    assert all(len(r) == len(columns) for r in rows)
    cells = dict(zip(columns, rows[1]))
    assert cells["wrist_visible"] == "1" and cells["thumb_tip_visible"] == "0" and cells["pinky_tip_visible"] == "0"
    assert float(cells["pinky_tip_conf"]) == HIDDEN_CONFIDENCE and float(cells["wrist_conf"]) == pytest.approx(0.05)
    assert dict(zip(columns, rows[2]))["wrist_visible"] == ""             # a subject without visibility
    assert dict(zip(columns, rows[3]))["wrist_visible"] == ""             # a frame without subjects
    plain = tmp_path / "plain.csv"
    with CsvWriter(plain, 21) as writer:                                   # a header without visibility: the old layout
        writer.begin({"joint_names": list(HAND21.joints)})
        writer.write(DepthFrame(np.zeros((4, 4), np.float32), INTR), PoseResult(1, 0.0, [hand_subject(hidden_some())]))
    with open(plain, newline="") as f:
        assert next(csv.reader(f))[-1] == "pinky_tip_conf"


def test_osc_sends_visible_as_ints():
    sender = OscSender("127.0.0.1:9")
    try:
        sender.begin(stream_header("hand", "hand21"))
        messages = [OscMessage(m) for m in sender.messages(PoseResult(1, 0.0, [hand_subject(hidden_some())]))]
        got = {m.address: m.params for m in messages}
        assert got["/hand/2/visible"] == [int(v) for v in hidden_some()]
        assert got["/hand/2/confidence"][20] == pytest.approx(HIDDEN_CONFIDENCE)
        plain = {OscMessage(m).address for m in sender.messages(PoseResult(2, 1.0, [hand_subject()]))}
        assert "/hand/2/visible" not in plain
    finally:
        sender.close()


def test_the_pipeline_marks_every_subject():
    from handpose_live import Tracker

    for result in Tracker(camera="synthetic", frames=2, realtime=False):
        for s in result.hands:
            assert s.visible is not None and s.visible.dtype == bool and s.visible.shape == (21,)
            record = s.to_record()
            assert len(record["visible"]) == 21
            hidden = ~s.visible
            assert (np.asarray(record["confidence"])[hidden] <= HIDDEN_CONFIDENCE).all()
