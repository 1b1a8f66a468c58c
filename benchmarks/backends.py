"""Network-only latency per CPU backend (batch 1): ONNX Runtime, OpenVINO (when installed), PyTorch eager, TorchScript.

Usage: .venv/bin/python benchmarks/backends.py [--threads 2] [--repeats 30] [--archs v2v-lite v2v-full]
       [--warmup 3] [--full-repeats N]
Random weights: this measures speed only. Prints one JSON line per (arch, backend).
v2v-full is timed `--full-repeats` times (default: repeats // 6, at least 3): it is ~100x slower.

`--write-model PATH` writes the first arch's random-weights ONNX model (the file timed here) and
exits: the v2v-full model that `handpose-live bench` compares against the shipped lite model.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from handpose_live.inference.runtime import BACKENDS, open_session
from handpose_live.modeling.v2v import build_model, count_macs, count_parameters, preset
from handpose_live.training.export import DecodedModel, export_model


def _median_ms(fn, repeats: int, warmup: int = 3) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), float(np.percentile(times, 95))


def _metadata(arch: str, config=None) -> dict:
    config = config or preset(arch)
    return {"cube_mm": 250.0, "target": "hand", "training_data": "random weights (benchmark)",
            "format": "handpose-live-model", "format_version": 1, "arch": arch, "config": config.to_dict(),
            "input_grid": config.input_grid, "output_grid": config.output_grid, "skeleton": "hand21",
            "joint_names": [f"j{i}" for i in range(21)]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--archs", nargs="+", default=["v2v-lite", "v2v-full"])
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs before each measurement")
    ap.add_argument("--full-repeats", type=int, default=None, help="timed runs of v2v-full (default: repeats // 6, >= 3)")
    ap.add_argument("--write-model", type=Path, default=None, help="write the first arch's random-weights model, exit")
    ap.add_argument("--grid", type=int, default=None, help="with --write-model: its input grid (default: the arch's; the "
                                                            "quick reproduction writes a small v2v-full, the same blocks)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    if args.write_model:
        config = preset(args.archs[0])
        if args.grid:
            config = replace(config, input_grid=args.grid, output_grid=args.grid // 2)
        export_model(build_model(config).eval(), _metadata(args.archs[0], config), args.write_model, verify=False,
                     log=lambda *_: None)
        print(f"wrote {args.write_model}: {args.archs[0]}, random weights", file=sys.stderr)
        return
    full_repeats = args.full_repeats if args.full_repeats is not None else max(3, args.repeats // 6)
    for arch in args.archs:
        config = preset(arch)
        net = build_model(config).eval()
        s = config.input_grid
        g = torch.Generator().manual_seed(0)
        voxels = (torch.rand(1, 1, s, s, s, generator=g) < 0.02).float()
        repeats = args.repeats if arch == "v2v-lite" else full_repeats
        info = {"arch": arch, "params": count_parameters(net), "gmac": round(count_macs(net, config) / 1e9, 3),
                "threads": args.threads, "repeats": repeats, "cpu": platform.processor() or platform.machine()}
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.onnx"
            export_model(net, _metadata(arch), path, verify=False, log=lambda *_: None)
            arr = voxels.numpy()
            rows = {}
            for backend in [b for b in BACKENDS if b != "openvino" or importlib.util.find_spec("openvino")]:
                print(f"{arch}: {backend} ({repeats} runs)", file=sys.stderr)
                sess = open_session(path, backend, device="cpu", threads=args.threads)
                rows[backend] = _median_ms(lambda: sess.run(arr), repeats, args.warmup)
        wrapped = DecodedModel(net).eval()
        with torch.no_grad():
            print(f"{arch}: torch eager, TorchScript ({repeats} runs)", file=sys.stderr)
            rows["torch-eager"] = _median_ms(lambda: wrapped(voxels), repeats, args.warmup)
            script = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(wrapped, voxels, check_trace=False)))
            rows["torchscript-frozen"] = _median_ms(lambda: script(voxels), repeats, args.warmup)
        for backend, (p50, p95) in rows.items():
            print(json.dumps({**info, "backend": backend, "p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}))


if __name__ == "__main__":
    main()
