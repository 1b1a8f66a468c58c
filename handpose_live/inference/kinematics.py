"""A tracked subject's skeleton fitted to the network's joints; joint frames, palm and velocity.

V2V's joints are independent points: their bone lengths change from frame to frame, which shows as
jitter and as fingers that stretch. Per tracked subject (`SkeletonTrack`, kept by the pipeline's
track, so a new id starts a new one) and per frame:
- its shape (`Shape`): the chains' bone lengths and the rigid segments' joint offsets. Over the first
  second, those of a subject of mean proportions (`Kinematics.rest`) scaled to the size the frames show:
  a confidence-weighted mean of each frame's size, itself a weighted median over the bones of their
  lengths to the rest lengths. A size from twenty bones is steady where each bone's own length is not,
  and a poorly seen first second (a hand coming into view) cannot leave one bone far off (docs/results.md,
  "Motion capture"). Then each value refined by an exponential average with a time constant of a minute
  that ignores outliers, towards the subject's own proportions;
- the fit: each rigid segment (a palm; a pelvis and spine, a shoulder girdle) by weighted Kabsch
  (`fit_segments`), then each chain (finger, thumb, limb) in its plane (`chain_planes`): one bone after
  another from the fitted start (closed form), then Gauss-Newton steps on its flexion angles
  (`fit_chains`), weighted by confidence, clamped to its joint limits (`skeletons.Chain`) and pulled
  towards the last frame's angles, so a joint the network barely sees follows the skeleton;
- the frames of the joints (`frames`), as quaternions in camera space and relative to the parent,
  the palm (hands) and the velocity of the subject's centre.
Without the fit (`--no-fit`, `PipelineOptions.fit`) the network's joints are kept and the rest is
computed from them.

Joint frames (right-handed, in camera space: x right, y down, z forward):
- X along the bone, from the joint towards its child (a segment's joint: towards `Segment.forward`:
  a hand's wrist towards the middle MCP, a body's torso towards the neck, the neck towards the head);
- Y the front: out of the palm for a hand (palmar), out of the chest for a body;
- Z = X x Y, the flexion axis: a positive turn about Z bends the bone towards Y (a finger curls into
  the palm, an elbow or a knee bends). A right hand's Z points to the thumb side, a left hand's to the
  little finger (`Kinematics.mirror_left`). A leaf (fingertip, head, hand, foot) has its parent's frame.
Quaternions are (w, x, y, z) with w >= 0: R(q)'s columns are the frame's X, Y, Z in camera
coordinates, absolute as Azure Kinect Body Tracking gives them; the local one is q_parent^-1 * q
(the root's: its absolute one).

The fit works on a few joints at a time, so the number of NumPy calls, not the arithmetic, sets its
time: index arrays and constant matrices are built once per skeleton (`SkeletonModel`), products of
small arrays are one matrix product with a constant matrix (cross and quaternion products, the
Gauss-Newton normal equations as one Gram matrix), and what is a few numbers is done in plain floats
(a segment's frame, a bend chain's plane).
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..geometry import camera_to_pixel
from ..skeletons import Skeleton
from ..types import DepthFrame, Joints, Palm, Subject

_solve: Any
_svd: Any
try:        # NumPy's own kernels without their wrappers' checks: half the time of np.linalg.solve and svd here
    from numpy.linalg import _umath_linalg
    _solve, _svd = _umath_linalg.solve, _umath_linalg.svd_f
except (ImportError, AttributeError):     # pragma: no cover - a NumPy that moved them
    _solve, _svd = np.linalg.solve, np.linalg.svd

CALIBRATION_MS = 1000.0      # the shape is the rest shape at the size the first second shows, then
REFINE_TAU_S = 60.0          # an exponential average of each frame's observation with this time constant
REFINE_OUTLIER = 0.15        # that ignores observations further than this fraction of the bone's length
REFINE_MIN_CONFIDENCE = 0.3  # and those whose joints are less confident than this
GN_STEPS = 2                 # Gauss-Newton steps per chain after the closed-form start
CONFIDENCE_POWER = 3.0       # a joint's weight in the fit (and in the first second's size): its confidence to this power
PRIOR_MM2 = 80.0             # pull of each flexion angle towards the last frame's (mm^2 per rad^2)
ABDUCTION_PRIOR = 0.1        # the same for a finger's abduction (in units of summed weights)
BEND_PRIOR = 0.15            # a bend chain's plane: the last frame's normal counts as a bend of ~9 degrees
VELOCITY_TAU_S = 0.05        # time constant of the velocity's exponential smoothing

_CONJUGATE = np.array([1.0, -1.0, -1.0, -1.0])
_sum = np.add.reduce                # ndarray.sum without its Python wrapper (the fit is mostly call overhead)
_TURN = np.array([-1.0, 1.0])       # a 2-D vector reversed, (y, x), times this: turned by +90 degrees


def _levi_civita() -> np.ndarray:
    """[9, 3] E with a x b = (a b^T) (flat) @ E."""
    e = np.zeros((9, 3))
    for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        e[3 * j + k, i], e[3 * k + j, i] = 1.0, -1.0
    return e


def _hamilton() -> np.ndarray:
    """[16, 4] H with the Hamilton product p * q = (p q^T) (flat) @ H (quaternions w, x, y, z)."""
    h = np.zeros((16, 4))
    for out, text in enumerate(("+00-11-22-33", "+01+10+23-32", "+02-13+20+31", "+03+12-21+30")):
        for sign, i, k in zip(text[::3], text[1::3], text[2::3]):
            h[4 * int(i) + int(k), out] = 1.0 if sign == "+" else -1.0
    return h


_LEVI_CIVITA, _HAMILTON = _levi_civita(), _hamilton()


@dataclass
class Motion:
    """What the fit adds to a subject in one frame (camera space, mm)."""

    joints_mm: np.ndarray            # [J, 3] fitted (or, without the fit, the network's) joints
    orientations: np.ndarray         # [J, 4] w x y z, camera space
    local_orientations: np.ndarray   # [J, 4] w x y z, relative to the parent joint's frame
    bone_lengths_mm: np.ndarray      # [B] per bone of the skeleton, in its order
    velocity_mm_s: np.ndarray        # [3] of the palm (hands) or the root joint
    palm: Palm | None = None         # hands


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x b of [..., 3] arrays of one shape."""
    return (a[..., :, None] * b[..., None, :]).reshape(a.shape[:-1] + (9,)) @ _LEVI_CIVITA


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _sum(a * b, -1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.sqrt(_sum(v * v, -1))[..., None], 1e-9)


