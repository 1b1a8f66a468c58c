"""Network-only latency per CPU backend (batch 1): ONNX Runtime, OpenVINO (when installed), PyTorch eager, TorchScript.

Usage: .venv/bin/python benchmarks/backends.py [--threads 2] [--repeats 30] [--archs v2v-lite v2v-full]
Random weights: this measures speed only. Prints one JSON line per (arch, backend).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from handpose_live.inference.runtime import BACKENDS, open_session
from handpose_live.modeling.v2v import build_model, count_macs, count_parameters, preset
from handpose_live.training.export import DecodedModel, export_model


def _median_ms(fn, repeats: int) -> tuple[float, float]:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), float(np.percentile(times, 95))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--archs", nargs="+", default=["v2v-lite", "v2v-full"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    for arch in args.archs:
        config = preset(arch)
        net = build_model(config).eval()
        s = config.input_grid
        g = torch.Generator().manual_seed(0)
        voxels = (torch.rand(1, 1, s, s, s, generator=g) < 0.02).float()
        repeats = args.repeats if arch == "v2v-lite" else max(3, args.repeats // 6)
        info = {"arch": arch, "params": count_parameters(net), "gmac": round(count_macs(net, config) / 1e9, 3),
                "threads": args.threads, "cpu": platform.processor() or platform.machine()}
        with tempfile.TemporaryDirectory() as tmp:
            meta = {"cube_mm": 250.0, "target": "hand", "training_data": "random weights (benchmark)",
                    "format": "handpose-live-model", "format_version": 1, "arch": arch, "config": config.to_dict(),
                    "input_grid": s, "output_grid": config.output_grid, "skeleton": "hand21",
                    "joint_names": [f"j{i}" for i in range(21)]}
            path = Path(tmp) / "m.onnx"
            export_model(net, meta, path, verify=False, log=lambda *_: None)
            arr = voxels.numpy()
            rows = {}
            for backend in [b for b in BACKENDS if b != "openvino" or importlib.util.find_spec("openvino")]:
                sess = open_session(path, backend, device="cpu", threads=args.threads)
                rows[backend] = _median_ms(lambda: sess.run(arr), repeats)
        wrapped = DecodedModel(net).eval()
        with torch.no_grad():
            rows["torch-eager"] = _median_ms(lambda: wrapped(voxels), repeats)
            script = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(wrapped, voxels)))
            rows["torchscript-frozen"] = _median_ms(lambda: script(voxels), repeats)
        for backend, (p50, p95) in rows.items():
            print(json.dumps({**info, "backend": backend, "p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}))


if __name__ == "__main__":
    main()
