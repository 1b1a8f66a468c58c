"""A kinematic right hand in HAND21 layout with a capsule surface, and a pose sampler.

Hand-local frame (mm): origin at the wrist centre, +x towards the thumb (radial), +y along the
fingers (wrist -> middle MCP), +z out of the palm (palmar). For a right hand this frame is
right-handed; a left hand is the same model mirrored in x. Finger flexion bends towards +z.

The surface is tapered capsules (phalanges, metacarpals, forearm) plus ellipsoids (palm,
wrist), because real depth crops show a palm slab, a wrist and a stretch of forearm, not just
sticks. The palm centre used as the crop centre is the mean of the wrist and the four finger
MCPs: it does not move when the fingers flex, so the cube stays put while the hand articulates.

Poses follow real hands: global orientation and per-finger curl are drawn from the NYU test
annotations (`HandPrior`, `nyu_prior()`) most of the time (`PRIOR_FRACTION`), the rest from
synergy sampling (fingers flex together, with gesture-like exceptions), and in-plane rotations
are made uniform. The prior ships with the package as `hand_prior.npz` (package data), derived
once from the label file by `benchmarks/derive_hand_prior.py`; a missing or damaged file is an
error, never a silent switch to synergy-only sampling.
"""
from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..geometry import pixel_to_camera_mm
from ..types import Intrinsics
from .shapes import Surface, rotation_about

PRIOR_FILE = "hand_prior.npz"            # package data of handpose_live.synth
PRIOR_FORMAT = "handpose-live-hand-prior/1"
PRIOR_FRACTION = 0.7                     # share of hand poses drawn from the prior

_FINGERS4 = ("index", "middle", "ring", "pinky")
_MCP_LOCAL_MM = np.array([[24.0, 86, 0], [5, 90, 0], [-13, 85, 0], [-29, 76, 0]])
_SPLAY_DEG = np.array([6.0, 0.0, -5.0, -11.0])          # rest direction, + towards the thumb
_SPREAD_DEG = np.array([9.0, 1.0, -7.0, -14.0])          # extra splay of a spread hand
_PHALANX_MM = np.array([[39.0, 23, 19], [44, 27, 20], [41, 26, 20], [32, 18, 17]])
_FINGER_R_MM = np.array([[9.0, 8.0, 7.2, 6.4], [9.3, 8.3, 7.4, 6.6], [8.8, 7.9, 7.0, 6.2], [8.0, 7.0, 6.3, 5.6]])
_THUMB_CMC_MM = np.array([20.0, 22, 6])
_THUMB_MM = np.array([42.0, 31, 25])
_THUMB_R_MM = np.array([11.0, 9.5, 8.5, 7.5])
_PALM_HALF_THICK_MM = 12.5
_WRIST_HALF_THICK_MM = 17.0
_TIP_OVERHANG_MM = 3.0        # the tip joint sits this far inside the fingertip surface
# Forearm continued by the upper arm (kept straight): a real arm continues to the elbow and the body, so it
# leaves the picture instead of ending in mid-air (which would mislead the centre estimator).
# Inside the 250 mm cube around the palm this changes nothing.
FOREARM_MM = 800.0

# Joint limits in degrees: per finger (abduction, MCP, PIP, DIP); thumb (CMC flex, CMC abd, MCP, IP); wrist.
FINGER_LIMITS_DEG = np.array([[-15, 15], [-25, 90], [0, 110], [-5, 80]], np.float64)
THUMB_LIMITS_DEG = np.array([[-15, 50], [0, 70], [-10, 60], [-15, 80]], np.float64)
WRIST_LIMITS_DEG = np.array([[-60, 60], [-20, 30]], np.float64)


