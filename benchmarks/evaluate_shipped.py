"""Measure a model the way its model card reports it.

1. Model: parameters (of the network its metadata describes) and the file's size.
2. Held-out synthetic test set (`eval --model`, the dataset's true centre): mean / per-joint error,
   success rates (body: mAP at 10 cm).
3. End to end through `handpose-live run` on synthetic RealSense recordings (.db3 written by
   pyrealsense2's recorder), centre estimator included, against the synthetic ground truth: one
   recording per seed, figures over all frames of all seeds together (and per seed, with the spread
   across seeds), not one chosen seed.
   The same frames with each cube at the true centre (the model alone) show how much of the
   gap to the test set is the centre estimator's and how much the recordings' own difficulty.
4. The "no subject" gate: the mean heatmap peak (what the gate compares with the model's
   `min_confidence`) on the same synthetic frames, through the pipeline with the gate off, and on
   scenes without the subject (a wall, a box, a ball).

Usage: .venv/bin/python benchmarks/evaluate_shipped.py MODEL.onnx TEST_SET_DIR [--test-frames 0]
       [--seeds 77 78 79 80 81] [--frames 300] [--json report.json]
Prints one JSON object on stdout (the `run` subprocesses' own output goes to stderr).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from handpose_live.capture.record import write_db3
from handpose_live.capture.synthetic import SyntheticCamera
from handpose_live.commands.evaluate import eval_model
from handpose_live.data import open_dataset
from handpose_live.evaluation.metrics import evaluate_xyz, map_at
from handpose_live.fileio import atomic_write_text
from handpose_live.inference.runtime import read_model_info
from handpose_live.records import nearest_subject, read_jsonl
from handpose_live.types import DepthFrame

SEEDS = [77, 78, 79, 80, 81]


def non_subject_scenes(target: str, width: int, height: int) -> dict[str, np.ndarray]:
    """Depth images (mm) with no hand / no body in them: what the gate must reject.

    Hand: the scenes of tests/test_shipped_models.py (a wall at 600 mm; a 100x100 px box at 500 mm
    and a ball of 50 px radius at 450 mm in front of a wall at 1,500 mm). Body: the same shapes at
    body distances (a wall at 2,500 mm; a 200x200 px box at 2,500 mm and a ball of 60 px radius at
    2,000 mm in front of a wall at 4,500 mm)."""
    yy, xx = np.mgrid[0:height, 0:width]
    cy, cx = height // 2, width // 2
    near, back, box_z, ball_z, half, radius = ((600, 1500, 500, 450, 50, 50) if target == "hand"
                                               else (2500, 4500, 2500, 2000, 100, 60))
    wall = np.full((height, width), near, np.float32)
    box = np.full_like(wall, back)
    box[cy - half:cy + half, cx - half:cx + half] = box_z
    ball = np.full_like(wall, back)
    ball[(xx - cx) ** 2 + (yy - cy) ** 2 < radius ** 2] = ball_z
    return {"wall": wall, "box": box, "ball": ball}


def gate_peaks(model: Path, frames_per_seed: list[list], threads: int | None) -> dict:
    """Mean heatmap peaks with the gate off: on the subject's frames, and on the non-subject scenes."""
    from handpose_live.inference.pipeline import PipelineOptions, build_pipeline
    from handpose_live.inference.predictor import Predictor

    predictor = Predictor(model, device="cpu", threads=threads)
    peaks = []
    for frames in frames_per_seed:
        pipeline = build_pipeline(predictor, PipelineOptions(min_confidence=0.0), detector="geometric")
        for frame in frames:
            result = pipeline.process(frame)
            if result.found:
                peaks.append(max(float(np.mean(s.confidence)) for s in result.subjects))
    intr = frames_per_seed[0][0].intrinsics
    objects = {}
    for name, depth in non_subject_scenes(predictor.info.target, intr.width, intr.height).items():
        pipeline = build_pipeline(predictor, PipelineOptions(min_confidence=0.0), detector="geometric")
        result = pipeline.process(DepthFrame(depth, intr))
        objects[name] = round(max(float(np.mean(s.confidence)) for s in result.subjects), 4) if result.found \
            else None   # None: no object found
    p = np.array(peaks) if peaks else np.array([np.nan])
    return {"gate": predictor.info.min_confidence, "frames": len(peaks), "subject_min": round(float(p.min()), 4),
            "subject_p5": round(float(np.percentile(p, 5)), 4), "subject_median": round(float(np.median(p)), 4),
            "objects": objects}


def true_centre_figures(model: Path, frames_per_seed: list[list], threads: int | None) -> dict:
    """The model alone on the same recorded frames, each cube at the true centre: what `run` would
    score with a perfect centre estimator (the gap to `run_on_recording` is the estimator's)."""
    from handpose_live.inference.predictor import Predictor

    predictor = Predictor(model, device="cpu", threads=threads)
    target = predictor.info.target
    preds, truths, per_seed = [], [], []
    for frames in frames_per_seed:
        pred = np.stack([predictor.predict_depth(f.depth_mm, f.intrinsics,
                                                 np.asarray(f.ground_truth_centre_mm).reshape(-1, 3)[0])[0] for f in frames])
        truth = np.stack([np.asarray(f.ground_truth_mm).reshape(-1, *pred.shape[1:])[0] for f in frames])
        preds.append(pred)
        truths.append(truth)
        per_seed.append(_scores(pred, truth, target))
    return {**_scores(np.concatenate(preds), np.concatenate(truths), target), "per_seed": per_seed}


