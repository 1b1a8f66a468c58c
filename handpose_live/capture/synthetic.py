"""A depth camera that films a synthetic hand (or body) with exact ground truth.

The subject moves smoothly between random keyposes (one every ~1.5 s): joint angles and
position are blended with a smoothstep, orientation with a slerp limited to 60 degrees per
key so the hand turns rather than flips. Each frame is rendered at full resolution in front
of a fixed wall and passed through the RealSense-like sensor model, so the live pipeline sees
what a camera would give it, and every frame carries its true joints and cube centre.

With `hands=2` a person holds up both hands: a right hand on the image's left (the camera faces
the person) and a left hand on its right, each animated on its own, rendered into one frame.
The ground truth is then [2, J, 3] with `ground_truth_sides` ("right", "left").
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Iterator

import numpy as np

from ..calib import load_intrinsics
from ..errors import UserError
from ..synth.body import body_joints, sample_body_pose, sample_body_view, yaw_rotation
from ..synth.hand import HandModel, HandPose, HandShape, nyu_prior, sample_hand_pose
from ..synth.render import Background, Plane
from ..synth.sensor import SensorModel
from ..synth.shapes import Surface, rotation_about, rotation_from_vector, rotation_vector, slerp
from ..synth.world import Subject, body_subject, check_target, hand_subject, render_frame
from ..targets import get_target
from ..types import DepthFrame, Intrinsics
from .base import FrameSource

KEY_INTERVAL_S = 1.5
SCENE_SUBJECTS = {"hand": 2, "body": 1}     # synthetic scene -> most subjects the camera can show
MAX_TURN_RAD = np.deg2rad(60)


def combined(subjects) -> Subject:
    """Several subjects as one render: their surfaces together (joints of the first; the caller
    keeps each subject's own ground truth)."""
    subjects = list(subjects)
    surface = Surface()
    for s in subjects:
        surface.extend(s.surface)
    first = subjects[0]
    return Subject(first.joints_mm, first.joint_radius_mm, first.centre_mm, surface)


def _smoothstep(w: float) -> float:
    return w * w * (3 - 2 * w)


class SyntheticCamera(FrameSource):
    """Endless (or `frames`-long) stream of synthetic `DepthFrame`s; deterministic given `seed`."""

    name = "synthetic"

    def __init__(self, intrinsics: Intrinsics | str | None = "d435-640x480", fps: float = 30.0, target: str = "hand",
                 seed: int = 0, frames: int | None = None, realtime: bool = False,
                 sensor: SensorModel | None = SensorModel(), hands: int = 1):
        intrinsics = "d435-640x480" if intrinsics is None else intrinsics
        self._intr = load_intrinsics(intrinsics) if isinstance(intrinsics, str) else intrinsics
        if not fps > 0:
            raise UserError(f"synthetic camera fps must be positive, got {fps}")
        if frames is not None and frames < 0:
            raise UserError(f"synthetic camera frame count must be >= 0, got {frames}")
        self.fps, self.target, self.seed = float(fps), check_target(target), int(seed)
        self.max_frames, self.realtime, self.sensor = frames, bool(realtime), sensor
        self._profile = get_target(self.target)
        if hands not in (1, 2) or hands > SCENE_SUBJECTS[self._profile.synthetic_scene]:
            raise UserError(f"the synthetic camera shows 1 or 2 hands (--target hand), not {hands}")
        self.hands = int(hands)
        self.live = bool(realtime)
        self._closed = False

    @property
    def intrinsics(self) -> Intrinsics:
        return self._intr

    def close(self) -> None:
        self._closed = True

    def frames(self) -> Iterator[DepthFrame]:
        rng = np.random.default_rng([self.seed, 1])
        animations = {"hand": self._hand_animations, "body": self._body_animations}[self._profile.synthetic_scene](rng)
        start = time.monotonic()
        i = 0
        while not self._closed and (self.max_frames is None or i < self.max_frames):
            t_s = i / self.fps
            subjects = [animate(t_s) for animate in animations]
            subject, background = subjects[0]
            if len(subjects) > 1:
                subject = combined(s for s, _ in subjects)
            frame = render_frame(subject, background, self._intr, rng, None, self.sensor)
            if self.realtime:
                delay = start + t_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if len(subjects) > 1:
                truth = np.stack([s.joints_mm for s, _ in subjects]).astype(np.float32)
                yield DepthFrame(frame.depth_mm, self._intr, timestamp_ms=1000.0 * t_s, index=i, ground_truth_mm=truth,
                                 ground_truth_centre_mm=np.stack([s.centre_mm for s, _ in subjects]),
                                 ground_truth_sides=("right", "left"))
            else:
                yield DepthFrame(frame.depth_mm, self._intr, timestamp_ms=1000.0 * t_s, index=i,
                                 ground_truth_mm=frame.joints_mm, ground_truth_centre_mm=frame.centre_mm,
                                 ground_truth_sides=(self._side,) if self._profile.hand_features else None)
            i += 1

    def _keyframes(self, rng, sample, blend):
        """A function t_s -> blended keypose, drawing new keys from `sample(previous)` as time goes.
        Only the keys still ahead are kept (time only goes forward): a list of every key drawn grew
        without end in a long run (`benchmarks/soak_run.py`)."""
        keys = {0: sample(None)}
        keys[1] = sample(keys[0])

        def at(t_s: float):
            k = int(t_s // KEY_INTERVAL_S)
            while max(keys) < k + 1:
                keys[max(keys) + 1] = sample(keys[max(keys)])
            for old in [j for j in keys if j < k]:
                del keys[old]
            return blend(keys[k], keys[k + 1], _smoothstep(t_s / KEY_INTERVAL_S - k))
        return at

    def _hand_animations(self, rng) -> list:
        if self.hands == 1:
            return [self._hand_animation(rng)]
        # each hand on its own generator
        return [self._hand_animation(np.random.default_rng([self.seed, 1, k]), side)
                for k, side in enumerate(("right", "left"))]

    def _body_animations(self, rng) -> list:
        return [self._body_animation(rng)]

    def _hand_animation(self, rng, side: str | None = None):
        """A hand moving between keyposes; `side` "right" / "left" also puts it on that side of the
        person (the image's left / right), else the side is drawn at random and the hand goes anywhere."""
        intr = self._intr
        model = HandModel(HandShape.sample(rng))
        left = bool(rng.random() < 0.5) if side is None else side == "left"
        self._side = "left" if left else "right"
        prior = nyu_prior()
        lateral = None if side is None else (1.0 if left else -1.0) * rng.uniform(0.2, 0.3)   # x / z

        def facing_camera_pose() -> HandPose:
            """A person holds the hand up to the camera: the elbow is not nearer than the wrist."""
            for _ in range(100):
                pose = replace(sample_hand_pose(rng, intr, prior, left_fraction=0.0), left=left)
                flex, dev = pose.wrist_rad
                arm = pose.rotation @ rotation_about([0, 0, 1.0], dev) @ rotation_about([1.0, 0, 0], flex) @ [0, -1.0, 0]
                if arm[2] >= 0.05:
                    return pose
            return pose

        def sample(previous: HandPose | None) -> HandPose:
            pose = facing_camera_pose()
            # one person's two hands stay within 200 mm of depth of each other
            z = float(np.clip(pose.centre_mm[2], 350, 700) if lateral is None else np.clip(pose.centre_mm[2], 420, 620))
            pose = replace(pose, centre_mm=pose.centre_mm * (z / pose.centre_mm[2]))
            if lateral is not None:   # this hand's side of the image, 20-30 % of the distance off-centre
                centre = pose.centre_mm.copy()
                centre[0] = z * (lateral + rng.uniform(-0.03, 0.03))
                pose = replace(pose, centre_mm=centre)
            if previous is not None:
                turn = rotation_vector(pose.rotation @ previous.rotation.T)
                angle = np.linalg.norm(turn)
                if angle > MAX_TURN_RAD:
                    limited = rotation_from_vector(turn * (MAX_TURN_RAD / angle))
                    pose = replace(pose, rotation=limited @ previous.rotation)
            return pose

        def blend(a: HandPose, b: HandPose, w: float) -> HandPose:
            rot = slerp(a.rotation, b.rotation, w)
            return HandPose((1 - w) * a.fingers_rad + w * b.fingers_rad, (1 - w) * a.thumb_rad + w * b.thumb_rad,
                            (1 - w) * a.wrist_rad + w * b.wrist_rad, rot, (1 - w) * a.centre_mm + w * b.centre_mm, left)

        at = self._keyframes(rng, sample, blend)
        normal = rotation_about(rng.normal(size=3) * [1, 1, 0] + [1e-9, 0, 0], np.deg2rad(rng.uniform(0, 20))) @ [0, 0, 1.0]
        background = Background([Plane(normal, float(rng.uniform(1000, 1400)))])
        return lambda t_s: (hand_subject(model, at(t_s)), background)

    def _body_animation(self, rng):
        first = sample_body_pose(rng, "standing")
        yaw = yaw_rotation(rng)
        joints, _ = body_joints(first)
        rot, eye, background = sample_body_view(rng, (yaw @ joints.T).T, "front")
        shape = (first.height_mm, first.thickness)

        def sample(previous):
            pose = sample_body_pose(rng, ("standing", "walking", "reaching")[int(rng.integers(3))])
            pose.height_mm, pose.thickness = shape
            return pose

        at = self._keyframes(rng, sample, lambda a, b, w: a.blend(b, w))
        return lambda t_s: (body_subject(at(t_s), yaw, rot, eye), background)
