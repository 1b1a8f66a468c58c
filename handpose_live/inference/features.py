"""Per-subject features beyond the joints, for targets whose profile asks for them
(`Target.hand_features`): a hand's side (its chirality averaged over the track, so one odd frame
does not flip it), pinch and grab strength, pinch events with hysteresis, and named gestures
(fist, open palm, point, thumbs up, victory, swipes, tap: `gestures.GestureEvents`) (`gestures.py`).
"""
from __future__ import annotations

import numpy as np

from ..gestures import GestureEvents, HandJoints, chirality, grab_strength, handedness, pinch_strength
from ..types import Subject

_CHIRALITY_MEMORY = 0.9          # exponential average of a track's chirality, per frame


class HandFeatures:
    """Adds side, pinch and grab to a hand subject; the track (`pipeline._Track`) keeps what lasts
    between frames: its averaged chirality, its pinch state and its gestures' (`GestureEvents`)."""

    def __init__(self, joint_names) -> None:
        self.hand = HandJoints(joint_names)

    def add(self, subject: Subject, track, joints: np.ndarray) -> None:
        c = chirality(joints, self.hand)
        if c is not None:
            track.chirality = c if track.chirality is None else \
                _CHIRALITY_MEMORY * track.chirality + (1 - _CHIRALITY_MEMORY) * c
        if track.chirality is not None:
            subject.handedness, subject.handedness_score = handedness(track.chirality)
        subject.pinch = pinch_strength(joints, self.hand)
        subject.grab = grab_strength(joints, self.hand)

    def events(self, subjects: list[Subject], tracks: list, t_ms: float) -> list[dict]:
        """This frame's gesture events of its subjects (their tracks among `tracks`, at `t_ms`), e.g.
        {"type": "pinch_start", "id": 3, "gesture": "pinch"} or {"type": "gesture_start", "id": 3,
        "gesture": "fist"}. The named gestures read the hand's shape from the network's joints (`raw_joints_mm`,
        as pinch and grab do: the skeleton fit, held to its shape and last angles, straightens curled fingers) and
        its motion from the fitted ones (`joints_mm`: steadier tips for taps), with the track's handedness
        (`GestureEvents.update`; docs/results.md, "Gestures")."""
        out = []
        for subject in subjects:
            track = next(t for t in tracks if t.id == subject.id)
            event = track.pinch.update(subject.pinch)
            if event is not None:
                out.append({"type": event, "id": subject.id, "gesture": "pinch"})
            if track.gestures is None:
                track.gestures = GestureEvents(self.hand)
            events = track.gestures.update(subject.joints_mm, t_ms, subject.handedness, subject.raw_joints_mm)
            out += [{"type": e.pop("type"), "id": subject.id, **e} for e in events]
        return out
