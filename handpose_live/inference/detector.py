"""Palm candidates from the learned hand detector (`modeling/detector.py`, an ONNX file).

The detector looks at the whole frame, strided by 4 (160x120 for 640x480), and gives a heatmap
of palm centres; its local maxima above the file's threshold are the candidates, best first, in
full-resolution pixels. Turning a pixel into a cube centre (depth, mean shift) is the centre
estimator's job (`centre.py`), and deciding that a candidate is a hand is the pose network's
(`pipeline.py`). The file describes itself: format, input stride and normalisation, threshold,
training set (metadata key `handpose_live_detector`); the preprocessing here mirrors
`modeling.detector.detector_input` in NumPy, so the inference path needs no torch for it.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError

DETECTOR_FORMAT = "handpose-live-detector"
DETECTOR_KEY = "handpose_live_detector"


class HandDetector:
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
            raise UserError(f"{path} is not a handpose-live hand detector (no '{DETECTOR_KEY}' metadata)")
        self.path = path
        self.meta = meta
        config = meta["config"]
        self.input_stride = int(config["input_stride"])
        self.output_stride = int(config["output_stride"])
        self.max_depth_m = float(config["max_depth_m"])
        self.threshold = float(meta["threshold"])

    def heatmap(self, depth_mm: np.ndarray) -> np.ndarray:
        """Palm probability per heatmap cell [h, w] (cell (i, j) covers full-resolution pixels
        from (i, j) * input_stride * output_stride)."""
        s, o = self.input_stride, self.output_stride
        small = np.asarray(depth_mm, np.float32)[::s, ::s]
        h, w = (small.shape[0] // o) * o, (small.shape[1] // o) * o
        small = small[:h, :w]
        valid = (small > 0) & np.isfinite(small)
        metres = np.clip(np.where(valid, small, 0.0) / 1000.0, 0.0, self.max_depth_m)
        x = np.stack([metres, valid.astype(np.float32)])[None].astype(np.float32)
        logits = self.session.run(None, {"depth_input": x})[0][0, 0]
        return 1.0 / (1.0 + np.exp(-logits))

    def propose(self, depth_mm: np.ndarray, limit: int) -> list[tuple[float, float, float]]:
        """Up to `limit` candidates (u_px, v_px, probability), best first, full resolution."""
        prob = self.heatmap(depth_mm)
        peaks = (prob >= cv2.dilate(prob, np.ones((3, 3), np.uint8))) & (prob >= self.threshold)
        ys, xs = np.nonzero(peaks)
        order = np.argsort(-prob[ys, xs])[:max(limit, 0)]
        cell = self.input_stride * self.output_stride
        centre = (self.output_stride - 1) / 2.0          # the cell's centre, in input pixels
        return [(float((xs[k] * self.output_stride + centre) * self.input_stride),
                 float((ys[k] * self.output_stride + centre) * self.input_stride), float(prob[ys[k], xs[k]]))
                for k in order] if cell else []
