"""Named joint topologies: joint names, bones, a colour group per joint, and mappings.

`HAND21` is the project's canonical hand (wrist, then thumb/index/middle/ring/pinky from
root to tip, four joints each). `canonical` of another skeleton lists, for each of its
joints, the HAND21 joint it corresponds to (None where there is none, e.g. NYU's palm).
`Kinematics` (HAND21 and ITOP15, the shipped models' skeletons) says how a skeleton moves for the
skeleton fit of `inference/kinematics.py`: its rigid segments (the root's first: the tree hangs from
it, `Skeleton.parents`) and its chains of joints with their joint limits.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import UserError

FINGERS = ("thumb", "index", "middle", "ring", "pinky")
GROUP_COLOURS = {  # RGB 0..1, one colour per finger; used by every viewer
    "palm": (0.85, 0.85, 0.85), "thumb": (0.95, 0.25, 0.25), "index": (0.95, 0.65, 0.1),
    "middle": (0.2, 0.8, 0.2), "ring": (0.15, 0.55, 0.95), "pinky": (0.7, 0.3, 0.9),
    "head": (0.95, 0.85, 0.2), "torso": (0.85, 0.85, 0.85), "right_arm": (0.95, 0.25, 0.25),
    "left_arm": (0.15, 0.55, 0.95), "right_leg": (0.95, 0.55, 0.1), "left_leg": (0.2, 0.8, 0.2),
}


@dataclass(frozen=True)
class Segment:
    """A joint and the joints that move rigidly with it (a palm, a pelvis, a shoulder girdle). Its frame:
    X from `joint` toward `forward`, Z from `lateral[1]` toward `lateral[0]` (made perpendicular to X), Y = Z x X."""

    joint: int
    members: tuple[int, ...]
    forward: int
    lateral: tuple[int, int]
    parent: int | None = None         # a segment below the root: its parent joint is a point of its rigid fit too


@dataclass(frozen=True)
class Chain:
    """Joints that follow `start` one bone after another in one plane (a finger, a limb). `limits_deg`:
    per bone, its flexion against the bone before (the first bone: against the segment's X-Z plane for
    a "palm" chain, free for a "bend" chain). A "palm" chain's plane holds the segment's Y (a finger:
    abduction about the palm normal, at most `abduction_deg` from its rest direction, then flexion);
    a "bend" chain's plane is that of its own bend (a thumb, an arm). `distal_min`: the last bone is at
    least this fraction of the one before (a lower bound on the estimated length)."""

    start: int
    joints: tuple[int, ...]
    limits_deg: tuple[tuple[float, float], ...]
    plane: str = "bend"
    abduction_deg: float = 180.0
    distal_min: float = 0.0


@dataclass(frozen=True)
class Kinematics:
    """How a skeleton moves (`inference/kinematics.py` fits it): rigid segments (the root's first) and
    chains. `mirror_left`: a left hand's lateral axis is reversed, so Y stays the palm's front for both
    hands. `palm`: joints whose mean is the palm position, `palm_width`: the two joints across it (hands).
    `rest`: the joints (mm, a right hand) of a subject of mean size and proportions, straight: the shape a
    track starts from, scaled to the size it sees (`inference/kinematics.py`)."""

    segments: tuple[Segment, ...]
    chains: tuple[Chain, ...]
    mirror_left: bool = False
    palm: tuple[int, ...] = ()
    palm_width: tuple[int, int] | None = None
    rest: tuple[tuple[float, float, float], ...] = ()

    @property
    def root(self) -> int:
        return self.segments[0].joint


@dataclass(frozen=True)
class Skeleton:
    name: str
    target: str                       # "hand" or "body"
    joints: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    groups: tuple[str, ...]           # colour group per joint
    canonical: tuple[int | None, ...] | None = None  # index into HAND21 per joint
    kinematics: Kinematics | None = None             # segments and chains (HAND21, ITOP15): the skeleton fit

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def parents(self) -> tuple[int, ...]:
        """Each joint's parent in the tree hung from the kinematic root (-1: the root), from the bones."""
        root = self.kinematics.root if self.kinematics is not None else 0
        parents = [-2] * self.num_joints
        parents[root] = -1
        todo = [root]
        while todo:
            j = todo.pop(0)
            for a, b in self.bones:
                for u, v in ((a, b), (b, a)):
                    if u == j and parents[v] == -2:
                        parents[v] = j
                        todo.append(v)
        if -2 in parents:
            raise ValueError(f"skeleton {self.name}: its bones do not join every joint to joint {root}")
        return tuple(parents)

    def colours(self) -> list[tuple[float, float, float]]:
        return [GROUP_COLOURS[g] for g in self.groups]


def _hand21() -> Skeleton:
    names = ["wrist"]
    groups = ["palm"]
    bones = []
    parts = {"thumb": ("cmc", "mcp", "ip", "tip")}
    for f in FINGERS:
        for k, part in enumerate(parts.get(f, ("mcp", "pip", "dip", "tip"))):
            names.append(f"{f}_{part}")
            groups.append(f)
            idx = len(names) - 1
            bones.append((0 if k == 0 else idx - 1, idx))
    return Skeleton("hand21", "hand", tuple(names), tuple(bones), tuple(groups), tuple(range(21)))


def _hand_kinematics() -> Kinematics:
    # Finger limits (degrees): MCP -30..95 (hyperextension to flexion), PIP -5..115, DIP -15..95, abduction
    # within 35 of the wrist -> MCP direction; thumb: CMC free, MCP and IP -30..80 / -30..95 (loose: reported
    # figures vary). Anatomical ranges after Lee & Kunii (1995), widened by the synthetic hand's own limits.
    # A distal phalanx is at least 0.6 of the bone before it (real ones: 0.7 to 0.95): the network draws the
    # last joint before a tip too near the tip (the distal bone at 0.44 to 0.83 of its true length,
    # docs/results.md "Motion capture"), and a skeleton that short cannot reach the tips it sees.
    fingers = tuple(Chain(5 + 4 * f, (6 + 4 * f, 7 + 4 * f, 8 + 4 * f), ((-30.0, 95.0), (-5.0, 115.0), (-15.0, 95.0)),
                          "palm", 35.0, distal_min=0.6) for f in range(4))
    thumb = Chain(1, (2, 3, 4), ((-180.0, 180.0), (-30.0, 80.0), (-30.0, 95.0)), distal_min=0.6)
    return Kinematics((Segment(0, (1, 5, 9, 13, 17), forward=9, lateral=(5, 17)),), (thumb,) + fingers,
                      mirror_left=True, palm=(0, 5, 9, 13, 17), palm_width=(5, 17), rest=HAND_REST_MM)


# Subjects at rest (`Kinematics.rest`), to 0.1 mm: the synthetic world's hand of mean shape with straight
# fingers (`synth/hand.py`: HandModel(), every angle 0) and its standing body 1725 mm tall, the middle of its
# heights (`synth/body.py`: body_joints, every angle 0). tests/test_kinematics.py holds them to those.
HAND_REST_MM = (
    (0.0, 0.0, 0.0), (20.0, 22.0, 6.0), (46.1, 54.9, 6.0), (65.4, 79.1, 6.0), (81.0, 98.7, 6.0),
    (24.0, 86.0, 0.0), (28.1, 124.8, 0.0), (30.5, 147.7, 0.0), (32.5, 166.6, 0.0),
    (5.0, 90.0, 0.0), (5.0, 134.0, 0.0), (5.0, 161.0, 0.0), (5.0, 181.0, 0.0),
    (-13.0, 85.0, 0.0), (-16.6, 125.8, 0.0), (-18.8, 151.7, 0.0), (-20.6, 171.7, 0.0),
    (-29.0, 76.0, 0.0), (-35.1, 107.4, 0.0), (-38.5, 125.1, 0.0), (-41.8, 141.8, 0.0))
BODY_REST_MM = (
    (0.0, 1604.2, 17.2), (0.0, 1440.4, 0.0), (-181.1, 1397.2, 0.0), (181.1, 1397.2, 0.0),
    (-181.1, 1104.0, 0.0), (181.1, 1104.0, 0.0), (-181.1, 810.8, 0.0), (181.1, 810.8, 0.0),
    (0.0, 1129.9, 0.0), (-94.9, 922.9, 0.0), (94.9, 922.9, 0.0), (-94.9, 500.2, 0.0), (94.9, 500.2, 0.0),
    (-94.9, 77.6, 0.0), (94.9, 77.6, 0.0))


HAND21 = replace(_hand21(), kinematics=_hand_kinematics())
_H = {n: i for i, n in enumerate(HAND21.joints)}


def _from_names(name, target, names, canonical_names, bones):
    canonical = tuple(_H.get(c) if c else None for c in canonical_names)
    groups = []
    for c, n in zip(canonical_names, names):
        g = (c or n).split("_")[0]
        groups.append(g if g in FINGERS else "palm")
    return Skeleton(name, target, tuple(names), tuple(bones), tuple(groups), canonical)


# MSRA 2015: wrist; index, middle, ring, little (mcp pip dip tip); thumb (4, root to tip).
_msra_names = ["wrist"] + [f"{f}_{p}" for f in ("index", "middle", "ring", "pinky") for p in ("mcp", "pip", "dip", "tip")] \
    + ["thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip"]
MSRA21 = _from_names("msra21", "hand", _msra_names, _msra_names,
                     [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11),
                      (11, 12), (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20)])

