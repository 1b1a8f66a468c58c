"""What the live path lost with the near face's pixel window, and gains with the whole cube's.

A cube off the optical axis reaches further towards the image centre with its far face than with
its near one. Until 2026-11-30 `geometry.cube_roi_px` bounded the near face only, so the live
voxelizer dropped the strip of each off-axis cube nearest the image centre: fingers pointing
that way lost their tips. The window now bounds all 8 corners.

Set-up: frames of the synthetic world (`--world`, `--seed`; not a seed any model was trained on),
rendered over the whole cube's window (`render_dataset_frame(..., near_face_window=False)`), each
through the model at its true centre twice: with the depth outside the near face's window zeroed
(what the live path did before) and as it is (what it does now). Same frames, same sensor noise,
so the difference is the window alone. "Affected" frames have a joint whose pixel lies outside the
near face's window. The shipped models were trained on synth-2 data, which is rendered over the
near face's window (kept, so datasets stay reproducible), so they gain without retraining.

Usage: .venv/bin/python benchmarks/cube_window.py [--target hand] [--frames 400] [--seed 4242]
       [--world classic] [--model FILE] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handpose_live.calib import load_intrinsics  # noqa: E402
from handpose_live.fileio import atomic_write_text  # noqa: E402
from handpose_live.geometry import camera_to_pixel, clamp_roi, cube_roi_px  # noqa: E402
from handpose_live.inference.predictor import Predictor  # noqa: E402
from handpose_live.resources import default_model  # noqa: E402
from handpose_live.synth.generate import render_dataset_frame  # noqa: E402


def measure(target: str, frames: int, seed: int, world: str, model: Path, threads: int = 2) -> dict:
    intr = load_intrinsics("d435-640x480")
    predictor = Predictor(model, device="cpu", threads=threads)
    cube = predictor.cube_mm
    near, whole, affected = [], [], []
    for i in range(frames):
        f = render_dataset_frame(target, intr, seed, i, world, near_face_window=False)
        image = np.zeros((intr.height, intr.width), np.float32)
        u0, v0, u1, v1 = f.roi_px
        image[v0:v1, u0:u1] = f.depth_mm
        centre = f.centre_mm.astype(np.float64)
        n0, m0, n1, m1 = clamp_roi(cube_roi_px(centre, cube, intr, near_face_only=True), intr.width, intr.height)
        cut = np.zeros_like(image)
        cut[m0:m1, n0:n1] = image[m0:m1, n0:n1]
        for depth, errors in ((cut, near), (image, whole)):
            joints, _, _ = predictor.predict_centres(depth, intr, centre[None])
            errors.append(float(np.linalg.norm(joints[0] - f.joints_mm, axis=-1).mean()))
        uv = camera_to_pixel(f.joints_mm.astype(np.float64), intr)
        a0, b0, a1, b1 = cube_roi_px(centre, cube, intr, near_face_only=True)
        affected.append(bool(((uv[:, 0] < a0) | (uv[:, 0] >= a1) | (uv[:, 1] < b0) | (uv[:, 1] >= b1)).any()))
    near_a, whole_a, aff = np.array(near), np.array(whole), np.array(affected)
    report = {"target": target, "world": world, "seed": seed, "frames": frames, "model": model.name,
              "affected_frames": int(aff.sum()), "affected_pct": 100.0 * aff.mean(),
              "near_face_mm": float(near_a.mean()), "whole_cube_mm": float(whole_a.mean())}
    if aff.any():
        report.update({"affected_near_face_mm": float(near_a[aff].mean()), "affected_whole_cube_mm": float(whole_a[aff].mean())})
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="hand", choices=["hand", "body"])
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--world", default="classic")
    ap.add_argument("--model", type=Path, default=None, help="default: the shipped fp32 model of --target")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    report = measure(args.target, args.frames, args.seed, args.world, args.model or default_model(args.target), args.threads)
    text = json.dumps(report, indent=1)
    if args.json:
        atomic_write_text(args.json, text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
