"""Finding the person among other people and furniture: the body detector on whole crowded frames.

The synthetic body camera shows one person over a floor and a wall; the crowded world
(`synth --world crowded`) adds 0-3 other people and 0-3 tables, chairs or boxes around the subject,
front and top views, a D4xx or Kinect v1 sensor model. Its datasets store only the cube's crop, so
this script renders whole frames from the same scene sampler and measures, per frame, with no
tracking (each frame is a fresh detection):
- candidates: whether `CentreEstimator.detect(limit=10)` proposes a centre within 600 mm of the
  subject's torso (the cube is 2,000 mm; re-centring on the model's torso does the rest);
- found: whether the whole pipeline (`PosePipeline`, `max_subjects` people, the shipped body model,
  its gate) outputs a person whose torso lies within 300 mm of the subject's, and that person's
  mAP at 10 cm (15 joints), over the frames found and over all frames.
`--max-planes 0` is the ablation without the room's planes.

Usage: .venv/bin/python benchmarks/body_clutter.py [--frames 200] [--seed 123] [--max-subjects 4]
       [--max-planes 3] [--model models/v2v-lite-body.onnx] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from handpose_live.calib import load_intrinsics
from handpose_live.evaluation.metrics import map_at
from handpose_live.fileio import atomic_write_text
from handpose_live.inference.centre import CentreConfig, CentreEstimator
from handpose_live.inference.pipeline import PipelineOptions, build_pipeline
from handpose_live.inference.predictor import Predictor
from handpose_live.synth.world import render_frame, sample_scene
from handpose_live.types import DepthFrame

REPO = Path(__file__).resolve().parents[1]
TORSO = 8   # itop15


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--max-subjects", type=int, default=4, help="people the pipeline keeps per frame")
    ap.add_argument("--max-planes", type=int, default=None, help="room planes removed (default: CentreConfig's)")
    ap.add_argument("--model", type=Path, default=REPO / "models" / "v2v-lite-body.onnx")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    intr = load_intrinsics("d435-640x480")
    rng = np.random.default_rng(args.seed)
    predictor = Predictor(args.model, device="cpu", threads=args.threads)
    config = CentreConfig.for_target("body", predictor.cube_mm)
    if args.max_planes is not None:
        config = replace(config, max_planes=args.max_planes)
    candidates = found = 0
    preds, truths = [], []
    for i in range(args.frames):
        subject, background, sensor = sample_scene("body", rng, intr, "crowded")
        f = render_frame(subject, background, intr, rng, cube_mm=None, sensor=sensor)
        frame = DepthFrame(depth_mm=f.depth_mm, intrinsics=intr, index=i)
        torso = f.joints_mm[TORSO]
        estimator = CentreEstimator(config)
        candidates += any(np.linalg.norm(e.centre_mm - torso) < 600 for e in estimator.detect(frame, limit=10))
        pipeline = build_pipeline(predictor, PipelineOptions(max_subjects=args.max_subjects), detector="geometric")
        pipeline.centre = estimator
        people = [np.asarray(s.joints_mm) for s in pipeline.process(frame).subjects]
        near = [p for p in people if np.linalg.norm(p[TORSO] - torso) < 300]
        if near:
            found += 1
            preds.append(min(near, key=lambda p: np.linalg.norm(p - f.joints_mm, axis=1).mean()))
            truths.append(f.joints_mm)
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{args.frames} frames", file=sys.stderr)
    m = float(map_at(np.stack(preds), np.stack(truths), 100.0).mean) if preds else 0.0
    report = {"frames": args.frames, "seed": args.seed, "max_subjects": args.max_subjects, "max_planes": config.max_planes,
              "candidate_within_600mm_pct": round(100.0 * candidates / args.frames, 1),
              "found_pct": round(100.0 * found / args.frames, 1), "map_found_pct": round(100.0 * m, 1),
              "map_all_pct": round(100.0 * m * found / args.frames, 1)}
    text = json.dumps(report)
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
