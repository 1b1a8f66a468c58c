"""Real rooms: the synthetic rooms the person detector learns from, the time-of-flight sensor model,
cubes of people side by side sharing out their points, and the person detector's file checks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from handpose_live.calib import load_intrinsics
from handpose_live.errors import UserError
from handpose_live.geometry import pixels_to_points_mm
from handpose_live.synth.rooms import ROOM_CAMERAS, detector_view, render_room_scene, sample_room_scene
from handpose_live.synth.sensor import SENSORS
from handpose_live.types import Intrinsics
from handpose_live.voxelize import voxelize_depth_many


def test_room_scenes_are_seeded_and_label_people_in_the_image():
    cam = load_intrinsics("kinect-v1")
    a, people_a = render_room_scene(np.random.default_rng(5), cam, "kinect-v1")
    b, people_b = render_room_scene(np.random.default_rng(5), cam, "kinect-v1")
    assert a.shape == (120, 160) and np.array_equal(a, b) and len(people_a) == len(people_b)
    labelled = 0
    for seed in range(12):
        for name in ROOM_CAMERAS:
            depth, people = render_room_scene(np.random.default_rng(seed), load_intrinsics(name), name, view="desk")
            for p in people:
                u, v = p.centre_px
                assert 0 <= u <= 159 and 0 <= v <= 119 and p.visible_upper >= 3
            labelled += len(people)
    # the desk view always puts one person 0.5-1.5 m in front of the camera: most frames label them
    assert labelled >= 0.7 * 12 * len(ROOM_CAMERAS)


def test_desk_person_is_near_and_cut_by_the_border():
    near, cut = 0, 0
    cam = load_intrinsics("azure-kinect-nfov")
    view, _ = detector_view(cam)
    for seed in range(20):
        _, _, people = sample_room_scene(np.random.default_rng(seed), view, "desk")
        first = people[0]
        near += first.centre_mm[2] < 1800
        v = first.joints_mm[:, 1] / first.joints_mm[:, 2] * view.fy + view.cy
        cut += bool((v > view.height).any())         # feet (or more) below the image
    assert near == 20 and cut >= 15


def test_the_rooms_world_of_body_datasets_has_subjects_in_view_and_cut_by_the_border(tmp_path):
    """`synth --target body --world rooms`: frames are seeded; each subject's upper body is seen (at least
    MIN_UPPER_VISIBLE of its upper joints visible in the rendered cube); some subjects are cut by the image
    border (joints outside the image are still labels) and some frames hold more than their subject."""
    from handpose_live.synth.generate import check_world, generate_dataset, render_dataset_frame
    from handpose_live.synth.rooms import MIN_UPPER_VISIBLE, UPPER
    from handpose_live.synth.shards import read_index

    cam = load_intrinsics("kinect-v1")
    a, b = render_dataset_frame("body", cam, 3, 0, "rooms"), render_dataset_frame("body", cam, 3, 0, "rooms")
    assert np.array_equal(a.depth_mm, b.depth_mm) and np.array_equal(a.joints_mm, b.joints_mm)
    cut = 0
    for i in range(16):
        f = render_dataset_frame("body", cam, 3, i, "rooms")
        assert f.visible[list(UPPER)].sum() >= MIN_UPPER_VISIBLE and np.isfinite(f.joints_mm).all()
        assert np.allclose(f.centre_mm, f.joints_mm[8])             # the cube around the torso, as in training
        v = f.joints_mm[:, 1] / f.joints_mm[:, 2] * cam.fy + cam.cy
        u = f.joints_mm[:, 0] / f.joints_mm[:, 2] * cam.fx + cam.cx
        cut += bool(((v < 0) | (v >= cam.height) | (u < 0) | (u >= cam.width)).any())
    assert cut >= 3
    index = generate_dataset(tmp_path / "rooms", "body", 2, cam, seed=3, progress=False, world="rooms")
    assert read_index(tmp_path / "rooms")["world"] == "rooms" and index["count"] == 2
    assert set(index["sensor"]["mix"]) == {"d4xx", "kinect-v1", "tof"}
    with pytest.raises(UserError, match="--target body"):
        check_world("rooms", "hand")


def test_detector_view_strides_like_the_detector_and_pads_small_images():
    v1, size = detector_view(load_intrinsics("kinect-v1"))
    assert size == (160, 120) and v1.fx == pytest.approx(588.036865 / 4)
    wfov, size = detector_view(load_intrinsics("azure-kinect-wfov"))          # fx 252: strided by 2
    assert size == (256, 256) and wfov.fx == pytest.approx(252.1 / 2)
    k2, size = detector_view(load_intrinsics("kinect-v2"))                    # 512x424 / 4 = 128x106 < 160x120
    assert size == (128, 106) and (k2.width, k2.height) == (160, 120)
    depth, _ = render_room_scene(np.random.default_rng(1), load_intrinsics("kinect-v2"), "kinect-v2")
    assert (depth[:, :10] == 0).all() and (depth[:5] == 0).all()             # outside the strided image


def test_tof_model_puts_flying_pixels_between_foreground_and_background():
    intr = Intrinsics(200.0, 200.0, 80.0, 60.0, 160, 120)
    clean = np.full((120, 160), 3000.0, np.float32)
    clean[:, 80:] = 1000.0                                  # a step from 3 m to 1 m
    noisy = SENSORS["tof"].apply(clean, intr, np.random.default_rng(0))
    band = noisy[:, 78:82]
    between = (band > 1100) & (band < 2900)
    assert between.mean() > 0.1                             # mixed returns at the silhouette
    far = noisy[:, :60][noisy[:, :60] > 0]
    assert abs(np.median(far) - 3000) < 5 and 2 < far.std() < 15    # ToF noise: a few mm, no disparity steps


def _two_people_depth(intr: Intrinsics, gap_mm: float) -> np.ndarray:
    """Two 400 mm wide slabs at 2 m, `gap_mm` apart (x centres at -/+ (200 + gap/2))."""
    depth = np.zeros((intr.height, intr.width), np.float32)
    u = np.arange(intr.width)
    x = (u - intr.cx) / intr.fx * 2000.0
    half = 200 + gap_mm / 2
    cols = (np.abs(x + half) < 200) | (np.abs(x - half) < 200)
    depth[100:380, cols] = 2000.0
    return depth


def test_overlapping_cubes_share_out_their_points():
    intr = Intrinsics(500.0, 500.0, 320.0, 240.0, 640, 480)
    depth = _two_people_depth(intr, 200.0)
    centres = np.array([[-400.0, 0, 2100], [400.0, 0, 2100]])
    whole = voxelize_depth_many(torch.from_numpy(depth), intr, centres, 2000.0, 32)
    split = voxelize_depth_many(torch.from_numpy(depth), intr, centres, 2000.0, 32, split_among=centres)
    # independent reference: the points of the left slab only, voxelized as one cube
    left = depth.copy()
    vs, us = np.nonzero(left)
    pts = pixels_to_points_mm(us, vs, left[vs, us], intr)
    left[vs[pts[:, 0] > 0], us[pts[:, 0] > 0]] = 0
    ref = voxelize_depth_many(torch.from_numpy(left), intr, centres[:1], 2000.0, 32)
    assert torch.equal(split[0], ref[0])
    assert whole[0].sum() > split[0].sum() > 0
    # a centre farther than one cube edge from every other keeps all its points
    far = np.array([[-400.0, 0, 2100], [2500.0, 0, 2100]])
    alone = voxelize_depth_many(torch.from_numpy(depth), intr, far[:1], 2000.0, 32, split_among=far)
    assert torch.equal(alone[0], whole[0])


def test_a_person_detector_refuses_a_hand_model(tmp_path):
    from handpose_live.inference.pipeline import PipelineOptions, PosePipeline
    from handpose_live.inference.predictor import Predictor
    from handpose_live.modeling.detector import DetectorConfig, HandDetectorNet
    from handpose_live.resources import default_model
    from handpose_live.training.detector import export_detector

    torch.manual_seed(0)
    export_detector(HandDetectorNet(DetectorConfig(max_depth_m=8.0)), DetectorConfig(max_depth_m=8.0),
                    tmp_path / "person.onnx", {"target": "body"})
    with pytest.raises(UserError, match="finds people, but v2v-lite-hand.onnx is a hand model"):
        PosePipeline(Predictor(default_model("hand"), device="cpu"), PipelineOptions(detector=tmp_path / "person.onnx"))


def test_the_pyramid_merges_its_levels_and_drops_a_person_seen_twice(tmp_path):
    """Levels at the input stride x each scale of the file; a peak within 1.5 coarse cells of a stronger one
    (from any level) is the same person; a file without scales runs one level, exactly as before."""
    from handpose_live.inference.detector import Detector
    from handpose_live.modeling.detector import DetectorConfig, HandDetectorNet
    from handpose_live.training.detector import export_detector

    torch.manual_seed(0)
    export_detector(HandDetectorNet(DetectorConfig(max_depth_m=8.0)), DetectorConfig(max_depth_m=8.0),
                    tmp_path / "person.onnx", {"target": "body"}, scales=[1.5])
    det = Detector(tmp_path / "person.onnx")
    assert det.scales == (1.0, 1.5) and det.strides(542.8) == [4, 6] and det.strides(252.0) == [2, 3]
    maps = {4: np.zeros((30, 40), np.float32), 6: np.zeros((20, 26), np.float32)}
    maps[4][10, 10] = 0.5          # pixel (10*4+1.5)*4 = 166, (166, 166)
    maps[6][7, 7] = 0.8            # (7*4+1.5)*6 = 177: the same person, seen better at the coarse level
    maps[6][15, 20] = 0.4          # (489, 369): another one, only at the coarse level
    det.heatmap = lambda depth, stride: maps[stride]
    got = det.propose(np.zeros((480, 640), np.float32), 5, fx=542.8)
    assert [(round(u), round(v), p) for u, v, p in got] == [(177, 177, pytest.approx(0.8)), (489, 369, pytest.approx(0.4))]
    det.scales = (1.0,)
    assert [round(u) for u, _, _ in det.propose(np.zeros((480, 640), np.float32), 5, fx=542.8)] == [166]


def test_a_near_person_of_the_real_office_is_a_candidate_only_at_the_coarser_level():
    """bonn-crowd frame 340: the person nearest the camera (left half, about 1.2 m, the legs cut by the image's
    border) scores under the threshold at the input stride (0.25 at most) and over it at 1.5x (0.58)."""
    import cv2

    from handpose_live.inference.detector import Detector
    from handpose_live.resources import default_detector

    frame = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-depth" / "bonn-crowd" / "bonn-crowd-340.png"
    if not frame.exists():
        pytest.skip("../shared/data/real-depth/bonn-crowd is not here")
    depth = cv2.imread(str(frame), cv2.IMREAD_UNCHANGED).astype(np.float32) / 5.0     # 0.2 mm units
    det = Detector(default_detector("body"))
    left = [(u, v, p) for u, v, p in det.propose(depth, 6, fx=542.8) if u < 320]
    assert left and left[0][2] > det.threshold
    det.scales = (1.0,)
    assert not [u for u, _, _ in det.propose(depth, 6, fx=542.8) if u < 320]


def test_a_person_the_detector_was_sure_of_keeps_its_gate_while_tracked():
    """The body model scores a person close to the camera low (0.3-0.4, under its gate of 0.42); the target's
    `sure_detection` (detector probability >= 0.5: pose score >= 0.3) let such a person in on the frame it was
    found, and the next frame, tracked, the plain gate dropped them. The gate now goes with the track."""
    from handpose_live.capture.synthetic import SyntheticCamera
    from handpose_live.inference.pipeline import PipelineOptions, build_pipeline
    from handpose_live.inference.predictor import Predictor
    from handpose_live.resources import shipped_model

    pipe = build_pipeline(Predictor(shipped_model("body", "fp32")), PipelineOptions(max_subjects=2), target="body",
                          detector=None)
    frame = next(iter(SyntheticCamera(target="body", seed=3, frames=1).frames()))
    joints = np.asarray(frame.ground_truth_mm, np.float64).reshape(1, -1, 3)     # one person, 15 joints
    conf = np.full(joints.shape[:2], 0.38)               # over sure_detection's 0.36, under the model's gate
    centre = joints.mean(axis=1)

    def two_frames(probability):
        pipe.reset()
        first = pipe._keep(frame, centre, joints, conf, [None], [probability])
        if not first:
            return 0, 0
        owners = list(pipe._tracks)                      # the next frame: the same person, now tracked
        return len(first), len(pipe._keep(frame, centre, joints, conf, owners,
                                          [getattr(t, "detector_probability", None) for t in owners]))

    assert pipe.sure_detection == (0.5, 0.36) and pipe.min_confidence > 0.38
    assert two_frames(0.6) == (1, 1)                     # found by a sure detector: kept, and kept while tracked
    assert two_frames(0.4) == (0, 0)                     # an unsure one: the gate, as before
