"""Measure a model the way its model card reports it.

1. Held-out synthetic test set (`eval --model`, the dataset's true centre): mean / per-joint error,
   success rates (body: mAP at 10 cm).
2. End to end through `handpose-live run` on a synthetic RealSense recording (.db3 written by
   pyrealsense2's recorder), centre estimator included, against the synthetic ground truth.

Usage: .venv/bin/python benchmarks/evaluate_shipped.py MODEL.onnx TEST_SET_DIR [--frames 300] [--seed 77]
Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from handpose_live.capture.record import write_db3
from handpose_live.capture.synthetic import SyntheticCamera
from handpose_live.commands.evaluate import eval_model
from handpose_live.evaluation.metrics import evaluate_xyz, map_at
from handpose_live.inference.runtime import read_model_info


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("test_set", type=Path)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--seed", type=int, default=77)
    args = ap.parse_args()
    info = read_model_info(args.model)
    report = {"model": args.model.name, "test_set": str(args.test_set)}
    report["test_set_metrics"] = eval_model(args.model, "synthetic", args.test_set, as_json=False)

    cam = SyntheticCamera(target=info.target, seed=args.seed, frames=args.frames)
    frames = list(cam.frames())
    with tempfile.TemporaryDirectory() as tmp:
        rec, out = Path(tmp) / "rec.db3", Path(tmp) / "joints.jsonl"
        write_db3(rec, frames, cam.intrinsics, paced=False)
        subprocess.run([sys.executable, "-m", "handpose_live", "run", "--input", str(rec), "--model", str(args.model),
                        "--target", info.target, "--output", str(out), "--viewer", "none", "--quiet"], check=True)
        records = [json.loads(line) for line in out.read_text().splitlines()]
    truth = np.stack([f.ground_truth_mm for f in frames])
    found = [r for r in records if r["found"]]
    pred = np.stack([np.array(r["joints_mm"]) for r in found])
    gt = truth[[r["frame"] for r in found]]
    res = evaluate_xyz(pred, gt)
    live = {"frames": len(records), "found": len(found), "mean_error_mm": round(res.mean_error_mm, 2),
            "success_20mm": round(res.success_at(20), 4), "success_40mm": round(res.success_at(40), 4),
            "latency_p50_ms": round(float(np.median([r["latency_ms"]["voxelize"] + r["latency_ms"]["inference"]
                                                     + r["latency_ms"]["centre"] for r in found])), 2)}
    if info.target == "body":
        live["map_10cm"] = round(float(map_at(pred, gt, 100.0).mean), 4)
    report["run_on_recording"] = live
    print(json.dumps(report))


if __name__ == "__main__":
    main()