@dataclass(frozen=True)
class HandShape:
    """Per-subject proportions: overall scale, finger length factors, thickness, palm width."""

    scale: float = 1.0
    finger_length: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)   # thumb, index, middle, ring, pinky
    thickness: float = 1.0
    palm_width: float = 1.0

    @classmethod
    def sample(cls, rng: np.random.Generator) -> HandShape:
        return cls(scale=float(rng.uniform(0.85, 1.15)),
                   finger_length=tuple(float(v) for v in np.clip(rng.normal(1.0, 0.05, 5), 0.88, 1.12)),
                   thickness=float(rng.uniform(0.85, 1.2)), palm_width=float(rng.uniform(0.92, 1.08)))


@dataclass(frozen=True)
class HandPose:
    """Articulation (radians) plus placement in camera space."""

    fingers_rad: np.ndarray        # [4, 4]: index..pinky x (abduction, MCP, PIP, DIP)
    thumb_rad: np.ndarray          # [4]: CMC flexion, CMC abduction, MCP, IP
    wrist_rad: np.ndarray          # [2]: flexion, deviation (moves the forearm)
    rotation: np.ndarray           # [3, 3] hand-local -> camera
    centre_mm: np.ndarray          # [3] palm centre in camera mm
    left: bool = False

    def clipped(self) -> HandPose:
        f = np.clip(self.fingers_rad, *np.deg2rad(FINGER_LIMITS_DEG).T)
        t = np.clip(self.thumb_rad, *np.deg2rad(THUMB_LIMITS_DEG).T)
        w = np.clip(self.wrist_rad, *np.deg2rad(WRIST_LIMITS_DEG).T)
        return replace(self, fingers_rad=f, thumb_rad=t, wrist_rad=w)


