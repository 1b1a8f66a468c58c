"""Live quality against the test set: what a user of `run` sees, on the default synthetic camera.

For each seed, the same frames of the synthetic camera go through
- `oracle`: the predictor around the TRUE cube centre (what the held-out test-set figure measures), and
- `live`:   the whole `PosePipeline` as `handpose-live run` builds it (detection with the shipped
            learned detector, up to 2 hands, tracking, re-centring, the model's "no hand" gate;
            `--smoothing` when asked; `--detector geometric --max-hands 1` is the pipeline before
            the detector), the found hand nearest to the truth being the one scored,
and are compared with the ground truth. Besides the mean joint error it reports what users see
over time:
- jump: per joint, the distance between consecutive predictions, against the ground truth's own
  motion (mean and p99 of |(p_t - p_t-1) - (g_t - g_t-1)|, the excess motion), and the p99 raw jump;
- swaps: the share of frames where some predicted fingertip is more than 20 mm off its own true tip
  and nearer to another finger's (a finger drawn on the wrong finger: the crossed skeletons users notice).

Usage: python benchmarks/live_quality.py [--seeds 0 1 2 3 4] [--frames 600] [--smoothing] [--json out.json]
Set-up of the published figures: 5 seeds x 600 frames, the shipped hand model, 2 threads.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

from handpose_live.capture.synthetic import SyntheticCamera
from handpose_live.fileio import atomic_write_text
from handpose_live.inference.pipeline import PipelineOptions, build_pipeline
from handpose_live.inference.predictor import Predictor
from handpose_live.resources import default_detector, shipped_model
from handpose_live.skeletons import HAND21

TIPS = [HAND21.joints.index(f"{f}_tip") for f in ("thumb", "index", "middle", "ring", "pinky")]


SWAP_MIN_MM = 20.0   # a tip within this of its own true tip is on its finger, whatever lies near


def swapped(pred: np.ndarray, truth: np.ndarray) -> bool:
    """Some predicted fingertip is off its own finger (> SWAP_MIN_MM) and nearer to another
    finger's true tip than to its own: a finger drawn on the wrong finger."""
    d = np.linalg.norm(pred[TIPS][:, None, :] - truth[TIPS][None, :, :], axis=2)   # [pred tip, true tip]
    own = np.diag(d)
    return bool(((own > SWAP_MIN_MM) & (d.argmin(axis=1) != np.arange(len(TIPS)))).any())


def temporal(preds: list, truths: list) -> dict:
    """Excess and raw jumps over consecutive frames where both have a prediction."""
    excess, raw = [], []
    for a, b, ga, gb in zip(preds, preds[1:], truths, truths[1:]):
        if a is None or b is None:
            continue
        excess.append(np.linalg.norm((b - a) - (gb - ga), axis=1))
        raw.append(np.linalg.norm(b - a, axis=1))
    if not excess:
        return {}
    e, r = np.concatenate(excess), np.concatenate(raw)
    return {"excess_jump_mean_mm": float(e.mean()), "excess_jump_p99_mm": float(np.percentile(e, 99)),
            "jump_p99_mm": float(np.percentile(r, 99)), "jump_max_mm": float(r.max())}