def _rows(indices: np.ndarray) -> slice | np.ndarray:
    """Indices as a slice where they are consecutive (indexing with it is cheaper and gives a view)."""
    if len(indices) and (np.diff(indices) == 1).all():
        return slice(int(indices[0]), int(indices[-1]) + 1)
    return indices


def _quaternion_basis() -> tuple[np.ndarray, np.ndarray]:
    """K = 4 q q^T of a rotation matrix R is linear in R: K (flat) = R (flat) @ C + c."""
    terms = {(0, 0): "+00+11+22", (1, 1): "+00-11-22", (2, 2): "-00+11-22", (3, 3): "-00-11+22",
             (0, 1): "+21-12", (0, 2): "+02-20", (0, 3): "+10-01", (1, 2): "+01+10", (1, 3): "+02+20", (2, 3): "+12+21"}
    basis, const = np.zeros((9, 16)), np.zeros(16)
    for (i, k), text in terms.items():
        for cell in (4 * i + k, 4 * k + i):
            const[cell] = 1.0 if i == k else 0.0
            for sign, r, c in zip(text[::3], text[1::3], text[2::3]):
                basis[3 * int(r) + int(c), cell] = 1.0 if sign == "+" else -1.0
    return basis, const


_QUATERNION_BASIS, _QUATERNION_CONST = _quaternion_basis()


def quaternions(rot: np.ndarray) -> np.ndarray:
    """[N, 3, 3] rotation matrices -> [N, 4] quaternions (w, x, y, z), w >= 0."""
    k = rot.reshape(-1, 9) @ _QUATERNION_BASIS + _QUATERNION_CONST      # [N, 16]; its diagonal: 4 q_i^2
    rows = k.reshape(-1, 4, 4)[np.arange(len(k)), k[:, ::5].argmax(1)]  # 4 q_i q for the largest |q_i|
    q = _unit(rows)
    return q * np.sign(q[:, :1] + 1e-12)