class HandModel:
    """Forward kinematics and surface of one hand shape."""

    def __init__(self, shape: HandShape = HandShape()):
        self.shape = shape
        s, w = shape.scale, shape.palm_width
        self.mcp_local_mm = _MCP_LOCAL_MM * np.array([s * w, s, s])
        self.phalanx_mm = _PHALANX_MM * s * np.asarray(shape.finger_length[1:])[:, None]
        self.thumb_mm = _THUMB_MM * s * shape.finger_length[0]
        self.thumb_cmc_mm = _THUMB_CMC_MM * np.array([s * w, s, s])
        k = s * shape.thickness
        self.finger_r_mm = _FINGER_R_MM * k
        self.thumb_r_mm = _THUMB_R_MM * k
        self.palm_half_mm = _PALM_HALF_THICK_MM * k
        self.wrist_half_mm = _WRIST_HALF_THICK_MM * k
        self.centre_local_mm = np.vstack([np.zeros(3), self.mcp_local_mm]).mean(axis=0)
        self.joint_radius_mm = self._joint_radii()

    def _joint_radii(self) -> np.ndarray:
        r = [27.0 * self.shape.scale * self.shape.thickness]     # widest extent of wrist + forearm
        r += [self.thumb_r_mm[0]] + list(self.thumb_r_mm[1:])
        for f in range(4):
            r += [max(self.palm_half_mm, self.finger_r_mm[f, 0])] + list(self.finger_r_mm[f, 1:])
        return np.asarray(r)

    def local_joints(self, pose: HandPose) -> np.ndarray:
        """[21, 3] joints in the hand-local frame (right hand)."""
        z = np.array([0.0, 0, 1])
        joints = [np.zeros(3)]
        d0 = np.array([0.62, 0.78, 0.0])
        d0 /= np.linalg.norm(d0)
        flex, abd, mcp, ip = pose.thumb_rad
        d = np.cos(abd) * d0 + np.sin(abd) * z
        d = rotation_about(z, flex) @ d
        towards_palm = np.array([-0.7, 0.0, 0.7])
        b = towards_palm - (towards_palm @ d) * d
        b /= np.linalg.norm(b)
        p = self.thumb_cmc_mm.copy()
        joints.append(p)
        phi = 0.0
        for length, bend in zip(self.thumb_mm, (0.0, mcp, ip)):
            phi += bend
            p = p + length * (np.cos(phi) * d + np.sin(phi) * b)
            joints.append(p)
        for f in range(4):
            abd, m, pip, dip = pose.fingers_rad[f]
            theta = np.deg2rad(_SPLAY_DEG[f]) + abd
            dirn = np.array([np.sin(theta), np.cos(theta), 0.0])
            p = self.mcp_local_mm[f].copy()
            joints.append(p)
            phi = 0.0
            for length, bend in zip(self.phalanx_mm[f], (m, pip, dip)):
                phi += bend
                p = p + length * (np.cos(phi) * dirn + np.sin(phi) * z)
                joints.append(p)
        return np.asarray(joints)

    def local_surface(self, pose: HandPose, joints: np.ndarray) -> Surface:
        s = Surface()
        k = self.shape.scale * self.shape.thickness
        for f in range(4):
            ids = [5 + 4 * f + i for i in range(4)]
            r = self.finger_r_mm[f]
            for i in range(3):
                a, b = joints[ids[i]], joints[ids[i + 1]]
                if i == 2:
                    u = (b - a) / np.linalg.norm(b - a)
                    b = b - u * max(r[3] - _TIP_OVERHANG_MM, 0.0)
                s.capsule(a, b, r[i], r[i + 1])
            base = np.array([0.55 * joints[ids[0]][0], 18.0 * self.shape.scale, 0.0])
            s.capsule(base, joints[ids[0]], self.palm_half_mm, self.palm_half_mm)
        s.capsule(joints[5], joints[17], self.palm_half_mm * 0.95)
        palm_c = np.array([0.0, 0.55 * self.mcp_local_mm[1, 1], 1.0])
        half_width = 0.5 * (self.mcp_local_mm[0, 0] - self.mcp_local_mm[3, 0]) + 6 * k
        s.ellipsoid(palm_c, np.diag([half_width, 0.45 * self.mcp_local_mm[1, 1], self.palm_half_mm * 1.05]))
        r = self.thumb_r_mm
        s.capsule(np.array([5.0, 8.0, 2.0]) * self.shape.scale, joints[1], 13 * k, r[0])
        s.capsule(joints[1], joints[2], 13 * k, r[1])
        s.capsule(joints[2], joints[3], r[1], r[2])
        u = (joints[4] - joints[3]) / np.linalg.norm(joints[4] - joints[3])
        s.capsule(joints[3], joints[4] - u * max(r[3] - _TIP_OVERHANG_MM, 0.0), r[2], r[3])
        s.ellipsoid(np.zeros(3), np.diag([27 * k, 16 * k, self.wrist_half_mm]))
        flex, dev = pose.wrist_rad
        arm = rotation_about([0, 0, 1.0], dev) @ rotation_about([1.0, 0, 0], flex) @ np.array([0, -1.0, 0])
        side = np.cross(arm, [0, 0, 1.0])
        side /= np.linalg.norm(side)
        for sign in (-1, 1):
            off = sign * 9 * k * side
            s.capsule(off, off + FOREARM_MM * self.shape.scale * arm, 18 * k, 24 * k)
        return s

    def posed(self, pose: HandPose) -> tuple[np.ndarray, Surface]:
        """Joints [21, 3] and surface in camera mm."""
        local = self.local_joints(pose)
        surf = self.local_surface(pose, local)
        m = np.diag([-1.0 if pose.left else 1.0, 1.0, 1.0])
        centre_local = m @ self.centre_local_mm
        t = pose.centre_mm - pose.rotation @ centre_local
        joints = (pose.rotation @ (m @ local.T)).T + t
        return joints, surf.transformed(pose.rotation, t, mirror_x=pose.left)


def palm_centre_mm(joints_mm: np.ndarray) -> np.ndarray:
    """The crop centre of a HAND21 hand: mean of the wrist and the four finger MCPs."""
    return np.asarray(joints_mm)[[0, 5, 9, 13, 17]].mean(axis=0)