def run_seed(predictor: Predictor, seed: int, frames: int, options: PipelineOptions) -> dict:
    pipeline = build_pipeline(predictor, options, detector="geometric")   # options.detector decides
    oracle_err, live_err, swaps_live, swaps_oracle, found = [], [], 0, 0, 0
    live_preds, oracle_preds, truths, pipeline_ms, passes = [], [], [], [], []
    calls = [0]
    inner = predictor.predict_centres

    def counted(depth_mm, intr, centres_mm, split_among=None):   # network passes (cubes) per frame: its main cost
        calls[0] += len(np.asarray(centres_mm).reshape(-1, 3))
        return inner(depth_mm, intr, centres_mm, split_among)
    counting = copy.copy(predictor)              # the oracle keeps the uncounted predictor
    counting.predict_centres = counted
    pipeline.predictor = counting
    cam = SyntheticCamera(seed=seed, frames=frames)
    for frame in cam.frames():
        truth = frame.ground_truth_mm
        joints, _, _ = predictor.predict_depth(frame.depth_mm, frame.intrinsics, frame.ground_truth_centre_mm)
        oracle_err.append(float(np.linalg.norm(joints - truth, axis=1).mean()))
        swaps_oracle += swapped(joints, truth)
        oracle_preds.append(joints)
        before = calls[0]
        result = pipeline.process(frame)
        passes.append(calls[0] - before)
        pipeline_ms.append(sum(result.latency_ms.values()))
        truths.append(truth)
        if result.found:            # the subject on the true hand (a second, false one is not the hand's error)
            found += 1
            joints = min((np.asarray(s.joints_mm) for s in result.subjects),
                         key=lambda j: float(np.linalg.norm(j - truth, axis=1).mean()))
            live_err.append(float(np.linalg.norm(joints - truth, axis=1).mean()))
            swaps_live += swapped(joints, truth)
            live_preds.append(joints)
        else:
            live_preds.append(None)
    n = len(truths)
    return {"seed": seed, "frames": n, "found": found,
            "pipeline_p50_ms": float(np.percentile(pipeline_ms, 50)), "passes_per_frame": float(np.mean(passes)),
            "oracle_mean_mm": float(np.mean(oracle_err)), "live_mean_mm": float(np.mean(live_err)) if live_err else None,
            "oracle_swaps": swaps_oracle / n, "live_swaps": swaps_live / max(found, 1),
            "oracle_temporal": temporal(oracle_preds, truths), "live_temporal": temporal(live_preds, truths)}


def summarise(rows: list[dict]) -> dict:
    def mean(key, sub=None):
        vals = [(r[sub] if sub else r).get(key) if sub else r.get(key) for r in rows]
        vals = [v for v in vals if v is not None]
        return float(np.mean(vals)) if vals else None
    out = {"oracle_mean_mm": mean("oracle_mean_mm"), "live_mean_mm": mean("live_mean_mm"),
           "found_share": float(sum(r["found"] for r in rows) / sum(r["frames"] for r in rows)),
           "oracle_swaps": mean("oracle_swaps"), "live_swaps": mean("live_swaps"),
           "pipeline_p50_ms": mean("pipeline_p50_ms"), "passes_per_frame": mean("passes_per_frame")}
    for which in ("oracle", "live"):
        for k in ("excess_jump_mean_mm", "excess_jump_p99_mm", "jump_p99_mm", "jump_max_mm"):
            out[f"{which}_{k}"] = mean(k, f"{which}_temporal")
    out["live_over_oracle"] = out["live_mean_mm"] / out["oracle_mean_mm"] if out["live_mean_mm"] else None
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--smoothing", action="store_true")
    ap.add_argument("--recentre-mm", type=float, default=None, help="PipelineOptions.recentre_mm (default: the pipeline's)")
    ap.add_argument("--recentre-passes", type=int, default=None, help="PipelineOptions.recentre_passes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-hands", type=int, default=2, help="as `run --max-hands` (default: run's)")
    ap.add_argument("--detector", default="auto", help="as `run --detector`: auto (the shipped learned one) | geometric | FILE")
    ap.add_argument("--track-centre", default=None,
                    help="PipelineOptions.track_centre: predicted (the hand's default) | reference | points (before)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    predictor = Predictor(args.model or shipped_model("hand", device="cpu"), device="cpu", threads=args.threads)
    rows = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        passes = {} if args.recentre_passes is None else {"recentre_passes": args.recentre_passes}
        detector = default_detector("hand") if args.detector == "auto" else None if args.detector == "geometric" \
            else Path(args.detector)
        options = PipelineOptions(smoothing=args.smoothing, recentre_mm=args.recentre_mm, max_subjects=args.max_hands,
                                  detector=detector, track_centre=args.track_centre, **passes)
        rows.append(run_seed(predictor, seed, args.frames, options))
        r = rows[-1]
        print(f"seed {seed}: oracle {r['oracle_mean_mm']:.2f} mm, live {r['live_mean_mm'] or float('nan'):.2f} mm, "
              f"found {r['found']}/{r['frames']}, swaps {r['oracle_swaps']:.3f}/{r['live_swaps']:.3f}, "
              f"live excess jump p99 {r['live_temporal'].get('excess_jump_p99_mm', float('nan')):.1f} mm "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    summary = summarise(rows)
    print(json.dumps(summary, indent=1))
    if args.json:
        atomic_write_text(args.json, json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                 "summary": summary, "seeds": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
