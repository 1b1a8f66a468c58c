"""Synthetic depth world: geometry consistency, sensor statistics, determinism, shards, CLI errors."""
from __future__ import annotations

import errno
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from handpose_live.calib import load_intrinsics
from handpose_live.capture.synthetic import SyntheticCamera
from handpose_live.commands.synth import SynthOptions, synth
from handpose_live.data.synthetic import SyntheticShardDataset
from handpose_live.errors import UserError
from handpose_live.geometry import camera_to_pixel
from handpose_live.synth import generate, world
from handpose_live.synth import shards as sh
from handpose_live.synth.generate import generate_dataset, render_dataset_frame
from handpose_live.synth.hand import PRIOR_FRACTION, nyu_prior, palm_centre_mm
from handpose_live.synth.render import Background, Plane, render_depth_mm
from handpose_live.synth.sensor import SENSORS, SensorModel
from handpose_live.synth.shapes import Surface, rotation_from_vector, rotation_vector, slerp
from handpose_live.synth.world import render_frame, sample_body_scene, sample_hand_scene

INTR = load_intrinsics("d435-640x480")


def _synth(target: str, count: int, out: Path, camera: str, seed: int, preview: Path | None, append: bool,
           world: str = "crowded") -> None:
    """`handpose-live synth --target TARGET --count N --out OUT ...`, in process."""
    synth(SynthOptions(target=target, count=count, out=out, camera=camera, seed=seed, preview=preview, append=append,
                       world=world))


def test_visible_joints_lie_on_the_rendered_surface():
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(8):
        subject, _ = sample_hand_scene(rng, INTR)
        frame = render_frame(subject, Background(), INTR, rng, sensor=None)
        uvz = camera_to_pixel(frame.joints_mm, INTR)
        for j in np.nonzero(frame.visible)[0]:
            u, v, z = int(round(uvz[j, 0])), int(round(uvz[j, 1])), uvz[j, 2]
            d = frame.depth_mm[v, u]
            assert d > 0, "a visible joint must project inside the silhouette"
            assert z - subject.joint_radius_mm[j] - 10 <= d <= z + 1
            checked += 1
        assert np.allclose(frame.centre_mm, palm_centre_mm(frame.joints_mm), atol=1e-3)
    assert checked > 8 * 10


def test_body_frame_has_a_body():
    rng = np.random.default_rng(2)
    subject, background = sample_body_scene(rng, INTR, view="front")
    frame = render_frame(subject, background, INTR, rng, cube_mm=2000.0, sensor=None)
    assert frame.joints_mm.shape == (15, 3)
    assert frame.visible[[0, 1, 8]].all()          # head, neck, torso seen from the front
    u, v, z = camera_to_pixel(frame.joints_mm[8], INTR)
    assert abs(frame.depth_mm[int(round(v)) - frame.roi_px[1], int(round(u)) - frame.roi_px[0]] - z) < 150


@pytest.mark.parametrize("z_mm", [500.0, 1000.0])
def test_wall_noise_matches_the_model(z_mm):
    sensor = SensorModel()
    clean = render_depth_mm(Surface(), Background([Plane(np.array([0, 0, 1.0]), z_mm)]), INTR)
    assert np.all(clean == np.float32(z_mm))
    noisy = sensor.apply(clean, INTR, np.random.default_rng(0))
    valid = noisy[noisy > 0]
    sigma = float(sensor.sigma_mm(np.float32(z_mm), INTR.fx))
    expected = np.sqrt(sigma ** 2 + 1 / 12)             # plus 1 mm quantisation
    assert abs(valid.std() - expected) < 0.05 * expected
    assert abs(valid.mean() - z_mm) < 0.1
    assert np.all(valid == np.round(valid))
    assert 0.97 < valid.size / noisy.size < 0.999        # a few holes, no more
    if z_mm == 500.0:
        assert 0.9 < sigma < 1.2


def test_stereo_shadow_left_of_a_foreground_object():
    clean = np.full((50, 100), 1000.0, np.float32)
    clean[:, 50:70] = 400.0
    sensor = SensorModel(edge_drop=0.0, holes_per_px=0.0, speckle_drop=0.0)
    noisy = sensor.apply(clean, INTR, np.random.default_rng(0))
    width = INTR.fx * 50.0 * (1 / 400 - 1 / 1000)      # disparity difference, ~29 px
    assert (noisy[:, 50 - int(width) + 1:50] == 0).all()
    assert (noisy[:, :50 - int(width) - 2] > 0).all()
    assert (noisy[:, 71:] > 0).all()