# HANDS2017 / BigHand: wrist, 5 MCPs (T I M R P), then PIP DIP TIP of T I M R P.
_h17_names = ["wrist", "thumb_mcp", "index_mcp", "middle_mcp", "ring_mcp", "pinky_mcp"] + [
    f"{f}_{p}" for f in FINGERS for p in ("pip", "dip", "tip")]
_h17_canon = ["wrist", "thumb_cmc", "index_mcp", "middle_mcp", "ring_mcp", "pinky_mcp"] + [
    f"{f}_{p}" for f in FINGERS for p in (("mcp", "ip", "tip") if f == "thumb" else ("pip", "dip", "tip"))]
_h17_bones = [(0, k) for k in range(1, 6)]
for _fi in range(5):
    _base = 6 + 3 * _fi
    _h17_bones += [(1 + _fi, _base), (_base, _base + 1), (_base + 1, _base + 2)]
HANDS2017_21 = _from_names("hands2017_21", "hand", _h17_names, _h17_canon, _h17_bones)

# NYU, the 14 evaluation joints (mapping to HAND21 is approximate: NYU marks 'mid' knuckles).
_nyu_names = ["pinky_tip", "pinky_mid", "ring_tip", "ring_mid", "middle_tip", "middle_mid", "index_tip", "index_mid",
              "thumb_tip", "thumb_mid", "thumb_root", "wrist_back", "wrist", "palm"]
