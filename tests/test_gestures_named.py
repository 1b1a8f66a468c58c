"""Named gestures (`gestures.GestureEvents`) on constructed joint sequences: each gesture starts once and
ends once (hysteresis, no chatter), a relaxed or moving hand makes none, swipes are named as the person
facing the camera sees them (swipe_right: camera -x), taps are quick, and the events fit the record schema."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import numpy as np
import pytest

from handpose_live.gestures import (
    EXTENDED_DEG,
    EXTENDED_STAY_DEG,
    GESTURES,
    HOLD_S,
    STATIC_GESTURES,
    GestureEvents,
    HandJoints,
    PinchEvents,
    pose_features,
    static_gesture_holds,
)
from handpose_live.inference.features import HandFeatures
from handpose_live.sinks.osc import OscSender
from handpose_live.skeletons import HAND21
from handpose_live.synth.hand import HandModel, HandPose
from handpose_live.synth.shapes import rotation_about
from handpose_live.types import Joints, PoseResult, Subject

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "handpose_live" / "record.schema.json"
HAND = HandJoints(HAND21.joints)
MODEL = HandModel()
FPS = 30.0
FINGERS_UP_PALM_TO_CAMERA = rotation_about([0, 0, 1.0], np.pi) @ rotation_about([0, 1.0, 0], np.pi)
RELAXED = (0.4, 0.4, 0.45, 0.45, 0.5)
CURLS = {"fist": (0.9, 1, 1, 1, 1), "open_palm": (0, 0, 0, 0, 0), "point": (0.8, 0, 1, 1, 1),
         "thumbs_up": (0, 1, 1, 1, 1), "victory": (0.8, 0, 0, 1, 1)}


def pose(curls, centre=(0.0, 0.0, 500.0), rotation=FINGERS_UP_PALM_TO_CAMERA, spread_deg=(0, 0, 0, 0), left=False,
         index_mcp_deg=0.0) -> HandPose:
    """The synthetic hand with per-finger curl amounts (thumb, index..pinky; 0 straight, 1 a fist's)."""
    t, c = curls[0], np.asarray(curls[1:], np.float64)
    mcp = -15 + 100 * c
    mcp[0] += index_mcp_deg
    fingers = np.deg2rad(np.stack([spread_deg, mcp, 110 * c, 77 * c], axis=1))
    thumb = np.deg2rad([-5 + 45 * t, 30.0, 50 * t, 70 * t])
    return HandPose(fingers, thumb, np.zeros(2), np.asarray(rotation, np.float64), np.asarray(centre, np.float64), left)


def thumbs_up_rotation(left: bool = False) -> np.ndarray:
    """Fingers curled towards the camera, the thumb (CMC -> tip) straight up (camera -y)."""
    mirror = np.diag([-1.0 if left else 1.0, 1.0, 1.0])        # HandModel.posed mirrors a left hand first
    local = MODEL.local_joints(pose(CURLS["thumbs_up"])) @ mirror
    a = local[4] - local[1]
    a /= np.linalg.norm(a)
    b = mirror @ [0.0, 1.0, 0.0] - (mirror @ [0.0, 1.0, 0.0] @ a) * a
    b /= np.linalg.norm(b)
    up, towards = np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, -1.0])
    return np.stack([up, towards, np.cross(up, towards)], 1) @ np.stack([a, b, np.cross(a, b)], 1).T


def blend(a: HandPose, b: HandPose, w: float) -> HandPose:
    return HandPose((1 - w) * a.fingers_rad + w * b.fingers_rad, (1 - w) * a.thumb_rad + w * b.thumb_rad,
                    np.zeros(2), b.rotation if w > 0.5 else a.rotation, (1 - w) * a.centre_mm + w * b.centre_mm, a.left)


def at(keys: list[tuple[float, HandPose]], t: float) -> HandPose:
    """The pose at `t` s, smoothstep-blended between (time s, pose) keys."""
    k = max(j for j, (tk, _) in enumerate(keys) if tk <= t)
    if k + 1 >= len(keys):
        return keys[-1][1]
    (t0, a), (t1, b) = keys[k], keys[k + 1]
    w = (t - t0) / (t1 - t0)
    return blend(a, b, w * w * (3 - 2 * w))


