"""Named gestures on scripted synthetic sequences, through the whole pipeline: precision and recall per gesture.

Each sequence drives the synthetic hand (`synth/hand.py`: its shape, articulation and placement) between
key poses, blended as the synthetic camera blends them (smoothstep; slerp for the orientation), renders
every frame at 30 fps in front of a wall with the sensor model (D435 640x480), and sends it through the
pipeline of `run` (the shipped hand model and learned detector, up to 2 hands, the skeleton fit); the
events of `PoseResult.gestures` are scored, and so are those of `gestures.GestureEvents` fed the TRUE
joints of the same frames (the ceiling: what the definitions give on perfect joints).
Per seed, one sequence per gesture, each with its own hand shape, side, distance, orientation and timing:
- static (fist, open palm, point, thumbs up, victory): a relaxed hand, then the gesture (0.35 s to form,
  held 0.9 s while drifting a little), then relaxed again; its window is from the moment it starts to
  form until it has dissolved; its key poses are checked on the true joints to show it by the
  thresholds that start it (and no other);
- swipes: a relaxed hand at rest, a stroke of 200-280 mm (peak 1000-1800 mm/s, within 15 degrees of
  the direction), a pause, then a slow way back (under 500 mm/s); the window is the stroke +- 0.1 s;
- tap: a pointing hand (its point window too) whose index tip comes 35-60 mm towards the camera and back
  in 0.3-0.45 s, by the whole hand (a poke) or, palm to the camera, by the index's MCP (a finger tap);
- none: 3 s of ordinary motion between relaxed hands and other hand shapes (three, horns, I-love-you,
  call me), each key pose checked on the true joints to be no gesture even by the looser
  thresholds that keep one on, under 300 mm/s; the relaxed and other poses between the gestures of the
  sequences above are drawn the same way.
Hands 300-700 mm from the camera (swipes 400-700 mm, so the stroke stays in view), shown to it: palm or
back to the camera, fingers up, leaning towards it by up to 30 degrees or away by up to 10, turned up to
30 degrees and rolled about the optical axis (sd 20 degrees; thumbs up: the thumb up, the fingers' backs
0-60 degrees off the camera), left and right hands.
Scoring: an event is a true positive when it overlaps a window of its gesture (a static gesture's event is
its gesture_start .. gesture_end span) that no earlier event matched; every other event of that gesture
(in another gesture's sequence, a none sequence, or a second one in the same window: chatter) is a false
positive. Recall: windows matched / windows; precision: true positives / events (no events: 100 %, none false).
The thresholds (`gestures.py`) were set on seeds 1000 and up; the published figures use seeds 0 and up.

    python benchmarks/gestures.py [--seeds 20] [--first-seed 0] [--json out.json]
    python benchmarks/gestures.py --seeds 20 --first-seed 1000 --dump hands.pkl    # keep every frame's hands
    python benchmarks/gestures.py --seeds 20 --first-seed 1000 --replay hands.pkl  # score them again, seconds

--replay scores the kept hands with today's handpose_live/gestures.py as the pipeline would (one GestureEvents
per track id), without rendering or the network: for trying thresholds; the published table is a full run.
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose_live.calib import load_intrinsics  # noqa: E402
from handpose_live.errors import UserError  # noqa: E402
from handpose_live.fileio import atomic_write, atomic_write_text  # noqa: E402
from handpose_live.geometry import pixel_to_camera_mm  # noqa: E402
from handpose_live.gestures import (  # noqa: E402
    GESTURES,
    STATIC_GESTURES,
    GestureEvents,
    HandJoints,
    pose_features,
    static_gesture_holds,
)
from handpose_live.skeletons import HAND21  # noqa: E402
from handpose_live.synth.hand import HandModel, HandPose, HandShape, sample_articulation  # noqa: E402
from handpose_live.synth.render import Background, Plane  # noqa: E402
from handpose_live.synth.sensor import SensorModel  # noqa: E402
from handpose_live.synth.shapes import rotation_about  # noqa: E402
from handpose_live.synth.world import hand_subject, render_frame  # noqa: E402
from handpose_live.types import DepthFrame  # noqa: E402

FPS = 30.0
INTRINSICS = "d435-640x480"
HAND = HandJoints(HAND21.joints)
SWIPE_DIRECTIONS = {"swipe_right": (-1.0, 0.0), "swipe_left": (1.0, 0.0), "swipe_up": (0.0, -1.0),
                    "swipe_down": (0.0, 1.0)}      # camera x, y (swipe_right: the person's right, camera -x)
SCRIPTS = GESTURES + ("none",)
EXTENDED, CURLED = (0.0, 0.08), (0.85, 1.0)      # per-finger curl amounts (synth/hand.py) of the gestures


@dataclass
class Script:
    """A scripted sequence: key poses in time, and the windows of the gestures it performs."""

    name: str
    seed: int
    model: HandModel
    background: Background
    keys: list[tuple[float, HandPose]] = field(default_factory=list)
    windows: list[tuple[str, float, float]] = field(default_factory=list)   # (gesture, t0 s, t1 s)

    @property
    def duration_s(self) -> float:
        return self.keys[-1][0]

    def pose_at(self, t: float) -> HandPose:
        k = max(i for i, (tk, _) in enumerate(self.keys) if tk <= t) if t > self.keys[0][0] else 0
        if k + 1 >= len(self.keys):
            return self.keys[-1][1]
        (t0, a), (t1, b) = self.keys[k], self.keys[k + 1]
        w = float(np.clip((t - t0) / max(t1 - t0, 1e-9), 0.0, 1.0))
        w = w * w * (3 - 2 * w)
        rot = Slerp([0, 1], Rotation.from_matrix(np.stack([a.rotation, b.rotation])))(w).as_matrix()
        return HandPose((1 - w) * a.fingers_rad + w * b.fingers_rad, (1 - w) * a.thumb_rad + w * b.thumb_rad,
                        (1 - w) * a.wrist_rad + w * b.wrist_rad, rot, (1 - w) * a.centre_mm + w * b.centre_mm, a.left)


# ---- key poses ------------------------------------------------------------------------------------

def _curls(rng, thumb, index, middle, ring, pinky) -> np.ndarray:
    return np.array([rng.uniform(*r) for r in (thumb, index, middle, ring, pinky)])


def held_up(rng) -> np.ndarray:
    """Hand-local -> camera: a hand shown to the camera: fingers up, palm or back to the camera, leaning
    towards it by up to 30 degrees or away by up to 10, turned up to 30 degrees about the vertical and
    rolled about the optical axis (sd 20 degrees)."""
    r = np.eye(3) if rng.random() < 0.5 else rotation_about([0, 1.0, 0], np.pi)
    r = rotation_about([0, 0, 1.0], np.pi) @ r                           # fingers up (camera -y)
    r = rotation_about([1.0, 0, 0], np.deg2rad(rng.uniform(-10, 30))) @ r   # + : the fingertips nearer the camera
    r = rotation_about([0, 1.0, 0], np.deg2rad(rng.uniform(-30, 30))) @ r
    return rotation_about([0, 0, 1.0], np.deg2rad(rng.normal(0, 20))) @ r


def thumb_up_rotation(rng, model: HandModel, pose: HandPose) -> np.ndarray:
    """Hand-local -> camera with the thumb (MCP -> tip) pointing up and the curled fingers' backs towards
    the camera, turned 0-60 degrees about the vertical, tilted up to 15 degrees."""
    m = np.diag([-1.0 if pose.left else 1.0, 1.0, 1.0])
    local = model.local_joints(pose)
    a = m @ (local[4] - local[2])
    a /= np.linalg.norm(a)
    b = m @ np.array([0.0, 1.0, 0.0])
    b = b - (b @ a) * a
    b /= np.linalg.norm(b)
    yaw = np.deg2rad(rng.uniform(0, 60) * rng.choice([-1, 1]))
    up, towards = np.array([0.0, -1.0, 0.0]), np.array([np.sin(yaw), 0.0, -np.cos(yaw)])
    target = np.stack([up, towards, np.cross(up, towards)], axis=1)
    source = np.stack([a, b, np.cross(a, b)], axis=1)
    tilt = rotation_about([*rng.normal(size=2), 0.0], np.deg2rad(rng.uniform(0, 15)))
    return tilt @ target @ source.T      # posed() mirrors a left hand (m) before it rotates it


def articulated(rng, curls: np.ndarray, base: HandPose, abduction_deg=None) -> HandPose:
    fingers, thumb, wrist = sample_articulation(rng, curls)
    wrist = wrist * 0.5
    if abduction_deg is not None:
        fingers[:, 0] = np.deg2rad(abduction_deg)
    return replace(base, fingers_rad=fingers, thumb_rad=thumb, wrist_rad=wrist).clipped()


def gesture_curls(rng, gesture: str) -> np.ndarray:
    if gesture == "fist":
        return _curls(rng, (0.75, 1.0), CURLED, CURLED, CURLED, CURLED)
    if gesture == "open_palm":
        return _curls(rng, (0.0, 0.05), EXTENDED, EXTENDED, EXTENDED, EXTENDED)
    if gesture in ("point", "tap"):
        return _curls(rng, (0.0, 1.0), EXTENDED, CURLED, CURLED, CURLED)
    if gesture == "thumbs_up":
        return _curls(rng, (0.0, 0.05), CURLED, CURLED, CURLED, CURLED)
    if gesture == "victory":
        return _curls(rng, (0.5, 1.0), EXTENDED, EXTENDED, CURLED, CURLED)
    raise ValueError(gesture)


def shows(model: HandModel, pose: HandPose) -> tuple[set[str], set[str]]:
    """The static gestures the pose's true joints show by the thresholds that start one, and by those that keep one."""
    f = pose_features(model.posed(pose)[0], HAND, "left" if pose.left else "right")
    assert f is not None
    return ({g for g in STATIC_GESTURES if static_gesture_holds(g, f)},
            {g for g in STATIC_GESTURES if static_gesture_holds(g, f, stay=True)})


