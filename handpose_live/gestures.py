"""What a hand skeleton means: pinch and grab strengths, pinch events, and which hand it is.

On the joint names of `skeletons.py`, so any hand skeleton with the joints used works:
- `pinch` 0..1: the thumb-index tip distance, 1 at `PINCH_NEAR_MM`, 0 at `PINCH_FAR_MM`, linear between;
- `grab` 0..1: the mean curl of index..pinky (angle wrist -> MCP to MCP -> tip; 1 at `GRAB_FULL_DEG`);
- `pinch_start` / `pinch_end` at `PINCH_START` / `PINCH_END` (hysteresis: a hovering strength does not chatter);
- handedness from chirality (a hand and its mirror image differ only off the palm plane): with the
  palm normal n = (wrist -> middle MCP) x (pinky MCP -> index MCP), the thumb's (tip - CMC) . n plus
  a tenth of the fingers' sum of (tip - MCP) . n, over |wrist -> middle MCP|, is positive for a left
  hand and negative for a right one (the fingers only break ties: real relaxed fingers hyperextend).
  A track averages it over frames; the score is a logistic of the average.
Why these definitions, and measurements: docs/design-notes.md, `gestures.py`.
"""
from __future__ import annotations

import math

import numpy as np

PINCH_NEAR_MM, PINCH_FAR_MM = 20.0, 80.0
GRAB_FULL_DEG = 150.0
PINCH_START, PINCH_END = 0.7, 0.5
CHIRALITY_SCALE = 0.1      # |chirality| giving a handedness score of 1 / (1 + e^-1) = 0.73

_FINGERS = ("index", "middle", "ring", "pinky")


class HandJoints:
    """Indices of the named joints a skeleton has (None for those it lacks)."""

    def __init__(self, joint_names) -> None:
        names = {n: i for i, n in enumerate(joint_names)}
        self.wrist = names.get("wrist")
        self.thumb_cmc = names.get("thumb_cmc")
        self.thumb_tip = names.get("thumb_tip")
        self.mcp = [names.get(f"{f}_mcp") for f in _FINGERS]
        self.tip = [names.get(f"{f}_tip") for f in _FINGERS]

    @property
    def can_pinch(self) -> bool:
        return self.thumb_tip is not None and self.tip[0] is not None

    @property
    def can_grab(self) -> bool:
        return self.wrist is not None and None not in self.mcp and None not in self.tip

    @property
    def can_tell_side(self) -> bool:
        return self.can_grab and self.thumb_cmc is not None and self.thumb_tip is not None


def pinch_strength(joints_mm: np.ndarray, hand: HandJoints) -> float | None:
    if not hand.can_pinch:
        return None
    d = float(np.linalg.norm(joints_mm[hand.thumb_tip] - joints_mm[hand.tip[0]]))
    return float(np.clip((PINCH_FAR_MM - d) / (PINCH_FAR_MM - PINCH_NEAR_MM), 0.0, 1.0))


def grab_strength(joints_mm: np.ndarray, hand: HandJoints) -> float | None:
    if not hand.can_grab:
        return None
    curls = []
    for mcp, tip in zip(hand.mcp, hand.tip):
        a = joints_mm[mcp] - joints_mm[hand.wrist]
        b = joints_mm[tip] - joints_mm[mcp]
        cos = float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-9)
        curls.append(math.degrees(math.acos(max(-1.0, min(1.0, cos)))) / GRAB_FULL_DEG)
    return float(np.clip(np.mean(curls), 0.0, 1.0))


def chirality(joints_mm: np.ndarray, hand: HandJoints) -> float | None:
    """Positive for a left hand, negative for a right one (module docstring); None without the joints."""
    if not hand.can_tell_side:
        return None
    j = np.asarray(joints_mm, np.float64)
    u = j[hand.mcp[1]] - j[hand.wrist]
    w = j[hand.mcp[0]] - j[hand.mcp[3]]
    n = np.cross(u, w)
    length, norm = float(np.linalg.norm(u)), float(np.linalg.norm(n))
    if length < 1e-6 or norm < 1e-9:
        return None
    n /= norm
    fingers = sum(float((j[t] - j[m]) @ n) for m, t in zip(hand.mcp, hand.tip))
    thumb = float((j[hand.thumb_tip] - j[hand.thumb_cmc]) @ n)
    return (thumb + 0.1 * fingers) / length


def handedness(mean_chirality: float) -> tuple[str, float]:
    """("left" | "right", score in 0.5..1) from a (track-averaged) chirality."""
    side = "left" if mean_chirality > 0 else "right"
    return side, 1.0 / (1.0 + math.exp(-abs(mean_chirality) / CHIRALITY_SCALE))


class PinchEvents:
    """Pinch start/end with hysteresis, for one tracked hand."""

    def __init__(self) -> None:
        self.pinching = False

    def update(self, strength: float | None) -> str | None:
        if strength is None:
            return None
        if not self.pinching and strength >= PINCH_START:
            self.pinching = True
            return "pinch_start"
        if self.pinching and strength <= PINCH_END:
            self.pinching = False
            return "pinch_end"
        return None
