"""One frame through the stages: frame -> centres -> voxels -> model -> subjects (camera mm).

Up to `max_subjects` subjects: tracked ones are followed from their previous joints, and the
detector proposes new candidates outside the tracked cubes (every `detect_every` frames while one
is tracked, every frame while none is). All centres of a frame go through the network as one batch
and the network decides: a mean heatmap peak under `min_confidence` drops a candidate, a new
geometric candidate beside a kept subject needs the target's `extra_confidence`, a new learned one
there a higher score or a detector sure of it (`gate_passes`), and two candidates on one subject
keep the better one. A tracked cube is centred on the model's reference point plus
its last motion (`track_centre="predicted"`; bodies keep `"points"`), with the point-mass centre
as the fallback. Each subject keeps an `id`, a One-Euro filter, handedness and pinch state, and its
skeleton (kinematics.py: fitted joints, orientations, palm, velocity; `fit=False` keeps the network's joints).
The pipeline only wires stages together and times them; each stage lives in its own module
(centre/, predictor.py, smoothing.py, gestures.py) and never reaches into another.
Why, with measurements and history: docs/design-notes.md, `inference/pipeline.py`.
"""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..gestures import GestureEvents, PinchEvents
from ..resources import default_detector
from ..skeletons import reference_point_mm
from ..targets import get_target
from ..types import DepthFrame, Joints, PoseResult, Subject
from .centre import CentreConfig, CentreEstimator
from .features import HandFeatures
from .kinematics import SkeletonTrack, SubjectSkeletons
from .modelfile import check_target
from .predictor import Predictor
from .smoothing import OneEuroFilter
from .visibility import mark_visible

_SAME_SUBJECT_FRACTION = 0.25    # reference points closer than this x cube are one subject
_RETRY_DROP = 0.75               # a tracked subject whose score falls under this x its last one is tried again
# A second subject proposed by the learned detector needs more than the model's gate (docs/results.md,
# "Heads are not hands"): heads behind a tracked hand on real SR305 frames scored 0.26-0.34, a forearm
# 0.25; true second hands 0.36 and more, or less with a detector sure of them.
_SECOND_MIN_SCORE = 0.35         # the pose score a second learned candidate needs, unless ...
_SECOND_SURE_PROBABILITY = 0.8   # ... the detector's probability is this high (heads, clutter: 0.73 at most)


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
    detect_every: int | None = None       # look for more subjects every N frames while some are tracked
                                          # (default: the target's, targets.py)
    track_centre: str | None = None       # next cube of a tracked subject: "predicted" (its reference point
                                          # + last motion) | "reference" (no motion) | "points" (its point
                                          # mass); default: the target's (targets.py)
    fit: bool = True                      # joints of the subject's fitted skeleton (kinematics.py); False: the
                                          # network's (orientations, palm and velocity are given either way)


@dataclass
class _Track:
    id: int
    joints_mm: np.ndarray
    confidence: np.ndarray
    smoother: OneEuroFilter | None = None
    chirality: float | None = None
    pinch: PinchEvents = field(default_factory=PinchEvents)
    gestures: GestureEvents | None = None     # its named gestures (features.py makes it)
    reference_mm: np.ndarray | None = None    # the model's reference point in the last frame
    velocity_mm: np.ndarray | None = None     # its motion over the last frame
    skeleton: SkeletonTrack | None = None     # its skeleton (kinematics.py): shape, fit, frames
    detector_probability: float | None = None  # the learned detector's when it found this subject: its gate
                                               # (gate_passes) goes on while it is tracked