def no_gesture(model: HandModel, pose: HandPose) -> bool:
    """The pose shows no static gesture, even by the looser thresholds that keep one on."""
    return not shows(model, pose)[1]


def gesture_pose(rng, model: HandModel, gesture: str, base: HandPose, abduction_deg=None, rotation=None) -> HandPose:
    """The gesture's pose, redrawn until its true joints show it (and only it) by the thresholds that start it."""
    for _ in range(200):
        pose = articulated(rng, gesture_curls(rng, gesture), base, abduction_deg)
        if rotation is not None:
            pose = replace(pose, rotation=rotation(pose))
        if shows(model, pose)[0] == {gesture}:
            return pose
    raise RuntimeError(f"no {gesture} pose found")


OTHER_SHAPES = {      # hand shapes that are none of the gestures: thumb, index..pinky curl amounts
    "three": ((0.7, 1.0), EXTENDED, EXTENDED, EXTENDED, CURLED), "horns": ((0.6, 1.0), EXTENDED, CURLED, CURLED, EXTENDED),
    "i-love-you": ((0.0, 0.1), EXTENDED, CURLED, CURLED, EXTENDED), "call": ((0.0, 0.1), CURLED, CURLED, CURLED, EXTENDED)}


def neutral(rng, model: HandModel, base: HandPose) -> HandPose:
    """A relaxed hand (70 %: each finger bent 38 to 80 degrees, half way between straight and a fist's 140) or
    another hand shape that is no gesture (OTHER_SHAPES)."""
    for _ in range(200):
        if rng.random() < 0.7:
            c = np.clip(rng.uniform(0.33, 0.5) + rng.normal(0, 0.04, 5), 0.3, 0.55)
        else:
            c = _curls(rng, *list(OTHER_SHAPES.values())[int(rng.integers(len(OTHER_SHAPES)))])
        pose = articulated(rng, c, base)
        if no_gesture(model, pose):
            return pose
    raise RuntimeError("no neutral pose found")