def play(keys: list[tuple[float, HandPose]], jitter_mm: float = 0.0, seed: int = 0) -> list[tuple[float, dict]]:
    """Joints blended between (time s, pose) keys at 30 fps through one recogniser: (time, event) pairs."""
    rng = np.random.default_rng(seed)
    rec = GestureEvents(HAND)
    out = []
    for i in range(int(keys[-1][0] * FPS) + 1):
        t = i / FPS
        joints = MODEL.posed(at(keys, t))[0] + rng.normal(0, jitter_mm, (21, 3))
        out += [(t, e) for e in rec.update(joints, 1000.0 * t)]
    return out


def static_sequence(gesture: str, **kwargs) -> list[tuple[float, HandPose]]:
    relaxed = pose((0.9,) + RELAXED[1:] if gesture == "thumbs_up" else RELAXED, **kwargs)   # (its thumb down)
    shown = pose(CURLS[gesture], **kwargs)
    return [(0.0, relaxed), (0.5, relaxed), (0.85, shown), (1.8, shown), (2.15, relaxed), (2.6, relaxed)]


@pytest.mark.parametrize("gesture", STATIC_GESTURES)
@pytest.mark.parametrize("left", [False, True])
def test_each_static_gesture_starts_once_and_ends_once(gesture, left):
    kwargs = {"left": left}
    if gesture == "thumbs_up":
        kwargs["rotation"] = thumbs_up_rotation(left)
    if gesture == "victory":
        kwargs["spread_deg"] = (12, -8, -5, -11)
    events = play(static_sequence(gesture, **kwargs), jitter_mm=1.5)
    assert [(e["type"], e["gesture"]) for _, e in events] == [("gesture_start", gesture), ("gesture_end", gesture)]
    (t_start, _), (t_end, _) = events
    assert 0.5 + HOLD_S <= t_start <= 1.3 and 1.8 <= t_end <= 2.3


def test_a_relaxed_hand_and_the_poses_between_make_no_gesture():
    assert play([(0.0, pose(RELAXED)), (1.0, pose((0.3, 0.25, 0.4, 0.5, 0.55), centre=(40, -30, 520))),
                 (2.0, pose((0.6, 0.5, 0.55, 0.6, 0.6), centre=(-30, 20, 480))), (3.0, pose(RELAXED))], jitter_mm=1.5) == []
    # index and pinky out, middle and ring curled: no gesture of ours
    rock = pose((0.9, 0, 1, 1, 0))
    assert play([(0.0, pose(RELAXED)), (0.4, rock), (1.5, rock), (1.9, pose(RELAXED))]) == []


def test_hysteresis_a_finger_hovering_at_the_threshold_does_not_chatter():
    """Open palm starts with every finger under EXTENDED_DEG and lasts while they stay under EXTENDED_STAY_DEG:
    an index whose bend swings between the two keeps it on."""
    open_hand = pose(CURLS["open_palm"])
    f = pose_features(MODEL.posed(open_hand)[0], HAND)
    assert f is not None and static_gesture_holds("open_palm", f)
    def index_bend(mcp_deg: float) -> float:
        return float(pose_features(MODEL.posed(pose(CURLS["open_palm"], index_mcp_deg=mcp_deg))[0], HAND, "right").bends_deg[0])
    middle = (EXTENDED_DEG + EXTENDED_STAY_DEG) / 2
    hover = min(range(0, 90), key=lambda d: abs(index_bend(d) - middle))      # the MCP flexion that gives it
    assert EXTENDED_DEG < index_bend(hover) < EXTENDED_STAY_DEG
    keys = [(0.0, open_hand), (0.5, open_hand)]
    for k in range(8):     # the index bends at its MCP to between the two and back, again and again
        keys.append((0.8 + 0.2 * k, pose(CURLS["open_palm"], index_mcp_deg=hover if k % 2 == 0 else 0.0)))
    keys.append((3.0, open_hand))
    events = play(keys, jitter_mm=1.0)     # (palm to the camera, the bending index also taps)
    assert [(e["type"], e["gesture"]) for _, e in events if e["gesture"] in STATIC_GESTURES] == [("gesture_start", "open_palm")]