def fit_recentred(predictor: Predictor, frame: DepthFrame, recentre_mm: float, passes: int, centres: np.ndarray,
                  split: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """The model around each centre [N,3], re-centred on its own joints while they sit more than
    `recentre_mm` off the cube centre, at most `passes` times (the segmentation centre may be pulled
    onto the forearm; a pass around the model's own reference point sees the whole hand).
    `split`: cubes that overlap share out their points (the target's `split_overlapping`).
    Returns (centres, joints [N,J,3], confidence [N,J], stage ms)."""
    centres = np.array(centres, np.float64)
    joints, conf, stage = predictor.predict_centres(frame.depth_mm, frame.intrinsics, centres,
                                                    centres if split else None)
    skeleton = predictor.info.skeleton
    for _ in range(passes):
        if recentre_mm <= 0:
            break
        refined = np.stack([reference_point_mm(skeleton, j) for j in joints])
        again = np.linalg.norm(refined - centres, axis=1) > recentre_mm
        if not again.any():
            break
        centres[again] = refined[again]
        j2, c2, more = predictor.predict_centres(frame.depth_mm, frame.intrinsics, centres[again],
                                                 centres if split else None)
        joints[again], conf[again] = j2, c2
        stage = {k: stage[k] + more[k] for k in stage}
    return centres, joints, conf, stage


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
        if self.options.detector is not None and get_target(info.target).learned_detector:
            from .detector import Detector
            detector = Detector(self.options.detector)
            if detector.target != info.target:
                raise UserError(f"{detector.path.name} finds {get_target(detector.target).plural}, but "
                                f"{predictor.path.name} is a {info.target} model")
        self.centre = CentreEstimator(CentreConfig.for_target(info.target, info.cube_mm), detector)
        default_gate = info.min_confidence if info.min_confidence is not None else 0.05
        self.min_confidence = self.options.min_confidence if self.options.min_confidence is not None else default_gate
        target = get_target(info.target)
        self.subjects_key = target.record_key
        self.recentre_mm = self.options.recentre_mm if self.options.recentre_mm is not None \
            else target.recentre_fraction * info.cube_mm
        self.recentre_passes = self.options.recentre_passes if self.options.recentre_passes is not None \
            else target.recentre_passes
        self.features = HandFeatures(predictor.skeleton.joints) if target.hand_features else None
        self.extra_confidence = max(self.min_confidence, target.extra_confidence)
        self.track_centre = self.options.track_centre or target.track_centre
        self.detect_every = max(self.options.detect_every or target.detect_every, 1)
        self.split, self.sure_detection = target.split_overlapping, target.sure_detection
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._frames = 0

    def reset(self) -> None:
        """Forget every tracked subject (a new sequence)."""
        self._tracks = []

    def _fit(self, frame: DepthFrame, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        return fit_recentred(self.predictor, frame, self.recentre_mm, self.recentre_passes, centres, self.split)

    def process(self, frame: DepthFrame) -> PoseResult:
        t0 = time.perf_counter()
        opts = self.options
        if not opts.tracking:
            self._tracks = []
        centres: list[np.ndarray] = []
        owners: list[_Track | None] = []
        learned: list[float | None] = []             # a new learned candidate's detector probability
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
                learned.append(track.detector_probability)
                fallbacks.append(fallback)
        room = opts.max_subjects - len(owners)
        if room > 0 and (not owners or self._frames % self.detect_every == 0):
            spare = 1 if opts.max_subjects > 1 else 0     # one more candidate than room: clutter may come first
            for est in self.centre.detect(frame, limit=room + spare, exclude_mm=centres):
                centres.append(est.centre_mm)
                owners.append(None)
                learned.append(est.probability if est.method == "learned" else None)
                fallbacks.append(None)
        self._frames += 1
        t1 = time.perf_counter()
        latency = {"centre": (t1 - t0) * 1e3}
        if not centres:
            self._tracks = []
            latency["decode"] = 0.0
            return PoseResult(frame.index, frame.timestamp_ms, subjects_key=self.subjects_key, latency_ms=latency)
        centres_arr, joints, conf, stage = self._fit(frame, np.stack(centres))
        # A prediction that missed (a sudden move, frames far apart: its score fell under the gate or well
        # under its last one): the point-mass centre too, the better-scoring pass kept.
        missed = [(i, f) for i, (f, owner) in enumerate(zip(fallbacks, owners)) if f is not None and owner is not None
                  and conf[i].mean() < max(self.min_confidence, _RETRY_DROP * float(np.mean(owner.confidence)))]
        if missed:
            c2, j2, k2, more = self._fit(frame, np.stack([f for _, f in missed]))
            for n, (i, _) in enumerate(missed):
                if k2[n].mean() > conf[i].mean():
                    centres_arr[i], joints[i], conf[i] = c2[n], j2[n], k2[n]
            stage = {k: stage[k] + more[k] for k in stage}
        latency.update(stage)
        t2 = time.perf_counter()
        subjects = self._keep(frame, centres_arr, joints, conf, owners, learned)
        gestures = [] if self.features is None else self.features.events(subjects, self._tracks, frame.timestamp_ms)
        latency["decode"] = (time.perf_counter() - t2) * 1e3
        return PoseResult(frame.index, frame.timestamp_ms, subjects, self.subjects_key, gestures, latency)

    def _keep(self, frame: DepthFrame, centres: np.ndarray, joints: np.ndarray, conf: np.ndarray,
              owners: list[_Track | None], learned: list[float | None] | None = None) -> list[Subject]:
        """Gate, de-duplicate and cap the candidates; update the tracks; build the subjects. `learned`:
        each new learned candidate's detector probability (None: tracked or geometric)."""
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
            second = owners[i] is None and bool(kept)          # a new subject beside one kept in this frame
            if not gate_passes(self, float(scores[i]), learned[i] if learned else None, second) \
                    or len(kept) >= self.options.max_subjects:
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
                               OneEuroFilter() if self.options.smoothing else None,
                               detector_probability=learned[i] if learned else None)
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
        return build_subject(self, frame, track, centre, joints, conf, score)


def build_subject(pipeline: PosePipeline, frame: DepthFrame, track: _Track, centre: np.ndarray, joints: np.ndarray,
                  conf: np.ndarray, score: float) -> Subject:
    """A kept candidate as a subject: the network's joints and peaks (named), its hand features, its skeleton
    (fitted joints, orientations, palm, velocity; joints_px) and which joints are seen (visibility.py)."""
    names = pipeline.predictor.skeleton.joints
    raw = Joints(joints, names)
    subject = Subject(track.id, centre, raw, Joints(conf, names), score, raw_joints_mm=raw)
    if pipeline.features is not None:
        pipeline.features.add(subject, track, joints)
    skeletons_of(pipeline).add(subject, track, conf, frame)
    mark_visible(subject, frame, pipeline.predictor.cube_mm)
    return subject


_SKELETONS: weakref.WeakKeyDictionary[PosePipeline, SubjectSkeletons] = weakref.WeakKeyDictionary()


def skeletons_of(pipeline: PosePipeline) -> SubjectSkeletons:
    """The pipeline's skeleton fit (`kinematics.SubjectSkeletons`), made on first use."""
    skeletons = _SKELETONS.get(pipeline)
    if skeletons is None:
        skeletons = _SKELETONS[pipeline] = SubjectSkeletons(pipeline.predictor.skeleton, pipeline.options.fit)
    return skeletons


def fit_ms_of(pipeline: PosePipeline, frame: DepthFrame) -> float | None:
    """The skeleton fit's time in `frame` (ms, all its subjects; part of "decode"), None if it fitted none."""
    return skeletons_of(pipeline).ms_of(frame)


def gate_passes(pipe: PosePipeline, score: float, probability: float | None, second: bool) -> bool:
    """Whether a candidate of pose score `score` (mean heatmap peak) is a subject. `probability`: the
    learned detector's, for a learned candidate or a subject tracked since the detector found it (else
    None); `second`: a new subject beside one kept in this frame. A candidate the detector is sure of
    needs less of the pose network, on the frame it is found and while it is tracked (the target's
    `sure_detection`: people the body model scores low, close and cut by the image border);
    a second learned one needs a higher pose score or a detector sure of it (`_SECOND_MIN_SCORE`,
    `_SECOND_SURE_PROBABILITY`); the rest, the gate."""
    if probability is not None:
        sure = pipe.sure_detection
        if sure is not None and probability >= sure[0] and score >= sure[1]:
            return True
        if second:
            return score >= pipe.min_confidence and (score >= _SECOND_MIN_SCORE
                                                     or probability >= _SECOND_SURE_PROBABILITY)
    return score >= (pipe.extra_confidence if second else pipe.min_confidence)


def resolve_detector(detector: str | Path | None, target: str) -> Path | None:
    """`--detector` as a file: "auto" is the shipped learned detector when the target has one and it is
    installed; "geometric" (or None) is no file (geometric search); anything else is the file given."""
    if detector is None or str(detector) == "geometric":
        return None
    if str(detector) == "auto":
        return default_detector(target)
    return Path(detector)


def build_pipeline(predictor: Predictor, options: PipelineOptions | None = None, *, target: str | None = None,
                   detector: str | Path | None = "auto") -> PosePipeline:
    """The one place a pipeline is assembled (`Tracker`, `bench` and the benchmark scripts): the model
    is checked against `target` when one is asked for, `detector` resolved (`resolve_detector`), and
    `options` default to what `run` uses (the target's default number of subjects)."""
    info = predictor.info
    if target is not None:
        check_target(info, predictor.path, target)
    if options is None:
        options = PipelineOptions(max_subjects=get_target(info.target).default_subjects)
    if options.detector is None:
        options = replace(options, detector=resolve_detector(detector, info.target))
    return PosePipeline(predictor, options)
