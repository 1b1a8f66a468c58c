"""One synthetic frame: a posed subject in a room, rendered, passed through the sensor, with
exact ground truth. Shared by the dataset generator and the synthetic camera.

Three worlds (`WORLDS`), chosen per dataset (`synth --world`):
- `classic`: what the first shipped models were trained and tested on: the subject with a
  wall, a table and distractors behind it, one RealSense D4xx-like sensor.
- `crowded`: the same draws first (so the classic scene is a special case), then what real
  frames hold around the subject. For a hand: the person it belongs to (torso, head,
  shoulders, sometimes the other arm) 60-450 mm behind the palm, the other hand beside it,
  objects between the camera and the hand, things at the image borders; and one of three sensor
  families per frame (`sensor.SENSORS`: D4xx stereo, SR300/SR305 coded light, Kinect v1).
  For a body: other people beside and behind the subject, furniture (tables, chairs, boxes)
  around and in front of it, and a D4xx or Kinect v1 sensor.
- `rooms` (bodies only; drawn by `rooms.py: sample_room_body`): offices, desks and a camera high on a
  wall, with people cut by the image border and among furniture, one of them the subject.
Only the subject's joints are labels; everything else is clutter the network learns to ignore.

Visibility of a joint: its pixel lies in the image and the clean render there is not nearer
than (joint depth - joint surface radius - 10 mm), i.e. nothing occludes it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..geometry import back_project, camera_to_pixel, cube_roi_px
from ..targets import get_target
from ..types import Intrinsics
from .body import BodyPose, body_joints, body_surface, sample_body_pose, sample_body_view, yaw_rotation
from .hand import PRIOR_FRACTION, HandModel, HandPose, HandShape, nyu_prior, sample_hand_pose
from .render import Background, Plane, clip_roi, render_depth_mm
from .scenes import add_objects, add_person
from .sensor import SENSORS, SensorModel
from .shapes import Surface, rotation_about

WORLDS = ("classic", "crowded", "rooms")
BODY_ONLY_WORLDS = ("rooms",)
# Per-frame sensor family of the crowded world (classic: always d4xx).
HAND_SENSOR_MIX = {"d4xx": 0.5, "sr300": 0.25, "kinect-v1": 0.25}
BODY_SENSOR_MIX = {"d4xx": 0.6, "kinect-v1": 0.4}

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


def _choose(rng: np.random.Generator, mix: dict[str, float]) -> str:
    names = list(mix)
    return names[int(rng.choice(len(names), p=np.asarray([mix[n] for n in names]) / sum(mix.values())))]


def crowd_hand_scene(rng: np.random.Generator, intr: Intrinsics, subject: Subject, bg: Background) -> str:
    """Add to a classic hand scene what surrounds a hand held up in a room; returns the sensor family."""
    sensor = _choose(rng, HAND_SENSOR_MIX)
    c = subject.centre_mm
    if sensor == "kinect-v1" and c[2] < 450:   # nearer than its range: the hand would vanish
        sensor = "sr300"
    if rng.random() < 0.7:      # the person: torso below and behind the hand, head above it
        add_person(rng, bg.distractors, c[0] + rng.uniform(-200, 200), c[2] + rng.uniform(60, 450), c[1] + rng.uniform(100, 450))
    if rng.random() < 0.35:     # the other hand beside this one
        side = -1.0 if rng.random() < 0.5 else 1.0
        other = sample_hand_pose(rng, intr, nyu_prior(), prior_fraction=PRIOR_FRACTION)
        centre = c + [side * rng.uniform(110, 400), rng.uniform(-120, 120), rng.uniform(-120, 120)]
        _, surface = HandModel(HandShape.sample(rng)).posed(replace(other, centre_mm=centre, left=bool(rng.random() < 0.5)))
        bg.distractors.extend(surface)
    if rng.random() < 0.2:      # something between the camera and the hand (a cup, a phone, the other arm)
        for _ in range(int(rng.integers(1, 3))):
            z = max(c[2] - rng.uniform(60, 300), 150.0)
            offset = rng.normal(size=2) * rng.uniform(40, 160)
            add_distractor(rng, bg.distractors, np.array([c[0] + offset[0], c[1] + offset[1], z]))
    if rng.random() < 0.4:      # things at the image borders, often nearer than the hand
        add_objects(rng, intr, bg.distractors, int(rng.integers(1, 4)), (150, c[2] + 400), border=True)
    return sensor


def crowd_body_scene(rng: np.random.Generator, bg: Background, rot: np.ndarray, eye: np.ndarray) -> str:
    """Add other people and furniture around a classic body scene (room frame: floor y = 0, the
    subject at the origin); returns the sensor family."""
    sensor = _choose(rng, BODY_SENSOR_MIX)

    def to_camera(surface: Surface) -> Surface:
        return surface.transformed(rot, -rot @ eye)

    for _ in range(int(rng.choice([0, 1, 2, 3], p=[0.3, 0.35, 0.25, 0.1]))):     # other people
        angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(650, 2200)
        offset = np.array([np.cos(angle) * dist, 0.0, np.sin(angle) * dist])
        if offset[2] > 0 and abs(offset[0]) < 500:          # not squarely between the camera and the subject
            offset[0] = np.copysign(rng.uniform(500, 900), offset[0])
        pose, yaw = sample_body_pose(rng), yaw_rotation(rng)
        bg.distractors.extend(body_subject(pose, yaw, rot, eye - offset).surface)
    for _ in range(int(rng.integers(0, 4))):                                        # furniture
        angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(450, 1800)
        at = np.array([np.cos(angle) * dist, 0.0, np.sin(angle) * dist])
        bg.distractors.extend(to_camera(furniture(rng, at)))
    return sensor


def furniture(rng: np.random.Generator, at_mm: np.ndarray) -> Surface:
    """A table, a chair or a box standing on the floor at `at_mm` (room frame, y up)."""
    s, kind = Surface(), rng.choice(["table", "chair", "box"])
    if kind == "table":
        w, d, h = rng.uniform(300, 700), rng.uniform(250, 450), rng.uniform(650, 780)
        s.ellipsoid(at_mm + [0, h, 0], np.diag([w, 25, d]))
        for sx in (-0.8, 0.8):
            for sz in (-0.8, 0.8):
                s.capsule(at_mm + [sx * w, 0, sz * d], at_mm + [sx * w, h, sz * d], 22)
    elif kind == "chair":
        h = rng.uniform(420, 480)
        s.ellipsoid(at_mm + [0, h, 0], np.diag([220, 30, 220]))
        s.ellipsoid(at_mm + [0, h + 250, -200], np.diag([220, 220, 25]))
        for sx in (-0.8, 0.8):
            for sz in (-0.8, 0.8):
                s.capsule(at_mm + [sx * 200, 0, sz * 200], at_mm + [sx * 200, h, sz * 200], 18)
    else:
        size = rng.uniform(150, 500, 3)
        s.ellipsoid(at_mm + [0, size[1], 0], np.diag(size))
    return s


def body_subject(pose: BodyPose, yaw: np.ndarray, rot: np.ndarray, eye_mm: np.ndarray) -> Subject:
    """Pose the body in the room (facing rotation `yaw`), then move it into the camera frame."""
    joints, foot_dir = body_joints(pose)
    surface, radii = body_surface(pose, joints, foot_dir)
    cam = surface.transformed(yaw, np.zeros(3)).transformed(rot, -rot @ eye_mm)
    joints_cam = (rot @ ((yaw @ joints.T).T - eye_mm).T).T
    return Subject(joints_cam, radii, joints_cam[8].copy(), cam)


def _body_view(rng: np.random.Generator, view: str | None):
    pose = sample_body_pose(rng)
    yaw = yaw_rotation(rng)
    joints, _ = body_joints(pose)
    view = view or ("top" if rng.random() < 0.35 else "front")
    rot, eye, background = sample_body_view(rng, (yaw @ joints.T).T, view)
    return body_subject(pose, yaw, rot, eye), background, rot, eye


def sample_body_scene(rng: np.random.Generator, intr: Intrinsics, view: str | None = None) -> tuple[Subject, Background]:
    subject, background, _, _ = _body_view(rng, view)
    return subject, background


def _hand_scene(rng: np.random.Generator, intr: Intrinsics, world: str) -> tuple[Subject, Background, str]:
    subject, background = sample_hand_scene(rng, intr)
    sensor = crowd_hand_scene(rng, intr, subject, background) if world == "crowded" else "d4xx"
    return subject, background, sensor


def _body_scene(rng: np.random.Generator, intr: Intrinsics, world: str) -> tuple[Subject, Background, str]:
    subject, background, rot, eye = _body_view(rng, None)
    sensor = crowd_body_scene(rng, background, rot, eye) if world == "crowded" else "d4xx"
    return subject, background, sensor


@dataclass(frozen=True)
class Scene:
    """One synthetic scene (a target profile's `synthetic_scene`): how it is drawn and what decides it."""

    sample: Callable[[np.random.Generator, Intrinsics, str], tuple[Subject, Background, str]]
    sensor_mix: dict            # the crowded world's sensors and their shares
    hand_prior: bool            # poses drawn partly from the packaged hand-pose prior


SCENES = {"hand": Scene(_hand_scene, HAND_SENSOR_MIX, True), "body": Scene(_body_scene, BODY_SENSOR_MIX, False)}


def scene_of(target: str) -> Scene:
    return SCENES[get_target(target).synthetic_scene]


def sample_scene(target: str, rng: np.random.Generator, intr: Intrinsics, world: str = "classic"
                 ) -> tuple[Subject, Background, SensorModel]:
    """The subject, its surroundings and the sensor that sees them, for `world` (see WORLDS)."""
    subject, background, sensor = scene_of(target).sample(rng, intr, world)
    return subject, background, SENSORS[sensor]


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
                 cube_mm: float | None = None, sensor: SensorModel | None = SensorModel(),
                 near_face_window: bool = True) -> SynthFrame:
    """Render the subject's cube window (or the whole image when cube_mm is None). The window is
    the cube's near face by default: synth-2 renders that (geometry.cube_roi_px), so its datasets
    stay reproducible; `near_face_window=False` renders the whole cube's window."""
    roi = clip_roi(None if cube_mm is None else cube_roi_px(subject.centre_mm, cube_mm, intr,
                                                            near_face_only=near_face_window), intr)
    clean = render_depth_mm(subject.surface, background, intr, roi)
    visible = joint_visibility(subject, clean, roi, intr)
    depth = clean if sensor is None else sensor.apply(clean, intr, rng, (roi[0], roi[1]))
    return SynthFrame(depth, roi, subject.joints_mm.astype(np.float32), visible, subject.centre_mm.astype(np.float32))
