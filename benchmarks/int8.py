"""int8 (and fp16) against fp32 for both shipped lite models: rebuilt from the fp32 files, accuracy on
held-out sets, parity, and speed measured interleaved in one process.

1. Quantise: `handpose-live export-onnx models/v2v-lite-<t>.onnx --int8 --calibration CAL` with
   CAL = `synth --target <t> --world classic --seed 0 --count 200` (the first frames of the first
   training stages' set: calibrating on the crowded world's frames measured worse), exactly
   the recipe of the shipped `*-int8.onnx`; the rebuilt graph is compared with the shipped one.
2. Accuracy: `handpose-live eval --model` on the held-out test sets (seed 2000; true centre), fp32
   and the rebuilt int8: mean joint error (hand) and mAP at 10 cm (body).
3. Parity: the share of joints the int8 model puts within one output voxel of fp32 on the test frames.
4. fp16 (`export-onnx --fp16`, the GPU variant; not shipped): accuracy and parity as for int8.
   Its speed is a GPU figure (benchmarks/gpu_check.sh); this CPU has no fast fp16 kernels.
5. Speed: the network alone, batch 1, on voxel grids of the test frames, fp32 and int8 sessions
   alternating frame by frame (same load for both), and the whole pipeline through
   `handpose-live bench --precision fp32 --precision int8` (the same run).

`synth`, `export-onnx` and `eval` are called in this process through their commands' handlers (the same
files and figures as the command lines, without each process's imports); `bench` runs as its own process.

Usage: .venv/bin/python benchmarks/int8.py [--data data] [--hand-test 2000] [--body-test 500]
       [--repeats 200] [--bench-frames 300] [--threads 2] [--json out.json]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handpose_live.fileio import atomic_write_text  # noqa: E402

CLI = [sys.executable, "-m", "handpose_live"]
TEST_SEED, CALIB_SEED, CALIB_COUNT = 2000, 0, 200


def sh(argv: list, capture: bool = True) -> str:
    argv = [str(a) for a in argv]
    print("  $ " + " ".join(argv), file=sys.stderr, flush=True)
    proc = subprocess.run(argv, cwd=REPO, text=True, stdout=subprocess.PIPE if capture else sys.stderr)
    if proc.returncode:
        raise SystemExit(f"error: exit {proc.returncode}: {' '.join(argv)}\n{(proc.stdout or '')[-600:]}")
    return proc.stdout or ""


def synth(data: Path, target: str, seed: int, count: int, name: str) -> Path:
    """`handpose-live synth --target T --count N --seed S --world classic --out data/NAME --append`, called in
    this process (the command's own handler: the same frames, without another process's imports)."""
    from handpose_live.commands.synth import SynthOptions
    from handpose_live.commands.synth import synth as synth_command

    root = data / name
    print(f"  synth --target {target} --count {count} --seed {seed} --world classic --out {root} --append",
          file=sys.stderr, flush=True)
    with contextlib.redirect_stdout(sys.stderr):
        synth_command(SynthOptions(target=target, count=count, seed=seed, world="classic", out=root, append=True))
    return root


def evaluate(model: Path, test: Path, limit: int) -> dict:
    """`handpose-live eval --model M --dataset synthetic --data-root TEST --json --limit N`, called in this process
    (what the command runs: the same figures, without another process's imports)."""
    from handpose_live.evaluation.model_eval import evaluate_model

    print(f"  eval --model {model} --dataset synthetic --data-root {test} --json --limit {limit}", file=sys.stderr,
          flush=True)
    return evaluate_model(Path(model), "synthetic", test, "test", limit=limit, log=lambda msg: print(msg, file=sys.stderr)).report


def export_variant(fp32: Path, out: Path, precision: str, calibration: Path | None = None) -> None:
    """`handpose-live export-onnx FP32 --int8 --calibration CAL --out OUT` (or `--fp16 --out OUT`), called in
    this process: the command's own handler, the same file, without another process's imports."""
    from handpose_live.commands.export import ExportOptions, export

    flags = f"--int8 --calibration {calibration}" if precision == "int8" else "--fp16"
    print(f"  export-onnx {fp32} {flags} --out {out}", file=sys.stderr, flush=True)
    with contextlib.redirect_stdout(sys.stderr):
        export(ExportOptions(checkpoint=fp32, out=out, int8=precision == "int8", fp16=precision == "fp16",
                             calibration=calibration))


def same_graph(a: Path, b: Path) -> bool:
    """Same nodes and weights (metadata aside: a rebuild records the same fields, but be lenient there)."""
    import onnx

    pa, pb = onnx.load(str(a)), onnx.load(str(b))
    return pa.graph.SerializeToString() == pb.graph.SerializeToString()


def grids_and_parity(fp32: Path, int8: Path, test: Path, count: int, threads: int) -> tuple[np.ndarray, dict]:
    from handpose_live.training.quantize import calibration_grids

    grids = calibration_grids(fp32, test, count=count, seed=1)
    from handpose_live.inference.runtime import open_session

    a, b = (open_session(m, device="cpu", threads=threads) for m in (fp32, int8))
    ja = np.concatenate([a.run(grids[i:i + 8])[0] for i in range(0, len(grids), 8)])
    jb = np.concatenate([b.run(grids[i:i + 8])[0] for i in range(0, len(grids), 8)])
    shift = np.linalg.norm(ja - jb, axis=-1)
    return grids, {"frames": int(len(grids)), "within_one_voxel": float((shift <= 1.0).mean()),
                   "median_shift_vox": float(np.median(shift)), "p99_shift_vox": float(np.percentile(shift, 99))}


def network_timing(fp32: Path, int8: Path, grids: np.ndarray, repeats: int, threads: int) -> dict:
    """Batch 1, the two sessions alternating grid by grid, after a warm-up; p50 of each."""
    from handpose_live.inference.runtime import open_session

    sessions = {"fp32": open_session(fp32, device="cpu", threads=threads),
                "int8": open_session(int8, device="cpu", threads=threads)}
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for i in range(repeats + 10):
        g = grids[i % len(grids)][None]
        for name, s in sessions.items():
            t0 = time.perf_counter()
            s.run(g)
            if i >= 10:
                times[name].append((time.perf_counter() - t0) * 1e3)
    p50 = {k: float(np.percentile(v, 50)) for k, v in times.items()}
    return {"fp32_p50_ms": p50["fp32"], "int8_p50_ms": p50["int8"], "speedup": p50["fp32"] / p50["int8"],
            "repeats": repeats}


def pipeline_timing(target: str, frames: int, threads: int) -> dict:
    rows = json.loads(sh(CLI + ["bench", "--target", target, "--camera", "synthetic", "--frames", frames, "--threads",
                                threads, "--precision", "fp32", "--precision", "int8", "--json"]).strip().splitlines()[-1])
    fp32, int8 = rows[0], rows[1]
    return {"fp32_e2e_p50_ms": fp32["latency_ms"]["p50"], "int8_e2e_p50_ms": int8["latency_ms"]["p50"],
            "e2e_speedup": fp32["latency_ms"]["p50"] / int8["latency_ms"]["p50"],
            "fp32_inference_p50_ms": fp32["stages_ms"]["inference"]["p50"],
            "int8_inference_p50_ms": int8["stages_ms"]["inference"]["p50"],
            "inference_speedup": fp32["stages_ms"]["inference"]["p50"] / int8["stages_ms"]["inference"]["p50"],
            "fp32_fps": fp32["fps"], "int8_fps": int8["fps"], "fp32_found": fp32["found"], "int8_found": int8["found"],
            "frames": fp32["frames"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO / "data")
    ap.add_argument("--hand-test", type=int, default=2000)
    ap.add_argument("--body-test", type=int, default=500)
    ap.add_argument("--calibration", type=int, default=CALIB_COUNT, help="frames rendered for calibration")
    ap.add_argument("--parity-frames", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--bench-frames", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--targets", nargs="+", default=["hand", "body"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    report: dict = {"setup": {"threads": args.threads, "test_seed": TEST_SEED, "calibration": f"synth seed {CALIB_SEED}, "
                              f"{args.calibration} frames rendered, 96 used"}}
    with tempfile.TemporaryDirectory() as tmp:
        for target in args.targets:
            fp32 = REPO / "models" / f"v2v-lite-{target}.onnx"
            shipped = fp32.with_name(fp32.stem + "-int8.onnx")
            calib = synth(args.data, target, CALIB_SEED, args.calibration, f"synth-{target}-calib")
            count = args.hand_test if target == "hand" else args.body_test
            test = synth(args.data, target, TEST_SEED, count, f"synth-{target}-test")
            int8 = Path(tmp) / shipped.name
            export_variant(fp32, int8, "int8", calib)
            r: dict = {"rebuilt_equals_shipped": same_graph(int8, shipped) if shipped.is_file() else None,
                       "file_mb": {"fp32": fp32.stat().st_size / 1e6, "int8": int8.stat().st_size / 1e6}}
            ef, ei = evaluate(fp32, test, count), evaluate(int8, test, count)
            r["test_frames"] = count
            r["fp32_mean_mm"], r["int8_mean_mm"] = ef["mean_error_mm"], ei["mean_error_mm"]
            r["delta_mm"] = ei["mean_error_mm"] - ef["mean_error_mm"]
            if target == "body":
                r["fp32_map_pct"], r["int8_map_pct"] = 100 * ef["map_10cm"], 100 * ei["map_10cm"]
                r["delta_map_points"] = r["int8_map_pct"] - r["fp32_map_pct"]
            grids, r["parity"] = grids_and_parity(fp32, int8, test, min(args.parity_frames, count), args.threads)
            half = Path(tmp) / f"v2v-lite-{target}-fp16.onnx"
            export_variant(fp32, half, "fp16")
            eh = evaluate(half, test, count)
            r["fp16"] = {"file_mb": half.stat().st_size / 1e6, "mean_mm": eh["mean_error_mm"],
                         "delta_mm": eh["mean_error_mm"] - ef["mean_error_mm"],
                         "parity": grids_and_parity(fp32, half, test, min(args.parity_frames, count), args.threads)[1]}
            if target == "body":
                r["fp16"]["map_pct"] = 100 * eh["map_10cm"]
            r["network"] = network_timing(fp32, int8, grids, args.repeats, args.threads)
            r["pipeline"] = pipeline_timing(target, args.bench_frames, args.threads)
            report[target] = r
            print(json.dumps({target: r}), file=sys.stderr, flush=True)
    text = json.dumps(report, indent=2)
    if args.json:
        atomic_write_text(args.json, text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
