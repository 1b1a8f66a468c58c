"""Per-subject features beyond the joints, for targets whose profile asks for them
(`Target.hand_features`): a hand's side (its chirality averaged over the track, so one odd frame
does not flip it), pinch and grab strength, and pinch events with hysteresis (`gestures.py`).
"""
from __future__ import annotations

import numpy as np

from ..gestures import HandJoints, chirality, grab_strength, handedness, pinch_strength
from ..types import Subject

_CHIRALITY_MEMORY = 0.9          # exponential average of a track's chirality, per frame


class HandFeatures:
    """Adds side, pinch and grab to a hand subject; the track (`pipeline._Track`) keeps what lasts
    between frames: its averaged chirality and its pinch state."""

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

    @staticmethod
    def events(subject: Subject, track) -> list[dict]:
        """This frame's gesture events of one subject, e.g. {"type": "pinch_start", "id": 3}."""
        event = track.pinch.update(subject.pinch)
        return [] if event is None else [{"type": event, "id": subject.id}]
