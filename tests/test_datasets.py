"""Benchmark loaders on tiny files written in each dataset's exact on-disk format.

NYU fixtures are built from the real NYU test annotations in ../shared/data; the others from
hand-made poses. Each test checks the conversion to our convention (y down, z forward, mm).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import scipy.io

from handpose_live.calib import load_intrinsics
from handpose_live.data import DATASET_NAMES, open_dataset
from handpose_live.data.common import joints_box_centre
from handpose_live.errors import UserError
from handpose_live.geometry import pixel_to_camera_mm

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NYU_GT = SHARED / "real-hand-poses" / "nyu_test_groundtruth_label.txt"
NYU_EVAL = [0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32]


def render_disks_mm(uvd: np.ndarray, intr, radius_mm: float, background_mm: float = 0.0) -> np.ndarray:
    """A plausible depth image: a flat disk of the joint's depth around each joint, nearest wins."""
    vs, us = np.mgrid[0:intr.height, 0:intr.width]
    depth = np.full((intr.height, intr.width), np.inf)
    for u, v, d in uvd:
        r_px = radius_mm * intr.fx / d
        inside = (us - u) ** 2 + (vs - v) ** 2 <= r_px ** 2
        depth[inside] = np.minimum(depth[inside], d)
    depth[~np.isfinite(depth)] = background_mm
    return depth


def check_sample(sample, ds, expected_joints_mm, uvd=None):
    assert sample.joints_mm.dtype == np.float32 and sample.points_mm.dtype == np.float32
    np.testing.assert_allclose(sample.joints_mm, expected_joints_mm, atol=1e-2)
    assert len(sample.points_mm) > 50
    half = ds.cube_mm / 2
    assert np.all(np.abs(sample.points_mm[:, 2] - sample.centre_mm[2]) <= half + 1e-3)
    if uvd is not None:  # y down: a joint above the principal point has y < 0
        above = uvd[:, 1] < ds.intrinsics.cy
        assert above.any() and np.all(sample.joints_mm[above, 1] < 0) and np.all(sample.joints_mm[~above, 1] > 0)
    assert np.all(sample.joints_mm[:, 2] > 0)


# ---------------------------------------------------------------- NYU
@pytest.fixture(scope="module")
def nyu_uvd():
    if not NYU_GT.is_file():
        pytest.skip(f"real NYU annotations not found at {NYU_GT}")
    with open(NYU_GT) as fh:
        rows = [next(fh) for _ in range(3)]
    return np.array([r.split() for r in rows], np.float64).reshape(3, 14, 3)


def write_nyu(root: Path, split: str, uvd14: np.ndarray, frames: int | None = None) -> Path:
    intr = load_intrinsics("nyu")
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    n = len(uvd14)
    uvd36 = np.repeat(uvd14[:, 13:14], 36, axis=1)
    uvd36[:, NYU_EVAL] = uvd14
    xyz36 = pixel_to_camera_mm(uvd36, intr)
    xyz36[..., 1] *= -1  # NYU stores y up
    kinects_uvd = np.stack([uvd36, uvd36 + 50, uvd36 - 50])
    kinects_xyz = np.stack([xyz36, xyz36 + 1000, xyz36 - 1000])
    names = np.array([f"J{k}" for k in range(36)], dtype=object).reshape(1, 36)
    scipy.io.savemat(folder / "joint_data.mat", {"joint_names": names, "joint_uvd": kinects_uvd,
                                                 "joint_xyz": kinects_xyz})
    for k in range(frames if frames is not None else n):
        depth = render_disks_mm(uvd14[k], intr, 12.0, background_mm=1500.0).astype(np.uint16)
        bgr = np.zeros((intr.height, intr.width, 3), np.uint8)
        bgr[..., 0] = depth & 0xFF   # blue = low byte
        bgr[..., 1] = depth >> 8     # green = high byte
        cv2.imwrite(str(folder / f"depth_1_{k + 1:07d}.png"), bgr)
    return root


