"""The skeleton fit (handpose_live/inference/kinematics.py): joint frames as documented, constant bone lengths,
joint limits, hidden joints following the skeleton, palm and velocity, and what the records carry."""
import json
from dataclasses import replace

import jsonschema
import numpy as np
import pytest

from handpose_live.inference.kinematics import (
    CALIBRATION_MS,
    SkeletonTrack,
    quaternion_product,
    quaternions,
    rotation_matrices,
    segment_frame,
    skeleton_model,
)
from handpose_live.records import SCHEMA_FILE, stream_header
from handpose_live.skeletons import HAND21, ITOP15
from handpose_live.synth.body import BodyPose, body_joints, sample_body_pose
from handpose_live.synth.hand import HandModel, HandPose, HandShape
from handpose_live.types import Intrinsics, Joints, PoseResult, Subject

RNG = np.random.default_rng(7)
B = np.array(HAND21.bones)


def lengths(joints):
    return np.linalg.norm(joints[..., B[:, 1], :] - joints[..., B[:, 0], :], axis=-1)


def hand(curl: float = 0.0, left: bool = False, turn: float = 0.0, centre=(0.0, 0.0, 500.0), shape=HandShape()):
    """True joints of the synthetic hand: fingers with PIP = `curl` (DIP 2/3 of it), palm facing the camera."""
    fingers = np.zeros((4, 4))
    fingers[:, 2], fingers[:, 3] = curl, 2 * curl / 3
    c, s = np.cos(turn), np.sin(turn)
    rotation = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]]) @ np.diag([1.0, -1.0, -1.0])   # palm towards the camera
    pose = HandPose(fingers, np.array([0.3, 0.4, 0.3, 0.3]), np.zeros(2), rotation, np.array(centre), left)
    joints, _ = HandModel(shape).posed(pose)
    return joints


def test_quaternions_round_trip_and_local_is_parent_inverse_times_joint():
    from scipy.spatial.transform import Rotation

    rot = Rotation.random(200, random_state=3).as_matrix()
    q = quaternions(rot)
    assert np.allclose(rotation_matrices(q), rot, atol=1e-12) and (q[:, 0] >= 0).all()
    local = quaternion_product(q[:100] * [1, -1, -1, -1], q[100:])
    assert np.allclose(rotation_matrices(local), np.swapaxes(rot[:100], 1, 2) @ rot[100:], atol=1e-12)


@pytest.mark.parametrize("left", [False, True])
def test_frames_are_as_documented_on_the_synthetic_hand(left):
    """X along the bone to the child, Y out of the palm, Z = X x Y the flexion axis: a bent finger's PIP turns
    about its own Z by the bend, towards the palm, for either hand."""
    joints = hand(curl=0.8, left=left)
    track = SkeletonTrack(skeleton_model(HAND21))
    motion = track.update(joints, np.ones(21), 0.0, left=left, fit=False)
    rot = rotation_matrices(motion.orientations)
    assert np.allclose(np.swapaxes(rot, 1, 2) @ rot, np.eye(3), atol=1e-9) and np.allclose(np.linalg.det(rot), 1)
    parents = HAND21.parents()
    for child, parent in enumerate(parents):
        if parent >= 0 and child not in (1, 5, 9, 13, 17):        # chain bones: the parent's X points at the child
            bone = (joints[child] - joints[parent]) / np.linalg.norm(joints[child] - joints[parent])
            assert rot[parent][:, 0] @ bone == pytest.approx(1.0, abs=1e-9)
    palmar = np.cross(joints[5] - joints[17], joints[9] - joints[0]) * (-1 if left else 1)
    assert rot[0][:, 1] @ palmar / np.linalg.norm(palmar) == pytest.approx(1.0, abs=1e-6)       # Y: out of the palm
    assert motion.palm.normal @ rot[0][:, 1] == pytest.approx(1.0) and 40 < motion.palm.width_mm < 70
    # the middle finger's PIP (joint 10) relative to its MCP (joint 9): a turn of 0.8 rad about +Z
    local = rotation_matrices(motion.local_orientations)[10]
    assert np.allclose(local, [[np.cos(0.8), -np.sin(0.8), 0], [np.sin(0.8), np.cos(0.8), 0], [0, 0, 1]], atol=1e-6)
    assert (rot[10][:, 0] - rot[9][:, 0]) @ rot[9][:, 1] > 0            # it bends towards Y: into the palm
    assert np.allclose(rot[12], rot[11])                                 # a leaf has its parent's frame
    radial = (joints[5] - joints[17]) @ rot[0][:, 2]
    assert (radial < 0) == left                                          # Z: the thumb side of a right hand


