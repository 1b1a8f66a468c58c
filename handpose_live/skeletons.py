"""Named joint topologies: joint names, bones, a colour group per joint, and mappings.

`HAND21` is the project's canonical hand (wrist, then thumb/index/middle/ring/pinky from
root to tip, four joints each). `canonical` of another skeleton lists, for each of its
joints, the HAND21 joint it corresponds to (None where there is none, e.g. NYU's palm).
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import UserError

FINGERS = ("thumb", "index", "middle", "ring", "pinky")
GROUP_COLOURS = {  # RGB 0..1, one colour per finger; used by every viewer
    "palm": (0.85, 0.85, 0.85), "thumb": (0.95, 0.25, 0.25), "index": (0.95, 0.65, 0.1),
    "middle": (0.2, 0.8, 0.2), "ring": (0.15, 0.55, 0.95), "pinky": (0.7, 0.3, 0.9),
    "head": (0.95, 0.85, 0.2), "torso": (0.85, 0.85, 0.85), "right_arm": (0.95, 0.25, 0.25),
    "left_arm": (0.15, 0.55, 0.95), "right_leg": (0.95, 0.55, 0.1), "left_leg": (0.2, 0.8, 0.2),
}


@dataclass(frozen=True)
class Skeleton:
    name: str
    target: str                       # "hand" or "body"
    joints: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    groups: tuple[str, ...]           # colour group per joint
    canonical: tuple[int | None, ...] | None = None  # index into HAND21 per joint

    @property
    def num_joints(self) -> int:
        return len(self.joints)

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


HAND21 = _hand21()
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
