"""Whole-frame scenes for training and measuring the hand detector: hands among what real rooms hold.

A scene is 0-2 hands (each with its forearm; a right and a left when there are two) in front
of what a depth camera sees around them:
- the person the hands belong to (torso, head, shoulders) 150-450 mm behind the hands, in most
  hand scenes and in some hand-free ones;
- objects (ellipsoids, capsules) anywhere in the image and often nearer than the hands, some of
  them hand-sized, so size alone never tells a hand;
- a wall, and a table top below the hands half of the time.
With `hard_negatives` (generator scenes-3) a share of the scenes is built around what a detector
trained on the above took for a hand in the field: a head (with nose, ears, sometimes glasses or
hair) at hand range, a person leaning towards the camera with the head nearest, a hand right next
to the face, shoulders filling the image's top. Only the hands are labels, never the head.
The labels are each hand's palm centre (camera mm and pixel) and side. Frames are rendered at the
camera's full size and passed through the sensor model, so the detector learns on the same
kind of image it sees live (`inference/detector.py` strides it by 4).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..geometry import back_project, camera_to_pixel
from ..types import Intrinsics
from .hand import HandModel, HandShape, nyu_prior, sample_hand_pose
from .render import Background, Plane, render_depth_mm
from .sensor import SensorModel
from .shapes import Surface, rotation_about


@dataclass
class SceneHand:
    centre_mm: np.ndarray      # palm centre, camera mm
    centre_px: np.ndarray      # (u, v)
    side: str                  # "left" | "right"


def _hand(rng: np.random.Generator, intr: Intrinsics, left: bool, x_range: tuple[float, float], z_mm: float,
          centre_mm: np.ndarray | None = None):
    """A hand held up (the forearm goes away from the camera most of the time) at depth z_mm,
    its palm centre's x / z in `x_range` (or at `centre_mm` when given)."""
    prior = nyu_prior()
    for _ in range(50):
        pose = replace(sample_hand_pose(rng, intr, prior, left_fraction=0.0), left=left)
        flex, dev = pose.wrist_rad
        arm = pose.rotation @ rotation_about([0, 0, 1.0], dev) @ rotation_about([1.0, 0, 0], flex) @ [0, -1.0, 0]
        if arm[2] >= 0.05 or rng.random() < 0.3:
            break
    if centre_mm is None:
        centre_mm = np.array([z_mm * rng.uniform(*x_range), z_mm * rng.uniform(-0.3, 0.25), z_mm])
    pose = replace(pose, centre_mm=np.asarray(centre_mm, np.float64))
    joints, surface = HandModel(HandShape.sample(rng)).posed(pose)
    return pose, surface


def add_person(rng: np.random.Generator, surface: Surface, x_mm: float, z_mm: float, y_mm: float | None = None) -> None:
    """Torso, head and shoulders of a person whose torso front is at depth z_mm, its centre at
    x_mm and y_mm (drawn 150-350 mm below the optical axis when not given)."""
    scale = rng.uniform(0.85, 1.15)
    torso = np.array([x_mm, rng.uniform(150, 350) if y_mm is None else y_mm, z_mm + 100 * scale])
    surface.ellipsoid(torso, np.diag([170, 260, 100]) * scale)
    surface.ellipsoid(torso + [rng.uniform(-20, 20), -400 * scale, 0], np.diag([75, 100, 90]) * scale)
    for side in (-1.0, 1.0):
        shoulder = torso + [side * 170 * scale, -200 * scale, 0]
        elbow = shoulder + [side * rng.uniform(0, 80), rng.uniform(150, 280), rng.uniform(-200, 0)]
        if rng.random() < 0.5:     # an arm hanging down (the one without a hand in view)
            surface.capsule(shoulder, elbow, 45 * scale, 38 * scale)


def add_objects(rng: np.random.Generator, intr: Intrinsics, surface: Surface, count: int, z_range, border: bool = False) -> None:
    """`count` ellipsoids and capsules (10-250 mm) anywhere in the image at depths in z_range, or
    with `border`, within the outer fifth of the image (where furniture and the camera's own
    mount show up)."""
    for _ in range(count):
        u, v = rng.uniform(-40, intr.width + 40), rng.uniform(-40, intr.height + 40)
        if border:
            if rng.random() < 0.5:
                w = intr.width
                u = rng.uniform(-40, 0.2 * w) if rng.random() < 0.5 else rng.uniform(0.8 * w, w + 40)
            else:
                h = intr.height
                v = rng.uniform(-40, 0.2 * h) if rng.random() < 0.5 else rng.uniform(0.8 * h, h + 40)
        c = np.array(back_project(u, v, rng.uniform(*z_range), intr))
        if rng.random() < 0.5:
            surface.ellipsoid(c, rotation_about(rng.normal(size=3), rng.uniform(0, np.pi)) @ np.diag(rng.uniform(20, 160, 3)))
        else:
            d = rng.normal(size=3)
            d *= rng.uniform(30, 250) / np.linalg.norm(d)
            surface.capsule(c - d, c + d, rng.uniform(10, 60), rng.uniform(10, 60))