def test_fitted_bone_lengths_hold_after_the_first_second_and_joint_limits_hold():
    model = skeleton_model(HAND21)
    track = SkeletonTrack(model)
    truth = hand(curl=0.5)
    fitted, seen, t = [], [], 0.0
    for k in range(90):
        noisy = truth + RNG.normal(0, 4.0, truth.shape)
        noisy[8] = noisy[7] + 3.0 * (noisy[8] - noisy[7])                   # a fingertip flung far away
        motion = track.update(noisy, RNG.uniform(0.4, 1.0, 21), t)
        fitted.append(motion.joints_mm)
        seen.append(noisy)
        t += 1000 / 30
    late = lengths(np.array(fitted[int(CALIBRATION_MS / (1000 / 30)) + 2:]))
    assert (late.std(axis=0) / late.mean(axis=0)).max() < 0.002           # constant lengths, slowly refined
    assert np.allclose(motion.bone_lengths_mm, late[-1], atol=1e-6)       # the record's lengths are the fitted ones
    phi = np.degrees(track.state["angles"])
    for chain, angles in zip(model.kinematics.chains, phi):
        for (lo, hi), a in zip(chain.limits_deg, angles):
            assert lo - 1e-6 <= a <= hi + 1e-6
    error = np.linalg.norm(np.array(fitted[-30:]) - truth, axis=-1).mean()
    assert error < np.linalg.norm(np.array(seen[-30:]) - truth, axis=-1).mean()


def test_the_rest_subjects_are_the_synthetic_worlds():
    """`Kinematics.rest` are the synthetic hand of mean shape and the standing body of mean height, to 0.1 mm."""
    rest_hand = HandModel().local_joints(HandPose(np.zeros((4, 4)), np.zeros(4), np.zeros(2), np.eye(3), np.zeros(3)))
    z = np.zeros(2)
    rest_body, _ = body_joints(BodyPose(1725.0, 1.0, 0.0, 0.0, z, z, z, z, z, z))
    assert np.abs(np.array(HAND21.kinematics.rest) - rest_hand).max() <= 0.05 + 1e-9
    assert np.abs(np.array(ITOP15.kinematics.rest) - rest_body).max() <= 0.05 + 1e-9


@pytest.mark.parametrize("scale", [0.85, 1.15])
def test_bone_lengths_hold_from_the_first_frame_and_settle_on_the_subjects_size(scale):
    """A hand of another size and proportions, seen with noise from its first frame, the first third of a second
    barely (low confidence): its lengths hardly move over the whole track, first second included (a median of
    the first frames' own lengths moved by 6-7 % here), and settle within 3 % of its own."""
    shape = HandShape(scale=scale, finger_length=(1.04, 0.97, 1.0, 1.03, 0.96))
    truth = hand(curl=0.4, shape=shape)
    track, fitted = SkeletonTrack(skeleton_model(HAND21)), []
    rng = np.random.default_rng(5)
    for k in range(90):
        seen = truth + rng.normal(0, 4.0, truth.shape)
        conf = rng.uniform(0.4, 1.0, 21) / (3.0 if k < 10 else 1.0)
        fitted.append(track.update(seen, conf, k * 1000 / 30).joints_mm)
    fitted_lengths = lengths(np.array(fitted))
    assert (fitted_lengths.std(axis=0) / fitted_lengths.mean(axis=0)).mean() < 0.02
    assert abs(fitted_lengths[-1].sum() / lengths(truth).sum() - 1.0) < 0.03


def test_a_hidden_finger_follows_the_skeleton():
    """A finger the network does not see (confidence ~0, its joints thrown anywhere) keeps its last angles
    and moves with the palm."""
    track = SkeletonTrack(skeleton_model(HAND21))
    conf = np.full(21, 0.9)
    for k in range(40):
        track.update(hand(curl=0.6), conf, k * 33.3)
    before = np.degrees(track.state["angles"][2].copy())     # the middle finger's chain
    conf[9:13] = 0.01
    moved = hand(curl=0.6, centre=(20.0, 0.0, 500.0))
    seen = moved.copy()
    seen[10:13] = RNG.uniform(-200, 200, (3, 3)) + [0, 0, 500]
    motion = track.update(seen, conf, 40 * 33.3)
    assert np.allclose(np.degrees(track.state["angles"][2]), before, atol=4.0)
    assert np.linalg.norm(motion.joints_mm[10:13] - moved[10:13], axis=1).max() < 8.0


