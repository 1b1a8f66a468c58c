"""How the hand detector's threshold was chosen: recall and false candidates per frame on held-out
scenes of its own training generator (`synth/scenes.py`, seed 999; the training used seed 0), for
several thresholds. Candidates only (before the pose network verifies them); a candidate is a hit
when it lies within 40 px of a palm not yet matched.

    python benchmarks/detector_threshold.py [--frames 400] [--detector models/hand-detector.onnx]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose_live.calib import load_intrinsics  # noqa: E402
from handpose_live.inference.detector import Detector  # noqa: E402
from handpose_live.synth.scenes import render_detection_scene  # noqa: E402
from handpose_live.training.detector import scene_sensor  # noqa: E402

CAMERAS = ("d435-640x480", "sr305", "nyu")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--detector", type=Path, default=ROOT / "models" / "hand-detector.onnx")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5, 0.6])
    args = ap.parse_args()
    det = Detector(args.detector)
    training = det.meta.get("training_data", {})       # which sensor model its scenes had (generator scenes-1/-2)
    det.threshold = 0.05
    rng = np.random.default_rng([999])
    candidates, palms, ms, kept = [], 0, [], []
    for i in range(args.frames):
        camera = CAMERAS[i % len(CAMERAS)]
        intr = load_intrinsics(camera)
        depth, hands = render_detection_scene(rng, intr, scene_sensor(training, camera))   # as its training scenes
        palms += len(hands)
        used: set[int] = set()
        t0 = time.perf_counter()
        proposals = det.propose(depth, 6)
        if (intr.width, intr.height) == (640, 480) and i >= len(CAMERAS):
            ms.append((time.perf_counter() - t0) * 1e3)
            kept = (kept + [depth])[-20:]
        for u, v, p in proposals:
            match = [k for k, h in enumerate(hands) if k not in used and np.hypot(h.centre_px[0] - u, h.centre_px[1] - v) < 40]
            if match:
                used.add(match[0])
            candidates.append((p, bool(match)))
    steady = []
    for _ in range(5):                       # a live loop: the same detector, frame after frame
        for depth in kept:
            t0 = time.perf_counter()
            det.propose(depth, 6)
            steady.append((time.perf_counter() - t0) * 1e3)
    print(f"{args.frames} scenes, {palms} palms; file threshold {Detector(args.detector).threshold}; "
          f"detector at 640x480, 1 thread: {np.percentile(steady, 50):.2f} ms p50 frame after frame, "
          f"{np.percentile(ms, 50):.2f} ms p50 between scene renders (cold caches)")
    print("| threshold | recall | false candidates per frame |")
    print("|---|---|---|")
    for th in args.thresholds:
        hits = sum(1 for p, ok in candidates if p >= th and ok)
        false = sum(1 for p, ok in candidates if p >= th and not ok)
        print(f"| {th:g} | {100 * hits / max(palms, 1):.1f} % | {false / args.frames:.3f} |")


if __name__ == "__main__":
    main()
