"""Detection on synthetic scenes: hands found, false subjects on hand-free clutter, handedness.

Three kinds of scenes, rendered once and replayed as sequences through both set-ups side by side:
- two hands (a right and a left, `SyntheticCamera(hands=2)`), seeds 0-2 x FRAMES frames;
- one hand of a random side in front of a wall, seeds 3-5 x FRAMES frames;
- hand-free clutter: a wall at 0.7-1.4 m, a table plane half the time, and 1-4 objects (ellipsoids,
  capsules) at 0.3-0.9 m, i.e. nearer than where hands usually are, CLUTTER frames in 10 sequences.
Set-ups: "before" is the single-subject pipeline (`max_hands=1`: the nearest blob, tracked);
"geometric, max 2" proposes several nearest blobs and lets the network verify them; "learned,
max 2" takes the candidates from the learned detector (`--detector`, default: the shipped one).
A true hand counts as found when a reported hand's mean joint error to it is below 40 mm.

    python benchmarks/detection.py [--frames 60] [--clutter 200] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose_live.capture.synthetic import SyntheticCamera  # noqa: E402
from handpose_live.fileio import atomic_write_text  # noqa: E402
from handpose_live.geometry import back_project  # noqa: E402
from handpose_live.synth.render import Background, Plane, render_depth_mm  # noqa: E402
from handpose_live.synth.sensor import SensorModel  # noqa: E402
from handpose_live.synth.shapes import Surface, rotation_about  # noqa: E402
from handpose_live.synth.world import add_distractor  # noqa: E402
from handpose_live.tracker import Tracker  # noqa: E402
from handpose_live.types import DepthFrame  # noqa: E402

MATCH_MM = 40.0
SETUPS = {"before (one nearest candidate)": (1, "geometric"), "geometric, max 2": (2, "geometric"),
          "learned, max 2": (2, "auto")}


def clutter_sequences(count: int, sequences: int = 10):
    """Hand-free scenes: each sequence one static room, frames differ by sensor noise."""
    cam = SyntheticCamera(frames=1)
    intr = cam.intrinsics
    sensor = SensorModel()
    out = []
    for k in range(sequences):
        rng = np.random.default_rng([7, k])
        bg = Background()
        n = rotation_about(rng.normal(size=3) * [1, 1, 0] + [1e-9, 0, 0], np.deg2rad(rng.uniform(0, 25))) @ [0, 0, 1.0]
        bg.planes.append(Plane(n, float(rng.uniform(700, 1400))))
        if rng.random() < 0.5:
            t = rotation_about([1.0, 0, 0], np.deg2rad(rng.uniform(-35, 10))) @ [0, 1.0, 0]
            bg.planes.append(Plane(t, float(rng.uniform(100, 300))))
        for _ in range(int(rng.integers(1, 5))):
            c = np.array(back_project(rng.uniform(0, intr.width), rng.uniform(0, intr.height), rng.uniform(300, 900), intr))
            add_distractor(rng, bg.distractors, c)
        clean = render_depth_mm(Surface(), bg, intr)
        frames = [DepthFrame(sensor.apply(clean, intr, rng, (0, 0)), intr, timestamp_ms=1000.0 * i / 30, index=i)
                  for i in range(count // sequences)]
        out.append(frames)
    return out


def evaluate(max_hands: int, detector: str, sequences) -> dict:
    true_hands = found = sides_known = sides_right = reported = unmatched = frames = 0
    errors, ms = [], []
    for seq in sequences:
        tracker = Tracker(camera="synthetic", max_hands=max_hands, detector=detector)
        for frame in seq:
            t0 = time.perf_counter()
            result = tracker.process_frame(frame)
            ms.append((time.perf_counter() - t0) * 1e3)
            frames += 1
            reported += len(result.hands)
            matched = set()
            if frame.ground_truth_mm is not None:
                truths = np.asarray(frame.ground_truth_mm)
                truths = truths[None] if truths.ndim == 2 else truths
                for truth, side in zip(truths, frame.ground_truth_sides or (None,) * len(truths)):
                    true_hands += 1
                    cands = [(float(np.linalg.norm(np.asarray(h.joints_mm) - truth, axis=1).mean()), i)
                             for i, h in enumerate(result.hands) if i not in matched]
                    if not cands:
                        continue
                    err, i = min(cands)
                    if err > MATCH_MM:
                        continue
                    matched.add(i)
                    found += 1
                    errors.append(err)
                    if side is not None and result.hands[i].handedness is not None:
                        sides_known += 1
                        sides_right += result.hands[i].handedness == side
            unmatched += len(result.hands) - len(matched)
    return {"frames": frames, "true_hands": true_hands, "found": found, "reported": reported,
            "detection_rate": found / true_hands if true_hands else None,
            "false_per_1000_frames": 1000.0 * unmatched / frames,
            "handedness_accuracy": sides_right / sides_known if sides_known else None,
            "mean_error_mm": float(np.mean(errors)) if errors else None,
            "pipeline_ms_p50": float(np.percentile(ms, 50))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60, help="frames per hand sequence")
    ap.add_argument("--clutter", type=int, default=200, help="hand-free frames")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--detector", default="auto", help="the learned detector to measure (default: the shipped one)")
    ap.add_argument("--only", nargs="*", help="set-ups to run (default: all)")
    args = ap.parse_args()
    print("rendering scenes ...", file=sys.stderr, flush=True)
    scenes = {
        "two hands": [list(SyntheticCamera(seed=s, frames=args.frames, hands=2).frames()) for s in (0, 1, 2)],
        "one hand, random side": [list(SyntheticCamera(seed=s, frames=args.frames).frames()) for s in (3, 4, 5)],
        "hand-free clutter": clutter_sequences(args.clutter),
    }
    report = {"match_mm": MATCH_MM, "frames_per_hand_sequence": args.frames, "clutter_frames": args.clutter,
              "results": {}}
    for setup, (max_hands, detector) in SETUPS.items():
        if args.only and setup not in args.only:
            continue
        detector = args.detector if detector == "auto" else detector
        for scene, seqs in scenes.items():
            print(f"{setup}: {scene} ...", file=sys.stderr, flush=True)
            report["results"][f"{setup} | {scene}"] = evaluate(max_hands, detector, seqs)
    print("| set-up | scenes | hands found | false subjects / 1000 frames | handedness right | mean error mm | p50 ms |")
    print("|---|---|---|---|---|---|---|")
    for key, r in report["results"].items():
        setup, scene = key.split(" | ")
        rate = "-" if r["detection_rate"] is None else f"{100 * r['detection_rate']:.1f} % of {r['true_hands']}"
        side = "-" if r["handedness_accuracy"] is None else f"{100 * r['handedness_accuracy']:.1f} %"
        err = "-" if r["mean_error_mm"] is None else f"{r['mean_error_mm']:.1f}"
        print(f"| {setup} | {scene} | {rate} | {r['false_per_1000_frames']:.0f} | {side} | {err} | {r['pipeline_ms_p50']:.1f} |")
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