def test_velocity_of_a_palm_moving_steadily():
    track = SkeletonTrack(skeleton_model(HAND21))
    for k in range(30):
        motion = track.update(hand(centre=(0.3 * k * 33.3, 0.0, 500.0)), np.ones(21), k * 33.3)    # 300 mm/s along x
    assert motion.velocity_mm_s == pytest.approx([300.0, 0.0, 0.0], abs=3.0)


def test_a_side_change_turns_the_shape_over():
    track = SkeletonTrack(skeleton_model(HAND21))
    joints = hand(curl=0.0)        # straight fingers: a flexion is negative in the other side's frame (limits)
    for k in range(5):
        a = track.update(joints, np.ones(21), k * 33.3, left=False)
    b = track.update(joints, np.ones(21), 5 * 33.3, left=True)
    assert np.allclose(a.joints_mm, b.joints_mm, atol=1.5)
    assert rotation_matrices(b.orientations)[0][:, 1] @ rotation_matrices(a.orientations)[0][:, 1] == pytest.approx(-1)


def test_the_body_skeleton_fits_with_constant_limbs():
    model = skeleton_model(ITOP15)
    track = SkeletonTrack(model)
    rng = np.random.default_rng(1)
    pose = sample_body_pose(rng)
    truth = body_joints(pose)[0] + [0, 0, 2500]
    fitted, seen = [], []
    for k in range(60):
        seen.append(truth + rng.normal(0, 15, truth.shape))
        motion = track.update(seen[-1], np.full(15, 0.8), k * 33.3)
        fitted.append(motion.joints_mm)
    b = np.array(ITOP15.bones)
    late = np.linalg.norm(np.array(fitted)[40:, b[:, 1]] - np.array(fitted)[40:, b[:, 0]], axis=-1)
    assert (late.std(0) / late.mean(0)).max() < 0.002
    rot = rotation_matrices(motion.orientations)
    assert np.allclose(np.linalg.det(rot), 1.0) and motion.palm is None
    # the torso's X points at the neck, its Z at the subject's left hip side
    assert rot[8][:, 0] @ (motion.joints_mm[1] - motion.joints_mm[8]) > 0
    assert rot[8][:, 2] @ (motion.joints_mm[10] - motion.joints_mm[9]) > 0
    assert np.linalg.norm(np.array(fitted[-20:]) - truth, axis=-1).mean() < \
        np.linalg.norm(np.array(seen[-20:]) - truth, axis=-1).mean()


def test_segment_frame_of_a_right_hand_faces_out_of_the_palm():
    joints = hand()
    frame = segment_frame(joints, HAND21.kinematics.segments[0], 1.0)
    assert frame[:, 1] @ [0, 0, -1.0] > 0.99          # palm towards the camera: normal along -z


def test_records_carry_orientations_palm_velocity_and_validate():
    schema = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    intr = Intrinsics(fx=385.0, fy=385.0, cx=319.5, cy=239.5, width=640, height=480)
    header = stream_header("hand", "hand21", "m.onnx", intr)
    schema.validate(header)
    assert header["root"] == 0 and header["parents"] == list(HAND21.parents())
    old = {k: v for k, v in header.items() if k not in ("root", "parents")}
    schema.validate(old)                                       # an older stream's header stays valid
    track = SkeletonTrack(skeleton_model(HAND21))
    joints = hand(curl=0.4)
    motion = track.update(joints, np.ones(21), 0.0)
    names = HAND21.joints
    s = Subject(3, joints.mean(0), Joints(motion.joints_mm, names), Joints(np.ones(21), names), 0.9,
                orientations=motion.orientations, local_orientations=motion.local_orientations,
                bone_lengths_mm=motion.bone_lengths_mm, velocity_mm_s=motion.velocity_mm_s, palm=motion.palm)
    record = json.loads(json.dumps(PoseResult(0, 0.0, [s]).to_record()))
    schema.validate(record)
    hand_record = record["hands"][0]
    assert len(hand_record["orientations"]) == 21 and len(hand_record["bone_lengths_mm"]) == len(HAND21.bones)
    assert set(hand_record["palm"]) == {"position_mm", "normal", "direction", "width_mm"}
    schema.validate(json.loads(json.dumps(PoseResult(0, 0.0, [replace(s, orientations=None, local_orientations=None,
                                                                      palm=None, velocity_mm_s=None,
                                                                      bone_lengths_mm=None)]).to_record())))


