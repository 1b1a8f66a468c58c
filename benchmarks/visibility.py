"""Per-joint visibility (`inference/visibility.py`) against synthetic frames whose truth is exact.

Two sets of whole frames, each with the true visibility of every joint of the subject
(`synth.world.joint_visibility` on the noise-free render: the joint's pixel in the image and nothing
nearer than the joint's depth minus its surface radius minus 10 mm):
- hands: the crowded world's hand scenes (`synth --world crowded`: the person behind the hand, the
  other hand, objects in front of it, things at the borders; D4xx, SR300 or Kinect v1 noise) rendered
  over the whole 640x480 image of the d435-640x480 preset. Hidden joints: fingers behind the palm or
  behind another finger, and whatever the objects cover;
- rooms: `synth.rooms` desk views (one person 0.5-1.5 m in front of a camera on a desk, the upper body
  in view and the legs below the image's border; others behind; desks and chairs) rendered at the
  kinect-v1 preset's 640x480 through its room sensor model. Hidden joints: outside the image (mostly
  the legs), behind a desk or a chair.
Each frame is judged twice: with the true joints (what the rule can do with perfect joints) and with
the shipped fp32 model's joints and heatmap peaks at the true cube centre (what the pipeline gives it;
the record's joints are the fitted skeleton's, close to those). Per tolerance (x the cube) and
confidence floor: accuracy over all joints, the share of truly hidden joints flagged (recall) and the
share of truly visible ones flagged (false hidden). The defaults of `inference/visibility.py` are
the row marked "default".

`--screenshot PATH`: the first desk view (seed + 2) in which the whole pipeline (shipped body model,
`run`'s defaults) finds the person with joints below the image's border (and says which joints it sees
as the truth does, 90 % of them), drawn by the OpenCV overlay
(`sinks/overlay.py`: hidden joints as hollow rings, the bones to them dashed) over the whole frame.

Usage: .venv/bin/python benchmarks/visibility.py [--hand-frames 300] [--room-frames 200] [--seed 7100]
       [--threads 2] [--json out.json] [--screenshot docs/images/joint-visibility.png]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handpose_live.calib import load_intrinsics  # noqa: E402
from handpose_live.fileio import atomic_write_text  # noqa: E402
from handpose_live.geometry import camera_to_pixel  # noqa: E402
from handpose_live.inference import visibility  # noqa: E402
from handpose_live.inference.predictor import Predictor  # noqa: E402
from handpose_live.resources import default_model  # noqa: E402
from handpose_live.synth.generate import frame_rng  # noqa: E402
from handpose_live.synth.render import render_depth_mm  # noqa: E402
from handpose_live.synth.rooms import room_sensor, sample_room_scene  # noqa: E402
from handpose_live.synth.world import joint_visibility as true_visibility  # noqa: E402
from handpose_live.synth.world import render_frame, sample_scene  # noqa: E402

TOLERANCES = (0.04, 0.06, 0.08, 0.1, 0.15, 0.2)       # x the cube
FLOORS = (0.0, 0.05, 0.1, 0.2, 0.3)                   # heatmap peak
HAND_CAMERA, ROOM_CAMERA = "d435-640x480", "kinect-v1"


def hand_frames(count: int, seed: int):
    """(depth, intrinsics, true joints, true centre, true visibility) of crowded-world hand frames, whole image."""
    intr = load_intrinsics(HAND_CAMERA)
    for i in range(count):
        rng = frame_rng(seed, i)
        subject, background, sensor = sample_scene("hand", rng, intr, "crowded")
        f = render_frame(subject, background, intr, rng, None, sensor=sensor)
        yield f.depth_mm, intr, f.joints_mm.astype(np.float64), f.centre_mm.astype(np.float64), f.visible


def room_frames(count: int, seed: int):
    """The same for the desk view's person nearest the camera (cut by the image's border)."""
    intr = load_intrinsics(ROOM_CAMERA)
    sensor = room_sensor(intr, ROOM_CAMERA)
    whole = (0, 0, intr.width, intr.height)
    for i in range(count):
        rng = frame_rng(seed, i)
        surface, background, people = sample_room_scene(rng, intr, view="desk")
        clean = render_depth_mm(surface, background, intr)
        depth = sensor.apply(clean, intr, rng, (0, 0))
        person = people[0]
        yield depth, intr, person.joints_mm.astype(np.float64), person.centre_mm.astype(np.float64), \
            true_visibility(person, clean, whole, intr)


def collect(frames, predictor: Predictor) -> list[dict]:
    """Per frame: the depth, the camera, the truth, and the model's joints and peaks at the true centre."""
    out = []
    for depth, intr, joints, centre, truth in frames:
        pred, conf, _ = predictor.predict_centres(depth, intr, centre[None])
        out.append({"depth": depth, "intr": intr, "joints": joints, "truth": np.asarray(truth, bool),
                    "pred": pred[0].astype(np.float64), "conf": conf[0].astype(np.float64)})
    return out


def score(frames: list[dict], cube_mm: float, tolerance: float, floor: float, model: bool) -> dict:
    truth, said = [], []
    for f in frames:
        joints, conf = (f["pred"], f["conf"]) if model else (f["joints"], None)
        said.append(visibility.joint_visibility(joints, conf, f["depth"], f["intr"], tolerance * cube_mm, floor))
        truth.append(f["truth"])
    t, s = np.concatenate(truth), np.concatenate(said)
    hidden = ~t
    return {"tolerance": tolerance, "floor": floor if model else None,
            "accuracy_pct": round(100.0 * float((t == s).mean()), 2),
            "hidden_flagged_pct": round(100.0 * float((~s & hidden).sum() / max(hidden.sum(), 1)), 2),
            "visible_flagged_pct": round(100.0 * float((~s & t).sum() / max(t.sum(), 1)), 2),
            "default": bool(tolerance == visibility.TOLERANCE_FRACTION
                            and (not model or floor == visibility.MIN_CONFIDENCE))}