def test_pinch_events_keep_their_hysteresis():
    events = PinchEvents()
    assert [events.update(v) for v in (0.2, 0.72, 0.6, 0.68, 0.71, 0.49, 0.55)] == \
        [None, "pinch_start", None, None, None, "pinch_end", None]


def swipe(dx: float, dy: float, length: float = 250.0, stroke_s: float = 0.3, back_s: float = 1.0):
    start = pose(RELAXED, centre=np.array([0.0, 0.0, 500.0]) - 0.5 * length * np.array([dx, dy, 0.0]))
    end = pose(RELAXED, centre=np.array([0.0, 0.0, 500.0]) + 0.5 * length * np.array([dx, dy, 0.0]))
    return [(0.0, start), (0.5, start), (0.5 + stroke_s, end), (1.0 + stroke_s, end), (1.0 + stroke_s + back_s, start)]


@pytest.mark.parametrize("direction, name", [((-1.0, 0.0), "swipe_right"), ((1.0, 0.0), "swipe_left"),
                                             ((0.0, -1.0), "swipe_up"), ((0.0, 1.0), "swipe_down")])
def test_swipes_are_named_as_the_person_facing_the_camera_sees_them(direction, name):
    """swipe_right: towards the person's right as they face the camera, i.e. camera -x (the depth image's
    left; the right of a mirrored preview). Up: camera -y. The slow way back makes no swipe."""
    events = play(swipe(*direction), jitter_mm=1.5)
    assert [e["type"] for _, e in events] == [name]
    (t, e), = events
    assert 0.5 < t < 0.85 and e["gesture"] == name
    assert np.sign(e["velocity_mm_s"][0 if direction[0] else 1]) == np.sign(direction[0] or direction[1])


def test_slow_or_short_motion_is_no_swipe():
    assert play(swipe(1.0, 0.0, stroke_s=1.2)) == []             # 250 mm at 310 mm/s at most
    assert play(swipe(1.0, 0.0, length=90.0, stroke_s=0.12)) == []   # fast but 90 mm
    assert play(swipe(0.7, 0.7)) == []                            # diagonal: 45 degrees off every direction


def tap_sequence(depth_mm: float = 45.0, press_s: float = 0.18, release_s: float = 0.2):
    point = pose(CURLS["point"])
    nearer = pose(CURLS["point"], centre=(0.0, 0.0, 500.0 - depth_mm))
    t0 = 0.8
    return [(0.0, point), (t0, point), (t0 + press_s, nearer), (t0 + press_s + release_s, point), (t0 + 1.0, point)]


def test_a_tap_is_a_quick_poke_towards_the_camera_and_back():
    events = [e for _, e in play(tap_sequence(), jitter_mm=1.0) if e["type"] != "gesture_start"]
    assert [e["type"] for e in events] == ["tap"]
    assert events[0]["position_mm"][2] == pytest.approx(455.0, abs=25.0)
    slow = [e for _, e in play(tap_sequence(press_s=0.6, release_s=0.6)) if e["type"] == "tap"]
    pushed_and_held = [e for _, e in play(tap_sequence()[:3] + [(2.0, tap_sequence()[2][1])]) if e["type"] == "tap"]
    shallow = [e for _, e in play(tap_sequence(depth_mm=15.0)) if e["type"] == "tap"]
    assert slow == [] and pushed_and_held == [] and shallow == []


def test_a_finger_curling_into_a_fist_palm_to_the_camera_is_no_tap():
    """The tip of a finger closing into a fist comes towards the camera and goes back, like a tap."""
    events = play(static_sequence("fist"))
    assert [e["type"] for _, e in events] == ["gesture_start", "gesture_end"]


def schema() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))