def _scores(pred: np.ndarray, truth: np.ndarray, target: str) -> dict:
    out = {"frames": len(pred), "mean_error_mm": round(evaluate_xyz(pred, truth).mean_error_mm, 2)}
    if target == "body":
        out["map_10cm"] = round(float(map_at(pred, truth, 100.0).mean), 4)
    return out


def run_on_recording(model: Path, target: str, frames: list, intrinsics, tmp: Path, seed: int) -> list[dict]:
    """`handpose-live run` on a .db3 of `frames`; the records it wrote."""
    rec, out = tmp / f"rec-{seed}.db3", tmp / f"joints-{seed}.jsonl"
    write_db3(rec, frames, intrinsics, paced=False)
    subprocess.run([sys.executable, "-m", "handpose_live", "run", "--input", str(rec), "--model", str(model),
                    "--target", target, "--output", str(out), "--viewer", "none", "--quiet"],
                   check=True, stdout=sys.stderr)
    return read_jsonl(out)[1]


def live_figures(records: list[dict], truth: np.ndarray, target: str) -> dict:
    """Per frame, the found subject nearest to the truth is scored (a second, false one is not its error)."""
    found = [r for r in records if r.get("hands", r.get("people"))]
    out = {"frames": len(records), "found": len(found)}
    if not found:
        return out
    pred = np.stack([np.array(nearest_subject(r, truth[r["frame"]])["joints_mm"]) for r in found])
    gt = truth[[r["frame"] for r in found]]
    res = evaluate_xyz(pred, gt)
    out.update({"mean_error_mm": round(res.mean_error_mm, 2), "success_20mm": round(res.success_at(20), 4),
                "success_40mm": round(res.success_at(40), 4),
                "latency_p50_ms": round(float(np.median([r["latency_ms"]["voxelize"] + r["latency_ms"]["inference"]
                                                         + r["latency_ms"]["centre"] for r in found])), 2)})
    if target == "body":
        out["map_10cm"] = round(float(map_at(pred, gt, 100.0).mean), 4)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("test_set", type=Path)
    ap.add_argument("--test-frames", type=int, default=0, help="first N frames of the test set (0 = all)")
    ap.add_argument("--seeds", type=int, nargs="+", default=SEEDS, help="synthetic camera seeds, one recording each")
    ap.add_argument("--seed", type=int, default=None, help="one seed only (same as --seeds SEED)")
    ap.add_argument("--frames", type=int, default=300, help="frames per recording")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads of the in-process gate measurement")
    ap.add_argument("--json", type=Path, default=None, help="also write the report here (atomically)")
    args = ap.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else args.seeds
    info = read_model_info(args.model)
    from handpose_live.modeling.v2v import V2VConfig, build_model, count_parameters
    params = count_parameters(build_model(V2VConfig(**info.raw["config"])))
    report = {"model": args.model.name, "test_set": str(args.test_set), "seeds": seeds, "frames_per_seed": args.frames,
              "parameters": params, "file_mb": round(args.model.stat().st_size / 1e6, 2)}
    with contextlib.redirect_stdout(sys.stderr):    # eval's table: stdout carries the JSON report only
        metrics = eval_model(args.model, "synthetic", args.test_set, as_json=False, limit=args.test_frames)
    available = len(open_dataset("synthetic", args.test_set, "test"))
    metrics["frames"] = min(args.test_frames, available) if args.test_frames else available
    report["test_set_metrics"] = metrics

    truths, records_all, per_seed, frames_per_seed = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            cam = SyntheticCamera(target=info.target, seed=seed, frames=args.frames)
            frames = list(cam.frames())
            frames_per_seed.append(frames)
            records = run_on_recording(args.model, info.target, frames, cam.intrinsics, Path(tmp), seed)
            truth = np.stack([f.ground_truth_mm for f in frames])
            per_seed.append({"seed": seed, **live_figures(records, truth, info.target)})
            print(f"seed {seed}: {per_seed[-1]}", file=sys.stderr)
            # one pool over all seeds: frame numbers made unique across recordings
            offset = sum(len(t) for t in truths)
            records_all += [{**r, "frame": r["frame"] + offset} for r in records]
            truths.append(truth)
    live = live_figures(records_all, np.concatenate(truths), info.target)
    for key in ("mean_error_mm", "map_10cm"):
        values = [s[key] for s in per_seed if key in s]
        if len(values) > 1:
            live[f"{key}_seed_std"] = round(float(np.std(values)), 4)
    live["per_seed"] = per_seed
    report["run_on_recording"] = live
    report["true_centre_on_recording"] = true_centre_figures(args.model, frames_per_seed, args.threads)
    report["gate"] = gate_peaks(args.model, frames_per_seed, args.threads)
    text = json.dumps(report)
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
