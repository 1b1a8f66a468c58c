"""Real rooms: people found at a desk, in an office crowd and seen from high up; no hands on heads.

Two kinds of frames, each run through `PosePipeline` as `run` builds it (`build_pipeline`, the
shipped fp32 models), once per person detector asked for (`--detectors`, e.g. `geometric auto`):

1. Real: the 232 frames of ../shared/data/real-depth/bonn-crowd (an office, a Kinect-class camera,
   2-3 people walking among desks and chairs), replayed in order with tracking as `run` does, and
   scored on the 47 frames labelled by hand in benchmarks/labels/bonn-crowd-people.json (people
   mostly in view, and slivers at the borders). Per frame the count of people reported is right when
   it lies in [people, people + slivers]; people found = sum of min(reported, people) / sum of people;
   false people = sum of max(0, reported - people - slivers), per 1,000 frames. The hand pipeline on
   the same 232 frames gives the hands reported where nobody raises one (hands per 1,000 frames).
2. Synthetic rooms (`synth/rooms.py`), held out (seed 777 unless `--seed`), whole frames at each
   camera's full resolution through its sensor family, per view: `desk` (one person 0.5-1.5 m away,
   upper body only, maybe others behind), `office` (0-4 people), `high` (a camera high on a wall).
   Every frame is a fresh detection (no tracking). A true person (one the detector is trained to
   find: `MIN_UPPER_VISIBLE` upper-body joints visible) is found when a reported person's torso lies
   within 300 mm of theirs; reported people matching no true one are false; counted right = the
   count reported equals the count of true people; mAP@10cm over the found people's 15 joints.

Usage: .venv/bin/python benchmarks/real_rooms.py [--detectors geometric auto] [--frames 60] [--seed 777]
       [--max-people 4] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from handpose_live.calib import load_intrinsics
from handpose_live.evaluation.metrics import map_at
from handpose_live.fileio import atomic_write_text
from handpose_live.inference.pipeline import PipelineOptions, build_pipeline
from handpose_live.inference.predictor import Predictor
from handpose_live.resources import shipped_model
from handpose_live.synth.render import render_depth_mm
from handpose_live.synth.rooms import (
    MIN_UPPER_VISIBLE,
    ROOM_CAMERAS,
    UPPER,
    VIEWS,
    person_visibility,
    room_sensor,
    sample_room_scene,
)
from handpose_live.types import DepthFrame, Intrinsics

REPO = Path(__file__).resolve().parents[1]
BONN = REPO.parent / "shared" / "data" / "real-depth" / "bonn-crowd"
LABELS = REPO / "benchmarks" / "labels" / "bonn-crowd-people.json"
BONN_INTR = Intrinsics(542.822841, 542.576870, 315.593520, 237.756098, 640, 480, 0.0002)   # its README
TORSO = 8                 # itop15
MATCH_MM = 300.0


def bonn(detector: str, max_people: int, threads: int, folder: Path = BONN, every: int = 1) -> dict:
    labels = json.loads(LABELS.read_text())["frames"]
    files = sorted(folder.glob("bonn-crowd-*.png"))[::every]
    if not files:
        raise SystemExit(f"error: no frames in {folder}")
    out = {}
    for target, limit in (("body", max_people), ("hand", 2)):
        pipe = build_pipeline(Predictor(shipped_model(target, "fp32"), device="cpu", threads=threads),
                              PipelineOptions(max_subjects=limit), target=target,
                              detector=detector if target == "body" or detector in ("auto", "geometric") else "auto")
        counts = {}
        t0 = time.perf_counter()
        for i, f in enumerate(files):
            depth = cv2.imread(str(f), cv2.IMREAD_UNCHANGED).astype(np.float32) * (BONN_INTR.depth_scale_m * 1000)
            counts[f.stem.rsplit("-", 1)[1]] = len(pipe.process(DepthFrame(depth, BONN_INTR, 33.3 * i, i)).subjects)
        ms = (time.perf_counter() - t0) * 1e3 / len(files)
        if target == "hand":
            out["hands_per_1000"] = 1000.0 * sum(counts.values()) / len(files)
            continue
        labels = {k: v for k, v in labels.items() if k in counts}
        right = sum(p <= counts[k] <= p + q for k, (p, q) in labels.items())
        found = sum(min(counts[k], p) for k, (p, q) in labels.items())
        false = sum(max(0, counts[k] - p - q) for k, (p, q) in labels.items())
        people = sum(p for p, _ in labels.values())
        with_people = [k for k, (p, _) in labels.items() if p > 0]
        out.update(frames=len(labels), counted_right=right, people=people, people_found=found,
                   found_pct=100.0 * found / people, false_per_1000=1000.0 * false / len(labels),
                   counted_right_with_people=sum(labels[k][0] <= counts[k] <= sum(labels[k]) for k in with_people),
                   frames_with_people=len(with_people), body_ms_per_frame=ms,
                   per_frame={k: counts[k] for k in labels})
    return out


def synthetic(detector: str, view: str, frames: int, seed: int, max_people: int, threads: int) -> dict:
    pipe = build_pipeline(Predictor(shipped_model("body", "fp32"), device="cpu", threads=threads),
                          PipelineOptions(max_subjects=max_people, tracking=False), target="body", detector=detector)
    rng = np.random.default_rng([seed, list(VIEWS).index(view)])
    cameras = list(ROOM_CAMERAS)
    truth_n = found = false = right = 0
    preds, truths = [], []
    for i in range(frames):
        name = cameras[i % len(cameras)]
        intr = load_intrinsics(name)
        surface, background, people = sample_room_scene(rng, intr, view)
        clean = render_depth_mm(surface, background, intr)
        sensor = room_sensor(intr, name)
        depth = sensor.apply(clean, intr, rng, (0, 0))
        seen = np.where((clean >= sensor.min_depth_mm) & (clean <= sensor.max_depth_mm), clean, 0.0)
        true = [p for p in people if person_visibility(p, seen, intr)[list(UPPER)].sum() >= MIN_UPPER_VISIBLE]
        result = pipe.process(DepthFrame(depth, intr, 33.3 * i, i))
        used = set()
        for s in result.subjects:
            torso = np.asarray(s.joints_mm)[TORSO]
            dist = [np.linalg.norm(torso - p.joints_mm[TORSO]) if k not in used else np.inf for k, p in enumerate(true)]
            k = int(np.argmin(dist)) if dist else -1
            if k >= 0 and dist[k] < MATCH_MM:
                used.add(k)
                preds.append(np.asarray(s.joints_mm))
                truths.append(true[k].joints_mm)
            else:
                false += 1
        truth_n += len(true)
        found += len(used)
        right += len(result.subjects) == len(true)
    m = 100.0 * map_at(np.stack(preds), np.stack(truths), 100.0).mean if preds else float("nan")
    return {"frames": frames, "people": truth_n, "found_pct": 100.0 * found / max(truth_n, 1),
            "false_per_1000": 1000.0 * false / frames, "counted_right_pct": 100.0 * right / frames, "map_10cm_found": m}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--detectors", nargs="+", default=["geometric", "auto"], help="as `run --detector`")
    ap.add_argument("--frames", type=int, default=60, help="synthetic frames per view")
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--max-people", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--bonn", type=Path, default=BONN, help="the bonn-crowd frames (../shared/data/real-depth/bonn-crowd)")
    ap.add_argument("--bonn-every", type=int, default=1, help="replay every Nth file only (5: the labelled ones; quick runs)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    report: dict = {"max_people": args.max_people, "seed": args.seed}
    for det in args.detectors:
        row: dict = {}
        if not args.skip_real:
            row["bonn"] = bonn(det, args.max_people, args.threads, args.bonn, args.bonn_every)
            b = row["bonn"]
            print(f"[{det}] bonn-crowd: counted right {b['counted_right']}/{b['frames']} "
                  f"({b['counted_right_with_people']}/{b['frames_with_people']} with people), people found "
                  f"{b['people_found']}/{b['people']} ({b['found_pct']:.1f} %), false people {b['false_per_1000']:.0f} "
                  f"per 1000 frames, hands {b['hands_per_1000']:.0f} per 1000 frames, body {b['body_ms_per_frame']:.1f} ms/frame",
                  flush=True)
        for view in VIEWS:
            r = synthetic(det, view, args.frames, args.seed, args.max_people, args.threads)
            row[view] = r
            print(f"[{det}] synthetic {view}: {r['people']} people in {r['frames']} frames, found {r['found_pct']:.1f} %, "
                  f"false {r['false_per_1000']:.0f} per 1000 frames, counted right {r['counted_right_pct']:.1f} %, "
                  f"mAP@10cm {r['map_10cm_found']:.1f} %", flush=True)
        report[det] = row
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