def test_frames_are_deterministic_by_seed():
    a = render_dataset_frame("hand", INTR, 3, 7)
    b = render_dataset_frame("hand", INTR, 3, 7)
    c = render_dataset_frame("hand", INTR, 4, 7)
    assert np.array_equal(a.depth_mm, b.depth_mm) and np.array_equal(a.joints_mm, b.joints_mm)
    assert not np.allclose(a.joints_mm, c.joints_mm)
    cams = [list(SyntheticCamera(target="hand", seed=1, frames=3).frames()) for _ in range(2)]
    for f, g in zip(*cams):
        assert np.array_equal(f.depth_mm, g.depth_mm)
        assert np.array_equal(f.ground_truth_mm, g.ground_truth_mm)


def test_synthetic_camera_moves_smoothly():
    frames = list(SyntheticCamera(target="hand", seed=2, frames=12).frames())
    assert [f.index for f in frames] == list(range(12))
    assert frames[0].depth_mm.shape == (480, 640) and frames[0].depth_mm.dtype == np.float32
    gt = np.stack([f.ground_truth_mm for f in frames])
    step = np.linalg.norm(np.diff(gt, axis=0), axis=2).max()
    assert 0 < step < 30
    uv = camera_to_pixel(np.stack([f.ground_truth_centre_mm for f in frames]), INTR)
    assert ((uv[:, 0] > 0) & (uv[:, 0] < 640) & (uv[:, 1] > 0) & (uv[:, 1] < 480)).all()
    body = next(iter(SyntheticCamera(target="body", seed=0, frames=1).frames()))
    assert body.ground_truth_mm.shape == (15, 3)


def test_shards_round_trip(tmp_path):
    index = generate_dataset(tmp_path / "ds", "hand", 7, INTR, seed=1, progress=False, shard_size=3)
    assert [s["count"] for s in index["shards"]] == [3, 3, 1]
    on_disk = json.loads((tmp_path / "ds" / "index.json").read_text())
    assert on_disk["count"] == 7 and on_disk["seed"] == 1 and on_disk["target"] == "hand"
    ds = SyntheticShardDataset(tmp_path / "ds")
    assert len(ds) == 7 and ds.skeleton_name == "hand21" and ds.cube_mm == 250.0
    for i in (0, 4, 6):
        ref = render_dataset_frame("hand", INTR, 1, i)
        sample = ds[i]
        assert np.array_equal(sample.joints_mm, ref.joints_mm)
        assert np.array_equal(sample.centre_mm, ref.centre_mm)
        assert np.array_equal(ds.frame(i)["depth_mm"], np.rint(ref.depth_mm).astype(np.uint16))
        pts = sample.points_mm
        assert pts.dtype == np.float32 and len(pts) > 500
        assert np.all(np.abs(pts[:, 2] - sample.centre_mm[2]) <= 125 + 1e-3)
    assert sorted(ds.shard_local_order(np.random.default_rng(0))) == list(range(7))


def test_several_data_roots_train_as_one_dataset_one_shard_at_a_time(tmp_path):
    from handpose_live.data import open_datasets
    generate_dataset(tmp_path / "a", "hand", 5, INTR, seed=1, progress=False, shard_size=2)
    generate_dataset(tmp_path / "b", "hand", 4, INTR, seed=2, progress=False, shard_size=3, world="classic")
    ds = open_datasets("synthetic", [tmp_path / "a", tmp_path / "b"])
    assert len(ds) == 9 and ds.skeleton_name == "hand21"
    assert np.array_equal(ds[6].joints_mm, render_dataset_frame("hand", INTR, 2, 1, world="classic").joints_mm)
    order = [int(i) for i in ds.shard_local_order(np.random.default_rng(3))]
    assert sorted(order) == list(range(9))
    shard_of = [0, 0, 1, 1, 2, 3, 3, 3, 4]          # a: shards of 2, 2, 1 frames; b: 3, 1
    runs = [shard_of[order[0]]] + [shard_of[j] for i, j in zip(order, order[1:]) if shard_of[i] != shard_of[j]]
    assert sorted(runs) == [0, 1, 2, 3, 4]          # each shard is visited in one piece
    generate_dataset(tmp_path / "body", "body", 1, INTR, seed=1, progress=False)
    with pytest.raises(UserError, match="must match"):
        open_datasets("synthetic", [tmp_path / "a", tmp_path / "body"])