def summary(frames: list[dict], cube_mm: float) -> dict:
    truth = np.concatenate([f["truth"] for f in frames])
    outside = np.concatenate([~visibility.joint_visibility(f["joints"], None, np.zeros_like(f["depth"]), f["intr"], 0.0)
                              for f in frames])
    error = np.concatenate([np.linalg.norm(f["pred"] - f["joints"], axis=1) for f in frames])
    peaks = np.concatenate([f["conf"] for f in frames])
    said = np.concatenate([visibility.joint_visibility(f["pred"], f["conf"], f["depth"], f["intr"],
                                                       visibility.TOLERANCE_FRACTION * cube_mm) for f in frames])
    missed = said & ~truth        # hidden joints the defaults call seen, with the model's joints
    rows = {"true joints": [score(frames, cube_mm, t, 0.0, False) for t in TOLERANCES],
            "model joints": [score(frames, cube_mm, t, c, True) for t in TOLERANCES for c in FLOORS]}
    return {"frames": len(frames), "joints": int(truth.size), "hidden_pct": round(100.0 * float((~truth).mean()), 2),
            "outside_pct": round(100.0 * float(outside.mean()), 2), "cube_mm": cube_mm,
            "missed_hidden": int(missed.sum()), "missed_outside": int((missed & outside).sum()),
            "model_error_mm": round(float(error.mean()), 1),
            "peak_median_visible": round(float(np.median(peaks[truth])), 3) if truth.any() else None,
            "peak_median_hidden": round(float(np.median(peaks[~truth])), 3) if (~truth).any() else None,
            "all_visible_accuracy_pct": round(100.0 * float(truth.mean()), 2),
            "default_true": next(r for r in rows["true joints"] if r["default"]),
            "default_model": next(r for r in rows["model joints"] if r["default"]), "rows": rows}


def measure(hand_count: int, room_count: int, seed: int, threads: int) -> dict:
    report: dict = {"seed": seed, "window_px": visibility.WINDOW_PX, "tolerance": visibility.TOLERANCE_FRACTION,
                    "floor": visibility.MIN_CONFIDENCE}
    for name, target, frames in (("hands", "hand", hand_frames(hand_count, seed)),
                                 ("rooms", "body", room_frames(room_count, seed + 1))):
        t0 = time.perf_counter()
        predictor = Predictor(default_model(target), device="cpu", threads=threads)
        data = collect(frames, predictor)
        report[name] = {"model": predictor.path.name, "camera": HAND_CAMERA if target == "hand" else ROOM_CAMERA,
                        **summary(data, predictor.cube_mm), "seconds": round(time.perf_counter() - t0, 1)}
    return report


def screenshot(path: Path, seed: int, threads: int, tries: int = 80) -> dict:
    """The overlay of the first desk view whose person the pipeline finds with joints below the image, its
    visibility agreeing with the truth on 90 % of the joints."""
    from handpose_live.inference.pipeline import build_pipeline
    from handpose_live.sinks.opencv_viewer import save_image
    from handpose_live.sinks.overlay import render_overlay
    from handpose_live.types import DepthFrame

    predictor = Predictor(default_model("body"), device="cpu", threads=threads)
    for i, (depth, intr, joints, _, truth) in enumerate(room_frames(tries, seed)):
        frame = DepthFrame(depth.astype(np.float32), intr, index=i)
        result = build_pipeline(predictor).process(frame)
        for s in result.subjects:
            v = camera_to_pixel(s.joints_mm, intr)[:, 1]
            below = v >= intr.height - 0.5
            agree = s.visible is not None and (s.visible == np.asarray(truth, bool)).mean() >= 0.9
            if agree and below.sum() >= 2 and s.visible.sum() >= 6:
                save_image(path, render_overlay(frame, result, predictor.skeleton, view="full"))
                return {"path": str(path), "seed": seed, "frame": i, "visible": s.visible.tolist(),
                        "truth": np.asarray(truth, bool).tolist()}
    raise SystemExit(f"no desk view of seed {seed} in {tries} frames showed a person cut by the border")


def table(report: dict) -> str:
    lines = ["| set | joints | tolerance | floor | accuracy % | hidden flagged % | visible flagged % |",
             "|---|---|---|---|---|---|---|"]
    for name in ("hands", "rooms"):
        r = report[name]
        for kind, rows in r["rows"].items():
            for row in rows:
                mark = " (default)" if row["default"] else ""
                lines.append(f"| {name} | {kind} | {row['tolerance']} | {row['floor']} | {row['accuracy_pct']} | "
                             f"{row['hidden_flagged_pct']} | {row['visible_flagged_pct']} |{mark}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hand-frames", type=int, default=300)
    ap.add_argument("--room-frames", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7100, help="hands: this seed; rooms: seed + 1")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--table", action="store_true", help="also print every row as a markdown table")
    ap.add_argument("--screenshot", type=Path, help="only draw the overlay of a desk view into this PNG")
    args = ap.parse_args(argv)
    if args.screenshot:
        print(json.dumps(screenshot(args.screenshot, args.seed + 2, args.threads)))
        return 0
    report = measure(args.hand_frames, args.room_frames, args.seed, args.threads)
    text = json.dumps(report, indent=1)
    if args.json:
        atomic_write_text(args.json, text + "\n")
    print(json.dumps({k: ({kk: vv for kk, vv in v.items() if kk != "rows"} if isinstance(v, dict) else v)
                      for k, v in report.items()}, indent=1))
    if args.table:
        print(table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