def quaternion_product(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton products p * q of [N, 4] (w, x, y, z) arrays."""
    return (p[:, :, None] * q[:, None, :]).reshape(-1, 16) @ _HAMILTON


def rotation_matrices(q: np.ndarray) -> np.ndarray:
    """[N, 4] quaternions (w, x, y, z) -> [N, 3, 3] rotation matrices."""
    w, x, y, z = _unit(np.asarray(q, np.float64)).T
    return np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
                     np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
                     np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], 1)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per column of [N, Q] values, the median weighted by [N, Q] weights (columns of zero weight: plain)."""
    weights = np.where(weights.sum(axis=0, keepdims=True) > 0, weights, 1.0)
    order = np.argsort(values, axis=0)
    v = np.take_along_axis(values, order, 0)
    cum = np.cumsum(np.take_along_axis(weights, order, 0), axis=0)
    idx = np.argmax(cum >= 0.5 * cum[-1:], axis=0)
    return v[idx, np.arange(values.shape[1])]


class SkeletonModel:
    """The index arrays of a skeleton's kinematics (`skeletons.Kinematics`), built once per skeleton.

    The shape vector: each segment's point offsets from its joint (x, y, z in the root frame; members, then
    the parent joint of a segment below the root), then the chains' bone lengths (valid ones, row by row)."""

    def __init__(self, skeleton: Skeleton) -> None:
        kin = skeleton.kinematics
        if kin is None:
            raise ValueError(f"skeleton {skeleton.name} has no kinematics")
        if len(kin.rest) != skeleton.num_joints:
            raise ValueError(f"skeleton {skeleton.name}: its kinematics need a rest pose of {skeleton.num_joints} joints")
        self.kinematics = kin
        self.num_joints = skeleton.num_joints
        self.parents = np.array(skeleton.parents())
        self.root = kin.root
        self.segments = kin.segments
        pts = [list(s.members) + ([s.parent] if s.parent is not None else []) for s in kin.segments]
        self.seg_points = [np.array(p) for p in pts]
        self.seg_of = np.array([s.joint for s, p in zip(kin.segments, pts) for _ in p])      # [P] segment joints
        self.points = np.concatenate(self.seg_points)                                        # [P] their points
        self.num_offsets = 3 * len(self.points)
        self.root_points = np.concatenate([[self.root], self.seg_points[0]])
        k = max(len(c.joints) for c in kin.chains)
        c = len(kin.chains)
        self.start = np.array([ch.start for ch in kin.chains])
        self.valid = np.zeros((c, k), bool)
        self.nodes = np.repeat(self.start[:, None], k, 1)        # chain joints (padding: the start)
        self.lo, self.hi = np.zeros((c, k)), np.zeros((c, k))
        for i, ch in enumerate(kin.chains):
            n = len(ch.joints)
            self.valid[i, :n] = True
            self.nodes[i, :n] = ch.joints
            self.lo[i, :n], self.hi[i, :n] = np.deg2rad(np.array(ch.limits_deg)).T
        self.prev_nodes = np.concatenate([self.start[:, None], self.nodes[:, :-1]], 1)
        self.chain_joints, self.chain_prev = self.nodes[self.valid], self.prev_nodes[self.valid]   # [L] bones
        self.chain_of = np.nonzero(self.valid)[0]                                                 # [L] their chains
        self.palm_chain = np.array([ch.plane == "palm" for ch in kin.chains])
        self.palm_index, self.bend_index = np.flatnonzero(self.palm_chain), np.flatnonzero(~self.palm_chain)
        self.palm, self.bend = _rows(self.palm_index), _rows(self.bend_index)
        self.abduction = np.deg2rad(np.array([ch.abduction_deg for ch in kin.chains]))[self.palm_index]
        # Gauss-Newton: joint r's position sums the steps m <= r; its derivative by angle i, the turned
        # steps i <= m <= r ([r, m, i]); the pull towards the last frame's angles (mu, and mu I per chain)
        self.cumulative = np.tril(np.ones((k, k)))                  # [r, m]: m <= r
        self.span = self.cumulative[None] * self.cumulative[:, :, None]
        prior = np.where(self.palm_chain[:, None] | (np.arange(k) > 0), PRIOR_MM2, 1e-3)
        self.pull_new, self.pull_tracked = [(mu, mu[:, :, None] * np.eye(k)) for mu in (np.full((c, k), 1e-3), prior)]
        # the shape vector's observations: segment offsets (joint -> point), then chain bones
        self.obs_to = np.concatenate([self.points, self.chain_joints])
        self.obs_from = np.concatenate([self.seg_of, self.chain_prev])
        self.scale_index = np.concatenate([np.repeat(np.arange(len(self.points)), 3),
                                           len(self.points) + np.arange(len(self.chain_joints))])
        # the joints each observation of the shape vector depends on (its weight: the less confident one)
        self.obs_a, self.obs_b = self.obs_to[self.scale_index], self.obs_from[self.scale_index]
        self.offset_of: dict[int, int] = {}       # a segment member -> index of its offset in the shape vector
        for n, (j, seg) in enumerate(zip(self.points.tolist(), self.seg_of.tolist())):
            self.offset_of.setdefault(j, 3 * n)
        # a palm chain's rest direction: its start's offset from the segment joint
        self.rest_index = np.array([np.arange(3) + self.offset_of[int(j)] for j in self.start[self.palm_index]],
                                   int).ravel()
        # each bone's length among [segment offsets' norms, chain lengths]
        lengths_of = {(int(a), int(b)): n for n, (a, b) in enumerate(zip(self.seg_of, self.points))}
        lengths_of.update({(int(a), int(b)): len(self.points) + n
                           for n, (a, b) in enumerate(zip(self.chain_prev, self.chain_joints))})
        self.bone_index = np.array([lengths_of.get((a, b), lengths_of.get((b, a), 0)) for a, b in skeleton.bones])
        # lower bounds of distal bones: flat indices (into the shape vector) of the last bone and the one before
        flat = np.full(self.valid.shape, -1)
        flat[self.valid] = self.num_offsets + np.arange(int(self.valid.sum()))
        bounded = [(flat[i, len(ch.joints) - 1], flat[i, len(ch.joints) - 2], ch.distal_min)
                   for i, ch in enumerate(kin.chains) if ch.distal_min > 0 and len(ch.joints) > 1]
        self.distal = np.array([d for d, _, _ in bounded], int)
        self.distal_prev = np.array([d for _, d, _ in bounded], int)
        self.distal_min = np.array([r for _, _, r in bounded], float)
        framed = set(self.chain_prev.tolist()) | {s.joint for s in kin.segments}
        self.leaves = np.array([j for j in range(self.num_joints) if j not in framed], int)
        self.leaf_parents = self.parents[self.leaves]
        self.centre = np.array(list(kin.palm) or [self.root])
        width = kin.palm_width            # the palm's width: the distance between these two offsets
        self.palm_width_offsets = None if width is None else (self.offset_of[width[0]], self.offset_of[width[1]])
        # the rest shape (a right hand's; a left hand's offsets have Z reversed: `frame_sign`), its bone lengths
        # and, per bone, the entry of the shape vector whose weight is the bone's
        rest = np.array(kin.rest, np.float64)
        self.rest = observe(self, rest, np.ones(len(rest)), segment_frame(rest, kin.segments[0], 1.0))[0]
        self.rest_left = self.rest.copy()
        if kin.mirror_left:
            self.rest_left[2:self.num_offsets:3] *= -1.0
        self.rest_bones = bone_lengths(self, self.rest)
        p = len(self.points)
        self.bone_entry = np.where(self.bone_index < p, 3 * self.bone_index, self.num_offsets + self.bone_index - p)

    def frame_sign(self, left: bool) -> float:
        return -1.0 if left and self.kinematics.mirror_left else 1.0


@functools.cache
def skeleton_model(skeleton: Skeleton) -> SkeletonModel | None:
    """The skeleton's model, or None when it has no kinematics (skeletons of imported models)."""
    return SkeletonModel(skeleton) if skeleton.kinematics is not None else None


def segment_frame(p: np.ndarray, segment, sign: float) -> np.ndarray:
    """[3, 3] columns X, Y, Z of a segment's frame from joints [J, 3] (`skeletons.Segment`)."""
    (f0, f1, f2), (j0, j1, j2), (a0, a1, a2), (b0, b1, b2) = \
        p[[segment.forward, segment.joint, *segment.lateral]].tolist()
    x0, x1, x2 = f0 - j0, f1 - j1, f2 - j2
    z0, z1, z2 = sign * (a0 - b0), sign * (a1 - b1), sign * (a2 - b2)
    n = math.sqrt(x0 * x0 + x1 * x1 + x2 * x2) or 1.0
    x0, x1, x2 = x0 / n, x1 / n, x2 / n
    d = z0 * x0 + z1 * x1 + z2 * x2
    z0, z1, z2 = z0 - d * x0, z1 - d * x1, z2 - d * x2
    n = math.sqrt(z0 * z0 + z1 * z1 + z2 * z2) or 1.0
    z0, z1, z2 = z0 / n, z1 / n, z2 / n
    return np.array([[x0, z1 * x2 - z2 * x1, z0], [x1, z2 * x0 - z0 * x2, z1], [x2, z0 * x1 - z1 * x0, z2]])


class Shape:
    """A subject's bone lengths and segment offsets (one vector): the rest shape at the size the first second
    shows, then an exponential average with a long time constant that ignores outliers (module docstring)."""

    def __init__(self, model: SkeletonModel) -> None:
        self.model = model
        self.value: np.ndarray | None = None
        self.calibrated = False
        self._t0: float | None = None
        self._t: float | None = None
        self._size = 0.0               # sums of the first second's sizes times their weights, and of the weights
        self._weight = 0.0
        self._rest: np.ndarray | None = None      # the rest shape of the first frame's side, turned with the estimate

    def turn(self, factors: np.ndarray) -> None:
        """Multiply the estimate and the rest shape by `factors` (a frame turned over)."""
        if self.value is not None:
            self.value = self.value * factors
        if self._rest is not None:
            self._rest = self._rest * factors

    def update(self, observed: np.ndarray, weights: np.ndarray, scale: np.ndarray, t_ms: float,
               rest: np.ndarray) -> np.ndarray:
        """`scale`: the length each value's outlier test is relative to; `rest`: the rest shape of this frame's
        side (`SkeletonModel.rest`, `rest_left`), used on the first frame (a later change of side turns it)."""
        m = self.model
        if self._t0 is None:
            self._t0 = self._t = t_ms
            self._rest = rest
        if not self.calibrated:
            w = weights ** CONFIDENCE_POWER
            size = weighted_median((bone_lengths(m, observed) / m.rest_bones)[:, None], w[m.bone_entry][:, None])[0]
            frame_weight = float(np.median(w)) + 1e-9
            self._size += frame_weight * float(size)
            self._weight += frame_weight
            assert self._rest is not None
            self.value = self._rest * (self._size / self._weight)
            if t_ms - self._t0 >= CALIBRATION_MS:
                self.calibrated = True
        else:
            assert self.value is not None and self._t is not None
            rate = 1.0 - math.exp(-max(t_ms - self._t, 0.0) / (1000.0 * REFINE_TAU_S))
            change = observed - self.value
            keep = (weights >= REFINE_MIN_CONFIDENCE) & (np.abs(change) <= REFINE_OUTLIER * scale)
            self.value = self.value + rate * change * keep
        self._t = t_ms
        assert self.value is not None
        return self.value


def kabsch(rest: np.ndarray, seen: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The rotation R minimising sum w |R rest_i - seen_i|^2 (points [N, 3] about the origin)."""
    u, _, vt = _svd((rest * w[:, None]).T @ seen)
    r = vt.T @ u.T
    (a, b, c), (d, e, f), (g, h, i) = r.tolist()
    if a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g) < 0:    # a reflection: det(r) = -1
        vt[2] *= -1
        r = vt.T @ u.T
    return r


def observe(model: SkeletonModel, joints: np.ndarray, conf: np.ndarray, frame: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame's observation of the shape vector (segment offsets in the root frame `frame`, chain
    lengths), its weights and the lengths its outlier test is relative to."""
    d = joints[model.obs_to] - joints[model.obs_from]      # segment offsets, then chain bones
    norms = np.sqrt(_sum(d * d, -1))
    p = len(model.points)
    return (np.concatenate([(d[:p] @ frame).ravel(), norms[p:]]), np.minimum(conf[model.obs_a], conf[model.obs_b]),
            norms[model.scale_index])


def bone_lengths(model: SkeletonModel, shape: np.ndarray) -> np.ndarray:
    """[B] length of each bone of the skeleton, in its order, from the shape vector."""
    offsets = shape[:model.num_offsets].reshape(-1, 3)
    return np.concatenate([np.sqrt(_sum(offsets * offsets, -1)), shape[model.num_offsets:]])[model.bone_index]


def fit_segments(model: SkeletonModel, joints: np.ndarray, w: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """The segments' joints placed rigidly (weighted Kabsch), the root's with its translation; other joints as seen."""
    out = joints.copy()
    base = 0
    for s, pts in zip(model.segments, model.seg_points):
        n = len(pts)
        rest = shape[base:base + 3 * n].reshape(n, 3)
        base += 3 * n
        if s.parent is None:      # the root: rotation and translation, its own joint a point at the origin
            idx = model.root_points
            rest = np.concatenate([np.zeros((1, 3)), rest])
            ws = w[idx] + 1e-6
            total = _sum(ws)
            rest = rest - ws @ rest / total
            seen = joints[idx]
            sc = ws @ seen / total
            out[idx] = rest @ kabsch(rest, seen - sc, ws).T + sc
        else:                     # below the root: a rotation about its joint, placed by the segment above
            seen = np.vstack([joints[pts[:-1]], out[pts[-1:]]]) - out[s.joint]
            ws = np.concatenate([w[pts[:-1]] + 1e-6, [1.0]])
            out[pts[:-1]] = out[s.joint] + rest[:-1] @ kabsch(rest, seen, ws).T
    return out


def chain_planes(model: SkeletonModel, rel: np.ndarray, w: np.ndarray, frame: np.ndarray, shape: np.ndarray,
                 state: dict) -> np.ndarray:
    """Each chain's plane as rows a, b (in-plane axes) and n = a x b (its flexion axis) of [C, 3, 3], from
    the chain's joints as seen relative to its fitted start, [C, K, 3] (weights [C, K]). A palm chain's
    plane holds the root frame's Y (`frame`'s second column), turned about it from the chain's rest
    direction (its start's offset in the shape) by its abduction: the chain's weighted direction in the
    palm, limited, pulled towards the last frame's. A bend chain's plane is that of its bend (the last
    frame's when it is straight), a its first bone. `state` keeps the last frame's abduction and normals."""
    axes = np.empty((len(rel), 3, 3))
    palm, bend = model.palm, model.bend
    if len(model.palm_index):   # in the root frame, a turn about Y adds to the angle atan2(-z, x)
        wp = w[palm]
        direction = (wp[:, None] @ rel[palm])[:, 0] @ frame
        rest = shape[model.rest_index].reshape(-1, 3)
        rest_psi = np.arctan2(-rest[:, 2], rest[:, 0])
        ang = (np.arctan2(-direction[:, 2], direction[:, 0]) - rest_psi + np.pi) % (2 * np.pi) - np.pi
        prev = state.get("abduction")
        if prev is not None:
            total = _sum(wp, 1)
            ang = (total * ang + ABDUCTION_PRIOR * prev) / (total + ABDUCTION_PRIOR)
        ang = np.minimum(np.maximum(ang, -model.abduction), model.abduction)
        state["abduction"] = ang
        cos, sin = np.cos(rest_psi + ang)[:, None], np.sin(rest_psi + ang)[:, None]
        axes[palm, 0] = cos * frame[:, 0] - sin * frame[:, 2]
        axes[palm, 2] = sin * frame[:, 0] + cos * frame[:, 2]
    if len(model.bend_index):   # one chain at a time (`_bend_plane`)
        prev = state.get("normals")     # kept in the root frame: it turns with the subject
        if prev is None:                # none yet: the root's Z, only where the chain is straight
            pull, prior = np.broadcast_to(frame[:, 2], (len(model.bend_index), 3)), 0.0
        else:
            pull, prior = prev @ frame.T, BEND_PRIOR
        x_axis, y_axis = frame[:, 0].tolist(), frame[:, 1].tolist()
        first, normal = zip(*(_bend_plane(seen, ws, p, prior, x_axis, y_axis)
                              for seen, ws, p in zip(rel[bend].tolist(), w[bend].tolist(), pull.tolist())))
        axes[bend, 0] = first
        axes[bend, 2] = normal
        state["normals"] = axes[bend, 2] @ frame
    axes[:, 1] = _cross(axes[:, 2], axes[:, 0])
    return axes


def _bend_plane(seen: list, w: list, pull: list, prior: float, x_axis: list, y_axis: list
                ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """A bend chain's first bone and its plane's normal (unit), in plain floats (a few numbers each): the
    sum of its bends' axes, each weighted by its two joints' weights, plus `pull` (the last frame's normal)
    times `prior` times their sum (and a little more), made normal to the first bone; if that leaves
    nothing (no bend and `pull` along the bone), a normal to the bone. `seen`: its joints relative to its
    start [K][3], `w` their weights; the root frame's X and Y for the fallback."""
    bones, last = [], (0.0, 0.0, 0.0)
    for p in seen:
        d0, d1, d2 = p[0] - last[0], p[1] - last[1], p[2] - last[2]
        n = max(math.sqrt(d0 * d0 + d1 * d1 + d2 * d2), 1e-9)
        bones.append((d0 / n, d1 / n, d2 / n))
        last = p
    n0 = n1 = n2 = total = 0.0
    for (a0, a1, a2), (b0, b1, b2), wa, wb in zip(bones, bones[1:], w, w[1:]):
        ww = wa * wb
        total += ww
        n0, n1, n2 = n0 + ww * (a1 * b2 - a2 * b1), n1 + ww * (a2 * b0 - a0 * b2), n2 + ww * (a0 * b1 - a1 * b0)
    strength = prior * total + 1e-3
    n0, n1, n2 = n0 + strength * pull[0], n1 + strength * pull[1], n2 + strength * pull[2]
    f0, f1, f2 = bones[0]
    d = n0 * f0 + n1 * f1 + n2 * f2
    n0, n1, n2 = n0 - d * f0, n1 - d * f1, n2 - d * f2
    if n0 * n0 + n1 * n1 + n2 * n2 < 1e-12:
        o0, o1, o2 = x_axis if abs(f0 * x_axis[0] + f1 * x_axis[1] + f2 * x_axis[2]) < 0.9 else y_axis
        n0, n1, n2 = f1 * o2 - f2 * o1, f2 * o0 - f0 * o2, f0 * o1 - f1 * o0
    n = max(math.sqrt(n0 * n0 + n1 * n1 + n2 * n2), 1e-9)
    return bones[0], (n0 / n, n1 / n, n2 / n)


def fit_chains(model: SkeletonModel, starts: np.ndarray, rel: np.ndarray, w: np.ndarray, lengths: np.ndarray,
               axes: np.ndarray, state: dict) -> np.ndarray:
    """Chain joints [C, K, 3]: each chain's relative flexion angles fitted in its plane (`chain_planes`'
    `axes`; closed form, then Gauss-Newton), within its joint limits, pulled towards the last frame's
    angles. `rel`: the joints as seen relative to the chains' fitted `starts`."""
    plane = axes[:, :2]
    t = rel @ plane.transpose(0, 2, 1)       # [C, K, 2] the seen joints in the plane
    c, k = lengths.shape
    prev = state.get("angles")
    if prev is None:                        # a new track: each bone towards its seen joint from the one before
        phi = np.empty((c, k))
        q = np.zeros((c, 2))
        theta = np.zeros(c)
        for i in range(k):
            want = np.arctan2(t[:, i, 1] - q[:, 1], t[:, i, 0] - q[:, 0])
            phi[:, i] = np.minimum(np.maximum((want - theta + np.pi) % (2 * np.pi) - np.pi, model.lo[:, i]),
                                   model.hi[:, i])
            theta = theta + phi[:, i]
            q = q + lengths[:, i, None] * np.stack([np.cos(theta), np.sin(theta)], -1)
        prev, (mu, reg) = phi, model.pull_new
    else:                                   # tracked: Gauss-Newton from the last frame's angles
        phi, (mu, reg) = prev, model.pull_tracked
    step = np.empty((c, k, 2))
    # per chain, rows (joint r, coordinate): d position / d angle_i, then the residual; its weighted
    # Gram matrix holds the normal equations' matrix and right-hand side
    rows = np.empty((c, k, 2, k + 1))
    for _ in range(GN_STEPS):
        theta = phi @ model.cumulative.T
        step[..., 0], step[..., 1] = lengths * np.cos(theta), lengths * np.sin(theta)
        rows[..., :k] = (step[..., ::-1] * _TURN).transpose(0, 2, 1)[:, None] @ model.span
        rows[..., k] = model.cumulative @ step - t
        flat = rows.reshape(c, 2 * k, k + 1)
        gram = flat.transpose(0, 2, 1) @ (rows * w[:, :, None, None]).reshape(c, 2 * k, k + 1)
        g = gram[:, :k, k] + mu * (phi - prev)
        phi = np.minimum(np.maximum(phi - _solve(gram[:, :k, :k] + reg, g[..., None])[..., 0], model.lo),
                         model.hi)
    state["angles"] = phi
    theta = phi @ model.cumulative.T
    step[..., 0], step[..., 1] = lengths * np.cos(theta), lengths * np.sin(theta)
    return starts[:, None] + (model.cumulative @ step) @ plane


def frames(model: SkeletonModel, joints: np.ndarray, normals: np.ndarray, root_frame: np.ndarray, sign: float
           ) -> np.ndarray:
    """[J, 3, 3] each joint's frame (columns X, Y, Z; module docstring) from joints [J, 3] and the chains'
    flexion axes [C, 3]: a chain joint's X along its bone, Z its chain's axis made perpendicular to X; a
    segment's joint: the segment's frame (the root's: `root_frame`); a leaf: its parent's."""
    rot = np.empty((model.num_joints, 3, 3))
    x = _unit(joints[model.chain_joints] - joints[model.chain_prev])
    normals = normals[model.chain_of]
    z = _unit(normals - _dot(x, normals)[:, None] * x)
    bones = np.empty((len(x), 3, 3))
    bones[..., 0], bones[..., 1], bones[..., 2] = x, _cross(z, x), z
    rot[model.chain_prev] = bones
    rot[model.root] = root_frame
    for s in model.segments[1:]:
        rot[s.joint] = segment_frame(joints, s, sign)
    rot[model.leaves] = rot[model.leaf_parents]
    return rot


class SkeletonTrack:
    """One tracked subject's skeleton: its shape, the fit and what follows from it, frame after frame."""

    def __init__(self, model: SkeletonModel) -> None:
        self.model = model
        self.shape = Shape(model)
        self.state: dict = {}
        self._left: bool | None = None
        self._centre: np.ndarray | None = None
        self._t_ms: float | None = None
        self._velocity = np.zeros(3)

    def update(self, joints: np.ndarray, conf: np.ndarray, t_ms: float, left: bool = False, fit: bool = True) -> Motion:
        """This frame's `Motion` from the network's joints [J, 3] (mm) and confidences [J]; `left`: a left
        hand (the frames of `Kinematics.mirror_left` skeletons); `fit`: False keeps the joints as they are."""
        m = self.model
        joints = np.asarray(joints, np.float64)
        conf = np.minimum(np.fmax(np.asarray(conf, np.float64), 0.0), 1.0)      # NaN too: 0
        sign = m.frame_sign(left)
        if self._left is not None and sign != m.frame_sign(self._left):
            self._turn_over()
        self._left = left
        root = m.segments[0]
        shape = self.shape.update(*observe(m, joints, conf, segment_frame(joints, root, sign)), t_ms,
                                  m.rest if sign > 0 else m.rest_left)
        if len(m.distal):
            shape = shape.copy()
            shape[m.distal] = np.maximum(shape[m.distal], m.distal_min * shape[m.distal_prev])
        w = conf ** CONFIDENCE_POWER
        out = fit_segments(m, joints, w, shape) if fit else joints.copy()
        frame = segment_frame(out, root, sign)
        starts, wc = out[m.start], w[m.nodes] * m.valid
        rel = joints[m.nodes] - starts[:, None]
        axes = chain_planes(m, rel, wc, frame, shape, self.state)
        if fit:
            lengths = np.zeros(m.valid.shape)
            lengths[m.valid] = shape[m.num_offsets:]
            out[m.chain_joints] = fit_chains(m, starts, rel, wc, lengths, axes, self.state)[m.valid]
        q = quaternions(frames(m, out, axes[:, 2], frame, sign))
        local = quaternion_product(q[m.parents] * _CONJUGATE, q)
        local[m.root] = q[m.root]
        local *= np.sign(local[:, :1] + 1e-12)
        centre = _sum(out[m.centre], 0) / len(m.centre)
        palm = None
        if m.palm_width_offsets is not None:
            i, k = m.palm_width_offsets
            x0, x1, x2 = (shape[i:i + 3] - shape[k:k + 3]).tolist()
            palm = Palm(centre, frame[:, 1].copy(), frame[:, 0].copy(), math.sqrt(x0 * x0 + x1 * x1 + x2 * x2))
        return Motion(out, q, local, bone_lengths(m, shape), self._velocity_of(centre, t_ms), palm)

    def _velocity_of(self, centre: np.ndarray, t_ms: float) -> np.ndarray:
        if self._centre is not None and self._t_ms is not None and t_ms > self._t_ms:
            dt = (t_ms - self._t_ms) / 1000.0
            self._velocity = self._velocity + (1.0 - math.exp(-dt / VELOCITY_TAU_S)) * (
                (centre - self._centre) / dt - self._velocity)
        self._centre, self._t_ms = centre, t_ms
        return self._velocity.copy()

    def _turn_over(self) -> None:
        """The hand's side changed: its root frame turns 180 degrees about X (Y and Z reversed)."""
        flip = np.ones(len(self.model.obs_a))
        flip[:self.model.num_offsets] = np.tile([1.0, -1.0, -1.0], self.model.num_offsets // 3)
        self.shape.turn(flip)
        self.state = {}


class SubjectSkeletons:
    """A pipeline's skeleton fit: each subject's `SkeletonTrack` (kept on its track, `track.skeleton`: a new id
    starts a new one), what it adds to the subject (`types.Subject`), the joints' pixels, and its time per frame."""

    def __init__(self, skeleton: Skeleton, fit: bool = True) -> None:
        self.model = skeleton_model(skeleton)
        self.names = skeleton.joints
        self.fit = fit
        self._ms = 0.0
        self._frame: DepthFrame | None = None

    def add(self, subject: Subject, track, conf: np.ndarray, frame: DepthFrame) -> None:
        joints = np.asarray(subject.joints_mm, np.float64)
        if self.model is not None and np.isfinite(joints).all():
            t0 = time.perf_counter()
            if frame is not self._frame:
                self._frame, self._ms = frame, 0.0
            if track.skeleton is None:
                track.skeleton = SkeletonTrack(self.model)
            motion = track.skeleton.update(joints, conf, frame.timestamp_ms, subject.handedness == "left", self.fit)
            subject.joints_mm = Joints(motion.joints_mm, self.names)
            subject.orientations, subject.local_orientations = motion.orientations, motion.local_orientations
            subject.bone_lengths_mm, subject.velocity_mm_s = motion.bone_lengths_mm, motion.velocity_mm_s
            subject.palm = motion.palm
            self._ms += (time.perf_counter() - t0) * 1e3
        subject.joints_px = Joints(camera_to_pixel(subject.joints_mm, frame.intrinsics)[:, :2], self.names)

    def ms_of(self, frame: DepthFrame) -> float | None:
        """The fit's time in `frame` (ms, all its subjects), None if it fitted none there."""
        return self._ms if frame is self._frame else None