def drifted(rng, pose: HandPose, mm: float, deg: float) -> HandPose:
    turn = rotation_about(rng.normal(size=3), np.deg2rad(rng.uniform(-deg, deg)))
    return replace(pose, rotation=turn @ pose.rotation, centre_mm=pose.centre_mm + rng.normal(0, mm / 2, 3))


# ---- scripts --------------------------------------------------------------------------------------

def _setup(name: str, seed: int, z_range=(300.0, 700.0), spread_px=0.2):
    rng = np.random.default_rng([seed, SCRIPTS.index(name), 7])
    intr = load_intrinsics(INTRINSICS)
    model = HandModel(HandShape.sample(rng))
    z = rng.uniform(*z_range)
    u = intr.width * (0.5 + rng.uniform(-spread_px, spread_px))
    v = intr.height * (0.5 + rng.uniform(-spread_px, spread_px))
    centre = pixel_to_camera_mm(np.array([u, v, z]), intr)
    normal = rotation_about([*rng.normal(size=2), 1e-9], np.deg2rad(rng.uniform(0, 20))) @ [0, 0, 1.0]
    background = Background([Plane(normal, float(rng.uniform(1000, 1400)))])
    base = HandPose(np.zeros((4, 4)), np.zeros(4), np.zeros(2), held_up(rng), centre, left=bool(rng.random() < 0.5))
    return rng, Script(name, seed, model, background), base


