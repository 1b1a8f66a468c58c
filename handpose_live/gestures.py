"""What a hand skeleton means: pinch and grab strengths, pinch events, named gestures, and which hand it is.

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

Named gestures (`GestureEvents`, one per tracked hand) come from the joints alone, so they work on
any hand skeleton with the HAND21 joint names, at any distance and size: angles, and lengths in hand
sizes (wrist -> middle MCP). A finger's bend is the angle between its metacarpal (wrist -> MCP) and
the line from its MCP to its DIP, negative when it bends backwards (hyperextends, by less than
`HYPEREXTENSION_DEG`; the palm's side comes from the track's handedness): about -15 degrees straight,
40 relaxed, 120 in a fist. Not to the tip: the network often puts a hidden tip on a neighbour's (the
ring tip on the middle tip in a victory sign), and a phalanx's own angles it gets wrong by 13 to 16
degrees (docs/results.md, "Motion capture"). A finger is extended under `EXTENDED_DEG`, bent over
`BENT_DEG` and curled over `CURLED_DEG`; a relaxed hand (30 to 60 degrees) is none of these, so a
rest pose makes no gesture. Static gestures (`gesture_start`, later `gesture_end`):
- `fist`: the four fingers curled, and not the thumb of a thumbs up (MediaPipe Closed_Fist; Leap grab);
- `open_palm`: the four fingers extended, the thumb free (behind the palm the camera rarely sees it;
  any orientation);
- `point`: the index extended; middle, ring and pinky curled (the thumb free; any direction);
- `thumbs_up`: the four fingers bent, the thumb (CMC -> tip) within `UP_DEG` of up (camera -y: a level
  camera's up) and its tip `THUMB_ABOVE` hand sizes above the index MCP (a fist held knuckles up has
  its thumb pointing up too, but lying along the index);
- `victory`: index and middle extended and apart (tips `V_SPREAD` hand sizes or more), ring and pinky
  bent (the thumb free). The ring finger, curled behind the palm, is often drawn by the network straight
  onto the middle finger; a ring tip within `RING_HIDDEN` hand sizes of the middle tip counts as bent (a
  real straight ring finger's tip lies beside and below the middle one's).
They read the median of each feature over `SMOOTH_S` (the network's fingers flicker between two
readings for a frame or two). Hysteresis, as for pinch: a gesture starts on the thresholds above and
lasts while looser ones hold (`*_STAY_*`; a finger stays extended up to `EXTENDED_STAY_DEG`, curled
down to `CURLED_STAY_DEG`, bent down to `EXTENDED_STAY_DEG`), so noise around a threshold does not
chatter. It starts once its pose has held `HOLD_S` while the palm moved slower than `STILL_MM_S` (a
hand passing through a pose on its way to another, or swept across, makes none) and ends once its
pose has been gone `RELEASE_S`. The five exclude each other: one is on at a time. A hand lost while
a gesture is on sends no `gesture_end`: its id is gone.
Moving gestures, one event each, its type the gesture's name:
- `swipe_left` / `swipe_right` / `swipe_up` / `swipe_down`: a stroke of the palm (the mean of the wrist
  and the four MCPs) faster than `SWIPE_SPEED_MM_S` (over `SPEED_WINDOW_S`) that travels `SWIPE_MIN_MM`
  within `SWIPE_CONE_DEG` of one direction of the image plane; fired once per stroke, as soon as it has
  travelled that far, then none until `SWIPE_REFRACTORY_S` after the stroke (the hand coming back).
  Named as the person facing the camera sees them, as in a mirror or a mirrored preview: `swipe_right`
  is towards the person's right, camera -x (the left of the depth image); up is camera -y. The event
  carries the stroke's camera-space `velocity_mm_s`, so a camera behind the hand maps it itself;
- `tap`: the index tip (median over `SMOOTH_S`) comes `TAP_MM` nearer the camera within `TAP_PRESS_S`,
  more along the depth than it or the palm moves sideways (`TAP_SIDEWAYS`), from an extended index,
  and goes back by `TAP_RETURN` of that as quickly (within `TAP_PRESS_S` of its nearest) and within
  `TAP_MAX_S` of the press; the index bends less than `TAP_BEND_DEG` all along (its median bend over
  `SMOOTH_S`, as the static gestures read it: the network draws a straight index bent for a single frame;
  a finger curling into a fist, palm to the camera, moves its tip the same way). A push that stays, or drifts back, is no
  tap. The event carries the tip's nearest `position_mm`: a poke of the hand or a tap of the finger.
Pinch keeps its own `pinch_start` / `pinch_end`. The gestures follow what hand trackers users know
define (Leap Motion's swipe: 1000 mm/s over 150 mm; a fist: a mean finger curl over 140 degrees); the
thresholds were set on scripted synthetic sequences through the shipped model (`benchmarks/gestures.py`
seeds 1000 and up; docs/results.md reports seeds 0 and up).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

PINCH_NEAR_MM, PINCH_FAR_MM = 20.0, 80.0
GRAB_FULL_DEG = 150.0
PINCH_START, PINCH_END = 0.7, 0.5
CHIRALITY_SCALE = 0.1      # |chirality| giving a handedness score of 1 / (1 + e^-1) = 0.73

# Named gestures (module docstring): a threshold to start, and the looser one (*_STAY_*) to last.
EXTENDED_DEG, EXTENDED_STAY_DEG = 22.0, 35.0       # a finger's bend under this: extended
BENT_DEG = 55.0                                    # over this: bent (to stay: not extended, EXTENDED_STAY_DEG)
CURLED_DEG, CURLED_STAY_DEG = 80.0, 68.0           # over this: curled
HYPEREXTENSION_DEG = 30.0                          # a finger bent backwards by less than this has a negative bend
UP_DEG, UP_STAY_DEG = 40.0, 50.0                   # thumbs up: the thumb (CMC -> tip) within this of camera -y
THUMB_ABOVE, THUMB_ABOVE_STAY = 0.1, -0.05        # and its tip above the index MCP by this, in hand sizes
V_SPREAD, V_SPREAD_STAY = 0.45, 0.2                # victory: index to middle tip, in hand sizes
RING_HIDDEN = 0.15       # victory: a ring tip this near the middle tip (hand sizes) is a hidden ring drawn onto it
SMOOTH_S = 0.1           # the gestures read the median of their features over this window
HOLD_S = 0.2             # a static pose held this long starts its gesture
RELEASE_S = 0.1          # and gone this long ends it
STILL_MM_S = 400.0       # static gestures start only while the palm moves slower than this
SPEED_WINDOW_S = 0.1     # the palm's speed: its motion over this window
SWIPE_SPEED_MM_S = 800.0   # a stroke: the palm faster than this in the image plane (ends under half of it)
SWIPE_MIN_MM = 150.0       # a swipe: the stroke has travelled this far
SWIPE_CONE_DEG = 35.0      # within this of left, right, up or down
SWIPE_REFRACTORY_S = 0.4   # after a swipe's stroke ends, no swipe for this long
TAP_MM = 25.0            # a tap: the index tip this much nearer the camera
TAP_PRESS_S = 0.15       # within this (a quick move: hands moving about do it slower)
TAP_RETURN = 0.5         # then back by this fraction of TAP_MM, as quickly
TAP_MAX_S = 0.5          # and within this of the press
TAP_BEND_DEG = 60.0      # the index bent less than this all along (a finger tap bends it; a finger curling does more)
TAP_SIDEWAYS = 1.5       # the palm's and the tip's image-plane travel over the press at most this x the tip's depth travel

STATIC_GESTURES = ("fist", "open_palm", "point", "thumbs_up", "victory")
SWIPES = {"swipe_right": (-1.0, 0.0), "swipe_left": (1.0, 0.0), "swipe_up": (0.0, -1.0), "swipe_down": (0.0, 1.0)}
GESTURES = STATIC_GESTURES + tuple(SWIPES) + ("tap",)
_UP = np.array([0.0, -1.0, 0.0])   # camera -y

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
        chains = [["wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip"]]
        chains += [["wrist"] + [f"{f}_{p}" for p in ("mcp", "pip", "dip", "tip")] for f in _FINGERS]
        found = [[names.get(n) for n in c] for c in chains]
        complete = [[i for i in c if i is not None] for c in found]
        self.chains: list[list[int]] | None = complete if sum(map(len, complete)) == 25 else None   # thumb, index..pinky

    @property
    def can_pinch(self) -> bool:
        return self.thumb_tip is not None and self.tip[0] is not None

    @property
    def can_grab(self) -> bool:
        return self.wrist is not None and None not in self.mcp and None not in self.tip

    @property
    def can_tell_side(self) -> bool:
        return self.can_grab and self.thumb_cmc is not None and self.thumb_tip is not None

    @property
    def can_gesture(self) -> bool:
        return self.chains is not None


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


@dataclass
class PoseFeatures:
    """What the named gestures are read from, in one frame (module docstring)."""

    bends_deg: np.ndarray      # [4] index..pinky
    thumb_up_deg: float        # angle of the thumb (CMC -> tip) to camera -y
    thumb_above: float         # height of its tip over the index MCP, in hand sizes
    v_spread: float            # index tip to middle tip, in hand sizes
    ring_gap: float            # ring tip to middle tip, in hand sizes
    palm_mm: np.ndarray        # [3] mean of the wrist and the four MCPs
    index_tip_mm: np.ndarray   # [3]


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def pose_features(joints_mm: np.ndarray, hand: HandJoints, side: str | None = None) -> PoseFeatures | None:
    """The gestures' features of one hand, None without the joints or with non-finite ones. `side` ("left" |
    "right", e.g. the track's handedness) tells the palm's side from the back (default: this frame's chirality)."""
    if hand.chains is None:
        return None
    j = np.asarray(joints_mm, np.float64)
    if not np.isfinite(j).all():
        return None
    chains = np.asarray(hand.chains)
    fingers = chains[1:]
    thumb, index, middle = chains[0], chains[1], chains[2]
    metacarpals, reach = j[fingers[:, 1]] - j[fingers[:, 0]], j[fingers[:, 3]] - j[fingers[:, 1]]   # wrist -> MCP, MCP -> DIP
    bends = _angle_deg(metacarpals, reach)
    if side is None:
        c = chirality(j, hand)
        side = None if c is None else ("left" if c > 0 else "right")
    if side is not None:        # bent backwards (within HYPEREXTENSION_DEG: a wrong side never turns a fist): negative
        palmar = np.cross(j[middle[1]] - j[middle[0]], j[index[1]] - j[fingers[3, 1]]) * (1.0 if side == "left" else -1.0)
        bends = np.where((reach @ palmar < 0) & (bends < HYPEREXTENSION_DEG), -bends, bends)
    size = max(float(np.linalg.norm(j[middle[1]] - j[middle[0]])), 1e-6)
    palm = j[[chains[0, 0]] + [int(c[1]) for c in chains[1:]]].mean(axis=0)
    return PoseFeatures(bends, float(_angle_deg(j[thumb[4]] - j[thumb[1]], _UP)),
                        float((j[thumb[4]] - j[index[1]]) @ _UP) / size,
                        float(np.linalg.norm(j[index[4]] - j[middle[4]])) / size,
                        float(np.linalg.norm(j[chains[3, 4]] - j[middle[4]])) / size, palm, j[index[4]].copy())


def static_gesture_holds(gesture: str, f: PoseFeatures, stay: bool = False) -> bool:
    """Whether `f` shows `gesture` (one of STATIC_GESTURES): by the thresholds to start it, or with `stay`
    by the looser ones to keep it."""
    bends = f.bends_deg
    ext = bends < (EXTENDED_STAY_DEG if stay else EXTENDED_DEG)
    bent = bends > (EXTENDED_STAY_DEG if stay else BENT_DEG)
    curled = bends > (CURLED_STAY_DEG if stay else CURLED_DEG)

    def thumb_up(loose: bool) -> bool:
        return f.thumb_up_deg < (UP_STAY_DEG if loose else UP_DEG) and \
            f.thumb_above > (THUMB_ABOVE_STAY if loose else THUMB_ABOVE)
    if gesture == "fist":
        return bool(curled.all()) and not thumb_up(not stay)     # to start, not even a loose thumbs up
    if gesture == "thumbs_up":
        return bool(bent.all()) and thumb_up(stay)
    if gesture == "open_palm":
        return bool(ext.all())
    if gesture == "point":
        return bool(ext[0] and curled[1:].all())
    if gesture == "victory":
        ring_down = bool(bent[2]) or f.ring_gap < RING_HIDDEN
        return bool(ext[:2].all() and bent[3]) and ring_down and f.v_spread > (V_SPREAD_STAY if stay else V_SPREAD)
    raise ValueError(f"not a static gesture: {gesture!r} (one of {', '.join(STATIC_GESTURES)})")


class GestureEvents:
    """Named gestures of one tracked hand (module docstring): `update` with each frame's joints and time
    returns that frame's events, e.g. {"type": "gesture_start", "gesture": "fist"} or
    {"type": "swipe_left", "gesture": "swipe_left", "velocity_mm_s": [...]}."""

    def __init__(self, hand: HandJoints) -> None:
        self.hand = hand
        self.active: str | None = None          # the static gesture on
        self._candidate: str | None = None
        self._since = 0.0                       # the candidate's pose (or, while on, its absence) since
        self._gone_since: float | None = None
        self._shapes: deque[tuple[float, np.ndarray]] = deque()      # (t s, bends, thumb up, thumb above, V spread, ring gap)
        self._history: deque[tuple[float, np.ndarray, np.ndarray]] = deque()   # (t s, palm, index tip)
        self._stroke: np.ndarray | None = None  # the palm where the current fast stroke began
        self._stroke_fired = False
        self._swipe_quiet_until = -math.inf
        self._tips: deque[tuple[float, np.ndarray, float, np.ndarray]] = deque()   # (t s, index tip (median), its bend, palm)
        self._press: tuple[float, float, np.ndarray] | None = None   # (t s, t of its nearest tip, that tip)
        self._tap_quiet_until = -math.inf

    def update(self, joints_mm: np.ndarray, t_ms: float, side: str | None = None,
               shape_joints_mm: np.ndarray | None = None) -> list[dict]:
        """This frame's events from the hand's joints [J, 3] (mm, camera space) at `t_ms`; `side`: its handedness
        when known (`pose_features`); `shape_joints_mm`: other joints of the same hand for its shape (the fingers'
        bends, the thumb), e.g. the network's where `joints_mm` are the fitted skeleton's: the fit, held to its
        shape and last angles, straightens curled fingers, while its steadier tip and palm suit swipes and taps."""
        f = pose_features(joints_mm, self.hand, side)
        if f is None:
            return []
        if shape_joints_mm is not None:
            shaped = pose_features(shape_joints_mm, self.hand, side)
            if shaped is None:
                return []
            f = replace(shaped, palm_mm=f.palm_mm, index_tip_mm=f.index_tip_mm)
        t = float(t_ms) / 1000.0
        if self._history and t <= self._history[-1][0]:
            return []                           # time must go forward
        self._history.append((t, f.palm_mm, f.index_tip_mm))
        while len(self._history) > 2 and self._history[1][0] <= t - max(SMOOTH_S, SPEED_WINDOW_S):
            self._history.popleft()
        velocity = self._velocity()
        self._shapes.append((t, np.r_[f.bends_deg, f.thumb_up_deg, f.thumb_above, f.v_spread, f.ring_gap]))
        while self._shapes[0][0] < t - SMOOTH_S:
            self._shapes.popleft()
        m = np.median([v for _, v in self._shapes], axis=0)
        shape = replace(f, bends_deg=m[:4], thumb_up_deg=float(m[4]), thumb_above=float(m[5]), v_spread=float(m[6]),
                        ring_gap=float(m[7]))
        return self._static(shape, t, velocity) + self._swipe(f, t, velocity) + self._tap(shape, t)

    def _velocity(self) -> np.ndarray:
        """The palm's velocity (mm/s) over the last SPEED_WINDOW_S (or what the history holds)."""
        t, palm = self._history[-1][:2]
        old = next((h for h in reversed(self._history) if h[0] <= t - SPEED_WINDOW_S), self._history[0])
        return np.zeros(3) if old[0] >= t else (palm - old[1]) / (t - old[0])

    def _static(self, f: PoseFeatures, t: float, velocity: np.ndarray) -> list[dict]:
        out = []
        if self.active is not None:
            if static_gesture_holds(self.active, f, stay=True):
                self._gone_since = None
                return []
            if self._gone_since is None:
                self._gone_since = t
            if t - self._gone_since < RELEASE_S:
                return []
            out.append({"type": "gesture_end", "gesture": self.active})
            self.active, self._gone_since, self._candidate = None, None, None
        still = float(np.linalg.norm(velocity)) < STILL_MM_S
        candidate = next((g for g in STATIC_GESTURES if static_gesture_holds(g, f)), None) if still else None
        if candidate != self._candidate:
            self._candidate, self._since = candidate, t
        if candidate is not None and t - self._since >= HOLD_S:
            self.active, self._candidate = candidate, None
            out.append({"type": "gesture_start", "gesture": candidate})
        return out

    def _swipe(self, f: PoseFeatures, t: float, velocity: np.ndarray) -> list[dict]:
        speed = float(np.linalg.norm(velocity[:2]))
        if self._stroke is None:
            if speed < SWIPE_SPEED_MM_S:
                return []
            start = next((h for h in reversed(self._history) if h[0] <= t - SPEED_WINDOW_S), self._history[0])
            self._stroke, self._stroke_fired = start[1], False
        if speed < 0.5 * SWIPE_SPEED_MM_S:      # the stroke ends
            if self._stroke_fired:
                self._swipe_quiet_until = t + SWIPE_REFRACTORY_S
            self._stroke = None
            return []
        travel = f.palm_mm - self._stroke
        length = float(np.linalg.norm(travel))
        if self._stroke_fired or t < self._swipe_quiet_until or length < SWIPE_MIN_MM:
            return []
        for name, (dx, dy) in SWIPES.items():
            if (dx * travel[0] + dy * travel[1]) >= math.cos(math.radians(SWIPE_CONE_DEG)) * length:
                self._stroke_fired = True
                return [{"type": name, "gesture": name, "velocity_mm_s": [round(float(v), 1) for v in velocity]}]
        return []

    def _tap(self, f: PoseFeatures, t: float) -> list[dict]:
        tip = np.median([h[2] for h in self._history if h[0] >= t - SMOOTH_S], axis=0)   # one frame's jitter is no tap
        bend = float(f.bends_deg[0])
        self._tips.append((t, tip, bend, f.palm_mm))
        while self._tips[0][0] < t - TAP_PRESS_S:
            self._tips.popleft()
        if self._press is not None:
            started, at, nearest = self._press
            if tip[2] < nearest[2]:
                at, nearest = t, tip
                self._press = (started, at, nearest)
            if t - started > TAP_MAX_S or bend > TAP_BEND_DEG:
                self._press = None              # pushed and stayed, or the index curled: no tap
            elif tip[2] - nearest[2] >= TAP_RETURN * TAP_MM and t - at <= TAP_PRESS_S:
                self._press, self._tap_quiet_until = None, t + TAP_PRESS_S
                return [{"type": "tap", "gesture": "tap", "position_mm": [round(float(v), 1) for v in nearest]}]
            return []
        if t < self._tap_quiet_until or max(h[2] for h in self._tips) > TAP_BEND_DEG:
            return []
        _, far, far_bend, palm = max(self._tips, key=lambda h: h[1][2])      # the farthest tip within TAP_PRESS_S
        depth = float(far[2] - tip[2])
        sideways = max(float(np.linalg.norm(f.palm_mm[:2] - palm[:2])), float(np.linalg.norm(tip[:2] - far[:2])))
        if depth >= TAP_MM and far_bend < EXTENDED_STAY_DEG and sideways <= TAP_SIDEWAYS * depth:
            self._press = (t, t, tip)
        return []
