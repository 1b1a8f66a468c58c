"""One frame through the stages: frame -> centre -> voxels -> model -> joints (camera mm).

The pipeline only wires stages together and times them; each stage lives in its own module
(centre.py, predictor.py, smoothing.py) and never reaches into another.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..skeletons import reference_point_mm
from ..targets import get_target
from ..types import DepthFrame, PoseResult
from .centre import CentreConfig, CentreEstimator
from .predictor import Predictor
from .smoothing import OneEuroFilter


@dataclass
class PipelineOptions:
    min_confidence: float | None = None   # mean heatmap peak below which "no hand" (default: from the model)
    smoothing: bool = False               # One-Euro filter on the joints (live jitter)
    tracking: bool = True                 # seed the next centre from this frame's joints
    recentre_mm: float | None = None      # re-run the model around its own joints when they sit this far
                                          # from the centre it was given (default: the target's, targets.py)
    recentre_passes: int | None = None    # at most this many extra passes (default: the target's)


class PosePipeline:
    def __init__(self, predictor: Predictor, options: PipelineOptions | None = None):
        self.predictor = predictor
        self.options = options or PipelineOptions()
        info = predictor.info
        self.centre = CentreEstimator(CentreConfig.for_target(info.target, info.cube_mm))
        default_gate = info.min_confidence if info.min_confidence is not None else 0.05
        self.min_confidence = self.options.min_confidence if self.options.min_confidence is not None else default_gate
        self.smoother = OneEuroFilter() if self.options.smoothing else None
        target = get_target(info.target)
        self.recentre_mm = self.options.recentre_mm if self.options.recentre_mm is not None \
            else target.recentre_fraction * info.cube_mm
        self.recentre_passes = self.options.recentre_passes if self.options.recentre_passes is not None \
            else target.recentre_passes
        self._prev_joints: np.ndarray | None = None
        self._prev_conf: np.ndarray | None = None

    def _lost(self) -> None:
        self._prev_joints = self._prev_conf = None
        if self.smoother is not None:
            self.smoother.reset()

    def _fit(self, frame: DepthFrame, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """The model around `centre`, re-centred on its own joints while they sit off the cube centre
        (the segmentation centre may be pulled onto the forearm; a pass around the model's own
        reference point sees the whole hand). Returns (centre, joints, confidence, stage ms)."""
        joints, conf, stage = self.predictor.predict_depth(frame.depth_mm, frame.intrinsics, centre)
        for _ in range(self.recentre_passes):
            refined = reference_point_mm(self.predictor.info.skeleton, joints)
            if self.recentre_mm <= 0 or np.linalg.norm(refined - centre) <= self.recentre_mm:
                break
            centre = refined
            joints, conf, again = self.predictor.predict_depth(frame.depth_mm, frame.intrinsics, centre)
            stage = {k: stage[k] + again[k] for k in stage}
        return centre, joints, conf, stage

    def process(self, frame: DepthFrame) -> PoseResult:
        t0 = time.perf_counter()
        est = self.centre.estimate(frame, self._prev_joints if self.options.tracking else None, self._prev_conf)
        t1 = time.perf_counter()
        latency = {"centre": (t1 - t0) * 1e3}
        if est is None:
            self._lost()
            return PoseResult(frame.index, frame.timestamp_ms, False, latency_ms=latency)
        centre, joints, conf, stage = self._fit(frame, np.asarray(est.centre_mm, dtype=np.float64))
        latency.update(stage)
        t2 = time.perf_counter()
        if float(np.mean(conf)) < self.min_confidence:
            self._lost()
            latency["decode"] = (time.perf_counter() - t2) * 1e3
            return PoseResult(frame.index, frame.timestamp_ms, False, centre_mm=centre, latency_ms=latency)
        if self.smoother is not None:
            joints = self.smoother(joints, frame.timestamp_ms)
        self._prev_joints, self._prev_conf = joints, conf
        latency["decode"] = (time.perf_counter() - t2) * 1e3
        return PoseResult(frame.index, frame.timestamp_ms, True, centre_mm=centre, joints_mm=joints,
                          confidence=conf, latency_ms=latency)