def test_nyu_loads_real_annotations_in_our_convention(tmp_path, nyu_uvd):
    root = write_nyu(tmp_path, "test", nyu_uvd)
    ds = open_dataset("nyu", root, "test")
    assert len(ds) == 3 and ds.skeleton_name == "nyu14" and ds.cube_mm == 250
    intr = load_intrinsics("nyu")
    for k in range(3):
        s = ds[k]
        check_sample(s, ds, pixel_to_camera_mm(nyu_uvd[k], intr), nyu_uvd[k])
        np.testing.assert_allclose(s.centre_mm, joints_box_centre(None, intr, s.joints_mm), atol=1e-3)
        assert s.points_mm[:, 2].max() < 1500  # the far wall lies outside the cube slab
        nearest = np.linalg.norm(s.points_mm[None] - s.joints_mm[:, None], axis=2).min(axis=1)
        assert nearest.max() < 5.0  # every rendered joint shows up in the point cloud
    assert ds[2].frame_id == "test/depth_1_0000003.png"


def test_nyu_centres_file_invalid_frames(tmp_path, nyu_uvd):
    for split in ("train", "test"):
        write_nyu(tmp_path, split, nyu_uvd)
    xyz = pixel_to_camera_mm(nyu_uvd, load_intrinsics("nyu")).mean(axis=1)
    centres = tmp_path / "centres.txt"
    centres.write_text(f"{xyz[0, 0]} {-xyz[0, 1]} {xyz[0, 2]}\ninvalid\n{xyz[2, 0]} {-xyz[2, 1]} {xyz[2, 2]}\n")
    train = open_dataset("nyu", tmp_path, "train", centres_file=centres)
    assert len(train) == 2 and [s.frame_id for s in train] == ["train/depth_1_0000001.png", "train/depth_1_0000003.png"]
    np.testing.assert_allclose(train[0].centre_mm, xyz[0], atol=1e-3)  # y-up file value flipped to y down
    test = open_dataset("nyu", tmp_path, "test", centres_file=centres)
    assert len(test) == 3
    np.testing.assert_allclose(test[1].centre_mm, joints_box_centre(None, None, test[1].joints_mm), atol=1e-3)
    fixed = open_dataset("nyu", tmp_path, "test", centre_fn=lambda depth, intr, joints: np.array([0, 0, 700.0]))
    assert fixed[0].centre_mm.tolist() == [0, 0, 700]


def test_nyu_bad_inputs(tmp_path, nyu_uvd):
    with pytest.raises(UserError, match="NYU: expected the test folder at .*test"):
        open_dataset("nyu", tmp_path, "test")
    (tmp_path / "test").mkdir()
    with pytest.raises(UserError, match=r"NYU: expected .*test/joint_data.mat"):
        open_dataset("nyu", tmp_path, "test")
    write_nyu(tmp_path, "test", nyu_uvd, frames=2)
    with pytest.raises(UserError, match=r"NYU: expected depth image .*depth_1_0000003.png"):
        open_dataset("nyu", tmp_path, "test")
    cv2.imwrite(str(tmp_path / "test" / "depth_1_0000003.png"), np.zeros((480, 640), np.uint16))
    ds = open_dataset("nyu", tmp_path, "test")
    with pytest.raises(UserError, match="not an RGB-packed"):
        ds[2]
    (tmp_path / "c.txt").write_text("1 2 3\n")
    with pytest.raises(UserError, match="centres file .* has 1 lines but the split has 3 frames"):
        open_dataset("nyu", tmp_path, "test", centres_file=tmp_path / "c.txt")


# ---------------------------------------------------------------- ICVL
def icvl_pose(k: int) -> np.ndarray:
    uvd = np.zeros((16, 3))
    uvd[:, 0] = 150 + 4 * np.arange(16) + k
    uvd[:, 1] = 91 + 3 * np.arange(16)   # straddles cy = 120
    uvd[:, 2] = 350 + np.arange(16)
    return uvd