def static_script(name: str, seed: int) -> Script:
    rng, s, base = _setup(name, seed)
    lead, form, hold, tail = rng.uniform(0.5, 0.7), rng.uniform(0.3, 0.4), rng.uniform(0.8, 1.0), rng.uniform(0.4, 0.5)
    abduction = [rng.uniform(8, 15), rng.uniform(-10, -4), -5.0, -11.0] if name == "victory" else None
    turn = (lambda pose: thumb_up_rotation(rng, s.model, pose)) if name == "thumbs_up" else None
    g1 = gesture_pose(rng, s.model, name, base, abduction, turn)
    base = replace(base, rotation=g1.rotation)         # thumbs up: the whole sequence turned so
    a = neutral(rng, s.model, base)
    g2 = gesture_pose(rng, s.model, name, drifted(rng, g1, 30.0, 8.0), abduction,
                      (lambda pose: g1.rotation) if name == "thumbs_up" else None)
    b = neutral(rng, s.model, drifted(rng, a, 40.0, 10.0))
    t = [0.0, lead, lead + form, lead + form + hold, lead + 2 * form + hold, lead + 2 * form + hold + tail]
    s.keys = list(zip(t, [a, drifted(rng, a, 15.0, 3.0), g1, g2, b, drifted(rng, b, 15.0, 3.0)]))
    s.windows = [(name, t[1], t[4])]
    return s


def swipe_script(name: str, seed: int) -> Script:
    rng, s, base = _setup(name, seed, (400.0, 700.0), 0.05)
    a = neutral(rng, s.model, base)
    dx, dy = SWIPE_DIRECTIONS[name]
    angle = np.deg2rad(rng.uniform(-15, 15))
    direction = np.array([dx * np.cos(angle) - dy * np.sin(angle), dx * np.sin(angle) + dy * np.cos(angle),
                          rng.uniform(-0.1, 0.1)])
    length = rng.uniform(200, 280)
    stroke_s = 1.5 * length / rng.uniform(1000, 1800)          # smoothstep: peak speed 1.5 x mean
    start = replace(a, centre_mm=a.centre_mm - 0.5 * length * direction)
    end = drifted(rng, replace(start, centre_mm=start.centre_mm + length * direction), 10.0, 10.0)
    back_s = max(1.5 * length / rng.uniform(300, 500), 0.6)
    lead, pause = rng.uniform(0.5, 0.7), rng.uniform(0.3, 0.5)
    t = [0.0, lead, lead + stroke_s, lead + stroke_s + pause, lead + stroke_s + pause + back_s]
    s.keys = list(zip(t, [start, drifted(rng, start, 10.0, 3.0), end, end, drifted(rng, start, 20.0, 5.0)]))
    s.windows = [(name, lead - 0.1, lead + stroke_s + 0.1)]
    return s


