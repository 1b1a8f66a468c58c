"""Whole-frame scenes for training and measuring the hand detector: hands among what real rooms hold.

A scene is 0-2 hands (each with its forearm; a right and a left when there are two) in front
of what a depth camera sees around them:
- the person the hands belong to (torso, head, shoulders) 150-450 mm behind the hands, in most
  hand scenes and in some hand-free ones;
- objects (ellipsoids, capsules) anywhere in the image and often nearer than the hands, some of
  them hand-sized, so size alone never tells a hand;
- a wall, and a table top below the hands half of the time.
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


def _hand(rng: np.random.Generator, intr: Intrinsics, left: bool, x_range: tuple[float, float], z_mm: float):
    """A hand held up (the forearm goes away from the camera most of the time) at depth z_mm,
    its palm centre's x / z in `x_range`."""
    prior = nyu_prior()
    for _ in range(50):
        pose = replace(sample_hand_pose(rng, intr, prior, left_fraction=0.0), left=left)
        flex, dev = pose.wrist_rad
        arm = pose.rotation @ rotation_about([0, 0, 1.0], dev) @ rotation_about([1.0, 0, 0], flex) @ [0, -1.0, 0]
        if arm[2] >= 0.05 or rng.random() < 0.3:
            break
    centre = np.array([z_mm * rng.uniform(*x_range), z_mm * rng.uniform(-0.3, 0.25), z_mm])
    pose = replace(pose, centre_mm=centre)
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


def sample_detection_scene(rng: np.random.Generator, intr: Intrinsics) -> tuple[Surface, Background, list[SceneHand]]:
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


def render_detection_scene(rng: np.random.Generator, intr: Intrinsics, sensor: SensorModel | None = SensorModel()
                           ) -> tuple[np.ndarray, list[SceneHand]]:
    """(depth_mm [H, W] float32 with sensor effects, the hands)."""
    surface, background, hands = sample_detection_scene(rng, intr)
    whole = Surface()
    whole.extend(surface)
    clean = render_depth_mm(whole, background, intr)
    depth = clean if sensor is None else sensor.apply(clean, intr, rng, (0, 0))
    return depth.astype(np.float32), hands