@dataclass(frozen=True, eq=False)
class HandPrior:
    """Global orientations and finger curls measured on real hands (the NYU test annotations)."""

    rotations: np.ndarray          # [N, 3, 3] float64, hand-local -> camera (columns: local axes)
    curls: np.ndarray              # [N, 5] float64 in [0, 1]: thumb, index, middle, ring, pinky
    sha256: str                    # content hash of the stored arrays: the prior's identity
    provenance: dict[str, str] = field(default_factory=dict)   # source, source_sha256, derivation, ...

    def __len__(self) -> int:
        return len(self.rotations)


def prior_content_sha256(quaternions: np.ndarray, curls: np.ndarray) -> str:
    """Hash of the stored arrays (dtype, shape and bytes), independent of the npz container."""
    h = hashlib.sha256()
    for name, a in (("quaternions", quaternions), ("curls", curls)):
        a = np.ascontiguousarray(a)
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def quaternions_to_matrices(q: np.ndarray) -> np.ndarray:
    """Rotation matrices [N, 3, 3] (float64) of quaternions (w, x, y, z) [N, 4], normalised first."""
    q = np.asarray(q, np.float64)
    w, x, y, z = (q / np.linalg.norm(q, axis=1, keepdims=True)).T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], axis=1)


def packaged_prior_file():
    """The prior shipped with the package (an importlib.resources Traversable)."""
    return resources.files(__package__).joinpath(PRIOR_FILE)