def write_icvl(root: Path, sequences: dict[str, list[str]], bad_line: str | None = None) -> None:
    intr = load_intrinsics("icvl")
    k = 0
    for label_file, frames in sequences.items():
        lines = []
        for rel in frames:
            uvd = icvl_pose(k)
            k += 1
            image = root / label_file.split("/")[0] / "Depth" / rel
            image.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(image), render_disks_mm(uvd, intr, 10.0).astype(np.uint16))
            lines.append(rel + " " + " ".join(f"{v:.4f}" for v in uvd.reshape(-1)) + " \r\r\n")
        if bad_line is not None:
            lines.append(bad_line + "\r\r\n")
        (root / label_file).write_bytes("".join(lines).encode())


def test_icvl_train_and_test_sequences(tmp_path):
    write_icvl(tmp_path, {"Training/labels.txt": ["201403121135/image_0000.png", "201403121135/image_0001.png"],
                          "Testing/test_seq_1.txt": ["test_seq_1/image_0000.png"],
                          "Testing/test_seq_2.txt": ["test_seq_2/image_0000.png", "test_seq_2/image_0001.png"]})
    intr = load_intrinsics("icvl")
    train = open_dataset("icvl", tmp_path, "train")
    assert len(train) == 2 and train.skeleton_name == "icvl16" and train.cube_mm == 200
    check_sample(train[1], train, pixel_to_camera_mm(icvl_pose(1), intr), icvl_pose(1))
    test = open_dataset("icvl", tmp_path, "test")
    assert [s.frame_id for s in test] == ["test_seq_1/image_0000.png", "test_seq_2/image_0000.png",
                                          "test_seq_2/image_0001.png"]
    check_sample(test[2], test, pixel_to_camera_mm(icvl_pose(4), intr), icvl_pose(4))


def test_icvl_bad_inputs(tmp_path):
    with pytest.raises(UserError, match="ICVL: expected the train folder at .*Training"):
        open_dataset("icvl", tmp_path, "train")
    write_icvl(tmp_path, {"Testing/test_seq_1.txt": ["test_seq_1/image_0000.png"]})
    with pytest.raises(UserError, match=r"ICVL: expected label file .*test_seq_2.txt"):
        open_dataset("icvl", tmp_path, "test")
    write_icvl(tmp_path, {"Training/labels.txt": ["a/image_0000.png"]}, bad_line="a/image_0001.png 1 2 3")
    with pytest.raises(UserError, match=r"labels.txt line 2: expected 49 fields .* found 4"):
        open_dataset("icvl", tmp_path, "train")
    with pytest.raises(UserError, match="split must be 'train' or 'test'"):
        open_dataset("icvl", tmp_path, "val")


# ---------------------------------------------------------------- MSRA
def msra_pose(k: int) -> np.ndarray:
    uvd = np.zeros((21, 3))
    uvd[:, 0] = 140 + 2 * np.arange(21) + k
    uvd[:, 1] = 101 + 2 * np.arange(21)   # straddles cy = 120
    uvd[:, 2] = 330 + np.arange(21)
    return uvd


def write_msra_bin(path: Path, depth_mm: np.ndarray, box=(120, 80, 220, 170)) -> None:
    left, top, right, bottom = box
    header = np.array([320, 240, left, top, right, bottom], "<i4")
    path.write_bytes(header.tobytes() + depth_mm[top:bottom, left:right].astype("<f4").tobytes())


def write_msra(root: Path, frames_per_gesture: int = 2, gestures=("1", "IP")) -> None:
    intr = load_intrinsics("msra")
    k = 0
    for subject in (f"P{s}" for s in range(9)):
        for gesture in gestures:
            folder = root / subject / gesture
            folder.mkdir(parents=True)
            lines = [f"{frames_per_gesture}\n"]
            for n in range(frames_per_gesture):
                uvd = msra_pose(k)
                k += 1
                xyz = pixel_to_camera_mm(uvd, intr)
                stored = xyz * np.array([1.0, -1.0, -1.0])  # y up, z negative
                lines.append(" ".join(f"{v:.5f}" for v in stored.reshape(-1)) + "\n")
                write_msra_bin(folder / f"{n:06d}_depth.bin", render_disks_mm(uvd, intr, 8.0))
            (folder / "joint.txt").write_text("".join(lines))


