"""A kinematic ITOP15 body with a capsule surface, sampled poses and camera views.

Body frame (mm): y up, the person faces +z, their right side is -x, feet on the floor y = 0.
Poses are drawn from four families (standing, walking, reaching, sitting) with random
proportions and clothing thickness; the camera looks from the front (1.5-4 m, eye-level-ish)
or from the ceiling (top view, looking down), as in ITOP. The crop centre is the torso joint.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .render import Background, Plane
from .shapes import Surface, rotation_about

POSE_FAMILIES = ("standing", "walking", "reaching", "sitting")
_UP = np.array([0.0, 1, 0])


@dataclass
class BodyPose:
    """Angles in radians; `side` arrays are (right, left)."""

    height_mm: float
    thickness: float
    lean: float
    twist: float
    hip_flex: np.ndarray
    hip_abd: np.ndarray
    knee: np.ndarray
    shoulder_flex: np.ndarray
    shoulder_abd: np.ndarray
    elbow: np.ndarray
    seat_mm: float | None = None     # sitting height; None = standing on the floor

    def blend(self, other: BodyPose, w: float) -> BodyPose:
        """Linear blend of all parameters (used to animate between keyposes)."""
        def mix(a, b):
            return None if a is None or b is None else (1 - w) * np.asarray(a) + w * np.asarray(b)
        seat = mix(self.seat_mm, other.seat_mm)
        if seat is None:
            seat = self.seat_mm if w < 0.5 else other.seat_mm
        return BodyPose(*(mix(getattr(self, k), getattr(other, k)) for k in
                          ("height_mm", "thickness", "lean", "twist", "hip_flex", "hip_abd", "knee",
                           "shoulder_flex", "shoulder_abd", "elbow")), seat_mm=seat)


def _limb_dir(flex: float, abd: float, side: float) -> np.ndarray:
    """Unit direction of a limb hanging down, raised forward by `flex` and sideways by `abd`."""
    return np.array([side * np.sin(abd), -np.cos(abd) * np.cos(flex), np.cos(abd) * np.sin(flex)])


def body_joints(pose: BodyPose) -> tuple[np.ndarray, np.ndarray]:
    """ITOP15 joints [15, 3] in the body frame, and the forward direction of the feet."""
    h = pose.height_mm
    sides = (-1.0, 1.0)                       # right, left
    hip_w, thigh, shin = 0.055 * h, 0.245 * h, 0.245 * h
    hips, knees, feet = [], [], []
    for i, s in enumerate(sides):
        d_thigh = _limb_dir(pose.hip_flex[i], pose.hip_abd[i], s)
        d_shin = rotation_about([1.0, 0, 0], pose.knee[i]) @ d_thigh
        hip = np.array([s * hip_w, 0, 0])
        hips.append(hip)
        knees.append(hip + thigh * d_thigh)
        feet.append(knees[-1] + shin * d_shin)
    lowest = min(f[1] for f in feet)
    pelvis_y = pose.seat_mm + 0.05 * h if pose.seat_mm is not None else 0.045 * h - lowest
    offset = np.array([0, pelvis_y, 0])
    hips, knees, feet = ([p + offset for p in group] for group in (hips, knees, feet))
    upper = rotation_about(_UP, pose.twist) @ rotation_about([1.0, 0, 0], pose.lean)
    pelvis = offset
    torso = pelvis + upper @ np.array([0, 0.12 * h, 0])
    neck = pelvis + upper @ np.array([0, 0.30 * h, 0])
    head = neck + upper @ np.array([0, 0.095 * h, 0.01 * h])
    shoulders, elbows, hands = [], [], []
    for i, s in enumerate(sides):
        sh = neck + upper @ np.array([s * 0.105 * h, -0.025 * h, 0])
        d_up = upper @ _limb_dir(pose.shoulder_flex[i], pose.shoulder_abd[i], s)
        d_fore = upper @ rotation_about([1.0, 0, 0], -pose.elbow[i]) @ _limb_dir(pose.shoulder_flex[i], pose.shoulder_abd[i], s)
        shoulders.append(sh)
        elbows.append(sh + 0.17 * h * d_up)
        hands.append(elbows[-1] + 0.17 * h * d_fore)
    joints = np.array([head, neck, shoulders[0], shoulders[1], elbows[0], elbows[1], hands[0], hands[1], torso,
                       hips[0], hips[1], knees[0], knees[1], feet[0], feet[1]])
    return joints, rotation_about(_UP, 0.3 * pose.twist) @ np.array([0, 0, 1.0])


def body_surface(pose: BodyPose, joints: np.ndarray, foot_dir: np.ndarray) -> tuple[Surface, np.ndarray]:
    """Capsules and ellipsoids of the body, and a surface radius per joint (for visibility)."""
    h, k = pose.height_mm / 1750.0, pose.thickness
    s = Surface()
    head, neck, rsh, lsh, rel, lel, rha, lha, torso, rhip, lhip, rkn, lkn, rft, lft = joints
    upper = rotation_about(_UP, pose.twist) @ rotation_about([1.0, 0, 0], pose.lean)
    s.ellipsoid(head, upper @ np.diag([75 * h, 105 * h, 92 * h]))
    s.capsule(neck, 0.5 * (neck + head), 50 * h * k)
    chest = 0.5 * (torso + neck)
    s.ellipsoid(chest, upper @ np.diag([165 * h * k, 200 * h, 105 * h * k]))
    pelvis = 0.5 * (rhip + lhip)
    s.ellipsoid(0.5 * (pelvis + torso), upper @ np.diag([150 * h * k, 190 * h, 100 * h * k]))
    s.capsule(rsh, lsh, 55 * h * k)
    s.capsule(rhip, lhip, 95 * h * k)
    for sh, el, ha in ((rsh, rel, rha), (lsh, lel, lha)):
        s.capsule(sh, el, 52 * h * k, 43 * h * k)
        s.capsule(el, ha, 42 * h * k, 33 * h * k)
        s.ellipsoid(ha + 0.35 * (ha - el) / max(np.linalg.norm(ha - el), 1e-6) * 100 * h,
                    np.diag([45 * h, 45 * h, 45 * h]))
    for hip, kn, ft in ((rhip, rkn, rft), (lhip, lkn, lft)):
        s.capsule(hip, kn, 80 * h * k, 58 * h * k)
        s.capsule(kn, ft, 55 * h * k, 40 * h)
        s.capsule(ft, ft + foot_dir * 160 * h + np.array([0, -30 * h, 0]), 42 * h, 35 * h)
    radii = np.array([105, 110, 80, 80, 55, 55, 50, 50, 110, 100, 100, 65, 65, 50, 50], np.float64) * h * k
    if pose.seat_mm is not None:
        seat_c = pelvis + np.array([0, -0.05 * pose.height_mm - 60 * h, 60 * h])
        s.ellipsoid(seat_c, np.diag([230.0, 25.0, 230.0]))
        s.capsule(seat_c, np.array([seat_c[0], 0, seat_c[2]]), 30.0)
    return s, radii


def sample_body_pose(rng: np.random.Generator, family: str | None = None) -> BodyPose:
    family = family or POSE_FAMILIES[int(rng.integers(len(POSE_FAMILIES)))]
    d = np.deg2rad
    pose = BodyPose(
        height_mm=float(rng.uniform(1500, 1950)), thickness=float(rng.uniform(0.85, 1.25)),
        lean=float(d(rng.normal(0, 4))), twist=float(d(rng.normal(0, 8))),
        hip_flex=d(rng.normal(0, 4, 2)), hip_abd=d(np.abs(rng.normal(3, 3, 2))), knee=d(np.abs(rng.normal(4, 3, 2))),
        shoulder_flex=d(rng.normal(5, 10, 2)), shoulder_abd=d(rng.uniform(4, 20, 2)), elbow=d(rng.uniform(0, 45, 2)))
    if family == "walking":
        phase = rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(15, 30)
        pose.hip_flex = d(amp * np.array([np.sin(phase), -np.sin(phase)]))
        pose.knee = d(5 + 40 * np.maximum(0, np.array([np.sin(phase + 1.2), -np.sin(phase + 1.2)])))
        pose.shoulder_flex = d(-0.8 * amp * np.array([np.sin(phase), -np.sin(phase)]))
        pose.elbow = d(rng.uniform(10, 40, 2))
    elif family == "reaching":
        arms = [int(rng.integers(2))] if rng.random() < 0.7 else [0, 1]
        for a in arms:
            pose.shoulder_flex[a] = d(rng.uniform(30, 170))
            pose.shoulder_abd[a] = d(rng.uniform(0, 80))
            pose.elbow[a] = d(rng.uniform(0, 70))
        pose.lean = float(d(rng.uniform(0, 25)))
        pose.twist = float(d(rng.normal(0, 15)))
    elif family == "sitting":
        pose.hip_flex = d(rng.uniform(70, 100, 2))
        pose.knee = d(rng.uniform(70, 110, 2))
        pose.hip_abd = d(rng.uniform(0, 15, 2))
        pose.seat_mm = float(rng.uniform(400, 500))
        pose.lean = float(d(rng.uniform(-10, 20)))
    return pose


def look_at(eye_mm: np.ndarray, target_mm: np.ndarray, up_hint: np.ndarray) -> np.ndarray:
    """World -> camera rotation (rows: camera x right, y down, z forward)."""
    f = target_mm - eye_mm
    f = f / np.linalg.norm(f)
    right = np.cross(f, up_hint)
    right /= np.linalg.norm(right)
    down = np.cross(f, right)
    return np.stack([right, down, f])


def sample_body_view(rng: np.random.Generator, joints: np.ndarray, view: str) -> tuple[np.ndarray, np.ndarray, Background]:
    """Camera rotation, camera position (body frame, mm) and the room as camera-space planes."""
    torso = joints[8]
    planes_w = [(np.array([0, 1.0, 0]), 0.0)]                       # floor
    if view == "top":
        eye = np.array([rng.uniform(-500, 500), rng.uniform(2600, 3400), rng.uniform(-500, 500)])
        target = np.array([torso[0], 0.0, torso[2]]) + np.append(rng.uniform(-300, 300, 1), [0, 0])
        yaw = rng.uniform(0, 2 * np.pi)
        rot = look_at(eye, target, np.array([np.sin(yaw), 0, np.cos(yaw)]))
    else:
        dist = rng.uniform(1500, 4000)
        eye = np.array([rng.normal(0, 200), rng.uniform(900, 1700), dist])
        target = torso + np.array([rng.uniform(-300, 300), rng.uniform(-200, 200), 0])
        rot = look_at(eye, target, _UP)
        planes_w.append((np.array([0, 0, 1.0]), -rng.uniform(500, 2500)))    # wall behind the person
    background = Background()
    for n_w, d_w in planes_w:
        background.planes.append(Plane(rot @ n_w, float(d_w - n_w @ eye)))
    return rot, eye, background


def yaw_rotation(rng: np.random.Generator) -> np.ndarray:
    """Which way the person faces: mostly towards the camera, sometimes sideways or away."""
    yaw = rng.normal(0, 35) if rng.random() < 0.8 else rng.uniform(-180, 180)
    return rotation_about(_UP, np.deg2rad(yaw))
