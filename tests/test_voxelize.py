import numpy as np
import pytest
import torch

from handpose_live.calib import load_intrinsics
from handpose_live.geometry import cube_roi_px, depth_to_points_mm, norm_to_voxel
from handpose_live.heatmaps import decode_heatmaps, gaussian_targets
from handpose_live.voxelize import (
    Augmentation,
    augment_points_norm,
    normalise_points,
    voxelize_depth,
    voxelize_depth_many,
    voxelize_points,
)


def numpy_reference(points_mm, centre_mm, cube_mm, grid):
    """Plain NumPy voxelizer, written independently from the torch one."""
    out = np.zeros((grid, grid, grid), np.float32)
    rel = (points_mm.astype(np.float32) - centre_mm.astype(np.float32)) / np.float32(cube_mm)
    idx = np.floor((rel + np.float32(0.5)) * np.float32(grid)).astype(np.int64)
    for x, y, z in idx:
        if 0 <= x < grid and 0 <= y < grid and 0 <= z < grid:
            out[z, y, x] = 1
    return out


def test_torch_voxelizer_matches_numpy_reference():
    rng = np.random.default_rng(0)
    for grid, cube in ((88, 250.0), (64, 200.0), (32, 2000.0)):
        centre = np.array([15.0, -30.0, 500.0], np.float32)
        pts = (centre + rng.normal(0, cube / 3, size=(5000, 3))).astype(np.float32)
        ref = numpy_reference(pts, centre, cube, grid)
        got = voxelize_points(torch.from_numpy(pts)[None], torch.from_numpy(centre)[None], cube, grid)
        assert got.shape == (1, 1, grid, grid, grid)
        assert ref.sum() > 100
        np.testing.assert_array_equal(got[0, 0].numpy(), ref)


def test_batched_with_padding_mask():
    pts = torch.tensor([[[0.0, 0.0, 500.0], [1e6, 0, 0]], [[60.0, 60.0, 560.0], [0.0, 0.0, 500.0]]])
    valid = torch.tensor([[True, False], [True, True]])
    centres = torch.tensor([[0.0, 0.0, 500.0], [0.0, 0.0, 500.0]])
    g = voxelize_points(pts, centres, 250.0, 16, valid=valid)
    assert g[0].sum() == 1 and g[1].sum() == 2


def test_depth_image_path_equals_points_path():
    intr = load_intrinsics("d435-640x480")
    depth = np.zeros((480, 640), np.float32)
    yy, xx = np.mgrid[0:480, 0:640]
    blob = (xx - 300) ** 2 + (yy - 220) ** 2 < 60 ** 2
    depth[blob] = 480 + 0.05 * (xx[blob] - 300)
    depth[0:50, :] = 2000  # far background is outside the slab
    centre = np.array([-20.0, -25.0, 490.0], np.float32)
    got = voxelize_depth(torch.from_numpy(depth), intr, centre, 250.0, 64)[0, 0].numpy()
    pts = depth_to_points_mm(depth, intr, roi_px=cube_roi_px(centre, 250.0, intr), z_range_mm=(365.0, 615.0))
    ref = numpy_reference(pts, centre, 250.0, 64)
    assert ref.sum() > 50
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("target,cube", [("hand", 250.0), ("body", 2000.0)])
def test_live_voxelizer_equals_the_reference_on_real_scenes(target, cube):
    """The live path's folded affine map gives the occupancy of back-projecting every pixel of the
    cube's window and voxelizing the points (NumPy, independently written), for several centres at once,
    near and far subjects, and centres whose cube leaves the image."""
    from handpose_live.capture.synthetic import SyntheticCamera

    cam = SyntheticCamera(target=target, seed=5)
    frames = cam.frames()
    for _, f in zip(range(3), frames):
        true = np.asarray(f.ground_truth_centre_mm, np.float64).reshape(3)
        centres = np.stack([true, true + [0.3 * cube, -0.2 * cube, 0.1 * cube], [-1.5 * cube, 0, true[2]],
                            [0.0, 0.0, cube * 0.45]])
        got = voxelize_depth_many(torch.from_numpy(f.depth_mm.astype(np.float32)), f.intrinsics, centres, cube, 64)
        assert got.shape == (4, 1, 64, 64, 64)
        for c, grid in zip(centres, got):
            lo, hi = c[2] - cube / 2, c[2] + cube / 2
            pts = depth_to_points_mm(f.depth_mm, f.intrinsics, roi_px=cube_roi_px(c, cube, f.intrinsics),
                                     z_range_mm=(max(lo, 1e-3), hi))
            ref = numpy_reference(pts, c.astype(np.float32), cube, 64)
            assert np.array_equal(grid[0].numpy(), ref), f"{int((grid[0].numpy() != ref).sum())} voxels differ"
        assert got[0].sum() > 100
    cam.close()


def test_augmentation_moves_points_and_joints_together():
    g = torch.Generator().manual_seed(1)
    aug = Augmentation.sample(2, g)
    pts = torch.randn(2, 100, 3) * 40 + torch.tensor([0.0, 0.0, 500.0])
    centre = torch.tensor([[0.0, 0.0, 500.0]] * 2)
    norm = augment_points_norm(normalise_points(pts, centre, 250.0), aug, 64)
    # distances scale uniformly with the sampled scale (rotation and shift preserve them)
    d0 = (pts[0, :, None] - pts[0, None]).norm(dim=-1) / 250.0
    d1 = (norm[0, :, None] - norm[0, None]).norm(dim=-1)
    torch.testing.assert_close(d1, d0 * aug.scale[0], rtol=1e-4, atol=1e-5)
    assert (aug.scale >= 0.8).all() and (aug.scale <= 1.2).all()
    assert (aug.angle_rad.abs() <= np.deg2rad(40) + 1e-6).all()


def test_decode_recovers_subvoxel_positions():
    joints = torch.tensor([[[10.3, 20.7, 5.5], [1.2, 30.0, 15.9]]])
    heat = gaussian_targets(joints, 32)
    dec, conf = decode_heatmaps(heat)
    assert torch.allclose(dec, joints, atol=1e-3)
    assert (conf > 0.8).all()
    # a negative-valued (untrained) heatmap still decodes to a voxel inside the grid
    dec2, _ = decode_heatmaps(-heat)
    assert ((dec2 >= 0) & (dec2 <= 31)).all()


def test_targets_and_voxels_share_coordinates():
    # a joint placed on an occupied voxel's centre decodes to that voxel (input grid = 2x output grid)
    centre = torch.tensor([[0.0, 0.0, 500.0]])
    p = torch.tensor([[[12.0, -40.0, 530.0]]])
    norm = normalise_points(p, centre, 250.0)
    vox_in = voxelize_points(p, centre, 250.0, 64)
    z, y, x = [int(i) for i in torch.nonzero(vox_in[0, 0])[0]]
    j = norm_to_voxel(norm, 32)[0, 0]
    assert abs(j[0] - x / 2) <= 0.5 and abs(j[1] - y / 2) <= 0.5 and abs(j[2] - z / 2) <= 0.5