def test_msra_leave_one_subject_out(tmp_path):
    write_msra(tmp_path)
    intr = load_intrinsics("msra")
    test = open_dataset("msra", tmp_path, "test", test_subject="P3")
    train = open_dataset("msra", tmp_path, "train", test_subject="P3")
    assert len(test) == 4 and len(train) == 32 and test.skeleton_name == "msra21"
    assert [s.frame_id for s in test] == ["P3/1/000000", "P3/1/000001", "P3/IP/000000", "P3/IP/000001"]
    first_p3 = 3 * 4
    check_sample(test[1], test, pixel_to_camera_mm(msra_pose(first_p3 + 1), intr), msra_pose(first_p3 + 1))
    assert not any(s.frame_id.startswith("P3/") for s in (train[i] for i in range(0, 32, 5)))
    centres = tmp_path / "centres.txt"
    centres.write_text("\n".join(["10 -20 -300", "invalid", "0 0 300", "1 1 301"]) + "\n")
    with_centres = open_dataset("msra", tmp_path, "test", test_subject="P3", centres_file=centres)
    assert with_centres[0].centre_mm.tolist() == [10, 20, 300]  # z made positive, y flipped


def test_msra_bad_inputs(tmp_path):
    with pytest.raises(UserError, match="MSRA: expected the dataset folder"):
        open_dataset("msra", tmp_path / "nope", "test")
    write_msra(tmp_path, frames_per_gesture=1, gestures=("1",))
    with pytest.raises(UserError, match="test_subject must be one of"):
        open_dataset("msra", tmp_path, "test", test_subject="P9")
    joint_txt = tmp_path / "P0" / "1" / "joint.txt"
    joint_txt.write_text("2\n" + joint_txt.read_text().split("\n", 1)[1])
    with pytest.raises(UserError, match="joint.txt announces 2 frames but holds 1 label lines"):
        open_dataset("msra", tmp_path, "test", test_subject="P0")
    bin_path = tmp_path / "P1" / "1" / "000000_depth.bin"
    bin_path.write_bytes(bin_path.read_bytes()[:-4])
    ds = open_dataset("msra", tmp_path, "test", test_subject="P1")
    with pytest.raises(UserError, match="000000_depth.bin has header 320x240 crop"):
        ds[0]
    import shutil
    shutil.rmtree(tmp_path / "P8")
    with pytest.raises(UserError, match="MSRA: expected subject P8 at"):
        open_dataset("msra", tmp_path, "train", test_subject="P0")


# ---------------------------------------------------------------- HANDS2017
def test_hands2017_train(tmp_path):
    intr = load_intrinsics("hands2017")
    images = tmp_path / "training" / "images"
    images.mkdir(parents=True)
    lines = []
    for n in range(1, 3):
        uvd = np.zeros((21, 3))
        uvd[:, 0] = 300 + 3 * np.arange(21) + n
        uvd[:, 1] = 220 + 3 * np.arange(21)
        uvd[:, 2] = 450 + np.arange(21)
        xyz = pixel_to_camera_mm(uvd, intr)
        name = f"image_D{n:08d}.png"
        cv2.imwrite(str(images / name), render_disks_mm(uvd, intr, 10.0).astype(np.uint16))
        lines.append(name + "\t" + "\t".join(f"{v:.4f}" for v in xyz.reshape(-1)) + "\n")
    (tmp_path / "training" / "Training_Annotation.txt").write_text("".join(lines))
    ds = open_dataset("hands2017", tmp_path, "train")
    assert len(ds) == 2 and ds.skeleton_name == "hands2017_21" and ds.cube_mm == 250
    check_sample(ds[1], ds, pixel_to_camera_mm(uvd, intr), uvd)
    assert ds[0].frame_id == "image_D00000001.png"
    with pytest.raises(UserError, match="test labels are not public"):
        open_dataset("hands2017", tmp_path, "test")
    (images / "image_D00000002.png").unlink()
    with pytest.raises(UserError, match=r"HANDS2017: expected depth image .*image_D00000002.png"):
        open_dataset("hands2017", tmp_path, "train")
    (tmp_path / "training" / "Training_Annotation.txt").unlink()
    with pytest.raises(UserError, match=r"HANDS2017: expected label file .*Training_Annotation.txt"):
        open_dataset("hands2017", tmp_path, "train")


