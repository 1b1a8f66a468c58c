"""What the skeleton fit costs per hand, in the pipeline and alone, with its caches warm and cold.

`handpose-live bench` times the fit where it runs, right after the network; this script also replays the same
inputs (the network's joints and confidences of every frame, kept while the pipeline ran) through a fresh
`SkeletonTrack` alone: back to back (warm caches: the fit's own code and data stay in the CPU caches), and with
a 32 MB array written between calls (cold: what a network's inference, MBs of weights and activations, leaves
behind). The three side by side say whether the fit's time in the pipeline is its arithmetic or the caches.

    python benchmarks/fit_cost.py [--frames 300] [--seed 0] [--rounds 3] [--json out.json]

The shipped hand model, the synthetic camera, 2 threads; p50 per hand over the frames after the first second
(the first 30: the shape's estimation), the best of `--rounds` replays each way.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from handpose_live.capture.synthetic import SyntheticCamera
from handpose_live.fileio import atomic_write_text
from handpose_live.inference import kinematics
from handpose_live.inference.pipeline import build_pipeline, fit_ms_of
from handpose_live.inference.predictor import Predictor
from handpose_live.resources import shipped_model
from handpose_live.skeletons import HAND21

SKIP = 30              # the first second (30 fps): the shape's estimation
CACHE_MB = 32          # written between calls for the cold replay


def pipeline_run(frames: int, seed: int, threads: int) -> tuple[list, list[float]]:
    """The fit's inputs of every frame of the first track (one hand), and the pipeline's fit time per hand."""
    kept: list = []
    update = kinematics.SkeletonTrack.update

    def keeping(self, joints, conf, t_ms, left=False, fit=True):
        if self is first.setdefault("track", self):
            kept.append((np.array(joints), np.array(conf), t_ms, left))
        return update(self, joints, conf, t_ms, left, fit)

    first: dict = {}
    kinematics.SkeletonTrack.update = keeping      # type: ignore[method-assign]
    try:
        pipeline = build_pipeline(Predictor(shipped_model("hand"), threads=threads))
        times = []
        for frame in SyntheticCamera(seed=seed, frames=frames).frames():
            result = pipeline.process(frame)
            fit = fit_ms_of(pipeline, frame)
            if fit is not None and result.subjects:
                times.append(fit / len(result.subjects))
    finally:
        kinematics.SkeletonTrack.update = update    # type: ignore[method-assign]
    return kept, times[SKIP:]


def replay(kept: list, cold: bool) -> float:
    """p50 ms of `SkeletonTrack.update` over `kept`, alone; `cold`: the caches filled with other data before each."""
    model = kinematics.skeleton_model(HAND21)
    assert model is not None
    track = kinematics.SkeletonTrack(model)
    other = np.ones(CACHE_MB * 2**20 // 4, np.float32)
    times = []
    for joints, conf, t_ms, left in kept:
        if cold:
            other += 1.0
        t0 = time.perf_counter()
        track.update(joints, conf, t_ms, left)
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times[SKIP:]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    kept, in_pipeline = pipeline_run(args.frames, args.seed, args.threads)
    if len(kept) <= SKIP:
        print(f"error: a hand was fitted in only {len(kept)} frames", file=sys.stderr)
        return 2
    warm = min(replay(kept, cold=False) for _ in range(args.rounds))
    cold = min(replay(kept, cold=True) for _ in range(args.rounds))
    out = {"frames": args.frames, "seed": args.seed, "hands_fitted": len(kept),
           "pipeline_p50_ms": round(float(np.median(in_pipeline)), 3), "alone_warm_p50_ms": round(warm, 3),
           "alone_cold_p50_ms": round(cold, 3), "cache_mb": CACHE_MB}
    print(f"skeleton fit per hand, p50 over {len(kept) - SKIP} frames: in the pipeline {out['pipeline_p50_ms']:.3f} ms; "
          f"alone, caches warm {warm:.3f} ms, caches cold {cold:.3f} ms")
    if args.json:
        atomic_write_text(args.json, json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
