"""3D viewer: the point cloud around the subject and the skeleton, seen from the sensor.

Uses Open3D's legacy Visualizer because it renders headless (EGL offscreen when there is no
DISPLAY, or under xvfb-run) at interactive rates on a CPU, unlike the new renderer. Line
widths are ignored by its GL backend, so bones are cylinders and joints are spheres: one
mesh whose vertices are recomputed from unit templates (numpy, no rebuild) when the joints change.

A draw costs about as much as the pose itself on a CPU (software GL under Xvfb), and Open3D keeps
Python's GIL while it renders, so `run` drives this viewer from `ViewerThread`: it draws only the
newest result, at most at the display rate, and only what changed (the cloud; the skeleton and
the view when they moved). The view follows the subject through every result, drawn or skipped
(`observe`), so skipping stale results does not change where it looks.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import open3d as o3d

from ..errors import UserError
from ..fileio import atomic_path
from ..geometry import cube_roi_px, pixel_to_camera_mm
from ..skeletons import Skeleton
from ..types import DepthFrame, PoseResult
from .base import Viewer, display_available
from .files import check_writable_target

NO_WINDOW_MESSAGE = ("cannot open an Open3D window: no display and no EGL; use --viewer opencv or --viewer none, "
                     "or run under xvfb-run")


class SubjectScale:
    """Sizes in mm for a hand or a body: the box of points shown and the skeleton thickness.

    `cloud_push_mm` moves the cloud back along each camera ray: joints lie inside the hand,
    just behind the measured surface, so without it the cloud would hide the skeleton from
    the sensor's viewpoint. Moving along the ray leaves the cloud's image from the sensor
    unchanged.
    """

    def __init__(self, box_mm: float, bone_radius_mm: float, joint_radius_mm: float, cloud_push_mm: float):
        self.box_mm = box_mm
        self.bone_radius_mm = bone_radius_mm
        self.joint_radius_mm = joint_radius_mm
        self.cloud_push_mm = cloud_push_mm


SCALES = {"hand": SubjectScale(320.0, 3.0, 5.0, 25.0), "body": SubjectScale(2400.0, 25.0, 40.0, 150.0)}
MAX_PIXELS = 100000  # depth pixels sampled per frame (about 20-40k points near a hand)
VIEW_FILL = 0.85          # fraction of the window height the subject box fills
FOLLOW_SMOOTHING = 0.5    # weight of the previous view direction when following the subject (per result)
BACKGROUND_RGB = (0.08, 0.08, 0.1)


def _unit_template(mesh: o3d.geometry.TriangleMesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mesh.compute_vertex_normals()
    return np.asarray(mesh.vertices), np.asarray(mesh.vertex_normals), np.asarray(mesh.triangles)


def _rotations_z_to(directions: np.ndarray) -> np.ndarray:
    """[N, 3] unit vectors -> [N, 3, 3] rotations taking +z onto each (columns x, y, z)."""
    z = directions
    helper = np.where(np.abs(z[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


class SkeletonMesh:
    """All bones (cylinders) and joints (spheres) of a skeleton as one coloured TriangleMesh."""

    def __init__(self, skeleton: Skeleton, bone_radius_mm: float, joint_radius_mm: float):
        self.bones = np.asarray(skeleton.bones, dtype=np.int64).reshape(-1, 2)
        self.num_joints = skeleton.num_joints
        self.bone_radius_mm = bone_radius_mm
        self.joint_radius_mm = joint_radius_mm
        self._cyl_v, self._cyl_n, cyl_t = _unit_template(
            o3d.geometry.TriangleMesh.create_cylinder(radius=1.0, height=1.0, resolution=12, split=1))
        self._sph_v, self._sph_n, sph_t = _unit_template(
            o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=8))
        nb, nj, ncv, nsv = len(self.bones), self.num_joints, len(self._cyl_v), len(self._sph_v)
        triangles = [cyl_t + b * ncv for b in range(nb)] + [sph_t + nb * ncv + j * nsv for j in range(nj)]
        colours = np.asarray(skeleton.colours(), np.float64).reshape(-1, 3)
        vertex_colours = np.concatenate([np.repeat(colours[self.bones[:, 1]], ncv, axis=0),
                                         np.repeat(colours, nsv, axis=0)]) if nb + nj else np.zeros((0, 3))
        self.mesh = o3d.geometry.TriangleMesh()
        self.mesh.triangles = o3d.utility.Vector3iVector(np.concatenate(triangles) if triangles else np.zeros((0, 3), np.int32))
        self.mesh.vertex_colors = o3d.utility.Vector3dVector(vertex_colours)
        self._nv = nb * ncv + nj * nsv
        self.set_joints(None)

    def set_joints(self, joints_mm: np.ndarray | None) -> None:
        """Place the mesh on `joints_mm` [J, 3]; None (or non-finite joints) collapses parts to a point."""
        if joints_mm is None:
            self.mesh.vertices = o3d.utility.Vector3dVector(np.zeros((self._nv, 3)))
            self.mesh.vertex_normals = o3d.utility.Vector3dVector(np.zeros((self._nv, 3)))
            return
        joints = np.asarray(joints_mm, np.float64).reshape(self.num_joints, 3)
        ok = np.isfinite(joints).all(axis=1)
        joints = np.where(ok[:, None], joints, 0.0)
        a, b = joints[self.bones[:, 0]], joints[self.bones[:, 1]]
        delta = b - a
        length = np.linalg.norm(delta, axis=1)
        direction = np.where(length[:, None] > 1e-6, delta / np.maximum(length, 1e-6)[:, None], [[0.0, 0.0, 1.0]])
        rot = _rotations_z_to(direction)
        bone_ok = ok[self.bones[:, 0]] & ok[self.bones[:, 1]]
        scale = np.stack([np.full_like(length, self.bone_radius_mm), np.full_like(length, self.bone_radius_mm),
                          length], axis=1) * bone_ok[:, None]
        cyl = np.einsum("bij,bvj->bvi", rot, self._cyl_v[None] * scale[:, None]) + ((a + b) / 2)[:, None]
        cyl_n = np.einsum("bij,vj->bvi", rot, self._cyl_n)
        sph = self._sph_v[None] * (self.joint_radius_mm * ok)[:, None, None] + joints[:, None]
        sph_n = np.broadcast_to(self._sph_n, sph.shape)
        self.mesh.vertices = o3d.utility.Vector3dVector(np.concatenate([cyl.reshape(-1, 3), sph.reshape(-1, 3)]))
        self.mesh.vertex_normals = o3d.utility.Vector3dVector(
            np.concatenate([cyl_n.reshape(-1, 3), sph_n.reshape(-1, 3)]))


def subject_points_mm(frame: DepthFrame, centre_mm: np.ndarray | None,
                      box_mm: float) -> tuple[np.ndarray, int, float, float]:
    """Points inside a box around `centre_mm` (whole frame when None), and their depth range to shade.

    Pixels are taken on a regular grid (every `stride`-th row and column) so at most about
    MAX_PIXELS are sampled, without the stripes that thinning the flat point list would leave.
    Returns (points [P, 3] float32, stride, near_mm, far_mm).
    """
    depth = frame.depth_mm
    height, width = depth.shape
    if centre_mm is not None:
        centre = np.asarray(centre_mm, np.float64)
        u0, v0, u1, v1 = cube_roi_px(centre, box_mm, frame.intrinsics)
        u0, v0, u1, v1 = max(u0, 0), max(v0, 0), min(u1, width), min(v1, height)
    else:
        u0, v0, u1, v1 = 0, 0, width, height
    if u1 <= u0 or v1 <= v0:
        return np.zeros((0, 3), np.float32), 1, 0.0, 1.0
    stride = max(1, int(np.ceil(np.sqrt((u1 - u0) * (v1 - v0) / MAX_PIXELS))))
    vs, us = np.mgrid[v0:v1:stride, u0:u1:stride]
    z = np.asarray(depth[vs, us], np.float64)
    valid = np.isfinite(z) & (z > 0)
    points = pixel_to_camera_mm(np.stack([us[valid], vs[valid], z[valid]], axis=1), frame.intrinsics)
    if centre_mm is not None:
        points = points[(np.abs(points - centre) <= box_mm / 2.0).all(axis=1)]
    if len(points) == 0:
        return points.astype(np.float32), stride, 0.0, 1.0
    near, far = (float(v) for v in np.percentile(points[:, 2], (1, 99)))
    return points.astype(np.float32), stride, near, max(far, near + 1.0)


def _subject_centre(result: PoseResult) -> np.ndarray | None:
    if not result.found:
        return None
    if result.centre_mm is not None and np.isfinite(result.centre_mm).all():
        return np.asarray(result.centre_mm, np.float64)
    if result.joints_mm is not None:
        joints = np.asarray(result.joints_mm, np.float64).reshape(-1, 3)
        joints = joints[np.isfinite(joints).all(axis=1)]
        if len(joints):
            return joints.mean(axis=0)
    return None


def sensor_view_extrinsic(target_mm: np.ndarray) -> np.ndarray:
    """World->camera 4x4 of a camera at the sensor's origin turned to look at `target_mm`.

    Open3D's camera and ours share the convention (x right, y down, z forward), so the
    identity is the sensor itself; the camera's x axis stays horizontal (no roll).
    """
    forward = np.asarray(target_mm, np.float64) / np.linalg.norm(target_mm)
    right = np.cross([0.0, 1.0, 0.0], forward)
    norm = np.linalg.norm(right)
    right = right / norm if norm > 1e-6 else np.array([1.0, 0.0, 0.0])
    down = np.cross(forward, right)
    extrinsic = np.eye(4)
    extrinsic[:3, :3] = np.stack([right, down, forward])
    return extrinsic


class Open3DViewer(Viewer):
    """Live 3D view; `screenshot(path)` saves what is shown.

    `quit_requested` turns true when the user closes the window. `write` draws and polls on the
    caller's thread; `ViewerThread` calls `draw` and `poll` on the thread that created it.
    """

    def __init__(self, skeleton: Skeleton, width: int = 960, height: int = 720, visible: bool = True,
                 screenshot_path=None) -> None:
        self.skeleton = skeleton
        self.width, self.height = int(width), int(height)
        self.scale = SCALES.get(skeleton.target, SCALES["hand"])
        self.screenshot_path = None if screenshot_path is None else Path(screenshot_path)
        if self.screenshot_path is not None:
            check_writable_target(self.screenshot_path)
        self.showing = bool(visible) and display_available()   # else EGL off-screen: images only
        self.quit_requested = False
        self._vis = o3d.visualization.Visualizer()
        if not self._vis.create_window(window_name="handpose-live", width=self.width, height=self.height,
                                       visible=visible):
            raise UserError(NO_WINDOW_MESSAGE)
        self._open = True
        options = self._vis.get_render_option()
        options.background_color = np.asarray(BACKGROUND_RGB)
        options.mesh_show_back_face = True
        self._cloud = o3d.geometry.PointCloud()
        self._skeleton = SkeletonMesh(skeleton, self.scale.bone_radius_mm, self.scale.joint_radius_mm)
        self._joints: np.ndarray | None = None      # the joints the skeleton mesh shows
        self._added = False
        self._view_target: np.ndarray | None = None
        self._view: tuple | None = None              # (focal px, extrinsic, point size) applied last
        self._frames = 0

    def draw(self, frame: DepthFrame, result: PoseResult, fps: float | None = None) -> None:
        if not self._open:
            raise ValueError("Open3DViewer is closed")
        centre = _subject_centre(result)
        points, stride, near, far = subject_points_mm(frame, centre, self.scale.box_mm)
        shade = 0.9 - 0.6 * np.clip((points[:, 2] - near) / (far - near), 0.0, 1.0)
        if centre is not None and len(points):
            points = points * ((points[:, 2:3] + self.scale.cloud_push_mm) / points[:, 2:3])
        self._cloud.points = o3d.utility.Vector3dVector(points.astype(np.float64))
        self._cloud.colors = o3d.utility.Vector3dVector(np.repeat(shade[:, None], 3, axis=1).astype(np.float64))
        joints = result.joints_mm if result.found and result.joints_mm is not None else None
        moved = not _same_joints(joints, self._joints)
        if moved:
            self._skeleton.set_joints(joints)
            self._joints = None if joints is None else np.array(joints, np.float64)
        if not self._added:
            self._vis.add_geometry(self._cloud, reset_bounding_box=True)
            self._vis.add_geometry(self._skeleton.mesh, reset_bounding_box=False)
            self._added = True
        else:
            self._vis.update_geometry(self._cloud)
            if moved:
                self._vis.update_geometry(self._skeleton.mesh)
        self._set_view(frame, centre, stride)
        self._vis.update_renderer()        # rendered by the next poll (or screenshot)
        self._frames += 1

    def observe(self, result: PoseResult) -> None:
        """A result not drawn still moves the view, so the view is the same whichever are drawn."""
        centre = _subject_centre(result)
        if centre is not None:
            self._follow(centre)

    def poll(self) -> bool:
        if not self._vis.poll_events():
            self.quit_requested = True
        return self.quit_requested

    def _follow(self, centre: np.ndarray) -> np.ndarray:
        """The view target, moved towards `centre`: once per result, drawn or not."""
        if self._view_target is None:
            self._view_target = centre.copy()
        else:
            self._view_target = FOLLOW_SMOOTHING * self._view_target + (1 - FOLLOW_SMOOTHING) * centre
        return self._view_target

    def _set_view(self, frame: DepthFrame, centre: np.ndarray | None, stride: int) -> None:
        """Sensor viewpoint, zoomed so the subject box fills the window; follows the subject."""
        if centre is not None:
            target = self._follow(centre)
            focal_px = VIEW_FILL * self.height * target[2] / self.scale.box_mm
            extrinsic = sensor_view_extrinsic(target)
        elif self._view_target is None:
            focal_px = frame.intrinsics.fy * self.height / frame.intrinsics.height
            extrinsic = np.eye(4)
        else:
            return
        # Neighbouring points lie stride * focal_px / sensor focal window pixels apart: points that
        # big leave no gaps between them.
        spacing_px = stride * focal_px / frame.intrinsics.fy
        point_size = float(np.clip(1.2 * spacing_px, 1.0, 10.0))
        if (self._view is not None and self._view[0] == focal_px and np.array_equal(self._view[1], extrinsic)
                and self._view[2] == point_size):
            return                                   # the same view: nothing to recompute
        self._view = (focal_px, extrinsic, point_size)
        params = o3d.camera.PinholeCameraParameters()
        params.intrinsic = o3d.camera.PinholeCameraIntrinsic(self.width, self.height, focal_px, focal_px,
                                                             self.width / 2 - 0.5, self.height / 2 - 0.5)
        params.extrinsic = extrinsic
        self._vis.get_render_option().point_size = point_size
        control = self._vis.get_view_control()
        control.convert_from_pinhole_camera_parameters(params, allow_arbitrary=True)
        control.set_constant_z_near(10.0)
        control.set_constant_z_far(20000.0)

    def screenshot(self, path) -> None:
        """Render now and save a PNG/JPG, atomically (never a half image)."""
        path = Path(path)
        check_writable_target(path)
        with atomic_path(path) as temp:   # keeps the suffix, which picks the image format
            self._vis.capture_screen_image(str(temp), do_render=True)
            if not temp.exists():
                raise UserError(f"cannot write screenshot {path}")

    def close(self) -> None:
        if not self._open:
            return
        try:
            if self.screenshot_path is not None and self._frames:
                self.screenshot(self.screenshot_path)
        finally:
            self._open = False
            self._vis.destroy_window()


def _same_joints(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(np.asarray(a, np.float64), b, equal_nan=True)


def open3d_window_available() -> tuple[bool, str]:
    """Whether Open3D can open a (hidden) window here, and how: for `handpose-live doctor`."""
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    vis = o3d.visualization.Visualizer()
    if not vis.create_window(window_name="handpose-live doctor", width=64, height=48, visible=False):
        return False, NO_WINDOW_MESSAGE.replace("cannot open an Open3D window: ", "")
    vis.destroy_window()
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return True, f"window on display {os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')}"
    return True, "no display: EGL offscreen rendering (screenshots work, no window is shown)"