def test_the_schema_lists_every_gesture_and_event_type():
    items = json.loads(SCHEMA_FILE.read_text())["$defs"]["frame"]["properties"]["gestures"]["items"]["properties"]
    assert set(items["gesture"]["enum"]) == set(GESTURES) | {"pinch"}
    assert set(items["type"]["enum"]) == {"pinch_start", "pinch_end", "gesture_start", "gesture_end"} | \
        (set(GESTURES) - set(STATIC_GESTURES))


def _subject(sid: int, joints: np.ndarray) -> Subject:
    names = HAND21.joints
    return Subject(sid, joints.mean(axis=0), Joints(joints, names), Joints(np.full(21, 0.8), names), 0.8, pinch=0.1)


def test_the_pipeline_features_give_events_with_ids_that_fit_the_schema_and_osc():
    """`HandFeatures.events` (what `PosePipeline.process` collects) on a fist and a swipe, two hands."""
    features = HandFeatures(HAND21.joints)
    tracks = [SimpleNamespace(id=3, pinch=PinchEvents(), gestures=None),
              SimpleNamespace(id=5, pinch=PinchEvents(), gestures=None)]
    fist, swiping = static_sequence("fist"), swipe(1.0, 0.0)
    validator = schema()
    osc = OscSender("127.0.0.1:9")
    seen, messages = [], []
    for i in range(int(2.6 * FPS)):
        t = i / FPS
        subjects = [_subject(3, MODEL.posed(at(fist, t))[0]),
                    _subject(5, MODEL.posed(at(swiping, t))[0] + np.array([300.0, 0.0, 0.0]))]
        events = features.events(subjects, tracks, 1000.0 * t)
        result = PoseResult(i, 1000.0 * t, subjects, "hands", events, {"total": 1.0})
        validator.validate(result.to_record())
        messages += [m for m in osc.messages(result) if m.startswith(b"/hand/") and b"/gesture" in m[:24]]
        seen += [(e["type"], e["id"], e["gesture"]) for e in events]
    osc.close()
    assert seen == [("swipe_left", 5, "swipe_left"), ("gesture_start", 3, "fist"), ("gesture_end", 3, "fist")]
    assert len(messages) == 3 and messages[0].startswith(b"/hand/5/gesture") and b"swipe_left" in messages[0]
    assert messages[1].startswith(b"/hand/3/gesture") and b"gesture_start" in messages[1] and b"fist" in messages[1]


def test_bad_events_do_not_validate():
    frame = {"frame": 0, "timestamp_ms": 0.0, "hands": [], "latency_ms": {}}
    validator = schema()
    validator.validate({**frame, "gestures": [{"type": "pinch_start", "id": 3}]})    # what older versions wrote
    for bad in ({"type": "wave", "id": 1}, {"type": "gesture_start", "id": 1, "gesture": "wave"},
                {"type": "swipe_left", "id": -1}):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate({**frame, "gestures": [bad]})


