"""Motion capture on the synthetic world: the skeleton fit (handpose_live/inference/kinematics.py) against
the network's own joints, live, as `handpose-live run` sees them.

For each seed, the synthetic camera's frames go through the whole pipeline as `run` builds it (the shipped
hand model and learned detector, up to 2 hands, tracking), the found hand nearest to the truth scored; its
`raw_joints_mm` (the network's) and `joints_mm` (the fitted skeleton's) come from the same frame:
- bone-length coefficient of variation per track: per bone std / mean of its length over the track's
  frames, the mean over bones; the mean over the tracks on the true hand weighted by their frames, over
  whole tracks and over each track after its first second (the shape's estimation, kinematics.py);
- mean joint error against the truth;
- excess jump (jitter): per joint |(p_t - p_t-1) - (g_t - g_t-1)| over consecutive frames of one track,
  mean and p99 (as benchmarks/live_quality.py);
- flexion angle error: |angle - true angle| at the joints whose angle between bones is the synthetic
  hand's own flexion parameter (the four fingers' PIP and DIP, the thumb's MCP and IP: each finger bends
  in one plane, so the angle between successive bones is the bend it was posed with), in degrees;
- palm normal error: the angle between the palm normal and the synthetic hand's own (its palmar axis:
  the normal of the plane of its wrist and MCPs), raw = the same frame formula on the network's joints;
- the fit's cost per hand (p50 of the pipeline's fit time per subject) on this machine.

Usage: python benchmarks/motion.py [--seeds 0 1 2 3 4] [--frames 600] [--json out.json]
Set-up of the published figures: 5 seeds x 600 frames, the shipped hand model, 2 threads.
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
from handpose_live.inference.kinematics import segment_frame, skeleton_model
from handpose_live.inference.pipeline import PipelineOptions, build_pipeline, fit_ms_of
from handpose_live.inference.predictor import Predictor
from handpose_live.resources import default_detector, shipped_model
from handpose_live.skeletons import HAND21

BONES = np.array(HAND21.bones)
# (joint, the joint before it, the joint after it): PIP and DIP of index..pinky, MCP and IP of the thumb
FLEXION = [(j, j - 1, j + 1) for f in range(4) for j in (6 + 4 * f, 7 + 4 * f)] + [(2, 1, 3), (3, 2, 4)]
CALIBRATION_FRAMES = 30          # the first second at the synthetic camera's 30 fps


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    return np.linalg.norm(joints[..., BONES[:, 1], :] - joints[..., BONES[:, 0], :], axis=-1)


def flexion_deg(joints: np.ndarray) -> np.ndarray:
    j, a, b = (np.array(x) for x in zip(*FLEXION))
    u, v = joints[..., j, :] - joints[..., a, :], joints[..., b, :] - joints[..., j, :]
    cos = (u * v).sum(-1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def true_palm_normal(joints: np.ndarray, side: str) -> np.ndarray:
    """The synthetic hand's palmar axis: the normal of its (flat) palm, out of the palm."""
    n = np.cross(joints[5] - joints[17], joints[9] - joints[0]) * (-1.0 if side == "left" else 1.0)
    return n / np.linalg.norm(n)


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)), -1.0, 1.0))))


def cv_percent(lengths: np.ndarray) -> float:
    return float((lengths.std(axis=0) / lengths.mean(axis=0)).mean() * 100.0)


