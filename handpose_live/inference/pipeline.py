"""One frame through the stages: frame -> centres -> voxels -> model -> subjects (camera mm).

Several subjects per frame (up to `max_subjects`): each tracked subject is followed from its
previous joints (`CentreEstimator.track`); while fewer than `max_subjects` are tracked, the
detector proposes new candidates outside the tracked cubes. All centres of a frame go through
the network as one batch. The network then decides: a candidate whose mean heatmap peak is below
`min_confidence` is dropped (a torso, a table edge or a wall gives flat heatmaps); a new candidate
from geometric detection while another subject is kept needs the target's `extra_confidence`
(0.5 for hands: on real SR305 frames with the person behind the hand, geometric candidates on
clutter scored 0.41-0.48 and the hand 0.54-0.68; a single subject keeps the model's own gate, so
one-hand behaviour is unchanged; a candidate of the learned detector has the detector's own
evidence and keeps the model's gate too: a far, edge-on second hand scores ~0.45), and two
candidates on the same subject (reference points closer than a quarter cube) keep the better one.

A tracked subject's cube for the next frame is centred where the model put its reference point
(the palm centre, the point the network was trained around) plus that point's motion over the
last frame (`track_centre="predicted"`); the image-based tracking step checks that the subject
is still there (enough points in its cube) and gives the fallback: when the predicted cube's
heatmaps fall under the gate (a sudden move, frames far apart), the subject's point-mass centre
is tried in the same frame. Centring on the previous joints' point mass
instead (`"points"`, before) left the first pass off-centre in nearly every frame, so almost
every frame took a second, re-centred pass: on 5 seeds x 600 frames of the synthetic camera the
prediction cut the live error and the passes per frame (docs/results.md, "Live quality"). Bodies
keep `"points"` (targets.py): on 3 x 300 frames of the synthetic body camera the prediction was
worse there (e.g. 28.0 -> 36.2 mm on one seed), as the body model's cube centre is not its torso.

Each subject keeps an `id` while it is tracked (a subject lost and found again gets a new id),
its own One-Euro filter, its handedness (chirality averaged over the track, `gestures.py`) and
its pinch state. With one subject tracked, looking for a second one costs a network pass per
frame, so detection for additional subjects runs every `detect_every` frames while at least one
subject is tracked, and every frame while none is.

The pipeline only wires stages together and times them; each stage lives in its own module
(centre.py, predictor.py, smoothing.py, gestures.py) and never reaches into another.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..geometry import camera_to_pixel
from ..gestures import HandJoints, PinchEvents, chirality, grab_strength, handedness, pinch_strength
from ..records import subjects_key
from ..skeletons import reference_point_mm
from ..targets import get_target
from ..types import DepthFrame, Joints, PoseResult, Subject
from .centre import CentreConfig, CentreEstimator
from .predictor import Predictor
from .smoothing import OneEuroFilter

_SAME_SUBJECT_FRACTION = 0.25    # reference points closer than this x cube are one subject
_CHIRALITY_MEMORY = 0.9          # exponential average of a track's chirality, per frame


@dataclass
class PipelineOptions:
    min_confidence: float | None = None   # mean heatmap peak below which a candidate is no subject (default: the model's)
    smoothing: bool = False               # One-Euro filter on the joints (live jitter)
    tracking: bool = True                 # seed the next centre from this frame's joints
    recentre_mm: float | None = None      # re-run the model around its own joints when they sit this far
                                          # from the centre it was given (default: the target's, targets.py)
    recentre_passes: int | None = None    # at most this many extra passes (default: the target's)
    max_subjects: int = 1                 # hands (or people) tracked at once
    detector: Path | None = None          # learned hand detector (ONNX); None: geometric detection
    detect_every: int = 3                 # look for more subjects every N frames while some are tracked
    track_centre: str | None = None       # next cube of a tracked subject: "predicted" (its reference point
                                          # + last motion) | "reference" (no motion) | "points" (its point
                                          # mass); default: the target's (targets.py)


@dataclass
class _Track:
    id: int
    joints_mm: np.ndarray
    confidence: np.ndarray
    smoother: OneEuroFilter | None = None
    chirality: float | None = None
    pinch: PinchEvents = field(default_factory=PinchEvents)
    reference_mm: np.ndarray | None = None    # the model's reference point in the last frame
    velocity_mm: np.ndarray | None = None     # its motion over the last frame


class PosePipeline:
    def __init__(self, predictor: Predictor, options: PipelineOptions | None = None):
        self.predictor = predictor
        self.options = options or PipelineOptions()
        if self.options.track_centre not in (None, "predicted", "reference", "points"):
            raise ValueError(f"track_centre must be predicted, reference or points, not {self.options.track_centre!r}")
        if self.options.max_subjects < 1:
            raise ValueError("max_subjects must be at least 1")
        info = predictor.info
        detector = None
        if self.options.detector is not None and info.target == "hand":
            from .detector import HandDetector
            detector = HandDetector(self.options.detector)
        self.centre = CentreEstimator(CentreConfig.for_target(info.target, info.cube_mm), detector)
        default_gate = info.min_confidence if info.min_confidence is not None else 0.05
        self.min_confidence = self.options.min_confidence if self.options.min_confidence is not None else default_gate
        target = get_target(info.target)
        self.subjects_key = subjects_key(target.name)
        self.recentre_mm = self.options.recentre_mm if self.options.recentre_mm is not None \
            else target.recentre_fraction * info.cube_mm
        self.recentre_passes = self.options.recentre_passes if self.options.recentre_passes is not None \
            else target.recentre_passes
        self.hand = HandJoints(predictor.skeleton.joints) if target.name == "hand" else None
        self.extra_confidence = max(self.min_confidence, target.extra_confidence)
        self.track_centre = self.options.track_centre or target.track_centre
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._frames = 0

    def reset(self) -> None:
        """Forget every tracked subject (a new sequence)."""
        self._tracks = []

    def _fit(self, frame: DepthFrame, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """The model around each centre [N,3], re-centred on its own joints while they sit off the cube
        centre (the segmentation centre may be pulled onto the forearm; a pass around the model's own
        reference point sees the whole hand). Returns (centres, joints [N,J,3], confidence [N,J], stage ms)."""
        centres = np.array(centres, np.float64)
        joints, conf, stage = self.predictor.predict_centres(frame.depth_mm, frame.intrinsics, centres)
        skeleton = self.predictor.info.skeleton
        for _ in range(self.recentre_passes):
            if self.recentre_mm <= 0:
                break
            refined = np.stack([reference_point_mm(skeleton, j) for j in joints])
            again = np.linalg.norm(refined - centres, axis=1) > self.recentre_mm
            if not again.any():
                break
            centres[again] = refined[again]
            j2, c2, more = self.predictor.predict_centres(frame.depth_mm, frame.intrinsics, centres[again])
            joints[again], conf[again] = j2, c2
            stage = {k: stage[k] + more[k] for k in stage}
        return centres, joints, conf, stage

    def process(self, frame: DepthFrame) -> PoseResult:
        t0 = time.perf_counter()
        opts = self.options
        if not opts.tracking:
            self._tracks = []
        centres: list[np.ndarray] = []
        owners: list[_Track | None] = []
        learned: list[bool] = []
        fallbacks: list[np.ndarray | None] = []      # a tracked subject's point-mass centre, when predicted
        seeds = [(t.joints_mm.min(axis=0) + t.joints_mm.max(axis=0)) / 2.0 for t in self._tracks]
        for k, track in enumerate(self._tracks):
            others = seeds[:k] + seeds[k + 1:]
            est = self.centre.track(frame, track.joints_mm, track.confidence, others)
            if est is not None:
                fallback = None
                if self.track_centre != "points" and track.reference_mm is not None:
                    fallback = est.centre_mm
                    est.centre_mm = track.reference_mm.copy()
                    if self.track_centre == "predicted" and track.velocity_mm is not None:
                        est.centre_mm = est.centre_mm + track.velocity_mm
                centres.append(est.centre_mm)
                owners.append(track)
                learned.append(False)
                fallbacks.append(fallback)
        room = opts.max_subjects - len(owners)
        if room > 0 and (not owners or self._frames % max(opts.detect_every, 1) == 0):
            spare = 1 if opts.max_subjects > 1 else 0     # one more candidate than room: clutter may come first
            for est in self.centre.detect(frame, limit=room + spare, exclude_mm=centres):
                centres.append(est.centre_mm)
                owners.append(None)
                learned.append(est.method == "learned")
                fallbacks.append(None)
        self._frames += 1
        t1 = time.perf_counter()
        latency = {"centre": (t1 - t0) * 1e3}
        if not centres:
            self._tracks = []
            latency["decode"] = 0.0
            return PoseResult(frame.index, frame.timestamp_ms, subjects_key=self.subjects_key, latency_ms=latency)
        centres_arr, joints, conf, stage = self._fit(frame, np.stack(centres))
        # A prediction that missed (a sudden move, frames far apart): the point-mass centre, as before.
        missed = [(i, f) for i, f in enumerate(fallbacks) if f is not None and conf[i].mean() < self.min_confidence]
        if missed:
            c2, j2, k2, more = self._fit(frame, np.stack([f for _, f in missed]))
            for n, (i, _) in enumerate(missed):
                if k2[n].mean() > conf[i].mean():
                    centres_arr[i], joints[i], conf[i] = c2[n], j2[n], k2[n]
            stage = {k: stage[k] + more[k] for k in stage}
        latency.update(stage)
        t2 = time.perf_counter()
        subjects = self._keep(frame, centres_arr, joints, conf, owners, learned)
        gestures = [g for s in subjects for g in self._gestures(s)]
        latency["decode"] = (time.perf_counter() - t2) * 1e3
        return PoseResult(frame.index, frame.timestamp_ms, subjects, self.subjects_key, gestures, latency)

    def _keep(self, frame: DepthFrame, centres: np.ndarray, joints: np.ndarray, conf: np.ndarray,
              owners: list[_Track | None], learned: list[bool] | None = None) -> list[Subject]:
        """Gate, de-duplicate and cap the candidates; update the tracks; build the subjects."""
        scores = conf.mean(axis=1)
        skeleton = self.predictor.info.skeleton
        # tracked subjects first, the longest tracked first (two tracks on one subject: the older one
        # keeps it), then new candidates by score
        def rank(i: int) -> tuple[bool, int, float]:
            owner = owners[i]
            return owner is None, owner.id if owner is not None else 0, -float(scores[i])
        order = sorted(range(len(centres)), key=rank)
        kept: list[int] = []
        refs: list[np.ndarray] = []
        for i in order:
            extra = owners[i] is None and bool(kept) and not (learned and learned[i])
            gate = self.extra_confidence if extra else self.min_confidence
            if scores[i] < gate or len(kept) >= self.options.max_subjects:
                continue
            ref = reference_point_mm(skeleton, joints[i])
            if any(np.linalg.norm(ref - r) < _SAME_SUBJECT_FRACTION * self.predictor.cube_mm for r in refs):
                continue
            kept.append(i)
            refs.append(ref)
        tracks: list[_Track] = []
        subjects: list[Subject] = []
        for i, ref in zip(kept, refs):
            track = owners[i]
            if track is None or track in tracks:
                track = _Track(self._next_id, joints[i], conf[i],
                               OneEuroFilter() if self.options.smoothing else None)
                self._next_id += 1
            out = joints[i]
            track.velocity_mm = None if track.reference_mm is None else ref - track.reference_mm
            track.reference_mm = ref
            if track.smoother is not None:
                out = track.smoother(out, frame.timestamp_ms)
            track.joints_mm, track.confidence = out, conf[i]
            tracks.append(track)
            subjects.append(self._subject(frame, track, centres[i], out, conf[i], float(scores[i])))
        self._tracks = tracks
        subjects.sort(key=lambda s: s.id)
        return subjects

    def _subject(self, frame: DepthFrame, track: _Track, centre: np.ndarray, joints: np.ndarray,
                 conf: np.ndarray, score: float) -> Subject:
        names = self.predictor.skeleton.joints
        subject = Subject(track.id, centre, Joints(joints, names), Joints(conf, names), score,
                          Joints(camera_to_pixel(joints, frame.intrinsics)[:, :2], names))
        if self.hand is not None:
            c = chirality(joints, self.hand)
            if c is not None:
                track.chirality = c if track.chirality is None else \
                    _CHIRALITY_MEMORY * track.chirality + (1 - _CHIRALITY_MEMORY) * c
            if track.chirality is not None:
                subject.handedness, subject.handedness_score = handedness(track.chirality)
            subject.pinch = pinch_strength(joints, self.hand)
            subject.grab = grab_strength(joints, self.hand)
        return subject

    def _gestures(self, subject: Subject) -> list[dict]:
        track = next(t for t in self._tracks if t.id == subject.id)
        event = track.pinch.update(subject.pinch)
        return [] if event is None else [{"type": event, "id": subject.id}]
