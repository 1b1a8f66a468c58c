"""The picture of docs/results.md "Real rooms": six labelled bonn-crowd frames with the people the
geometric search (top row) and the learned person detector (bottom row) report, each frame a fresh
detection, drawn by `run`'s overlay. Needs ../shared/data/real-depth/bonn-crowd.

    .venv/bin/python benchmarks/real_rooms_picture.py [--out docs/images/real-rooms.png]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from handpose_live.fileio import atomic_write
from handpose_live.inference.pipeline import PipelineOptions, build_pipeline
from handpose_live.inference.predictor import Predictor
from handpose_live.resources import shipped_model
from handpose_live.sinks.overlay import render_overlay
from handpose_live.types import DepthFrame

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_rooms import BONN, BONN_INTR  # noqa: E402

FRAMES = ("250", "290", "310", "340", "420", "440")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "images" / "real-rooms.png")
    args = ap.parse_args()
    predictor = Predictor(shipped_model("body", "fp32"), device="cpu")
    rows = []
    for detector in ("geometric", "auto"):
        pipe = build_pipeline(predictor, PipelineOptions(max_subjects=6, tracking=False), target="body", detector=detector)
        tiles = []
        for k in FRAMES:
            raw = cv2.imread(str(BONN / f"bonn-crowd-{k}.png"), cv2.IMREAD_UNCHANGED)
            frame = DepthFrame(raw.astype(np.float32) * (BONN_INTR.depth_scale_m * 1000), BONN_INTR, 0.0, int(k))
            image = render_overlay(frame, pipe.process(frame), predictor.skeleton, view="full")
            tiles.append(cv2.resize(image, (320, 240), interpolation=cv2.INTER_AREA))
        rows.append(np.hstack(tiles))
    png = cv2.imencode(".png", np.vstack(rows))[1].tobytes()
    atomic_write(args.out, lambda f: f.write(png))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