# ---------------------------------------------------------------- ITOP
def write_itop(root: Path, split: str = "train", depth_frames: int | None = None) -> np.ndarray:
    intr = load_intrinsics("itop")
    n = 3
    uvd = np.zeros((n, 15, 3))
    uvd[..., 0] = 140 + 3 * np.arange(15)
    uvd[..., 1] = 60 + 9 * np.arange(15)     # head above cy = 120, feet below
    uvd[..., 2] = 2800 + np.arange(n)[:, None] * 10.0
    xyz_mm = pixel_to_camera_mm(uvd, intr)
    world_m = xyz_mm * np.array([1, -1, 1]) / 1000.0
    ids = np.array([f"00_{k:05d}".encode() for k in range(n)])
    depth_m = np.stack([render_disks_mm(uvd[k], intr, 80.0) for k in range(n)]) / 1000.0
    with h5py.File(root / f"ITOP_side_{split}_depth_map.h5", "w") as f:
        f["id"] = ids[:depth_frames]
        f["data"] = depth_m[:depth_frames].astype(np.float16)
    with h5py.File(root / f"ITOP_side_{split}_labels.h5", "w") as f:
        f["id"] = ids
        f["is_valid"] = np.array([1, 0, 1], np.uint8)
        f["visible_joints"] = np.ones((n, 15), np.int16)
        f["image_coordinates"] = uvd[..., :2].astype(np.int16)
        f["real_world_coordinates"] = world_m.astype(np.float32)
        f["segmentation"] = np.full((n, 240, 320), -1, np.int8)
    return uvd


def test_itop_valid_frames_metres_and_y_up(tmp_path):
    uvd = write_itop(tmp_path)
    intr = load_intrinsics("itop")
    ds = open_dataset("itop", tmp_path, "train")
    assert len(ds) == 2 and ds.skeleton_name == "itop15" and ds.cube_mm == 2000
    assert [s.frame_id for s in ds] == ["00_00000", "00_00002"]
    s = ds[1]
    np.testing.assert_allclose(s.joints_mm, pixel_to_camera_mm(uvd[2], intr), atol=2.0)  # float32 metres
    assert s.joints_mm[0, 1] < 0 < s.joints_mm[-1, 1]  # head up (y < 0), feet down
    assert len(s.points_mm) > 100 and 2600 < np.median(s.points_mm[:, 2]) < 3000
    assert len(open_dataset("itop", tmp_path, "train", valid_only=False)) == 3


def test_itop_bad_inputs(tmp_path):
    with pytest.raises(UserError, match=r"ITOP: expected depth file .*ITOP_side_test_depth_map.h5"):
        open_dataset("itop", tmp_path, "test")
    write_itop(tmp_path, "test", depth_frames=2)
    with pytest.raises(UserError, match="data has shape .* but the labels have 3 frames"):
        open_dataset("itop", tmp_path, "test")
    with pytest.raises(UserError, match="view must be 'side' or 'top'"):
        open_dataset("itop", tmp_path, "test", view="front")


def test_registry():
    assert set(DATASET_NAMES) >= {"nyu", "icvl", "msra", "hands2017", "itop", "synthetic"}
    with pytest.raises(UserError, match="unknown dataset 'kitti'"):
        open_dataset("kitti", "/nowhere", "train")