def test_the_pipeline_fits_and_no_fit_keeps_the_network_joints():
    from handpose_live import Tracker

    fitted = Tracker(camera="synthetic", frames=3, realtime=False)
    raw = Tracker(camera="synthetic", frames=3, realtime=False, fit=False)
    for a, b in zip(fitted, raw):
        ha, hb = a.hands[0], b.hands[0]
        assert np.allclose(hb.joints_mm, hb.raw_joints_mm) and np.allclose(ha.raw_joints_mm, hb.raw_joints_mm)
        assert not np.allclose(ha.joints_mm, ha.raw_joints_mm)
        k = a.frame.intrinsics
        assert np.allclose(ha.joints_px[:, 0], ha.joints_mm[:, 0] * k.fx / ha.joints_mm[:, 2] + k.cx)
        assert ha.orientations.shape == (21, 4) and hb.palm is not None and "fit" in a.latency_ms


def test_the_viewers_draw_the_palm_normal():
    """The 2D overlay (OpenCV viewer, --save-video) draws an arrow out of the palm; Open3D adds a cylinder."""
    from handpose_live.sinks.overlay import render_overlay
    from handpose_live.types import DepthFrame

    intr = Intrinsics(fx=385.0, fy=385.0, cx=319.5, cy=239.5, width=640, height=480)
    track = SkeletonTrack(skeleton_model(HAND21))
    joints = hand(curl=0.4, turn=0.4)
    motion = track.update(joints, np.ones(21), 0.0)
    names = HAND21.joints
    s = Subject(0, joints.mean(0), Joints(motion.joints_mm, names), Joints(np.ones(21), names), 0.9, palm=motion.palm)
    frame = DepthFrame(np.full((480, 640), 900.0, np.float32), intr)
    with_palm = render_overlay(frame, PoseResult(0, 0.0, [s]), HAND21, view="full")
    without = render_overlay(frame, PoseResult(0, 0.0, [replace(s, palm=None)]), HAND21, view="full")
    tip = motion.palm.position_mm + 55 * motion.palm.normal
    u, v = (int(round(tip[0] * 385 / tip[2] + 319.5)), int(round(tip[1] * 385 / tip[2] + 239.5)))
    assert (with_palm[v - 3:v + 4, u - 3:u + 4] != without[v - 3:v + 4, u - 3:u + 4]).any()
    o3d_viewer = pytest.importorskip("handpose_live.sinks.open3d_viewer")
    mesh = o3d_viewer.SkeletonMesh(HAND21, 3.0, 5.0)
    mesh.set_joints(motion.joints_mm, motion.palm)
    points = np.asarray(mesh.mesh.vertices)
    arrow = points[len(HAND21.bones) * len(mesh._cyl_v):(len(HAND21.bones) + 1) * len(mesh._cyl_v)]
    along = (arrow - motion.palm.position_mm) @ motion.palm.normal
    assert along.max() == pytest.approx(o3d_viewer.PALM_NORMAL_MM, abs=0.5) and along.min() == pytest.approx(0, abs=0.5)


def test_the_fits_linear_algebra_kernels_agree_with_numpys_public_functions():
    """The fit calls NumPy's kernels without their wrappers (`kinematics._solve`, `_svd`); a NumPy that changed
    them fails here rather than in a user's fit."""
    from handpose_live.inference import kinematics as k

    rng = np.random.default_rng(1)
    a = rng.normal(size=(5, 4, 4)) + 4 * np.eye(4)
    b = rng.normal(size=(5, 4, 1))
    assert np.allclose(k._solve(a, b), np.linalg.solve(a, b))
    m = rng.normal(size=(3, 3))
    u, s, vt = k._svd(m)
    assert np.allclose(u @ np.diag(s) @ vt, m) and np.allclose(s, np.linalg.svd(m)[1])
    assert np.allclose(u.T @ u, np.eye(3)) and np.allclose(vt @ vt.T, np.eye(3))