@pytest.mark.slow
def test_the_gestures_to_osc_example_runs_from_any_folder(tmp_path):
    """examples/gestures_to_osc.py on the synthetic camera (its default), from a folder that is not the repository:
    the model comes through the package."""
    example = Path(__file__).resolve().parents[1] / "examples" / "gestures_to_osc.py"
    proc = subprocess.run([sys.executable, str(example), "127.0.0.1:9", "8"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_wrong_side_never_turns_a_fist_into_an_open_hand():
    """The palm's side makes a finger bent backwards negative (`HYPEREXTENSION_DEG`); with the wrong side a
    straight finger reads slightly bent, but a curled one stays curled."""
    fist = MODEL.posed(pose(CURLS["fist"]))[0]
    right, wrong = pose_features(fist, HAND, "right"), pose_features(fist, HAND, "left")
    assert static_gesture_holds("fist", right) and static_gesture_holds("fist", wrong)
    flat = MODEL.posed(pose(CURLS["open_palm"]))[0]
    assert (pose_features(flat, HAND, "right").bends_deg < 0).all()      # hyperextended a little: negative
    assert pose_features(flat, HAND).bends_deg.tolist() == pose_features(flat, HAND, "right").bends_deg.tolist()


def test_the_shape_may_come_from_other_joints_than_the_motion():
    """`shape_joints_mm`: the network's joints for the fingers, the fitted ones for palm and tip."""
    fist, flat = MODEL.posed(pose(CURLS["fist"]))[0], MODEL.posed(pose(CURLS["open_palm"]))[0]
    rec = GestureEvents(HAND)
    events = [e for i in range(20) for e in rec.update(flat, 1000.0 * i / FPS, "right", shape_joints_mm=fist)]
    assert [(e["type"], e["gesture"]) for e in events] == [("gesture_start", "fist")]


def test_a_ring_finger_drawn_onto_the_middle_one_is_a_hidden_one_in_a_victory_sign():
    """The network draws a ring finger curled behind the palm straight onto the middle finger: that is still a
    victory sign; a real three (index, middle and ring straight, side by side) is none."""
    names = {n: i for i, n in enumerate(HAND21.joints)}
    victory = MODEL.posed(pose(CURLS["victory"], spread_deg=(12, -8, -5, -11)))[0]
    ghost = victory.copy()
    for part in ("pip", "dip", "tip"):
        ghost[names[f"ring_{part}"]] = victory[names[f"middle_{part}"]] + [3.0, 2.0, 1.0]
    three = MODEL.posed(pose((0.8, 0, 0, 0, 1), spread_deg=(12, -8, -5, -11)))[0]
    assert static_gesture_holds("victory", pose_features(victory, HAND, "right"))
    assert static_gesture_holds("victory", pose_features(ghost, HAND, "right"))
    assert not any(static_gesture_holds(g, pose_features(three, HAND, "right")) for g in STATIC_GESTURES)


def test_one_frame_of_the_index_drawn_bent_does_not_cancel_a_tap():
    """The network draws a straight index bent for a single frame now and then: the tap reads the index's median
    bend over SMOOTH_S, as the static gestures read theirs; a finger that stays bent is still no tap."""
    keys = tap_sequence()
    bent = MODEL.posed(pose(CURLS["fist"], centre=(0.0, 0.0, 470.0)))[0]
    names = {n: i for i, n in enumerate(HAND21.joints)}
    index = [names[f"index_{p}"] for p in ("pip", "dip", "tip")]

    def taps(bent_frames: set[int]) -> list[dict]:
        rec, out = GestureEvents(HAND), []
        for i in range(int(keys[-1][0] * FPS) + 1):
            joints = MODEL.posed(at(keys, i / FPS))[0]
            shape = joints.copy()
            if i in bent_frames:        # the network's joints: the index drawn curled, the fitted ones unchanged
                shape[index] = bent[index] + (joints[names["index_mcp"]] - bent[names["index_mcp"]])
            out += [e for e in rec.update(joints, 1000.0 * i / FPS, "right", shape_joints_mm=shape) if e["type"] == "tap"]
        return out
    pressed = int(1.0 * FPS)         # the press is on from about 0.97 s, the tap fires about 1.13 s
    assert len(taps(set())) == 1 and len(taps({pressed})) == 1
    assert taps(set(range(pressed - 3, pressed + 5))) == []


def test_a_victory_needs_its_two_fingers_apart_not_three_straight_fingers_side_by_side():
    """Three straight fingers held together (the ring drawn onto the middle one) were read as a victory with a
    hidden ring: a victory starts only with the index and middle tips `V_SPREAD` hand sizes apart."""
    names = {n: i for i, n in enumerate(HAND21.joints)}
    together = MODEL.posed(pose((0.8, 0, 0, 0, 1), spread_deg=(2, -2, -5, -11)))[0]
    ghost = together.copy()
    for part in ("pip", "dip", "tip"):
        ghost[names[f"ring_{part}"]] = together[names[f"middle_{part}"]] + [3.0, 2.0, 1.0]
    f = pose_features(ghost, HAND, "right")
    assert f is not None and f.ring_gap < 0.15 and f.v_spread < 0.45
    assert not static_gesture_holds("victory", f)