_nyu_canon = ["pinky_tip", "pinky_pip", "ring_tip", "ring_pip", "middle_tip", "middle_pip", "index_tip", "index_pip",
              "thumb_tip", "thumb_ip", "thumb_mcp", None, "wrist", None]
NYU14 = _from_names("nyu14", "hand", _nyu_names, _nyu_canon,
                    [(0, 1), (1, 13), (2, 3), (3, 13), (4, 5), (5, 13), (6, 7), (7, 13), (8, 9), (9, 10), (10, 13),
                     (13, 11), (13, 12)])

# ICVL: palm; thumb, index, middle, ring, pinky (root, mid, tip).
_icvl_names = ["palm"] + [f"{f}_{p}" for f in FINGERS for p in ("root", "mid", "tip")]
_icvl_canon = [None] + [f"{f}_{p}" for f in FINGERS for p in (("mcp", "ip", "tip") if f == "thumb" else ("mcp", "pip", "tip"))]
ICVL16 = _from_names("icvl16", "hand", _icvl_names, _icvl_canon,
                     [b for f in range(5) for b in ((0, 1 + 3 * f), (1 + 3 * f, 2 + 3 * f), (2 + 3 * f, 3 + 3 * f))])

ITOP15 = Skeleton(
    "itop15", "body",
    ("head", "neck", "right_shoulder", "left_shoulder", "right_elbow", "left_elbow", "right_hand", "left_hand",
     "torso", "right_hip", "left_hip", "right_knee", "left_knee", "right_foot", "left_foot"),
    ((0, 1), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7), (1, 8), (8, 9), (8, 10), (9, 11), (10, 12), (11, 13),
     (12, 14)),
    ("head", "torso", "right_arm", "left_arm", "right_arm", "left_arm", "right_arm", "left_arm", "torso",
     "right_leg", "left_leg", "right_leg", "left_leg", "right_leg", "left_leg"),
    kinematics=Kinematics(
        # pelvis and spine (torso, neck, hips) and the shoulder girdle (neck, shoulders) rigid; head, arms and
        # legs as chains (elbows and knees hinges, 0..165 degrees)
        (Segment(8, (1, 9, 10), forward=1, lateral=(10, 9)), Segment(1, (2, 3), forward=0, lateral=(3, 2), parent=8)),
        (Chain(1, (0,), ((-180.0, 180.0),)),
         Chain(2, (4, 6), ((-180.0, 180.0), (0.0, 165.0))), Chain(3, (5, 7), ((-180.0, 180.0), (0.0, 165.0))),
         Chain(9, (11, 13), ((-180.0, 180.0), (0.0, 165.0))), Chain(10, (12, 14), ((-180.0, 180.0), (0.0, 165.0)))),
        rest=BODY_REST_MM),
)

# The joints whose mean is the reference point a model was trained around (the synthetic world's
# hand centre: wrist + the four finger MCPs; the body's torso joint). Other skeletons: all joints.
CENTRE_JOINTS = {"hand21": (0, 5, 9, 13, 17), "itop15": (8,)}

SKELETONS = {s.name: s for s in (HAND21, MSRA21, HANDS2017_21, NYU14, ICVL16, ITOP15)}


def get_skeleton(name: str) -> Skeleton:
    try:
        return SKELETONS[name]
    except KeyError:
        raise UserError(f"unknown skeleton '{name}' (known: {', '.join(SKELETONS)})") from None


def generic_skeleton(num_joints: int) -> Skeleton:
    """A skeleton for models whose topology is unknown (e.g. an imported checkpoint): no bones."""
    for s in SKELETONS.values():
        if s.num_joints == num_joints:
            return s
    return Skeleton(f"joints{num_joints}", "hand", tuple(f"joint{i}" for i in range(num_joints)), (),
                    tuple("palm" for _ in range(num_joints)))


def reference_point_mm(skeleton_name: str, joints_mm):
    """The cube centre implied by a set of joints (used to re-centre on a first prediction)."""
    import numpy as np

    idx = CENTRE_JOINTS.get(skeleton_name)
    joints = np.asarray(joints_mm, dtype=np.float64)
    return (joints[list(idx)] if idx else joints).mean(axis=0)