def run_seed(predictor: Predictor, seed: int, frames: int) -> dict:
    pipeline = build_pipeline(predictor, PipelineOptions(max_subjects=2, detector=default_detector("hand")),
                              detector="geometric")        # run's pipeline: the learned detector, 2 hands
    model = skeleton_model(HAND21)
    assert model is not None
    tracks: dict[int, list] = {}
    errors, flex, palm, fit_ms = [], [], [], []
    for frame in SyntheticCamera(seed=seed, frames=frames).frames():
        result = pipeline.process(frame)
        ms = fit_ms_of(pipeline, frame)
        if ms is not None:
            fit_ms.append(ms / len(result.subjects))
        if not result.subjects:
            continue
        truth = frame.ground_truth_mm
        side = (frame.ground_truth_sides or ("right",))[0]
        s = min(result.subjects, key=lambda s: float(np.linalg.norm(np.asarray(s.raw_joints_mm) - truth, axis=1).mean()))
        raw, fit = np.asarray(s.raw_joints_mm, np.float64), np.asarray(s.joints_mm, np.float64)
        tracks.setdefault(s.id, []).append((frame.index, raw, fit, truth))
        errors.append((np.linalg.norm(raw - truth, axis=1).mean(), np.linalg.norm(fit - truth, axis=1).mean()))
        flex.append((np.abs(flexion_deg(raw) - flexion_deg(truth)).mean(),
                     np.abs(flexion_deg(fit) - flexion_deg(truth)).mean()))
        normal = true_palm_normal(truth, side)
        raw_normal = segment_frame(raw, model.segments[0], model.frame_sign(s.handedness == "left"))[:, 1]
        palm.append((angle_deg(raw_normal, normal), angle_deg(s.palm.normal, normal) if s.palm is not None else np.nan))
    cv, jumps = [], []
    for rows in tracks.values():
        raw = np.array([r[1] for r in rows])
        fit = np.array([r[2] for r in rows])
        truth = np.array([r[3] for r in rows])
        late = slice(CALIBRATION_FRAMES, None)
        cv.append({"frames": len(rows), "raw": cv_percent(bone_lengths(raw)), "fit": cv_percent(bone_lengths(fit)),
                   "raw_late": cv_percent(bone_lengths(raw[late])) if len(rows) > CALIBRATION_FRAMES + 1 else None,
                   "fit_late": cv_percent(bone_lengths(fit[late])) if len(rows) > CALIBRATION_FRAMES + 1 else None})
        index = np.array([r[0] for r in rows])
        step = np.flatnonzero(np.diff(index) == 1)          # consecutive frames of the track
        dg = truth[step + 1] - truth[step]
        jumps.append((np.linalg.norm(raw[step + 1] - raw[step] - dg, axis=-1).ravel(),
                      np.linalg.norm(fit[step + 1] - fit[step] - dg, axis=-1).ravel()))
    e, f, p = np.array(errors), np.array(flex), np.array(palm)
    jr = np.concatenate([j[0] for j in jumps]) if jumps else np.zeros(1)
    jf = np.concatenate([j[1] for j in jumps]) if jumps else np.zeros(1)
    return {"seed": seed, "frames": frames, "scored": len(e), "tracks": cv,
            "raw_mean_mm": float(e[:, 0].mean()), "fit_mean_mm": float(e[:, 1].mean()),
            "raw_excess_jump_mean_mm": float(jr.mean()), "fit_excess_jump_mean_mm": float(jf.mean()),
            "raw_excess_jump_p99_mm": float(np.percentile(jr, 99)), "fit_excess_jump_p99_mm": float(np.percentile(jf, 99)),
            "raw_flexion_deg": float(f[:, 0].mean()), "fit_flexion_deg": float(f[:, 1].mean()),
            "raw_palm_normal_deg": float(np.nanmean(p[:, 0])), "fit_palm_normal_deg": float(np.nanmean(p[:, 1])),
            "fit_ms_per_hand": [float(v) for v in fit_ms]}


def summarise(rows: list[dict]) -> dict:
    tracks = [t for r in rows for t in r["tracks"]]
    n = np.array([t["frames"] for t in tracks], np.float64)
    late = [t for t in tracks if t["fit_late"] is not None]
    nl = np.array([t["frames"] - CALIBRATION_FRAMES for t in late], np.float64)
    scored = np.array([r["scored"] for r in rows], np.float64)

    def pooled(key: str) -> float:        # frame-weighted over seeds
        return float(np.average([r[key] for r in rows], weights=scored))
    out = {"tracks": len(tracks),
           "raw_bone_cv_pct": float(np.average([t["raw"] for t in tracks], weights=n)),
           "fit_bone_cv_pct": float(np.average([t["fit"] for t in tracks], weights=n)),
           "raw_bone_cv_after_1s_pct": float(np.average([t["raw_late"] for t in late], weights=nl)),
           "fit_bone_cv_after_1s_pct": float(np.average([t["fit_late"] for t in late], weights=nl))}
    for key in ("raw_mean_mm", "fit_mean_mm", "raw_excess_jump_mean_mm", "fit_excess_jump_mean_mm",
                "raw_flexion_deg", "fit_flexion_deg", "raw_palm_normal_deg", "fit_palm_normal_deg"):
        out[key] = pooled(key)
    for key in ("raw_excess_jump_p99_mm", "fit_excess_jump_p99_mm"):
        out[key] = float(np.mean([r[key] for r in rows]))
    out["fit_minus_raw_mm"] = out["fit_mean_mm"] - out["raw_mean_mm"]
    out["fit_ms_per_hand_p50"] = float(np.percentile([v for r in rows for v in r["fit_ms_per_hand"]], 50))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    predictor = Predictor(args.model or shipped_model("hand", device="cpu"), device="cpu", threads=args.threads)
    rows = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        rows.append(run_seed(predictor, seed, args.frames))
        r = rows[-1]
        print(f"seed {seed}: error raw {r['raw_mean_mm']:.2f} fit {r['fit_mean_mm']:.2f} mm, bone CV "
              + ", ".join(f"{t['raw']:.1f} -> {t['fit']:.2f} %" for t in r["tracks"])
              + f", excess jump {r['raw_excess_jump_mean_mm']:.2f} -> {r['fit_excess_jump_mean_mm']:.2f} mm "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    summary = summarise(rows)
    print(json.dumps(summary, indent=1))
    if args.json:
        for r in rows:
            r["fit_ms_per_hand"] = float(np.percentile(r["fit_ms_per_hand"], 50))
        atomic_write_text(args.json, json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                 "summary": summary, "seeds": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
