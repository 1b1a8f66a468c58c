"""3D viewer: the point cloud around the subjects and their skeletons, seen from the sensor.

Open3D's legacy Visualizer, because it renders headless (EGL offscreen, or under xvfb-run) at
interactive rates on a CPU. Its GL backend ignores line widths, so bones are cylinders and joints
spheres: one mesh per subject slot, its vertices recomputed from unit templates when joints change.
It draws no text, so the OpenCV overlay's 2D annotations (`overlay.Panel`: status, legend, labelled
boxes) are drawn as geometry (`Hud`), alike in the window and its screenshots, headless too.
A draw is slow and holds the GIL, so `run` drives this viewer from `ViewerThread` and it redraws
only what changed. The view frames every subject through every result, drawn or skipped
(`observe`), and moves only when they moved enough, easing there, so trembling joints do not shake it.
How each part works: docs/design-notes.md, `sinks/open3d_viewer.py`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..fileio import atomic_path
from ..geometry import cube_roi_px, pixel_to_camera_mm
from ..open3d_import import load as load_open3d
from ..skeletons import Skeleton
from ..targets import get_target
from ..types import DepthFrame, PoseResult
from .base import FpsMeter, Viewer, display_available
from .files import check_writable_target
from .overlay import Box, Panel, frame_panels, subject_annotations

o3d = load_open3d()

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
VIEW_FILL = 0.85          # fraction of the window height the subject box fills (all subjects' boxes: at most)
FOLLOW_SMOOTHING = 0.5    # weight of the previous view when following the subjects (per result)
VIEW_DEAD_BAND = 0.03     # the view's goal moves when the subjects moved by this share of their box
HUD_DEPTH_MM = 12.0       # the annotations' depth: just beyond the near plane (10 mm), before everything
WINDOW_TITLE = "handpose-live (q / Esc: quit)"
BACKGROUND_RGB = (0.08, 0.08, 0.1)
PALM_NORMAL_MM = 60.0     # a hand's palm normal, out of the palm's centre (Subject.palm)
PALM_NORMAL_RADIUS = 0.6  # its radius, as a share of a bone's
PALM_NORMAL_RGB = (0.0, 1.0, 1.0)
HIDDEN_SCALE = 0.5        # a hidden joint's sphere (Subject.visible False), and the bones to it, at this share of the radius
HIDDEN_GREY = 0.65        # and their colour this far towards grey
GREY_RGB = np.array([0.5, 0.5, 0.5])


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
    """All bones (cylinders) and joints (spheres) of a skeleton as one coloured TriangleMesh, and a hand's
    palm normal (`Subject.palm`: a thin cylinder `PALM_NORMAL_MM` long out of the palm's centre). A joint
    the camera does not see (`Subject.visible`) is a smaller, greyer sphere, and so are the bones to it."""

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
        triangles = [cyl_t + b * ncv for b in range(nb + 1)] + [sph_t + (nb + 1) * ncv + j * nsv for j in range(nj)]
        self.colours = np.asarray(skeleton.colours(), np.float64).reshape(-1, 3)
        self._ncv, self._nsv = ncv, nsv
        self.mesh = o3d.geometry.TriangleMesh()
        self.mesh.triangles = o3d.utility.Vector3iVector(np.concatenate(triangles))
        self.seen = np.ones(nj, bool)
        self._set_colours(self.seen)
        self._nv = (nb + 1) * ncv + nj * nsv
        self.set_joints(None)

    def seen_of(self, visible) -> np.ndarray:
        """[J] bool: which joints are drawn as seen (all of them when `visible` is None or of another size)."""
        if visible is None or np.size(visible) != self.num_joints:
            return np.ones(self.num_joints, bool)
        return np.asarray(visible, bool).reshape(-1)

    def _set_colours(self, seen: np.ndarray) -> None:
        greyed = (1 - HIDDEN_GREY) * self.colours + HIDDEN_GREY * GREY_RGB
        joint_rgb = np.where(seen[:, None], self.colours, greyed)
        bone_seen = seen[self.bones[:, 0]] & seen[self.bones[:, 1]]
        bone_rgb = np.where(bone_seen[:, None], self.colours[self.bones[:, 1]], greyed[self.bones[:, 1]])
        self.mesh.vertex_colors = o3d.utility.Vector3dVector(np.concatenate([
            np.repeat(bone_rgb, self._ncv, axis=0), np.repeat([PALM_NORMAL_RGB], self._ncv, axis=0),
            np.repeat(joint_rgb, self._nsv, axis=0)]))
        self.seen = seen

    def set_joints(self, joints_mm: np.ndarray | None, palm=None, visible=None) -> None:
        """Place the mesh on `joints_mm` [J, 3] (and the palm normal on `palm`, a `types.Palm`; the joints
        `visible` says are hidden smaller and greyer); None (or non-finite joints) collapses parts to a point."""
        seen = self.seen_of(visible)
        if not np.array_equal(seen, self.seen):
            self._set_colours(seen)
        if joints_mm is None:
            self.mesh.vertices = o3d.utility.Vector3dVector(np.zeros((self._nv, 3)))
            self.mesh.vertex_normals = o3d.utility.Vector3dVector(np.zeros((self._nv, 3)))
            return
        joints = np.asarray(joints_mm, np.float64).reshape(self.num_joints, 3)
        ok = np.isfinite(joints).all(axis=1)
        joints = np.where(ok[:, None], joints, 0.0)
        a, b = joints[self.bones[:, 0]], joints[self.bones[:, 1]]
        if palm is not None and np.isfinite(palm.position_mm).all() and np.isfinite(palm.normal).all():
            start = np.asarray(palm.position_mm, np.float64)
            a = np.vstack([a, start])
            b = np.vstack([b, start + PALM_NORMAL_MM * np.asarray(palm.normal, np.float64)])
        else:
            a, b = np.vstack([a, np.zeros(3)]), np.vstack([b, np.zeros(3)])
        delta = b - a
        length = np.linalg.norm(delta, axis=1)
        direction = np.where(length[:, None] > 1e-6, delta / np.maximum(length, 1e-6)[:, None], [[0.0, 0.0, 1.0]])
        rot = _rotations_z_to(direction)
        bone_ok = np.append(ok[self.bones[:, 0]] & ok[self.bones[:, 1]], length[-1] > 0)
        bone_seen = seen[self.bones[:, 0]] & seen[self.bones[:, 1]]
        radius = np.append(np.where(bone_seen, 1.0, HIDDEN_SCALE) * self.bone_radius_mm,
                           PALM_NORMAL_RADIUS * self.bone_radius_mm)
        scale = np.stack([radius, radius, length], axis=1) * bone_ok[:, None]
        cyl = np.einsum("bij,bvj->bvi", rot, self._cyl_v[None] * scale[:, None]) + ((a + b) / 2)[:, None]
        cyl_n = np.einsum("bij,vj->bvi", rot, self._cyl_n)
        sph = self._sph_v[None] * (self.joint_radius_mm * np.where(seen, 1.0, HIDDEN_SCALE) * ok)[:, None, None] \
            + joints[:, None]
        sph_n = np.broadcast_to(self._sph_n, sph.shape)
        self.mesh.vertices = o3d.utility.Vector3dVector(np.concatenate([cyl.reshape(-1, 3), sph.reshape(-1, 3)]))
        self.mesh.vertex_normals = o3d.utility.Vector3dVector(
            np.concatenate([cyl_n.reshape(-1, 3), sph_n.reshape(-1, 3)]))


def subject_points_mm(frame: DepthFrame, centres_mm, box_mm: float) -> tuple[np.ndarray, int, float, float]:
    """Points inside a box around each of `centres_mm` ([3] or [S, 3]; the whole frame when None or
    empty), and their depth range to shade.

    Pixels are taken on a regular grid (every `stride`-th row and column) so at most about
    MAX_PIXELS are sampled, without the stripes that thinning the flat point list would leave.
    Returns (points [P, 3] float32, stride, near_mm, far_mm).
    """
    depth = frame.depth_mm
    height, width = depth.shape
    centres = None if centres_mm is None else np.asarray(centres_mm, np.float64).reshape(-1, 3)
    if centres is not None and len(centres):
        rects = []
        for centre in centres:
            u0, v0, u1, v1 = cube_roi_px(centre, box_mm, frame.intrinsics)
            u0, v0, u1, v1 = max(u0, 0), max(v0, 0), min(u1, width), min(v1, height)
            if u1 > u0 and v1 > v0:
                rects.append((u0, v0, u1, v1))
    else:
        centres, rects = None, [(0, 0, width, height)]
    if not rects:
        return np.zeros((0, 3), np.float32), 1, 0.0, 1.0
    area = sum((u1 - u0) * (v1 - v0) for u0, v0, u1, v1 in rects)
    stride = max(1, int(np.ceil(np.sqrt(area / MAX_PIXELS))))
    box = np.array(rects)
    vs, us = np.mgrid[box[:, 1].min():box[:, 3].max():stride, box[:, 0].min():box[:, 2].max():stride]
    if len(rects) > 1:                       # the grid over all boxes, cut to the pixels inside one
        inside = np.zeros(us.shape, bool)
        for u0, v0, u1, v1 in rects:
            inside |= (us >= u0) & (us < u1) & (vs >= v0) & (vs < v1)
        us, vs = us[inside], vs[inside]
    z = np.asarray(depth[vs, us], np.float64)
    valid = np.isfinite(z) & (z > 0)
    points = pixel_to_camera_mm(np.stack([us[valid], vs[valid], z[valid]], axis=1), frame.intrinsics)
    if centres is not None:
        keep = np.zeros(len(points), bool)
        for centre in centres:
            keep |= (np.abs(points - centre) <= box_mm / 2.0).all(axis=1)
        points = points[keep]
    if len(points) == 0:
        return points.astype(np.float32), stride, 0.0, 1.0
    near, far = (float(v) for v in np.percentile(points[:, 2], (1, 99)))
    return points.astype(np.float32), stride, near, max(far, near + 1.0)


def _subject_centre(subject) -> np.ndarray | None:
    if subject.centre_mm is not None and np.isfinite(subject.centre_mm).all():
        return np.asarray(subject.centre_mm, np.float64)
    if subject.joints_mm is not None:
        joints = np.asarray(subject.joints_mm, np.float64).reshape(-1, 3)
        joints = joints[np.isfinite(joints).all(axis=1)]
        if len(joints):
            return joints.mean(axis=0)
    return None


def _centres(result: PoseResult) -> np.ndarray | None:
    """[S, 3] the centres of the subjects that have one; None without any."""
    centres = [c for c in (_subject_centre(s) for s in result.subjects) if c is not None and c[2] > 0]
    return np.stack(centres) if centres else None


def framing(centres: np.ndarray, box_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Where to look to frame every subject's box: (target [3] mm, tan of the half angles [x, y]
    the boxes take seen from the sensor turned to the target)."""
    target = centres.mean(axis=0)
    cam = centres @ sensor_view_extrinsic(target)[:3, :3].T
    half = box_mm / 2.0
    extent = ((np.abs(cam[:, :2]) + half) / np.maximum(cam[:, 2:3], 1.0)).max(axis=0)
    return target, extent


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


class Hud:
    """2D annotations over the 3D view, as one LineSet of 1-pixel lines (unlit: exact colours).

    Each panel's pixel rows are cut into runs of one colour; a run from pixel u0 to u1 in row v
    becomes a segment from u0 - 0.2 to u1 + 0.8 (GL draws a line's pixels from its start up to,
    not including, the pixel it ends in), placed at `HUD_DEPTH_MM` on the rays through those
    pixels of the window's camera, so it covers exactly them. A panel's background colour (the
    one next to its corner) is one run per row, a little further away, and only the other runs lie on it; the
    panels are drawn `crisp` (no anti-aliased edges): both keep the lines few (a few thousand),
    which the software renderer draws at a small cost. Box sides are single lines along a column.
    Set again whenever the view or the annotations change.
    """

    BACK = 1.05           # the backgrounds' depth, relative to the rest

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.lines = o3d.geometry.LineSet()
        self.segments = 0
        self._runs: dict[int, tuple] = {}

    def runs(self, panel: Panel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(first pixel [N, 2] u v, last pixel [N, 2], colour [N, 3] RGB 0..1, depth factor [N]) of
        each run of one colour (cached for the panels that come back: the legend, labels)."""
        image = panel.image
        cached = self._runs.get(id(image))
        if cached is None or cached[0] is not image:
            h, w = image.shape[:2]
            key = image.astype(np.int32)
            key = (key[..., 0] << 16) | (key[..., 1] << 8) | key[..., 2]
            change = key[:, 1:] != key[:, :-1]
            starts = np.ones((h, w), bool)
            starts[:, 1:] = change
            ends = np.ones((h, w), bool)
            ends[:, :-1] = change
            back_colour = np.asarray(image)[min(1, h - 1), min(1, w - 1)]
            fore = key != key[min(1, h - 1), min(1, w - 1)]
            rows, first = np.nonzero(starts & fore)
            _, last = np.nonzero(ends & fore)
            back = np.arange(h)
            colours = np.asarray(image)[rows, first][:, ::-1] / 255.0
            cached = (image,
                      np.concatenate([np.stack([np.zeros(h, int), back], axis=1), np.stack([first, rows], axis=1)]),
                      np.concatenate([np.stack([np.full(h, w - 1), back], axis=1), np.stack([last, rows], axis=1)]),
                      np.concatenate([np.tile(back_colour[::-1] / 255.0, (h, 1)), colours]),
                      np.concatenate([np.full(h, self.BACK), np.ones(len(rows))]))
            if len(self._runs) >= 64:
                self._runs.clear()
            self._runs[id(image)] = cached
        offset = np.array([panel.x, panel.y])
        return cached[1] + offset, cached[2] + offset, cached[3], cached[4]

    @staticmethod
    def box_lines(box: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start [N, 2], end [N, 2], colour [N, 3]) of a box outline's lines, in pixel positions:
        top and bottom rows from just before their first pixel to just past their last, and the
        sides along their columns likewise."""
        starts, ends, colours = [], [], []
        for x0, y0, x1, y1, colour in box.rings():
            starts += [(x0 - 0.2, y0), (x0 - 0.2, y1), (x0, y0 - 0.2), (x1, y0 - 0.2)]
            ends += [(x1 + 0.8, y0), (x1 + 0.8, y1), (x0, y1 + 0.8), (x1, y1 + 0.8)]
            colours += [np.array(colour[::-1], np.float64) / 255.0] * 4
        return np.array(starts, np.float64), np.array(ends, np.float64), np.array(colours)

    def set(self, panels: list[Panel], boxes: list[Box], focal_px: float, extrinsic: np.ndarray) -> None:
        starts, ends, colours, depths = [np.zeros((0, 2))], [np.zeros((0, 2))], [np.zeros((0, 3))], [np.zeros(0)]
        for panel in panels:
            first, last, colour, depth = self.runs(panel)
            keep = (first[:, 1] >= 0) & (first[:, 1] < self.height) & (last[:, 0] >= 0) & (first[:, 0] < self.width)
            first, last = first[keep].astype(np.float64), last[keep].astype(np.float64)
            first[:, 0] = np.maximum(first[:, 0], 0) - 0.2
            last[:, 0] = np.minimum(last[:, 0], self.width - 1) + 0.8
            starts.append(first)
            ends.append(last)
            colours.append(colour[keep])
            depths.append(depth[keep])
        for box in boxes:
            start, end, colour = self.box_lines(box)
            starts.append(np.clip(start, -1, [self.width, self.height]))
            ends.append(np.clip(end, -1, [self.width, self.height]))
            colours.append(colour)
            depths.append(np.ones(len(start)))
        start, end, colour, depth = (np.concatenate(x) for x in (starts, ends, colours, depths))
        n = len(start)
        if n == 0:     # an empty LineSet is not drawn at all; a line of no length outside the view draws nothing
            start, end, colour, depth, n = np.full((1, 2), -1e3), np.full((1, 2), -1e3), np.zeros((1, 3)), np.ones(1), 1
        uv = np.concatenate([start, end])
        ray = np.stack([(uv[:, 0] - (self.width / 2 - 0.5)) / focal_px, (uv[:, 1] - (self.height / 2 - 0.5)) / focal_px,
                        np.ones(len(uv))], axis=1) * (HUD_DEPTH_MM * np.concatenate([depth, depth]))[:, None]
        world = (ray - extrinsic[:3, 3]) @ extrinsic[:3, :3]     # camera -> world: R^T (p - t)
        self.lines.points = o3d.utility.Vector3dVector(world)
        self.lines.lines = o3d.utility.Vector2iVector(np.stack([np.arange(n), np.arange(n) + n], axis=1).astype(np.int32))
        self.lines.colors = o3d.utility.Vector3dVector(colour)
        self.segments = n


class Open3DViewer(Viewer):
    """Live 3D view; `screenshot(path)` saves what is shown.

    `quit_requested` turns true when the user closes the window (or presses q / Esc, which close
    it). `write` draws and polls on the caller's thread; `ViewerThread` calls `draw` and `poll` on
    the thread that created it. `max_subjects` skeleton slots are made up front (by default as
    many as `run` tracks: 2 hands or 1 person), more when more subjects come at once.
    """

    def __init__(self, skeleton: Skeleton, width: int = 960, height: int = 720, visible: bool = True,
                 screenshot_path=None, max_subjects: int | None = None) -> None:
        self.skeleton = skeleton
        self.width, self.height = int(width), int(height)
        self.scale = SCALES.get(skeleton.target, SCALES["hand"])
        self.screenshot_path = None if screenshot_path is None else Path(screenshot_path)
        if self.screenshot_path is not None:
            check_writable_target(self.screenshot_path)
        self.showing = bool(visible) and display_available()   # else EGL off-screen: images only
        self.quit_requested = False
        # Open3D's own log says, coloured, what `run` reports itself ("GLFW Error" and the EGL fallback when
        # there is no display: the summary's "no window"; no window at all: NO_WINDOW_MESSAGE): errors only
        o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
        self._vis = o3d.visualization.Visualizer()
        if not self._vis.create_window(window_name=WINDOW_TITLE, width=self.width, height=self.height,
                                       visible=visible):
            raise UserError(NO_WINDOW_MESSAGE)
        self._open = True
        options = self._vis.get_render_option()
        options.background_color = np.asarray(BACKGROUND_RGB)
        options.mesh_show_back_face = True
        self._cloud = o3d.geometry.PointCloud()
        self._slots: list[SkeletonMesh] = []
        self._slot_joints: list[np.ndarray | None] = []   # the joints each slot's mesh shows
        self._added = False
        if max_subjects is None:     # `run`'s default for the target
            max_subjects = get_target(skeleton.target).default_subjects
        for _ in range(max(1, int(max_subjects))):
            self._add_slot()
        self._hud = Hud(self.width, self.height)
        self._fps = FpsMeter()
        self._goal: tuple[np.ndarray, np.ndarray] | None = None   # (target, extent) the view eases to
        self._view_target: np.ndarray | None = None
        self._view_extent: np.ndarray | None = None
        self._view: tuple | None = None              # (focal px, extrinsic, point size) applied last
        self._frames = 0

    def _add_slot(self) -> SkeletonMesh:
        """One more skeleton mesh, kept for the viewer's life (collapsed while no subject uses it)."""
        mesh = SkeletonMesh(self.skeleton, self.scale.bone_radius_mm, self.scale.joint_radius_mm)
        self._slots.append(mesh)
        self._slot_joints.append(None)
        if self._added:
            self._vis.add_geometry(mesh.mesh, reset_bounding_box=False)
        return mesh

    @property
    def slots(self) -> int:
        return len(self._slots)

    def draw(self, frame: DepthFrame, result: PoseResult, fps: float | None = None) -> None:
        if not self._open:
            raise ValueError("Open3DViewer is closed")
        centres = _centres(result)
        points, stride, near, far = subject_points_mm(frame, centres, self.scale.box_mm)
        shade = 0.9 - 0.6 * np.clip((points[:, 2] - near) / (far - near), 0.0, 1.0)
        if centres is not None and len(points):
            points = points * ((points[:, 2:3] + self.scale.cloud_push_mm) / points[:, 2:3])
        self._cloud.points = o3d.utility.Vector3dVector(points.astype(np.float64))
        self._cloud.colors = o3d.utility.Vector3dVector(np.repeat(shade[:, None], 3, axis=1).astype(np.float64))
        subjects = [s for s in result.subjects if s.joints_mm is not None]
        while len(self._slots) < len(subjects):
            self._add_slot()
        moved = []
        for k, slot in enumerate(self._slots):
            joints = subjects[k].joints_mm if k < len(subjects) else None
            visible = subjects[k].visible if k < len(subjects) else None
            if not _same_joints(joints, self._slot_joints[k]) or not np.array_equal(slot.seen_of(visible), slot.seen):
                slot.set_joints(joints, subjects[k].palm if k < len(subjects) else None, visible)
                self._slot_joints[k] = None if joints is None else np.array(joints, np.float64)
                moved.append(slot)
        if centres is not None:
            self._follow(centres)
        focal_px, extrinsic, point_size = self._camera(frame, stride)
        self._set_hud(frame, result, subjects, fps, focal_px, extrinsic)
        if not self._added:
            self._vis.add_geometry(self._cloud, reset_bounding_box=True)
            for slot in self._slots:
                self._vis.add_geometry(slot.mesh, reset_bounding_box=False)
            self._vis.add_geometry(self._hud.lines, reset_bounding_box=False)
            self._added = True
        else:
            self._vis.update_geometry(self._cloud)
            for slot in moved:
                self._vis.update_geometry(slot.mesh)
            self._vis.update_geometry(self._hud.lines)
        self._set_view(focal_px, extrinsic, point_size)
        self._vis.update_renderer()        # rendered by the next poll (or screenshot)
        self._frames += 1

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        self.draw(frame, result, self._fps.tick())
        self.poll()

    def observe(self, result: PoseResult) -> None:
        """A result not drawn still moves the view, so the view is the same whichever are drawn."""
        centres = _centres(result)
        if centres is not None:
            self._follow(centres)

    def poll(self) -> bool:
        if not self._vis.poll_events():
            self.quit_requested = True
        return self.quit_requested

    def _follow(self, centres: np.ndarray) -> None:
        """Move the view towards framing `centres`: once per result, drawn or not. The goal changes
        only when the subjects moved by `VIEW_DEAD_BAND` of their box (or their spread changed as
        much); the view eases to it by `FOLLOW_SMOOTHING` per result."""
        target, extent = framing(centres, self.scale.box_mm)
        if self._goal is None or (np.linalg.norm(target - self._goal[0]) > VIEW_DEAD_BAND * self.scale.box_mm
                                  or (np.abs(extent - self._goal[1]) > VIEW_DEAD_BAND * self._goal[1]).any()):
            self._goal = (target, extent)
        if self._view_target is None:
            self._view_target, self._view_extent = self._goal[0].copy(), self._goal[1].copy()
        elif (np.abs(self._view_target - self._goal[0]).max() < 0.001 * self.scale.box_mm
              and (np.abs(self._view_extent - self._goal[1]) < 0.001 * self._goal[1]).all()):
            self._view_target, self._view_extent = self._goal[0].copy(), self._goal[1].copy()   # arrived: still
        else:
            self._view_target = FOLLOW_SMOOTHING * self._view_target + (1 - FOLLOW_SMOOTHING) * self._goal[0]
            self._view_extent = FOLLOW_SMOOTHING * self._view_extent + (1 - FOLLOW_SMOOTHING) * self._goal[1]

    def _camera(self, frame: DepthFrame, stride: int) -> tuple[float, np.ndarray, float]:
        """(focal px, world->camera 4x4, point size): the sensor's viewpoint turned to the subjects
        and zoomed so their boxes fill `VIEW_FILL` of the window; the sensor's own before any."""
        if self._view_target is not None:
            ex, ey = self._view_extent
            focal_px = VIEW_FILL * min(self.height / 2 / ey, self.width / 2 / ex)
            extrinsic = sensor_view_extrinsic(self._view_target)
        else:
            focal_px = frame.intrinsics.fy * self.height / frame.intrinsics.height
            extrinsic = np.eye(4)
        # Neighbouring points lie stride * focal_px / sensor focal window pixels apart: points that
        # big leave no gaps between them.
        spacing_px = stride * focal_px / frame.intrinsics.fy
        return focal_px, extrinsic, float(np.clip(1.2 * spacing_px, 1.0, 10.0))

    def _set_hud(self, frame: DepthFrame, result: PoseResult, subjects: list, fps: float | None, focal_px: float,
                 extrinsic: np.ndarray) -> None:
        """Status, legend, and each subject's box and label where its joints are in the window."""
        points = []
        for subject in subjects:
            joints = np.asarray(subject.joints_mm, np.float64).reshape(-1, 3)
            cam = joints @ extrinsic[:3, :3].T + extrinsic[:3, 3]
            with np.errstate(divide="ignore", invalid="ignore"):
                uv = cam[:, :2] / cam[:, 2:3] * focal_px + [self.width / 2 - 0.5, self.height / 2 - 0.5]
            points.append(np.where(cam[:, 2:3] > 1.0, uv, np.nan))
        panels = frame_panels(result, self.skeleton, self.width, self.height, fps, hint=True, crisp=True)
        boxes, labels = subject_annotations(subjects, points, self.skeleton.target, self.width, self.height, crisp=True,
                                            avoid=panels[:1])
        self._hud.set(panels + labels, boxes, focal_px, extrinsic)

    def _set_view(self, focal_px: float, extrinsic: np.ndarray, point_size: float) -> None:
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
