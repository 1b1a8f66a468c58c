"""Heads are not hands: hands reported on heads and faces at hand range, on held-out synthetic scenes.

SEQUENCES static scenes, each replayed as FRAMES frames (only the sensor noise changes), through the
app's default set-up (learned detector, up to 2 hands, fp32 hand model). Each scene is a person
(`synth/scenes.py: person_from_head`: head with nose and ears, sometimes glasses or hair; neck,
shoulders, torso) whose head is at hand range, in front of a wall, as one of four kinds in turn:
- "head": the head at 300-800 mm, turned and tilted a little, no hand in view;
- "hand in front": one hand held up 100-350 mm in front of the head (the field report: one right
  hand in front of the body, the head reported as a second hand);
- "hand by face": one hand right beside the face (on the side of the image's centre), at about its depth;
- "leaning": the person leaning 15-45 degrees towards the camera, the head nearest, no hand.
Heads lie within the middle half of the image. The cameras alternate: SR305 through the SR300 coded-light sensor
model, D435 through the D4xx
stereo model. Seeds [SEED, k]: the detector's training scenes use seed 0 (`train-detector --seed`).
A reported hand is found when its palm reference point lies within MATCH_MM of a true palm, on a
head when it is not found and lies within HEAD_MM of the head's centre; else it is another false
hand (shoulders, torso, wall). The detector alone is measured too: its candidates (above the
file's threshold) whose near surface (`centre/learned.py`: the 25th percentile of the depths
around the pixel) lies within HEAD_MM of the head's centre and not within MATCH_MM of a palm,
per 1000 frames: what the pose network must reject, and on real heads did not always
(`docs/results.md`, "Heads are not hands").

    python benchmarks/heads.py [--sequences 80] [--frames 10] [--detector FILE] [--before] [--json out.json]

`--before`: the gate as it was before second learned candidates needed more than the model's gate
(`inference/pipeline.py`, `_SECOND_MIN_SCORE`). `--real DIR`: instead, the real SR305 frames
`DIR/sr305-*.png` (`../shared/data/real-depth`), in order as `run --input` plays them and each
alone (a fresh tracker: every frame a first frame), with each reported hand's side and score.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose_live.calib import load_intrinsics  # noqa: E402
from handpose_live.capture.images import list_images, read_depth_image  # noqa: E402
from handpose_live.fileio import atomic_write_text  # noqa: E402
from handpose_live.geometry import back_project, pixels_to_points_mm  # noqa: E402
from handpose_live.skeletons import reference_point_mm  # noqa: E402
from handpose_live.synth.render import Background, Plane, render_depth_mm  # noqa: E402
from handpose_live.synth.scenes import person_from_head, place_hand  # noqa: E402
from handpose_live.synth.sensor import SENSORS  # noqa: E402
from handpose_live.synth.shapes import Surface, rotation_about  # noqa: E402
from handpose_live.tracker import Tracker  # noqa: E402
from handpose_live.types import DepthFrame  # noqa: E402

SEED = 4242
KINDS = ("head", "hand in front", "hand by face", "leaning")
CAMERAS = (("sr305", "sr300"), ("d435-640x480", "d4xx"))
MATCH_MM = 50.0
HEAD_MM = 200.0


def head_scene(k: int):
    """Scene k: (camera intrinsics, sensor name, clean depth, true palms [n, 3] mm, head centre mm, kind)."""
    rng = np.random.default_rng([SEED, k])
    kind = KINDS[k % len(KINDS)]
    camera, sensor = CAMERAS[(k // len(KINDS)) % len(CAMERAS)]
    intr = load_intrinsics(camera)
    scale = rng.uniform(0.85, 1.15)
    z_head = rng.uniform(300, 800) if kind in ("head", "leaning") else rng.uniform(450, 800)
    head = np.array(back_project(rng.uniform(0.25, 0.75) * intr.width, rng.uniform(0.2, 0.6) * intr.height, z_head,
                                 intr), np.float64)
    lean = np.deg2rad(rng.uniform(15, 45) if kind == "leaning" else rng.uniform(-5, 10))
    rotation = rotation_about([0, 1.0, 0], np.deg2rad(rng.normal(0, 25))) \
        @ rotation_about([0, 0, 1.0], np.deg2rad(rng.uniform(-20, 20))) @ rotation_about([1.0, 0, 0], lean)
    background = Background()
    background.distractors.extend(person_from_head(rng, scale).transformed(rotation, head))
    background.planes.append(Plane(np.array([0, 0, 1.0]), float(z_head + rng.uniform(400, 1500))))
    hands, surface = [], Surface()
    if kind == "hand in front":
        z = max(z_head - rng.uniform(100, 350), 300.0)
        centre = np.array([z * rng.uniform(-0.3, 0.1), z * rng.uniform(-0.1, 0.25), z])
        hands.append(place_hand(rng, intr, surface, False, centre))
    elif kind == "hand by face":
        side = -1.0 if head[0] > 0 else 1.0          # towards the image's centre, so it stays in view
        centre = head + [side * rng.uniform(120, 200) * scale, rng.uniform(-40, 80), -rng.uniform(0, 80)]
        hands.append(place_hand(rng, intr, surface, side > 0, centre))
    whole = Surface()
    whole.extend(surface)
    clean = render_depth_mm(whole, background, intr)
    palms = np.array([h.centre_mm for h in hands], np.float64).reshape(-1, 3)
    return intr, sensor, clean, palms, head, kind, rng


def head_sequences(sequences: int, frames: int):
    """[(frames, true palms, head centre, kind)] for scenes 0..sequences-1."""
    out = []
    for k in range(sequences):
        intr, sensor, clean, palms, head, kind, rng = head_scene(k)
        seq = [DepthFrame(SENSORS[sensor].apply(clean, intr, rng, (0, 0)), intr, timestamp_ms=1000.0 * i / 30, index=i)
               for i in range(frames)]
        out.append((seq, palms, head, kind))
    return out


def classify(joints_mm: np.ndarray, palms: np.ndarray, head: np.ndarray, used: set[int]) -> str:
    """"found" (a true palm within MATCH_MM, not matched before), "head" or "other"."""
    ref = reference_point_mm("hand21", joints_mm)
    dist = [(float(np.linalg.norm(ref - p)), i) for i, p in enumerate(palms) if i not in used]
    if dist and min(dist)[0] < MATCH_MM:
        used.add(min(dist)[1])
        return "found"
    return "head" if np.linalg.norm(ref - head) < HEAD_MM else "other"


def candidates_on_head(det, frame: DepthFrame, palms: np.ndarray, head: np.ndarray) -> int:
    """The detector's candidates in this frame whose near surface lies on the head (not on a palm)."""
    depth, intr, count = frame.depth_mm, frame.intrinsics, 0
    for u, v, _ in det.propose(depth, 6, fx=intr.fx):
        ui, vi = int(round(u)), int(round(v))
        window = depth[max(vi - 4, 0):vi + 5, max(ui - 4, 0):ui + 5]
        zs = window[window > 0]
        if zs.size == 0:
            continue
        point = pixels_to_points_mm(np.array([u]), np.array([v]), np.array([np.percentile(zs, 25)]), intr)[0]
        if np.linalg.norm(point - head) < HEAD_MM and not any(np.linalg.norm(point - p) < MATCH_MM for p in palms):
            count += 1
    return count