# scenes-3: the share of scenes built around a head at hand range, and their kinds.
HEAD_SCENES = 0.4
HEAD_KINDS = {"head": 0.35, "leaning": 0.25, "hand by face": 0.25, "shoulders": 0.15}


def person_from_head(rng: np.random.Generator, scale: float) -> Surface:
    """A person in its own frame: the head's centre at the origin, facing -z (the camera), y down.
    Head, nose and ears, sometimes glasses and hair; neck, shoulders, torso, upper arms."""
    s = Surface()
    s.ellipsoid([0, 0, 0], np.diag([75, 100, 90]) * scale)
    s.ellipsoid(np.array([0, 15, -85]) * scale, np.diag([12, 22, 18]) * scale)                # nose
    for side in (-1.0, 1.0):
        s.ellipsoid(np.array([side * 75, 5, 0]) * scale, np.diag([10, 28, 18]) * scale)      # ears
    if rng.random() < 0.3:                                                                   # glasses
        s.capsule(np.array([-68, -20, -82]) * scale, np.array([68, -20, -82]) * scale, 4)
        for side in (-1.0, 1.0):
            s.ellipsoid(np.array([side * 32, -20, -90]) * scale, np.diag([24, 17, 3]) * scale)
    hair = rng.random()
    if hair < 0.3:                                                                           # volume on top
        s.ellipsoid(np.array([0, -35, 15]) * scale, np.diag(rng.uniform(80, 95, 3)) * scale)
    elif hair < 0.45:                                                                        # a bun
        s.ellipsoid(np.array([0, -95, 55]) * scale, np.diag([40, 40, 40]) * scale)
    elif hair < 0.6:                                                                         # long, down the sides
        for side in (-1.0, 1.0):
            s.capsule(np.array([side * 70, -30, 20]) * scale, np.array([side * 75, 160, 45]) * scale, 28 * scale)
    s.capsule(np.array([0, 80, 10]) * scale, np.array([0, 175, 20]) * scale, 48 * scale)      # neck
    s.capsule(np.array([-165, 215, 40]) * scale, np.array([165, 215, 40]) * scale, 55 * scale)  # shoulders
    s.ellipsoid(np.array([0, 420, 50]) * scale, np.diag([170, 260, 100]) * scale)             # torso
    for side in (-1.0, 1.0):
        if rng.random() < 0.7:                                                               # upper arms
            shoulder = np.array([side * 180, 225, 40]) * scale
            s.capsule(shoulder, shoulder + [side * rng.uniform(0, 60), rng.uniform(200, 280), rng.uniform(-120, 60)],
                      45 * scale, 38 * scale)
    return s


def sample_head_scene(rng: np.random.Generator, intr: Intrinsics) -> tuple[Surface, Background, list[SceneHand]]:
    """A head at 300-800 mm, as one of HEAD_KINDS, with 0-2 labelled hands and the room around it."""
    kinds = list(HEAD_KINDS)
    kind = kinds[int(rng.choice(len(kinds), p=list(HEAD_KINDS.values())))]
    surface, background, hands = Surface(), Background(), []
    scale = rng.uniform(0.85, 1.15)
    z_head = rng.uniform(300, 800)
    if kind == "shoulders":      # close: the head at or above the top edge, the shoulders across the image
        u, v = rng.uniform(0.2, 0.8) * intr.width, rng.uniform(-0.15, 0.25) * intr.height
    else:
        u, v = rng.uniform(0.1, 0.9) * intr.width, rng.uniform(0.1, 0.75) * intr.height
    head = np.array(back_project(u, v, z_head, intr), np.float64)
    lean = np.deg2rad(rng.uniform(15, 45) if kind == "leaning" else rng.uniform(-5, 10))   # head nearest
    rotation = rotation_about([0, 1.0, 0], np.deg2rad(rng.normal(0, 25))) \
        @ rotation_about([0, 0, 1.0], np.deg2rad(rng.uniform(-20, 20))) @ rotation_about([1.0, 0, 0], lean)
    background.distractors.extend(person_from_head(rng, scale).transformed(rotation, head))
    if kind == "hand by face":
        sides = [float(rng.choice([-1.0, 1.0]))] if rng.random() < 0.7 else [-1.0, 1.0]
        for side in sides:           # beside the face, at about its depth or a little in front (image right: left hand)
            centre = head + [side * rng.uniform(110, 220) * scale, rng.uniform(-60, 100), -rng.uniform(0, 100)]
            hands.append(place_hand(rng, intr, surface, side > 0, centre))
    else:
        count = int(rng.choice([0, 1, 2], p=[0.55, 0.3, 0.15]))
        for k in range(count):       # held up in front of the person, as in the field report
            z = z_head - rng.uniform(100, 350)
            if z < 250:
                break
            left = bool(rng.random() < 0.5) if count == 1 else bool(k)
            x = z * (rng.uniform(0.05, 0.35) if left else rng.uniform(-0.35, -0.05)) if count == 2 \
                else z * rng.uniform(-0.45, 0.45)
            hands.append(place_hand(rng, intr, surface, left, np.array([x, z * rng.uniform(-0.3, 0.25), z])))
    add_objects(rng, intr, background.distractors, int(rng.integers(0, 4)), (250, 1300))
    n = rotation_about(rng.normal(size=3) * [1, 1, 0] + [1e-9, 0, 0], np.deg2rad(rng.uniform(0, 30))) @ [0, 0, 1.0]
    background.planes.append(Plane(n, float(z_head + rng.uniform(400, 1700))))
    return surface, background, hands