def test_resume_ignores_partial_shards_and_extends(tmp_path):
    out = tmp_path / "ds"
    generate_dataset(out, "hand", 7, INTR, seed=2, progress=False, shard_size=3)
    reference = [SyntheticShardDataset(out).frame(i)["joints_mm"] for i in range(7)]
    # Simulate a run killed after shard 0: index lists one shard, shard 1 half-written, shard 2 garbage.
    index = sh.read_index(out)
    index["shards"], index["count"] = index["shards"][:1], 3
    sh.write_index(out, index)
    (out / ".shard-00001.0123abcd.tmp.npz").write_bytes(b"half a shard")
    (out / "shard-00002.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError):
        generate_dataset(out, "hand", 7, INTR, seed=2, progress=False)          # not empty, no append
    generate_dataset(out, "hand", 7, INTR, seed=2, append=True, progress=False)
    assert not list(out.glob(".*.tmp*"))
    ds = SyntheticShardDataset(out)
    assert len(ds) == 7
    for i in range(7):
        assert np.array_equal(ds.frame(i)["joints_mm"], reference[i])
    generate_dataset(out, "hand", 8, INTR, seed=2, append=True, progress=False)   # short last shard redone
    ds = SyntheticShardDataset(out)
    assert [s["count"] for s in ds.index["shards"]] == [3, 3, 2]
    assert np.array_equal(ds[7].joints_mm, render_dataset_frame("hand", INTR, 2, 7).joints_mm)
    with pytest.raises(UserError, match="seed"):
        generate_dataset(out, "hand", 9, INTR, seed=3, append=True, progress=False)


def test_index_records_the_settings_and_append_refuses_others(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    generate_dataset(out, "hand", 2, INTR, seed=4, progress=False, shard_size=2)
    index = json.loads((out / "index.json").read_text())
    assert index["generator_version"] == generate.GENERATOR_VERSION == "synth-2"
    assert index["target"] == "hand" and index["seed"] == 4 and index["cube_mm"] == 250.0
    assert index["camera"] == INTR.to_dict()
    prior = nyu_prior()
    assert index["hand_prior"] == {"sha256": prior.sha256, "fraction": PRIOR_FRACTION, "frames": len(prior),
                                   "source": "nyu_test_groundtruth_label.txt",
                                   "source_sha256": prior.provenance["source_sha256"]}
    # exactly the record of the classic datasets made before sensor families existed, so they still append
    assert index["sensor"] == {"name": "SensorModel", "baseline_mm": 50.0, "subpixel_px": 0.08, "grazing_cos": 0.17,
                               "grazing_drop": 0.8, "edge_jump_mm": 20.0, "edge_drop": 0.4, "holes_per_px": 0.00025,
                               "speckle_drop": 0.002, "min_depth_mm": 105.0, "max_depth_mm": 10000.0}
    assert index["world"] == "classic"
    assert set(generate.SETTINGS) == set(generate.dataset_settings("hand", INTR, 4))
    assert generate.dataset_settings("body", INTR, 4)["hand_prior"] is None

    def refused(match: str, intr=INTR) -> None:
        with pytest.raises(UserError, match=match) as err:
            generate_dataset(out, "hand", 3, intr, seed=4, append=True, progress=False)
        assert "\n" not in str(err.value) and str(err.value).startswith(f"cannot append to {out}: its ")

    refused(r"its camera\.fx is 383\.0, this run's is 600\.0", replace(INTR, fx=600.0))
    with monkeypatch.context() as m:
        m.setitem(generate.SENSORS, "d4xx", SensorModel(subpixel_px=0.1))
        refused(r"its sensor\.subpixel_px is 0\.08, this run's is 0\.1")
    with monkeypatch.context() as m:
        m.setattr(generate, "PRIOR_FRACTION", 0.5)
        refused(r"its hand_prior\.fraction is 0\.7, this run's is 0\.5")
    for key, value, match in (("hand_prior", dict(index["hand_prior"], sha256="0" * 64), r"hand_prior\.sha256"),
                              ("generator_version", "synth-1", "generator_version is 'synth-1'"),
                              ("sensor", None, "sensor is None")):
        sh.write_index(out, dict(index, **{key: value}))     # a dataset made another way
        refused(match)
    refused_world = pytest.raises(UserError, match="its world is 'classic', this run's is 'crowded'")
    with refused_world:
        generate_dataset(out, "hand", 3, INTR, seed=4, append=True, progress=False, world="crowded")
    sh.write_index(out, {k: v for k, v in index.items() if k != "world"})   # written before worlds existed: classic
    with refused_world:
        generate_dataset(out, "hand", 3, INTR, seed=4, append=True, progress=False, world="crowded")
    assert generate_dataset(out, "hand", 3, INTR, seed=4, append=True, progress=False)["count"] == 3


def test_crowded_world_adds_clutter_around_the_same_subject():
    """The crowded world draws the classic scene first: the same labels, more around them."""
    more = 0
    for i in range(12):
        classic = render_dataset_frame("hand", INTR, 11, i, "classic")
        crowded = render_dataset_frame("hand", INTR, 11, i, "crowded")
        assert np.array_equal(classic.joints_mm, crowded.joints_mm)
        assert classic.roi_px == crowded.roi_px
        more += int(np.count_nonzero(crowded.depth_mm) > np.count_nonzero(classic.depth_mm) + 200)
    assert more >= 4
    rng = np.random.default_rng(3)
    counts = []
    for _ in range(6):
        _, bg, rot, eye = world._body_view(rng, "front")
        before = len(bg.distractors.capsule_a_mm) + len(bg.distractors.ellipsoid_c_mm)
        world.crowd_body_scene(rng, bg, rot, eye)
        counts.append(len(bg.distractors.capsule_a_mm) + len(bg.distractors.ellipsoid_c_mm) - before)
    assert max(counts) > 0
    with pytest.raises(UserError, match="unknown world 'busy'"):
        _synth("hand", 5, Path("/nonexistent"), "d435-640x480", 0, None, False, world="busy")


def test_structured_light_sensors_quantise_like_their_cameras():
    wall = np.full((60, 80), 1000.0, np.float32)
    kinect = SENSORS["kinect-v1"].apply(wall, INTR, np.random.default_rng(0))
    levels = np.unique(kinect[kinect > 0])
    # disparity in 1/8 px at f = 580 px, B = 75 mm: terraces z^2 * 0.125 / (f B) = 2.87 mm apart at 1 m
    steps = np.diff(levels)
    assert 2.6 < np.median(steps) < 3.2
    sr = SENSORS["sr300"].apply(wall, INTR, np.random.default_rng(0))
    assert np.allclose(sr[sr > 0] / 0.125, np.round(sr[sr > 0] / 0.125))       # 1/8 mm depth unit
    assert len(np.unique(sr[sr > 0])) > 20
    near = SENSORS["kinect-v1"].apply(np.full((20, 20), 350.0, np.float32), INTR, np.random.default_rng(0))
    assert not near.any()                                                        # nearer than its range


def test_disk_full_keeps_the_dataset_valid(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    generate_dataset(out, "hand", 2, INTR, seed=0, progress=False, shard_size=2)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(np, "savez_compressed", full)
    with pytest.raises(UserError, match="(?i)no space left"):
        generate_dataset(out, "hand", 4, INTR, seed=0, append=True, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["index.json", "shard-00000.npz"]
    assert len(SyntheticShardDataset(out)) == 2


def test_bad_inputs_raise_user_error(tmp_path):
    with pytest.raises(UserError, match="count"):
        _synth("hand", 0, tmp_path / "a", "d435-640x480", 0, None, False)
    with pytest.raises(UserError, match="camera preset"):
        _synth("hand", 5, tmp_path / "a", "no-such-camera", 0, None, False)
    with pytest.raises(UserError, match="target"):
        _synth("paw", 5, tmp_path / "a", "d435-640x480", 0, None, False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError):
        _synth("hand", 5, blocker / "sub", "d435-640x480", 0, None, False)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "something").write_text("x")
    with pytest.raises(UserError, match="not empty"):
        _synth("hand", 5, busy, "d435-640x480", 0, None, False)
    with pytest.raises(UserError):
        SyntheticShardDataset(tmp_path)
    with pytest.raises(UserError):
        SyntheticCamera(target="paw")


def test_cli_writes_dataset_and_preview(tmp_path, capsys):
    import cv2
    _synth("hand", 4, tmp_path / "ds", "d435-640x480", 0, tmp_path / "p.png", False)
    assert "frames/s" in capsys.readouterr().out
    sheet = cv2.imread(str(tmp_path / "p.png"))
    assert sheet is not None and sheet.shape[0] > 100


def test_preview_tiles_show_each_subject_at_one_scale_centred(tmp_path, monkeypatch):
    """Every tile is the same metric square around the subject: a 100 mm card at the centre's
    depth covers 100/250 of the tile, centred, whether its frame's crop was whole (in the middle
    of the image) or clipped by the image border (near the left edge, closer) - not a crop of
    its own size padded with black."""
    from handpose_live.geometry import cube_roi_px
    from handpose_live.synth.render import clip_roi
    from handpose_live.synth.world import SynthFrame

    card_mm, tile_px, cube_mm = 100.0, 120, 250.0
    centres = {0: (0.0, 0.0, 500.0), 1: ((80 - INTR.cx) * 400.0 / INTR.fx, 0.0, 400.0)}   # 1: crop clipped at u=0

    def card_frame(target, intr, seed, i, world="classic"):
        centre = np.array(centres[i])
        roi = clip_roi(cube_roi_px(centre, cube_mm, intr), intr)
        v, u = np.mgrid[roi[1]:roi[3], roi[0]:roi[2]].astype(np.float64)
        x, y = (u - intr.cx) * centre[2] / intr.fx, (v - intr.cy) * centre[2] / intr.fy
        on_card = (np.abs(x - centre[0]) < card_mm / 2) & (np.abs(y - centre[1]) < card_mm / 2)
        depth = np.where(on_card, centre[2], 0.0).astype(np.float32)          # the card, nothing behind it
        joints = np.repeat(centre[None].astype(np.float32), 21, axis=0)
        return SynthFrame(depth, roi, joints, np.ones(21, bool), centre.astype(np.float32))

    monkeypatch.setattr(generate, "render_dataset_frame", card_frame)
    generate_dataset(tmp_path / "cards", "hand", 2, INTR, progress=False)
    sheet = generate.contact_sheet(tmp_path / "cards", tile_px=tile_px)
    assert sheet.shape == (tile_px, 2 * tile_px, 3)
    side = card_mm / cube_mm * tile_px
    for i in range(2):
        tile = sheet[:, i * tile_px:(i + 1) * tile_px]
        card = tile.max(axis=2) > 0
        card &= ~(tile == generate.OUT_OF_VIEW_BGR).all(axis=2)
        card[:16] = False                                                    # the frame number
        rows, cols = np.nonzero(card)
        assert rows.max() - rows.min() + 1 == pytest.approx(side, abs=2)
        assert cols.max() - cols.min() + 1 == pytest.approx(side, abs=2)
        assert (rows.min() + rows.max()) / 2 == pytest.approx(tile_px / 2, abs=1.5)
        assert (cols.min() + cols.max()) / 2 == pytest.approx(tile_px / 2, abs=1.5)
    clipped = sheet[:, tile_px:]
    assert (clipped[:, :5] == generate.OUT_OF_VIEW_BGR).all()                # beyond the image's left edge


def test_rotation_vector_and_slerp_match_scipy():
    """shapes.rotation_vector / rotation_from_vector / slerp (the synthetic camera's turns between key poses)
    against SciPy's Rotation and Slerp, independent implementations: random rotations, and angles near 0 and pi"""
    from scipy.spatial.transform import Rotation, Slerp

    rng = np.random.default_rng(0)
    mats = list(Rotation.random(500, random_state=1).as_matrix())
    for angle in (0.0, 1e-9, 1e-5, np.pi - 1e-4, np.pi):
        axis = rng.normal(size=3)
        mats.append(Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix())
    for r in mats:
        ours, ref = rotation_vector(r), Rotation.from_matrix(r).as_rotvec()
        if np.linalg.norm(ref) > np.pi - 1e-6:       # at pi, v and -v are the same turn
            ref = ref if np.abs(ours - ref).max() < np.abs(ours + ref).max() else -ref
        np.testing.assert_allclose(ours, ref, atol=1e-12)
        np.testing.assert_allclose(rotation_from_vector(ours), r, atol=1e-12)
    for i in range(200):
        a, b = Rotation.random(2, random_state=100 + i).as_matrix()
        t = float(rng.uniform())
        ref = Slerp([0, 1], Rotation.from_matrix(np.stack([a, b])))(t).as_matrix()
        np.testing.assert_allclose(slerp(a, b, t), ref, atol=1e-12)
