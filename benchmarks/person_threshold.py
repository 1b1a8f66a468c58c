"""How the person detector's threshold was chosen: recall and false candidates per frame on held-out
room scenes of its own training generator (`synth/rooms.py`, seed 999; the training used seed 0),
for several thresholds, per kind of view. Candidates only (before the pose network verifies them);
the scenes are rendered at the detector's resolution, so the detector runs on them unstrided. A
candidate is a hit when it lies within 10 detector pixels (about 40 full-resolution pixels) of a
torso not yet matched.

`--gate-frames N` also chooses the pipeline's rule for learned people (`targets.py`, `sure_detection`):
N held-out frames per view at each camera's full resolution, every candidate of the detector (down to
0.1) through the shipped body model, and for several rules the candidates kept that are a person
(the torso within 300 mm of a true one) and those that are none (no true torso within 600 mm).

    python benchmarks/person_threshold.py [--frames 300] [--gate-frames 40] [--detector models/person-detector.onnx]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose_live.calib import load_intrinsics  # noqa: E402
from handpose_live.inference.detector import Detector  # noqa: E402
from handpose_live.synth.rooms import ROOM_CAMERAS, VIEWS, render_room_scene  # noqa: E402

HIT_PX = 10.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300, help="scenes per view")
    ap.add_argument("--detector", type=Path, default=ROOT / "models" / "person-detector.onnx")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5, 0.6])
    ap.add_argument("--gate-frames", type=int, default=0, help="full-resolution frames per view for the gate rule")
    args = ap.parse_args()
    if args.gate_frames:
        gate_rules(args.detector, args.gate_frames)
    det = Detector(args.detector)
    cameras = list(ROOM_CAMERAS)
    print(f"file threshold {det.threshold}")
    print("| view | threshold | recall | false candidates per frame |")
    print("|---|---|---|---|")
    for view in VIEWS:
        rng = np.random.default_rng([999, list(VIEWS).index(view)])
        candidates, people = [], 0
        for i in range(args.frames):
            name = cameras[i % len(cameras)]
            depth, truth = render_room_scene(rng, load_intrinsics(name), name, view=view)
            people += len(truth)
            prob = det.heatmap(depth, stride=1)
            peaks = (prob >= cv2.dilate(prob, np.ones((3, 3), np.uint8))) & (prob >= 0.05)
            ys, xs = np.nonzero(peaks)
            o = det.output_stride
            used: set[int] = set()
            for k in np.argsort(-prob[ys, xs])[:8]:
                u, v = xs[k] * o + (o - 1) / 2, ys[k] * o + (o - 1) / 2
                match = [j for j, p in enumerate(truth)
                         if j not in used and np.hypot(p.centre_px[0] - u, p.centre_px[1] - v) < HIT_PX]
                if match:
                    used.add(match[0])
                candidates.append((float(prob[ys[k], xs[k]]), bool(match)))
        for th in args.thresholds:
            hits = sum(1 for p, ok in candidates if p >= th and ok)
            false = sum(1 for p, ok in candidates if p >= th and not ok)
            print(f"| {view} | {th:g} | {100 * hits / max(people, 1):.1f} % | {false / args.frames:.3f} |", flush=True)


def gate_rules(detector: Path, frames: int) -> None:
    from handpose_live.inference.pipeline import PipelineOptions, build_pipeline
    from handpose_live.inference.predictor import Predictor
    from handpose_live.resources import shipped_model
    from handpose_live.synth.render import render_depth_mm
    from handpose_live.synth.rooms import MIN_UPPER_VISIBLE, UPPER, person_visibility, room_sensor, sample_room_scene
    from handpose_live.targets import get_target
    from handpose_live.types import DepthFrame

    pipe = build_pipeline(Predictor(shipped_model("body", "fp32"), device="cpu", threads=2),
                          PipelineOptions(max_subjects=8, tracking=False), target="body", detector=detector)
    pipe.centre.detector.threshold = 0.1
    rows, cameras = [], list(ROOM_CAMERAS)
    for view in VIEWS:
        rng = np.random.default_rng([999, list(VIEWS).index(view)])
        for i in range(frames):
            intr = load_intrinsics(cameras[i % len(cameras)])
            surface, background, people = sample_room_scene(rng, intr, view)
            clean = render_depth_mm(surface, background, intr)
            sensor = room_sensor(intr, cameras[i % len(cameras)])
            frame = DepthFrame(sensor.apply(clean, intr, rng, (0, 0)), intr)
            seen = np.where((clean >= sensor.min_depth_mm) & (clean <= sensor.max_depth_mm), clean, 0.0)
            true = [p for p in people if person_visibility(p, seen, intr)[list(UPPER)].sum() >= MIN_UPPER_VISIBLE]
            found = pipe.centre.detect(frame, limit=8, exclude_mm=[])
            if not found:
                continue
            _, joints, conf, _ = pipe._fit(frame, np.stack([e.centre_mm for e in found]))
            for e, j, c in zip(found, joints, conf):
                d = min([np.linalg.norm(j[8] - p.joints_mm[8]) for p in true], default=np.inf)
                rows.append((e.probability, float(c.mean()), d < 300, d >= 600))
    p, s, person, none = (np.array(x) for x in zip(*rows))
    gate = pipe.min_confidence
    print(f"\n{len(rows)} candidates, {int(person.sum())} people, {int(none.sum())} none; body model gate {gate}")
    print("| threshold | sure (probability, score) | people kept | none kept |")
    print("|---|---|---|---|")
    shipped = get_target("body").sure_detection           # the pipeline's rule, among the others tried
    rules = sorted({(0.4, 0.35), (0.45, 0.35), (0.5, 0.3), (0.6, 0.3), shipped} - {None})
    for th in (0.2, 0.3):
        for sure in [None, *rules]:
            keep = (p >= th) & ((s >= gate) | ((p >= sure[0]) & (s >= sure[1])) if sure else (s >= gate))
            mark = " (shipped)" if sure is not None and sure == shipped else ""
            print(f"| {th:g} | {sure or '-'}{mark} | {int((keep & person).sum())} | {int((keep & none).sum())} |")


if __name__ == "__main__":
    main()