def tap_script(seed: int) -> Script:
    rng, s, base = _setup("tap", seed)
    a = neutral(rng, s.model, base)
    p = gesture_pose(rng, s.model, "point", a)
    lead, form, before = rng.uniform(0.5, 0.7), rng.uniform(0.3, 0.4), rng.uniform(0.4, 0.5)
    press, release, after = rng.uniform(0.15, 0.2), rng.uniform(0.15, 0.25), rng.uniform(0.4, 0.5)
    palm_to_camera = (p.rotation @ [0, 0, 1.0])[2] < -0.5
    if palm_to_camera and rng.random() < 0.5:           # a finger tap: the index bends at its MCP
        tapped = replace(p, fingers_rad=p.fingers_rad.copy())
        tapped.fingers_rad[0, 1] += np.deg2rad(rng.uniform(30, 45))
    else:                                               # a poke: the hand comes nearer
        toward = -p.centre_mm / np.linalg.norm(p.centre_mm)
        tapped = replace(p, centre_mm=p.centre_mm + rng.uniform(35, 60) * toward)
    t0 = lead + form + before
    t = [0.0, lead, lead + form, t0, t0 + press, t0 + press + release, t0 + press + release + after]
    s.keys = list(zip(t, [a, a, p, p, tapped, p, drifted(rng, p, 10.0, 3.0)]))
    s.windows = [("tap", t0 - 0.05, t0 + press + release + 0.15), ("point", lead, t[-1])]
    return s


def none_script(seed: int) -> Script:
    rng, s, base = _setup("none", seed)
    pose, t = neutral(rng, s.model, base), 0.0
    s.keys = [(0.0, pose)]
    while t < 3.0:
        t += rng.uniform(0.7, 1.2)
        moved = drifted(rng, pose, 80.0, 25.0)
        pose = neutral(rng, s.model, moved)
        s.keys.append((t, pose))
    return s


def script(name: str, seed: int) -> Script:
    if name in STATIC_GESTURES:
        return static_script(name, seed)
    if name in SWIPE_DIRECTIONS:
        return swipe_script(name, seed)
    return tap_script(seed) if name == "tap" else none_script(seed)


# ---- running and scoring --------------------------------------------------------------------------

def frames(s: Script):
    intr = load_intrinsics(INTRINSICS)
    rng = np.random.default_rng([s.seed, SCRIPTS.index(s.name), 8])
    sensor = SensorModel()
    for i in range(int(s.duration_s * FPS) + 1):
        subject = hand_subject(s.model, s.pose_at(i / FPS))
        rendered = render_frame(subject, s.background, intr, rng, None, sensor)
        yield DepthFrame(rendered.depth_mm, intr, timestamp_ms=1000.0 * i / FPS, index=i,
                         ground_truth_mm=subject.joints_mm)


def spans(events: list[tuple[float, dict]], end_s: float) -> list[tuple[str, float, float]]:
    """(gesture, t0, t1) per event: a static gesture from its start to its end (or the sequence's)."""
    out, open_at = [], {}
    for t, e in events:
        key = (e.get("id"), e.get("gesture"))
        if e["type"] == "gesture_start":
            open_at[key] = t
        elif e["type"] == "gesture_end":
            out.append((e["gesture"], open_at.pop(key, t), t))
        elif e.get("gesture") in GESTURES:
            out.append((e["gesture"], t, t))
    out += [(g, t, end_s) for (_, g), t in open_at.items()]
    return sorted(out, key=lambda x: x[1])


