"""One synthetic frame: a posed subject in a room, rendered, passed through the sensor, with
exact ground truth. Shared by the dataset generator and the synthetic camera.

Visibility of a joint: its pixel lies in the image and the clean render there is not nearer
than (joint depth - joint surface radius - 10 mm), i.e. nothing occludes it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import back_project, camera_to_pixel, cube_roi_px
from ..targets import get_target
from ..types import Intrinsics
from .body import BodyPose, body_joints, body_surface, sample_body_pose, sample_body_view, yaw_rotation
from .hand import PRIOR_FRACTION, HandModel, HandPose, HandShape, nyu_prior, sample_hand_pose
from .render import Background, Plane, clip_roi, render_depth_mm
from .sensor import SensorModel
from .shapes import Surface, rotation_about

VISIBILITY_TOL_MM = 10.0


@dataclass
class Subject:
    joints_mm: np.ndarray          # [J, 3] camera mm
    joint_radius_mm: np.ndarray    # [J] surface distance around each joint
    centre_mm: np.ndarray          # [3] crop centre
    surface: Surface


@dataclass
class SynthFrame:
    depth_mm: np.ndarray           # float32, the window `roi_px` of the image (0 = invalid)
    roi_px: tuple[int, int, int, int]
    joints_mm: np.ndarray
    visible: np.ndarray            # [J] bool
    centre_mm: np.ndarray


def check_target(target: str) -> str:
    return get_target(target).name


def hand_subject(model: HandModel, pose: HandPose) -> Subject:
    joints, surface = model.posed(pose)
    return Subject(joints, model.joint_radius_mm, np.asarray(pose.centre_mm, np.float64), surface)


def sample_hand_background(rng: np.random.Generator, subject: Subject, intr: Intrinsics) -> Background:
    """A wall behind the hand (60 %), a table under it (35 %), distractors (30 %), or nothing."""
    bg = Background()
    cz = subject.centre_mm[2]
    if rng.random() < 0.6:
        n = rotation_about(rng.normal(size=3) * [1, 1, 0] + [1e-9, 0, 0], np.deg2rad(rng.uniform(0, 25))) @ [0, 0, 1.0]
        point = np.array([0, 0, cz + rng.uniform(150, 700)])
        bg.planes.append(Plane(n, float(n @ point)))
    if rng.random() < 0.35:
        n = rotation_about([1.0, 0, 0], np.deg2rad(rng.uniform(-35, 10))) @ [0, 1.0, 0]
        lowest = float(np.max(subject.joints_mm @ n + subject.joint_radius_mm))
        bg.planes.append(Plane(n, max(lowest + rng.uniform(10, 80), rng.uniform(60, 200))))   # camera above it
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(1, 4))):
            z = cz + rng.uniform(150, 900)
            u, v = rng.uniform(0, intr.width), rng.uniform(0, intr.height)
            add_distractor(rng, bg.distractors, np.array(back_project(u, v, z, intr)))
    return bg


def add_distractor(rng: np.random.Generator, surface: Surface, centre_mm: np.ndarray) -> None:
    """An object around `centre_mm`: an axis-aligned ellipsoid (20-120 mm semi-axes) or a capsule
    (60-400 mm long, 15-60 mm radius), half and half."""
    if rng.random() < 0.5:
        surface.ellipsoid(centre_mm, np.diag(rng.uniform(20, 120, 3)))
    else:
        d = rng.normal(size=3)
        d *= rng.uniform(30, 200) / np.linalg.norm(d)
        surface.capsule(centre_mm - d, centre_mm + d, rng.uniform(15, 60))


def sample_hand_scene(rng: np.random.Generator, intr: Intrinsics, shape: HandShape | None = None) -> tuple[Subject, Background]:
    model = HandModel(shape or HandShape.sample(rng))
    subject = hand_subject(model, sample_hand_pose(rng, intr, nyu_prior(), prior_fraction=PRIOR_FRACTION))
    return subject, sample_hand_background(rng, subject, intr)


def body_subject(pose: BodyPose, yaw: np.ndarray, rot: np.ndarray, eye_mm: np.ndarray) -> Subject:
    """Pose the body in the room (facing rotation `yaw`), then move it into the camera frame."""
    joints, foot_dir = body_joints(pose)
    surface, radii = body_surface(pose, joints, foot_dir)
    cam = surface.transformed(yaw, np.zeros(3)).transformed(rot, -rot @ eye_mm)
    joints_cam = (rot @ ((yaw @ joints.T).T - eye_mm).T).T
    return Subject(joints_cam, radii, joints_cam[8].copy(), cam)


def sample_body_scene(rng: np.random.Generator, intr: Intrinsics, view: str | None = None) -> tuple[Subject, Background]:
    pose = sample_body_pose(rng)
    yaw = yaw_rotation(rng)
    joints, _ = body_joints(pose)
    view = view or ("top" if rng.random() < 0.35 else "front")
    rot, eye, background = sample_body_view(rng, (yaw @ joints.T).T, view)
    return body_subject(pose, yaw, rot, eye), background


def sample_scene(target: str, rng: np.random.Generator, intr: Intrinsics) -> tuple[Subject, Background]:
    return sample_hand_scene(rng, intr) if target == "hand" else sample_body_scene(rng, intr)


def joint_visibility(subject: Subject, clean_depth_mm: np.ndarray, roi_px, intr: Intrinsics) -> np.ndarray:
    uvz = camera_to_pixel(subject.joints_mm, intr)
    u = np.rint(uvz[:, 0]).astype(np.int64)
    v = np.rint(uvz[:, 1]).astype(np.int64)
    u0, v0, u1, v1 = roi_px
    inside = (u >= u0) & (u < u1) & (v >= v0) & (v < v1) & (uvz[:, 2] > 0)
    d = np.zeros(len(u), np.float32)
    d[inside] = clean_depth_mm[v[inside] - v0, u[inside] - u0]
    nearest_ok = uvz[:, 2] - subject.joint_radius_mm - VISIBILITY_TOL_MM
    return inside & ((d == 0) | (d >= nearest_ok))


def render_frame(subject: Subject, background: Background, intr: Intrinsics, rng: np.random.Generator,
                 cube_mm: float | None = None, sensor: SensorModel | None = SensorModel()) -> SynthFrame:
    """Render the subject's cube window (or the whole image when cube_mm is None)."""
    roi = clip_roi(None if cube_mm is None else cube_roi_px(subject.centre_mm, cube_mm, intr), intr)
    clean = render_depth_mm(subject.surface, background, intr, roi)
    visible = joint_visibility(subject, clean, roi, intr)
    depth = clean if sensor is None else sensor.apply(clean, intr, rng, (roi[0], roi[1]))
    return SynthFrame(depth, roi, subject.joints_mm.astype(np.float32), visible, subject.centre_mm.astype(np.float32))
