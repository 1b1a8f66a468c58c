"""Candidates from a learned detector (`modeling/detector.py`, an ONNX file): palms for hands,
torsos for people (the file's metadata says which target it serves).

The detector looks at the whole frame, strided by 4 (160x120 for 640x480), and gives a heatmap
of palm (or torso) centres; its local maxima above the file's threshold are the candidates, best first, in
full-resolution pixels. A hand must stay about as many pixels wide as in training, so a camera
with a short focal length (a binned mode: Azure Kinect 320x288, fx 252) is strided less: the
largest stride, up to the file's, that keeps fx / stride >= MIN_FOCAL_PX. Longer focal lengths
keep the file's stride: a coarser one found no more hands (`benchmarks/detector_stride.py`).
A file may ask for an image pyramid (metadata `scales`, e.g. [1, 1.5]): the detector then also
runs at coarser strides, where a subject much nearer than in training looks as large as the ones
it learned from (a person filling half the frame); the levels' candidates are merged, a peak near
a stronger one dropped as the same subject. The hand detector runs one level, the person detector two.
Turning a pixel into a cube centre (depth, mean shift) is the centre estimator's job
(`centre/`), and deciding that a candidate is a hand is the pose network's (`pipeline.py`).
The file describes itself: format, input stride and normalisation, threshold, training set
(metadata key `handpose_live_detector`); the preprocessing here mirrors
`modeling.detector.detector_input` in NumPy, so the inference path needs no torch for it.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError

DETECTOR_FORMAT = "handpose-live-detector"
# The shortest focal length (pixels, at the detector's input) the shipped detector was trained at is
# 96 (the D435's 383 at stride 4); a little below it recall holds (Kinect v2 at 91), at 63 it halves
# (benchmarks/detector_stride.py).
MIN_FOCAL_PX = 90.0
DETECTOR_KEY = "handpose_live_detector"


class Detector:
    def __init__(self, path: Path, threads: int = 1):
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise UserError(f"detector not found: {path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise UserError(f"{path} is not a loadable ONNX detector: {str(exc).splitlines()[0][:150]}") from None
        raw = self.session.get_modelmeta().custom_metadata_map.get(DETECTOR_KEY)
        try:
            meta = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            meta = {}
        if meta.get("format") != DETECTOR_FORMAT:
            raise UserError(f"{path} is not a handpose-live detector (no '{DETECTOR_KEY}' metadata)")
        self.path = path
        self.meta = meta
        config = meta["config"]
        self.input_stride = int(config["input_stride"])
        self.output_stride = int(config["output_stride"])
        self.max_depth_m = float(config["max_depth_m"])
        self.threshold = float(meta["threshold"])
        self.target = str(meta.get("target", "hand"))
        # The image pyramid (input stride x each scale, finest first); files without the key: one level.
        self.scales = tuple(float(x) for x in meta.get("scales", [1.0]))
        if not self.scales or any(not np.isfinite(x) or x < 1.0 for x in self.scales):
            raise UserError(f"{path}: detector scales must be numbers >= 1, got {meta.get('scales')}")

    def stride_for(self, fx: float | None) -> int:
        """The input stride for a camera of focal length `fx` (pixels); None: the file's."""
        if fx is None or not np.isfinite(fx) or fx <= 0:
            return self.input_stride
        return int(min(self.input_stride, max(1, fx // MIN_FOCAL_PX)))

    def heatmap(self, depth_mm: np.ndarray, stride: int | None = None) -> np.ndarray:
        """Palm probability per heatmap cell [h, w] (cell (i, j) covers full-resolution pixels
        from (i, j) * stride * output_stride; stride: the file's input stride unless given)."""
        s, o = stride or self.input_stride, self.output_stride
        small = np.asarray(depth_mm, np.float32)[::s, ::s]
        h, w = (small.shape[0] // o) * o, (small.shape[1] // o) * o
        small = small[:h, :w]
        valid = (small > 0) & np.isfinite(small)
        metres = np.clip(np.where(valid, small, 0.0) / 1000.0, 0.0, self.max_depth_m)
        x = np.stack([metres, valid.astype(np.float32)])[None].astype(np.float32)
        logits = self.session.run(None, {"depth_input": x})[0][0, 0]
        return 1.0 / (1.0 + np.exp(-logits))

    def strides(self, fx: float | None) -> list[int]:
        """The pyramid's input strides for a camera of focal length `fx`: `stride_for(fx)` x each scale."""
        base = self.stride_for(fx)
        return sorted({max(1, int(round(base * scale))) for scale in self.scales})

    def propose(self, depth_mm: np.ndarray, limit: int, fx: float | None = None) -> list[tuple[float, float, float]]:
        """Up to `limit` candidates (u_px, v_px, probability), best first, full resolution; `fx`,
        the camera's focal length in pixels, picks the strides (`strides`). With several levels, a
        peak within 1.5 cells (of the coarsest level) of a stronger one, from any level, repeats it."""
        strides = self.strides(fx)
        levels = [self._peaks(depth_mm, stride, limit) for stride in strides]
        if len(levels) == 1:
            return levels[0]
        near = 1.5 * self.output_stride * strides[-1]
        kept: list[tuple[float, float, float]] = []
        for c in sorted((c for level in levels for c in level), key=lambda c: -c[2]):
            if all((c[0] - k[0]) ** 2 + (c[1] - k[1]) ** 2 > near ** 2 for k in kept):
                kept.append(c)
        return kept[:max(limit, 0)]

    def _peaks(self, depth_mm: np.ndarray, stride: int, limit: int) -> list[tuple[float, float, float]]:
        """One level's local maxima over the threshold, best first, in full-resolution pixels."""
        prob = self.heatmap(depth_mm, stride)
        peaks = (prob >= cv2.dilate(prob, np.ones((3, 3), np.uint8))) & (prob >= self.threshold)
        ys, xs = np.nonzero(peaks)
        order = np.argsort(-prob[ys, xs])[:max(limit, 0)]
        centre = (self.output_stride - 1) / 2.0          # the cell's centre, in input pixels
        return [(float((xs[k] * self.output_stride + centre) * stride),
                 float((ys[k] * self.output_stride + centre) * stride), float(prob[ys[k], xs[k]]))
                for k in order]