def place_hand(rng: np.random.Generator, intr: Intrinsics, surface: Surface, left: bool, centre_mm) -> SceneHand:
    """A hand held up with its palm centre at `centre_mm`, added to `surface`; returns its label."""
    pose, hand_surface = _hand(rng, intr, left, (0.0, 0.0), float(centre_mm[2]), centre_mm)
    surface.extend(hand_surface)
    return SceneHand(np.asarray(pose.centre_mm, np.float64), camera_to_pixel(pose.centre_mm, intr)[:2],
                     "left" if left else "right")


def sample_detection_scene(rng: np.random.Generator, intr: Intrinsics, hard_negatives: bool = False
                           ) -> tuple[Surface, Background, list[SceneHand]]:
    """A scene of generator scenes-1 (scenes-2 is the same through other sensors), or with
    `hard_negatives` of scenes-3: HEAD_SCENES of them a head scene (`sample_head_scene`)."""
    if hard_negatives and rng.random() < HEAD_SCENES:
        return sample_head_scene(rng, intr)
    count = int(rng.choice([0, 1, 2], p=[0.25, 0.45, 0.30]))
    surface, background, hands = Surface(), Background(), []
    z_hands = rng.uniform(300, 800)
    sides = [bool(rng.random() < 0.5)] if count == 1 else [False, True]
    for k, left in enumerate(sides[:count]):
        if count == 2:   # a right hand on the image's left, a left hand on its right (the person faces the camera)
            x_range = (0.05, 0.35) if left else (-0.35, -0.05)
        else:
            x_range = (-0.45, 0.45)
        z = z_hands + (rng.uniform(-100, 100) if k else 0.0)
        pose, hand_surface = _hand(rng, intr, left, x_range, z)
        surface.extend(hand_surface)
        uv = camera_to_pixel(pose.centre_mm, intr)[:2]
        hands.append(SceneHand(np.asarray(pose.centre_mm, np.float64), uv, "left" if left else "right"))
    if rng.random() < (0.75 if count else 0.3):
        centre_x = float(np.mean([h.centre_mm[0] for h in hands])) if hands else rng.uniform(-300, 300)
        add_person(rng, background.distractors, centre_x,
                   (max(h.centre_mm[2] for h in hands) if hands else rng.uniform(300, 900)) + rng.uniform(150, 450))
    add_objects(rng, intr, background.distractors, int(rng.integers(0, 6)), (250, 1300))
    n = rotation_about(rng.normal(size=3) * [1, 1, 0] + [1e-9, 0, 0], np.deg2rad(rng.uniform(0, 30))) @ [0, 0, 1.0]
    background.planes.append(Plane(n, float(rng.uniform(900, 2500))))
    if rng.random() < 0.5:
        t = rotation_about([1.0, 0, 0], np.deg2rad(rng.uniform(-35, 10))) @ [0, 1.0, 0]
        lowest = max([h.centre_mm[1] for h in hands], default=0.0) + 150.0
        background.planes.append(Plane(t, float(max(lowest, rng.uniform(100, 400)))))
    return surface, background, hands


def render_detection_scene(rng: np.random.Generator, intr: Intrinsics, sensor: SensorModel | None = SensorModel(),
                           hard_negatives: bool = False) -> tuple[np.ndarray, list[SceneHand]]:
    """(depth_mm [H, W] float32 with sensor effects, the hands)."""
    surface, background, hands = sample_detection_scene(rng, intr, hard_negatives)
    whole = Surface()
    whole.extend(surface)
    clean = render_depth_mm(whole, background, intr)
    depth = clean if sensor is None else sensor.apply(clean, intr, rng, (0, 0))
    return depth.astype(np.float32), hands
