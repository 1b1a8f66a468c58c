"""Small typed records passed between pipeline stages.

Every stage of capture -> frame -> centre -> voxels -> model -> joints -> sinks speaks in
these types, so no stage needs to know how another one works.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import UserError


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole depth-camera intrinsics.

    `depth_scale_m` is metres per raw depth unit (0.001 for a RealSense or Kinect in mm).
    `distortion` holds Brown-Conrady coefficients (k1, k2, p1, p2, k3); depth back-projection
    ignores them, as V2V-PoseNet and every benchmark do, but they are kept for the record.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    depth_scale_m: float = 0.001
    distortion: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)
    name: str = ""

    def __post_init__(self) -> None:
        values = (self.fx, self.fy, self.cx, self.cy, self.depth_scale_m)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise UserError(f"intrinsics {self.name or ''} contain a non-finite value: {values}".replace("  ", " "))
        if self.fx <= 0 or self.fy <= 0:
            raise UserError(f"intrinsics {self.name}: focal lengths must be positive (fx={self.fx}, fy={self.fy})")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise UserError(f"intrinsics {self.name}: image size must be positive ({self.width}x{self.height})")
        if self.depth_scale_m <= 0:
            raise UserError(f"intrinsics {self.name}: depth scale must be positive ({self.depth_scale_m})")
        if not (0 <= self.cx <= self.width and 0 <= self.cy <= self.height):
            raise UserError(
                f"intrinsics {self.name}: principal point ({self.cx}, {self.cy}) lies outside the "
                f"{self.width}x{self.height} image"
            )

    @classmethod
    def from_realsense(cls, rs_intrinsics, depth_scale_m: float = 0.001, name: str = "realsense") -> Intrinsics:
        """Build from a `pyrealsense2.intrinsics` object (a stream profile's intrinsics)."""
        return cls(
            fx=float(rs_intrinsics.fx), fy=float(rs_intrinsics.fy),
            cx=float(rs_intrinsics.ppx), cy=float(rs_intrinsics.ppy),
            width=int(rs_intrinsics.width), height=int(rs_intrinsics.height),
            depth_scale_m=float(depth_scale_m),
            distortion=tuple(float(c) for c in rs_intrinsics.coeffs),
            name=name,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["distortion"] = list(self.distortion)
        return d

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same camera at another resolution (for resized streams)."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height,
                          self.depth_scale_m, self.distortion, self.name)


@dataclass
class DepthFrame:
    """One depth image in millimetres (float32, 0 = no measurement) with its camera."""

    depth_mm: np.ndarray
    intrinsics: Intrinsics
    timestamp_ms: float = 0.0
    index: int = 0
    ground_truth_mm: np.ndarray | None = None  # synthetic sources know the true joints: [J, 3], or [S, J, 3]
    ground_truth_centre_mm: np.ndarray | None = None   # [3], or [S, 3] for several subjects
    ground_truth_sides: tuple[str, ...] | None = None  # "left" / "right" per true hand


class Joints(np.ndarray):
    """Per-joint values ([J, 3] mm, [J, 2] px or [J] confidence) that also answer to joint names:
    `hand.joints_mm["index_tip"]` is the same row as `hand.joints_mm[8]` for hand21. Indexing by
    anything but a name gives a plain array (a slice has no names any more)."""

    names: tuple[str, ...] = ()

    def __new__(cls, values, names) -> Joints:
        obj = np.asarray(values).view(cls)
        obj.names = tuple(names)
        return obj

    def __array_finalize__(self, obj) -> None:
        self.names = getattr(obj, "names", ())

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return np.asarray(self)[self.names.index(key)]
            except ValueError:
                raise KeyError(f"no joint named {key!r} (joints: {', '.join(self.names)})") from None
        return np.asarray(self)[key]


HIDDEN_CONFIDENCE = 0.1    # the record's confidence of a joint that is not visible: its heatmap peak, at most this


def _rounded(a, decimals: int = 3):
    return None if a is None else np.round(np.asarray(a, dtype=np.float64), decimals).tolist()


@dataclass
class Subject:
    """One tracked hand or person in one frame, in camera space (mm, x right, y down, z forward).

    `id` stays the same while the subject is tracked; one that is lost and found again gets a new
    id. `handedness` ("left" | "right", hands only) comes with `handedness_score` in 0.5..1.
    `pinch` and `grab` (hands only) are strengths in 0..1 (see `gestures.py`).
    For skeletons with kinematics (`skeletons.Kinematics`: the shipped hand and body), `joints_mm` are the
    fitted skeleton's joints (constant bone lengths; `raw_joints_mm` the network's, not in the record; both
    the same with `--no-fit`) and the subject has `orientations` and `local_orientations` ([J, 4] w x y z:
    camera space, and relative to the parent joint's frame; the frames: `inference/kinematics.py`),
    `bone_lengths_mm` ([B], per bone of the stream header), `velocity_mm_s` ([3], of the palm or the root
    joint) and, for hands, `palm` (`Palm`).
    `visible` ([J] bool, set by the pipeline: `inference/visibility.py`) says which joints the camera sees:
    False for a joint outside the image, behind something nearer, or with a heatmap peak under a floor.
    `confidence` keeps the heatmap peaks; the record's (`record_confidence`) caps a hidden joint's at
    `HIDDEN_CONFIDENCE`.
    """

    id: int
    centre_mm: np.ndarray                    # [3] the cube centre the model saw
    joints_mm: np.ndarray                    # [J, 3]
    confidence: np.ndarray                   # [J] heatmap peaks
    score: float = 0.0                       # mean confidence, the detection score
    joints_px: np.ndarray | None = None      # [J, 2] pixel u, v in the depth image
    handedness: str | None = None
    handedness_score: float | None = None
    pinch: float | None = None
    grab: float | None = None
    raw_joints_mm: np.ndarray | None = None          # [J, 3] the network's joints before the skeleton fit
    orientations: np.ndarray | None = None           # [J, 4] w x y z, camera space
    local_orientations: np.ndarray | None = None     # [J, 4] w x y z, relative to the parent joint
    bone_lengths_mm: np.ndarray | None = None        # [B] the subject's skeleton, per bone of the header
    velocity_mm_s: np.ndarray | None = None          # [3] of the palm (hands) or the root joint
    palm: Palm | None = None
    visible: np.ndarray | None = None                # [J] bool: the joint is seen (inference/visibility.py)

    def record_confidence(self) -> np.ndarray | None:
        """[J] the confidence the records carry: the heatmap peaks, at most `HIDDEN_CONFIDENCE` where not visible."""
        if self.confidence is None or self.visible is None:
            return self.confidence
        conf = np.asarray(self.confidence, np.float64)
        return np.where(np.asarray(self.visible, bool), conf, np.minimum(conf, HIDDEN_CONFIDENCE))

    def to_record(self) -> dict:
        record: dict[str, object] = {"id": int(self.id), "score": round(float(self.score), 4)}
        if self.handedness is not None:
            record["handedness"] = self.handedness
            record["handedness_score"] = None if self.handedness_score is None else round(float(self.handedness_score), 4)
        record.update({
            "centre_mm": _rounded(self.centre_mm),
            "joints_mm": _rounded(self.joints_mm),
            "joints_px": _rounded(self.joints_px, 2),
            "confidence": _rounded(self.record_confidence(), 4),
        })
        if self.visible is not None:
            record["visible"] = [bool(v) for v in np.asarray(self.visible).reshape(-1)]
        if self.pinch is not None:
            record["pinch"] = round(float(self.pinch), 4)
        if self.grab is not None:
            record["grab"] = round(float(self.grab), 4)
        if self.orientations is not None:
            record["orientations"] = _rounded(self.orientations, 5)
            record["local_orientations"] = _rounded(self.local_orientations, 5)
        if self.bone_lengths_mm is not None:
            record["bone_lengths_mm"] = _rounded(self.bone_lengths_mm, 2)
        if self.velocity_mm_s is not None:
            record["velocity_mm_s"] = _rounded(self.velocity_mm_s, 1)
        if self.palm is not None:
            record["palm"] = self.palm.to_record()
        return record


@dataclass
class Palm:
    """A hand's palm (as Ultraleap gives it): `position_mm` its centre (the mean of the wrist and the four
    finger MCPs), `normal` the unit vector out of the palm's front (palmar), `direction` the unit vector
    from the wrist towards the fingers (to the middle MCP), `width_mm` the distance between the index and
    little-finger MCPs of the hand's skeleton (joint centres: about 20 mm less than the hand's outline)."""

    position_mm: np.ndarray
    normal: np.ndarray
    direction: np.ndarray
    width_mm: float

    def to_record(self) -> dict:
        return {"position_mm": _rounded(self.position_mm), "normal": _rounded(self.normal, 5),
                "direction": _rounded(self.direction, 5), "width_mm": round(float(self.width_mm), 2)}


@dataclass
class PoseResult:
    """What the pipeline produces for one frame: every subject found (best score first).

    `subjects_key` names the list in records (the target profile's `record_key`: "hands", "people").
    The properties `found`, `centre_mm`, `joints_mm` and `confidence` speak of the first subject, for
    single-subject callers. `gestures` holds this frame's events, e.g. {"type": "pinch_start", "id": 3}.
    `of(target)` is the subjects when they are of that target, else empty; `hands` and `people` are
    its two shipped cases.
    """

    frame_index: int
    timestamp_ms: float
    subjects: list[Subject] = field(default_factory=list)
    subjects_key: str = "hands"
    gestures: list[dict] = field(default_factory=list)
    latency_ms: dict[str, float] = field(default_factory=dict)
    frame: DepthFrame | None = field(default=None, repr=False, compare=False)   # the input, when kept

    def of(self, target: str) -> list[Subject]:
        """The subjects when this frame tracked `target` subjects (hand, body), else an empty list."""
        from .targets import get_target

        return self.subjects if self.subjects_key == get_target(target).record_key else []

    @property
    def hands(self) -> list[Subject]:
        return self.of("hand")

    @property
    def people(self) -> list[Subject]:
        return self.of("body")

    @property
    def depth_mm(self) -> np.ndarray | None:
        return None if self.frame is None else self.frame.depth_mm

    @property
    def found(self) -> bool:
        return bool(self.subjects)

    @property
    def primary(self) -> Subject | None:
        return self.subjects[0] if self.subjects else None

    @property
    def centre_mm(self) -> np.ndarray | None:
        return self.subjects[0].centre_mm if self.subjects else None

    @property
    def joints_mm(self) -> np.ndarray | None:
        return self.subjects[0].joints_mm if self.subjects else None

    @property
    def confidence(self) -> np.ndarray | None:
        return self.subjects[0].confidence if self.subjects else None

    def to_record(self) -> dict:
        """The frame record of every output (JSONL line, UDP datagram, WebSocket message, API);
        its schema is `handpose_live/record.schema.json`."""
        return {
            "frame": int(self.frame_index),
            "timestamp_ms": round(float(self.timestamp_ms), 3),
            self.subjects_key: [s.to_record() for s in self.subjects],
            "gestures": list(self.gestures),
            "latency_ms": {k: round(float(v), 3) for k, v in self.latency_ms.items()},
        }