def score(windows, found) -> tuple[int, int]:
    """(true positives, windows matched) of one sequence and one gesture."""
    matched = [False] * len(windows)
    tp = 0
    for _, e0, e1 in found:
        for k, (_, w0, w1) in enumerate(windows):
            if not matched[k] and e0 <= w1 and e1 >= w0:
                matched[k] = True
                tp += 1
                break
    return tp, sum(matched)


def network_hands(seeds: list[int], threads: int, dump: Path | None = None, replay: Path | None = None):
    """Per (seed, script): the script, then per frame (t_ms, true joints, the pipeline's hands: [(id, fitted joints,
    network joints, side)], the pipeline's gesture events). `dump`: also kept there (a pickle, per sequence, for
    `--replay`); `replay`: read from such a file (no rendering, no network: the gestures' definitions re-scored)."""
    if replay is not None:
        kept = read_dump(replay)
        missing = [(seed, name) for seed in seeds for name in SCRIPTS if (seed, name) not in kept]
        if missing:
            seeds_kept = sorted({seed for seed, _ in kept})
            raise UserError(f"{replay} does not hold seed {missing[0][0]} ({missing[0][1]}): it holds seeds "
                            f"{seeds_kept[0]}-{seeds_kept[-1]}" if seeds_kept else f"{replay} holds no sequence")
        for seed in seeds:
            for name in SCRIPTS:
                yield script(name, seed), kept[(seed, name)]
        return
    from handpose_live.tracker import Tracker

    tracker = Tracker(camera="synthetic", threads=threads)
    kept = {}
    for seed in seeds:
        for name in SCRIPTS:
            s = script(name, seed)
            tracker.pipeline.reset()
            seq = []
            for frame in frames(s):
                result = tracker.process_frame(frame)
                seq.append((frame.timestamp_ms, frame.ground_truth_mm,
                            [(h.id, np.asarray(h.joints_mm, np.float64), None if h.raw_joints_mm is None else
                              np.asarray(h.raw_joints_mm, np.float64), h.handedness) for h in result.subjects],
                            [e for e in result.gestures if e.get("gesture") in GESTURES]))
            kept[(seed, name)] = seq
            yield s, seq
    if dump is not None:
        atomic_write(dump, lambda f: pickle.dump(kept, f))


def read_dump(path: Path) -> dict:
    """What `--dump` kept, or a one-line UserError."""
    try:
        with open(path, "rb") as f:
            kept = pickle.load(f)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    except Exception:                     # not a pickle, cut short, another kind of file
        raise UserError(f"{path} is not a file written by --dump") from None
    if not isinstance(kept, dict):
        raise UserError(f"{path} is not a file written by --dump")
    return kept


def replayed_events(seq) -> list:
    """The gesture events of a kept sequence's hands, made by the pipeline's own code (`inference/features.py`:
    `HandFeatures.events`, one `GestureEvents` per track id) from the kept joints, ids and sides."""
    from types import SimpleNamespace

    from handpose_live.gestures import PinchEvents
    from handpose_live.inference.features import HandFeatures

    features, tracks = HandFeatures(HAND21.joints), {}
    out = []
    for t_ms, _, hands, _ in seq:
        subjects = [SimpleNamespace(id=hid, pinch=None, joints_mm=joints, raw_joints_mm=raw, handedness=side)
                    for hid, joints, raw, side in hands]
        for s in subjects:
            tracks.setdefault(s.id, SimpleNamespace(id=s.id, pinch=PinchEvents(), gestures=None))
        events = features.events(subjects, list(tracks.values()), t_ms)     # type: ignore[arg-type]
        out += [(t_ms / 1000.0, e) for e in events if e.get("gesture") in GESTURES]
    return out