def evaluate(sequences, detector: str = "auto", precision: str = "fp32") -> dict:
    per_kind = {kind: {"frames": 0, "true_hands": 0, "found": 0, "on_head": 0, "other_false": 0, "candidates_on_head": 0}
                for kind in KINDS}
    for seq, palms, head, kind in sequences:
        tracker = Tracker(camera="synthetic", max_hands=2, detector=detector, precision=precision)
        det = tracker.pipeline.centre.detector
        r = per_kind[kind]
        for frame in seq:
            r["candidates_on_head"] += candidates_on_head(det, frame, palms, head)
            result = tracker.process_frame(frame, check_depth=False)
            used: set[int] = set()
            labels = [classify(np.asarray(h.joints_mm), palms, head, used) for h in result.hands]
            r["frames"] += 1
            r["true_hands"] += len(palms)
            r["found"] += labels.count("found")
            r["on_head"] += labels.count("head")
            r["other_false"] += labels.count("other")
    total = {key: sum(r[key] for r in per_kind.values()) for key in per_kind[KINDS[0]]}
    for r in list(per_kind.values()) + [total]:
        r["hands_on_heads_per_1000_frames"] = 1000.0 * r["on_head"] / max(r["frames"], 1)
        r["other_false_per_1000_frames"] = 1000.0 * r["other_false"] / max(r["frames"], 1)
        r["candidates_on_heads_per_1000_frames"] = 1000.0 * r["candidates_on_head"] / max(r["frames"], 1)
        r["found_rate"] = r["found"] / r["true_hands"] if r["true_hands"] else None
    return {"kinds": per_kind, "all": total}


