"""Why the hand detector's input stride follows the camera's focal length: candidate recall and
false candidates per frame of the shipped detector on held-out scenes (`synth/scenes.py`, seed 999;
training used seed 0) rendered for cameras of short and long focal lengths, at each stride.

The detector was trained at 160x120 for every camera, i.e. at focal lengths of 96-147 px at its
input. A candidate is a hit when it lies within 40 px (at the D435's focal length; scaled with fx)
of a palm not yet matched. The last column is the stride `Detector.stride_for` picks.

    python benchmarks/detector_stride.py [--frames 100] [--detector models/hand-detector.onnx]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose_live.calib import load_intrinsics  # noqa: E402
from handpose_live.inference.detector import Detector  # noqa: E402
from handpose_live.synth.scenes import render_detection_scene  # noqa: E402
from handpose_live.training.detector import scene_sensor  # noqa: E402

CAMERAS = {   # name -> (calib preset, size it streams at)
    "Azure Kinect NFOV binned 320x288": ("azure-kinect", (320, 288)),
    "Kinect v2 512x424": ("kinect-v2", None),
    "D435 640x480": ("d435-640x480", None),
    "SR305 640x480": ("sr305", None),
    "D415 640x480": ("d415", None),
    "D455 1280x720": ("d455-848x480", (1280, 720)),
}
STRIDES = (2, 3, 4, 5, 6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--detector", type=Path, default=ROOT / "models" / "hand-detector.onnx")
    args = ap.parse_args()
    det = Detector(args.detector)
    sensor = scene_sensor(det.meta.get("training_data", {}), "d435-640x480")   # its training scenes' sensor model
    print(f"{args.frames} scenes per camera; recall / false candidates per frame at the file threshold {det.threshold}")
    print("| camera | fx (px) | " + " | ".join(f"stride {s}" for s in STRIDES) + " | picked |")
    print("|---|---|" + "---|" * len(STRIDES) + "---|")
    for name, (preset, size) in CAMERAS.items():
        intr = load_intrinsics(preset)
        intr = intr.scaled(*size) if size else intr
        rng = np.random.default_rng([999])
        scenes = [render_detection_scene(rng, intr, sensor) for _ in range(args.frames)]
        palms = sum(len(hands) for _, hands in scenes)
        radius = 40.0 * intr.fx / load_intrinsics("d435-640x480").fx
        cells = []
        for stride in STRIDES:
            det.input_stride = stride        # the stride under test, for every focal length
            hits = false = 0
            for depth, hands in scenes:
                used: set[int] = set()
                for u, v, _ in det.propose(depth, 6):
                    match = [k for k, h in enumerate(hands)
                             if k not in used and np.hypot(h.centre_px[0] - u, h.centre_px[1] - v) < radius]
                    used.update(match[:1])
                    hits, false = hits + bool(match), false + (not match)
            cells.append(f"{100 * hits / max(palms, 1):.0f} % / {false / args.frames:.2f}")
        picked = Detector(args.detector).stride_for(intr.fx)
        print(f"| {name} | {intr.fx:.0f} | " + " | ".join(cells) + f" | {picked} |", flush=True)


if __name__ == "__main__":
    main()