def run(seeds: list[int], threads: int, log=sys.stderr, dump: Path | None = None, replay: Path | None = None) -> dict:
    counts = {src: {g: {"windows": 0, "events": 0, "tp": 0, "matched": 0} for g in GESTURES} for src in ("network", "truth")}
    sequences, n_frames, t_start = [], 0, time.perf_counter()
    for s, seq in network_hands(seeds, threads, dump, replay):
        name, seed = s.name, s.seed
        truth, side = GestureEvents(HAND), "left" if s.keys[0][1].left else "right"
        got: dict[str, list] = {"network": [], "truth": []}
        for t_ms, true_joints, _, events in seq:
            t = t_ms / 1000.0
            if replay is None:
                got["network"] += [(t, e) for e in events]
            got["truth"] += [(t, {**e, "id": 0}) for e in truth.update(true_joints, t_ms, side)]
            n_frames += 1
        if replay is not None:
            got["network"] = replayed_events(seq)
        record = {"script": name, "seed": seed, "windows": s.windows}
        for src, events in got.items():
            found = spans(events, s.duration_s)
            record[src] = found
            for g in GESTURES:
                w = [x for x in s.windows if x[0] == g]
                f = [x for x in found if x[0] == g]
                tp, matched = score(w, f)
                c = counts[src][g]
                c["windows"] += len(w)
                c["events"] += len(f)
                c["tp"] += tp
                c["matched"] += matched
        sequences.append(record)
        wrong = [e for e in record["network"] if e[0] not in [w[0] for w in s.windows]]
        print(f"seed {seed} {name}: network {[e[0] for e in record['network']]}"
              + (f" (false: {[e[0] for e in wrong]})" if wrong else "")
              + f"; truth {[e[0] for e in record['truth']]}", file=log, flush=True)
    results = {}
    for src, per in counts.items():
        results[src] = {g: {**c, "precision": c["tp"] / c["events"] if c["events"] else 1.0,
                            "recall": c["matched"] / c["windows"] if c["windows"] else None} for g, c in per.items()}
    seconds = time.perf_counter() - t_start
    return {"seeds": seeds, "frames": n_frames, "seconds": round(seconds, 1), "results": results,
            "summary": {src: {"min_precision": min(r["precision"] for r in res.values()),
                              "min_recall": min(r["recall"] for r in res.values() if r["recall"] is not None)}
                        for src, res in results.items()},
            "sequences": sequences}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20, help="sequences per gesture (and none sequences)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--dump", type=Path, help="keep every frame's hands (ids, fitted and network joints, side) here")
    ap.add_argument("--replay", type=Path, help="score the hands kept by --dump (same seeds) with today's gestures.py "
                    "(a pickle: replay only files you made)")
    args = ap.parse_args()
    for path in (args.dump, args.json):      # found out now, not after a quarter of an hour's run
        if path is not None and not path.resolve().parent.is_dir():
            print(f"error: no folder {path.resolve().parent} for {path}", file=sys.stderr)
            sys.exit(2)
    try:
        report = run(list(range(args.first_seed, args.first_seed + args.seeds)), args.threads, dump=args.dump,
                     replay=args.replay)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    net, truth = report["results"]["network"], report["results"]["truth"]

    def pct(v) -> str:
        return "-" if v is None else f"{100 * v:.1f} %"
    print(f"{len(report['seeds'])} seeds x {len(SCRIPTS)} sequences, {report['frames']} frames, {report['seconds']:.0f} s")
    print("| gesture | windows | events | precision | recall | true joints: precision | recall |")
    print("|---|---|---|---|---|---|---|")
    for g in GESTURES:
        n, t = net[g], truth[g]
        print(f"| {g} | {n['windows']} | {n['events']} | {pct(n['precision'])} | {pct(n['recall'])} "
              f"| {pct(t['precision'])} | {pct(t['recall'])} |")
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