def real_frames(folder: Path, detector: str = "auto") -> list[dict]:
    """The SR305 frames of `folder`: hands (side, score) in sequence and each frame alone."""
    intr = load_intrinsics("sr305")
    paths = list_images(folder / "sr305-*.png")
    sequence = Tracker(camera="synthetic", max_hands=2, detector=detector, precision="fp32")
    rows = []
    for i, path in enumerate(paths):
        depth, _ = read_depth_image(path, intr)
        alone = Tracker(camera="synthetic", max_hands=2, detector=detector, precision="fp32")
        hands = {name: [(h.handedness, round(h.score, 3)) for h in tracker.process(depth, intr, 1000.0 * i).hands]
                 for name, tracker in (("sequence", sequence), ("alone", alone))}
        rows.append({"frame": path.stem, **hands})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequences", type=int, default=80, help="scenes (the four kinds in turn)")
    ap.add_argument("--frames", type=int, default=10, help="frames per scene")
    ap.add_argument("--detector", default="auto", help="the learned detector to measure (default: the shipped one)")
    ap.add_argument("--before", action="store_true", help="the gate before the second-hand rule")
    ap.add_argument("--real", type=Path, help="a folder of the real SR305 frames (sr305-*.png) to run instead")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.before:
        from handpose_live.inference import pipeline
        pipeline._SECOND_MIN_SCORE = 0.0
    if args.real:
        rows = real_frames(args.real, args.detector)
        print("| frame | in order: hands (side, score) | alone: hands (side, score) |")
        print("|---|---|---|")
        for r in rows:
            text = {k: "; ".join(f"{side} {score:.3f}" for side, score in r[k]) or "-" for k in ("sequence", "alone")}
            print(f"| {r['frame']} | {text['sequence']} | {text['alone']} |")
        if args.json:
            atomic_write_text(args.json, json.dumps(rows, indent=1))
        return
    print("rendering scenes ...", file=sys.stderr, flush=True)
    report = {"seed": SEED, "sequences": args.sequences, "frames_per_sequence": args.frames, "before": args.before,
              **evaluate(head_sequences(args.sequences, args.frames), args.detector)}
    print("| scenes | frames | hands found | hands on heads / 1000 frames | other false hands / 1000 frames | "
          "detector candidates on heads / 1000 frames |")
    print("|---|---|---|---|---|---|")
    for name, r in list(report["kinds"].items()) + [("all", report["all"])]:
        found = "-" if r["found_rate"] is None else f"{100 * r['found_rate']:.1f} % of {r['true_hands']}"
        print(f"| {name} | {r['frames']} | {found} | {r['hands_on_heads_per_1000_frames']:.0f} | "
              f"{r['other_false_per_1000_frames']:.0f} | {r['candidates_on_heads_per_1000_frames']:.0f} |")
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
