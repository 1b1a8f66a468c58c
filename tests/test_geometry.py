import json

import numpy as np
import pytest

from handpose_live import geometry
from handpose_live.calib import load_intrinsics, presets
from handpose_live.errors import UserError
from handpose_live.skeletons import HAND21, SKELETONS, get_skeleton
from handpose_live.types import Intrinsics


def test_all_presets_load():
    names = presets()
    for required in ("nyu", "icvl", "msra", "hands2017", "itop", "d435-640x480", "d435-848x480", "d455-640x480",
                     "d455-848x480", "azure-kinect-nfov"):
        assert required in names
    nyu = load_intrinsics("nyu")
    assert (nyu.fx, nyu.fy, nyu.cx, nyu.cy, nyu.width) == (588.036865, 587.075073, 320.0, 240.0, 640)


def test_bad_calib(tmp_path):
    with pytest.raises(UserError, match="unknown camera preset"):
        load_intrinsics("no-such-camera")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"fx": float("nan"), "fy": 1, "cx": 1, "cy": 1, "width": 2, "height": 2}))
    with pytest.raises(UserError, match="non-finite"):
        load_intrinsics(bad)
    bad.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_intrinsics(bad)
    with pytest.raises(UserError, match="focal"):
        Intrinsics(-1, 1, 1, 1, 2, 2)


def test_from_realsense():
    rs = pytest.importorskip("pyrealsense2")
    ri = rs.intrinsics()
    ri.width, ri.height, ri.ppx, ri.ppy, ri.fx, ri.fy = 640, 480, 319.5, 240.2, 383.1, 383.4
    ri.coeffs = [0.1, 0, 0, 0, 0]
    intr = Intrinsics.from_realsense(ri, 0.001)
    assert (intr.fx, intr.cy, intr.width, intr.distortion[0]) == pytest.approx((383.1, 240.2, 640, 0.1))


def test_pixel_camera_round_trip_and_y_down():
    intr = load_intrinsics("d435-640x480")
    uvd = np.array([[100.0, 50.0, 500.0], [600.0, 400.0, 900.0]])
    xyz = geometry.pixel_to_camera_mm(uvd, intr)
    assert xyz[0, 1] < 0 and xyz[1, 1] > 0  # above the principal point is negative y (y down)
    np.testing.assert_allclose(geometry.camera_to_pixel(xyz, intr), uvd, atol=1e-9)
    np.testing.assert_allclose(geometry.flip_y(geometry.flip_y(xyz)), xyz)


def test_depth_to_points_skips_invalid():
    intr = load_intrinsics("icvl")
    depth = np.zeros((240, 320), np.float32)
    depth[100:110, 150:160] = 400
    depth[0, 0] = np.nan
    depth[1, 1] = -5
    pts = geometry.depth_to_points_mm(depth, intr)
    assert pts.shape == (100, 3) and np.all(pts[:, 2] == 400)
    pts = geometry.depth_to_points_mm(depth, intr, roi_px=(150, 100, 155, 105))
    assert pts.shape == (25, 3)
    assert geometry.depth_to_points_mm(depth, intr, z_range_mm=(500, 600)).shape == (0, 3)


def test_voxel_mm_round_trip():
    c = np.array([10.0, -20.0, 500.0])
    p = np.array([[0.0, 0.0, 450.0], [60.0, 10.0, 520.0]])
    v = geometry.mm_to_voxel(p, c, 250.0, 44)
    np.testing.assert_allclose(geometry.voxel_to_mm(v, c, 250.0, 44), p, atol=1e-9)
    # the cube centre is the corner between the two middle voxels
    np.testing.assert_allclose(geometry.mm_to_voxel(c, c, 250.0, 44), [21.5, 21.5, 21.5])


def test_skeletons_consistent():
    assert HAND21.num_joints == 21 and len(HAND21.bones) == 20
    for s in SKELETONS.values():
        assert len(s.groups) == s.num_joints
        for a, b in s.bones:
            assert 0 <= a < s.num_joints and 0 <= b < s.num_joints
        if s.canonical is not None:
            assert len(s.canonical) == s.num_joints
    assert get_skeleton("itop15").num_joints == 15
    h17 = get_skeleton("hands2017_21")
    assert sorted(h17.canonical) == list(range(21))  # a full mapping
    with pytest.raises(UserError):
        get_skeleton("nope")


def test_cube_window_holds_every_point_of_the_cube_and_no_more():
    """Random points inside cubes far off the optical axis (where the far face reaches further
    towards the image centre than the near one), projected with the pinhole model written here
    independently: all fall inside `cube_roi_px`, and the window is tight (its edges are reached
    by the cube's corners). The near face's window alone misses some of them."""
    intr = load_intrinsics("d435-640x480")
    rng = np.random.default_rng(0)
    missed_by_near_face = 0
    for centre, cube in (([250.0, 120.0, 500.0], 250.0), ([-300.0, -200.0, 450.0], 250.0), ([0.0, 0.0, 600.0], 250.0),
                         ([1500.0, 300.0, 3000.0], 2000.0)):
        centre = np.array(centre)
        pts = centre + rng.uniform(-0.5, 0.5, (20000, 3)) * cube
        u = pts[:, 0] * intr.fx / pts[:, 2] + intr.cx
        v = pts[:, 1] * intr.fy / pts[:, 2] + intr.cy
        u0, v0, u1, v1 = geometry.cube_roi_px(centre, cube, intr)
        assert (u >= u0).all() and (u < u1).all() and (v >= v0).all() and (v < v1).all()
        corners = centre + np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * cube / 2
        cu = corners[:, 0] * intr.fx / corners[:, 2] + intr.cx
        cv = corners[:, 1] * intr.fy / corners[:, 2] + intr.cy
        assert u0 == np.floor(cu.min()) and u1 == np.ceil(cu.max()) + 1
        assert v0 == np.floor(cv.min()) and v1 == np.ceil(cv.max()) + 1
        n0, m0, n1, m1 = geometry.cube_roi_px(centre, cube, intr, near_face_only=True)
        missed_by_near_face += int(((u < n0) | (u >= n1) | (v < m0) | (v >= m1)).sum())
    assert missed_by_near_face > 1000