def load_hand_prior(path: str | Path | None = None) -> HandPrior:
    """The prior in `path`, by default the packaged one. UserError when missing or damaged."""
    source = packaged_prior_file() if path is None else Path(path)
    rebuild = "reinstall handpose-live (in a source checkout: run benchmarks/derive_hand_prior.py)"
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise UserError(f"the hand-pose prior {source} is missing; {rebuild}") from None
    except OSError as exc:
        raise UserError(f"cannot read the hand-pose prior {source}: {exc.strerror or exc}") from None

    def corrupt(why: str) -> UserError:
        return UserError(f"the hand-pose prior {source} is corrupt ({' '.join(why.split())}); {rebuild}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            q, c, prov = z["quaternions"], z["curls"], [str(s) for s in z["provenance"]]
    except Exception as exc:       # not an npz, truncated, bad CRC or deflate stream, missing array ...
        raise corrupt(f"{type(exc).__name__}: {exc}") from None
    if q.dtype != np.float32 or q.ndim != 2 or q.shape[1] != 4 or len(q) == 0 or c.dtype != np.float32 \
            or c.shape != (len(q), 5):
        raise corrupt(f"arrays quaternions {q.dtype}{list(q.shape)}, curls {c.dtype}{list(c.shape)}; "
                      f"expected float32 [N, 4] and [N, 5]")
    provenance = dict(s.split("=", 1) for s in prov if "=" in s)
    if provenance.get("format") != PRIOR_FORMAT:
        raise corrupt(f"format {provenance.get('format')!r}, expected {PRIOR_FORMAT!r}")
    sha = prior_content_sha256(q, c)
    if provenance.get("content_sha256") != sha:
        raise corrupt("its arrays do not match their recorded content_sha256")
    if not (np.isfinite(q).all() and np.isfinite(c).all()) or np.abs(np.linalg.norm(q, axis=1) - 1).max() > 1e-4 \
            or c.min() < 0 or c.max() > 1:
        raise corrupt("quaternions not of unit length or curls outside [0, 1]")
    return HandPrior(quaternions_to_matrices(q), c.astype(np.float64), sha, provenance)


@functools.lru_cache(maxsize=1)
def nyu_prior() -> HandPrior:
    """The packaged prior (read once). UserError when the package lacks it or it is damaged."""
    return load_hand_prior()


def random_rotation(rng: np.random.Generator, sigma_rad: float) -> np.ndarray:
    axis = rng.normal(size=3)
    return rotation_about(axis, rng.normal(0, sigma_rad))


def _sample_curls(rng: np.random.Generator, prior: HandPrior | None, row: int | None) -> np.ndarray:
    if row is not None:
        return np.clip(prior.curls[row] + rng.normal(0, 0.08, 5), 0, 1)
    if rng.random() < 0.3:                          # gestures: pointing, V sign, thumbs up ...
        return np.clip(rng.integers(0, 2, 5) + rng.normal(0, 0.12, 5), 0, 1)
    grasp = rng.beta(0.9, 1.1)
    return np.clip(grasp + rng.normal(0, 0.18, 5), 0, 1)


def sample_articulation(rng: np.random.Generator, curls: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finger, thumb and wrist angles (radians) from per-finger curl amounts in [0, 1]."""
    c = curls[1:]
    spread = rng.uniform(0, 1)
    abd = np.deg2rad(spread * (1 - c) * _SPREAD_DEG + rng.normal(0, 3, 4) - _SPREAD_DEG * 0.3)
    mcp = np.deg2rad(-15 + 100 * c + rng.normal(0, 8, 4))
    pip = np.deg2rad(110 * c + rng.normal(0, 8, 4))
    dip = 0.7 * pip + np.deg2rad(rng.normal(0, 5, 4))
    fingers = np.stack([abd, mcp, pip, dip], axis=1)
    t = curls[0]
    thumb = np.deg2rad([-5 + 45 * t + rng.normal(0, 8), rng.uniform(10, 60), 50 * t + rng.normal(0, 8),
                        70 * t + rng.normal(0, 10)])
    wrist = np.deg2rad([rng.normal(0, 20), rng.normal(0, 10)])
    return fingers, thumb, wrist


def sample_orientation(rng: np.random.Generator, prior: HandPrior | None, row: int | None) -> np.ndarray:
    """Hand-local -> camera rotation: NYU's orientations, or palm/back towards the camera;
    then a rotation about the optical axis, uniform half the time so all in-plane angles occur."""
    if row is not None:
        r = prior.rotations[row] @ random_rotation(rng, np.deg2rad(12))
    else:
        r = np.eye(3) if rng.random() < 0.5 else rotation_about([0, 1.0, 0], np.pi)   # back / palm to camera
        r = rotation_about(rng.normal(size=3) * [1, 1, 0] + [1e-9, 0, 0], np.deg2rad(rng.uniform(0, 70))) @ r
        r = rotation_about([0, 0, 1.0], np.pi) @ r         # fingers up in a y-down image
    inplane = rng.uniform(-np.pi, np.pi) if rng.random() < 0.5 else rng.normal(0, np.deg2rad(20))
    return rotation_about([0, 0, 1.0], inplane) @ r


def sample_placement(rng: np.random.Generator, intr: Intrinsics, z_range_mm=(300.0, 800.0),
                     margin_mm: float = 90.0) -> np.ndarray:
    """Palm centre in camera mm: depth uniform in z_range, pixel uniform with a margin."""
    z = rng.uniform(*z_range_mm)
    m_u = min(margin_mm * intr.fx / z, intr.width / 2 - 1)
    m_v = min(margin_mm * intr.fy / z, intr.height / 2 - 1)
    u = rng.uniform(m_u, intr.width - m_u)
    v = rng.uniform(m_v, intr.height - m_v)
    return pixel_to_camera_mm(np.array([u, v, z]), intr)


def sample_hand_pose(rng: np.random.Generator, intr: Intrinsics, prior: HandPrior | None = None,
                     prior_fraction: float = PRIOR_FRACTION, left_fraction: float = 0.5) -> HandPose:
    row = int(rng.integers(len(prior))) if prior is not None and rng.random() < prior_fraction else None
    fingers, thumb, wrist = sample_articulation(rng, _sample_curls(rng, prior, row))
    rotation = sample_orientation(rng, prior, row)
    centre = sample_placement(rng, intr)
    return HandPose(fingers, thumb, wrist, rotation, centre, left=bool(rng.random() < left_fraction)).clipped()
