"""The paper's representation ablation at an equal training budget (results in docs/results.md).

Three networks learn the same frames in the same order with the same augmentation, optimiser,
schedule and number of steps, and are measured on the same held-out test set:

  depth-2d-coords   depth image -> 3D coordinates (2D CNN regression, DeepPrior-style)
  voxel-3d-coords   voxels      -> 3D coordinates (3D CNN regression)
  v2v-lite          voxels      -> per-voxel heatmaps (V2V), decoded as the shipped model is

Usage:
  .venv/bin/python benchmarks/ablation.py --train data/synth-hand-train --val data/synth-hand-val \\
      --test data/synth-hand-test --steps 1500 --out runs/ablation
Writes runs/ablation/ablation.json after each network (finished ones are skipped on a rerun)
and ablation.png (validation curves and test errors). One figure from several runs:
  .venv/bin/python benchmarks/ablation.py --plot-only runs/ablation/ablation.json \
      runs/ablation-lr1e-4/ablation.json --figure docs/images/ablation.png
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from baselines import DepthToCoords2D, VoxelToCoords3D, depth_image_norm
from torch import nn
from tqdm import tqdm

from handpose_live.data import open_dataset
from handpose_live.geometry import norm_to_voxel, voxel_to_norm
from handpose_live.heatmaps import decode_heatmaps, gaussian_targets
from handpose_live.modeling.v2v import build_model, count_parameters, preset
from handpose_live.skeletons import get_skeleton
from handpose_live.training.trainer import Collate, IndexedBatches
from handpose_live.voxelize import voxelize_norm

METHODS = ["depth-2d-coords", "voxel-3d-coords", "v2v-lite"]
COLOURS = {"depth-2d-coords": "#888888", "voxel-3d-coords": "#4a7fc1", "v2v-lite": "#d9622b"}


class AblationCollate(Collate):
    """The trainer's points and augmentation, turned into the input and target each method needs."""

    def __init__(self, method: str, *args):
        super().__init__(*args)
        self.method = method

    def __call__(self, batch):
        pts_norm, valid, joints_norm, _ = self.normalised_points(batch)
        grid = self.config.input_grid
        if self.method == "depth-2d-coords":
            return depth_image_norm(pts_norm, valid, grid), joints_norm
        voxels = voxelize_norm(pts_norm, valid, grid)
        if self.method == "voxel-3d-coords":
            return voxels, joints_norm
        return voxels, gaussian_targets(norm_to_voxel(joints_norm, self.config.output_grid),
                                        self.config.output_grid), joints_norm


def _one_thread(_worker_id: int) -> None:
    """The loader worker voxelizes on one thread; training owns the other core."""
    torch.set_num_threads(1)


def build(method: str, num_joints: int) -> nn.Module:
    if method == "depth-2d-coords":
        return DepthToCoords2D(num_joints)
    if method == "voxel-3d-coords":
        return VoxelToCoords3D(num_joints)
    return build_model(preset("v2v-lite", num_joints))


def predict_norm(method: str, model: nn.Module, x: torch.Tensor, output_grid: int) -> torch.Tensor:
    out = model(x)
    if method == "v2v-lite":
        return voxel_to_norm(decode_heatmaps(out)[0], output_grid)
    return out


def loss_fn(method: str, out: torch.Tensor, batch) -> torch.Tensor:
    target = batch[1] if method == "v2v-lite" else batch[-1]
    return nn.functional.mse_loss(out, target)


@torch.no_grad()
def measure(method: str, model: nn.Module, dataset, cube_mm: float, config, batch_size: int) -> dict:
    model.eval()
    collate = AblationCollate(method, config, cube_mm, False, 0)
    loader = torch.utils.data.DataLoader(IndexedBatches(dataset, list(range(len(dataset))), batch_size),
                                         batch_size=batch_size, collate_fn=collate, num_workers=0)
    errors = []
    for batch in loader:
        pred = predict_norm(method, model, batch[0], config.output_grid)
        errors.append((pred - batch[-1]).norm(dim=-1) * cube_mm)
    model.train()
    err = torch.cat(errors)
    worst = err.max(dim=1).values
    return {"mean_mm": round(float(err.mean()), 2),
            "per_joint_mm": [round(float(e), 2) for e in err.mean(dim=0)],
            "frames_max_le_20mm": round(float((worst <= 20).float().mean()), 4),
            "frames_max_le_40mm": round(float((worst <= 40).float().mean()), 4)}


def run_method(method: str, args, train_set, val_set, test_set) -> dict:
    torch.manual_seed(args.seed)
    num_joints = get_skeleton(train_set.skeleton_name).num_joints
    cube_mm = float(train_set.cube_mm)
    config = preset("v2v-lite", num_joints)  # grid sizes shared by all three methods
    model = build(method, num_joints)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    # Shuffled one shard at a time, as the trainer does: a fully random order decompresses a shard per sample.
    order = train_set.shard_local_order(rng) if hasattr(train_set, "shard_local_order") else rng.permutation(len(train_set))
    order = [int(i) for i in order[: args.steps * args.batch_size]]
    collate = AblationCollate(method, config, cube_mm, True, args.seed)
    loader = torch.utils.data.DataLoader(IndexedBatches(train_set, order, args.batch_size), batch_size=args.batch_size,
                                         collate_fn=collate, num_workers=1, worker_init_fn=_one_thread)
    curve, losses = [], []
    eval_every = max(1, args.steps // args.evals)
    t0 = time.perf_counter()
    train_s = 0.0
    bar = tqdm(total=args.steps, desc=method, dynamic_ncols=True)
    for step, batch in enumerate(loader):
        for group in optimizer.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        out = model(batch[0])
        loss = loss_fn(method, out, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.2e}")
        bar.update(1)
        if (step + 1) % eval_every == 0 or step + 1 == args.steps:
            train_s += time.perf_counter() - t0
            curve.append({"step": step + 1, "val_mean_mm": measure(method, model, val_set, cube_mm, config,
                                                                   args.batch_size)["mean_mm"]})
            bar.write(f"{method} step {step + 1}: validation {curve[-1]['val_mean_mm']:.2f} mm")
            t0 = time.perf_counter()
    bar.close()
    test = measure(method, model, test_set, cube_mm, config, args.batch_size)
    x = AblationCollate(method, config, cube_mm, False, 0)([(0, test_set[0])])[0]
    model.eval()
    with torch.no_grad():
        for _ in range(3):
            model(x)
        t = time.perf_counter()
        for _ in range(20):
            model(x)
    return {"method": method, "parameters": count_parameters(model), "steps": args.steps, "lr": args.lr,
            "batch_size": args.batch_size, "train_minutes": round(train_s / 60, 1),
            "eager_ms_per_frame": round((time.perf_counter() - t) / 20 * 1e3, 1),
            "validation_curve": curve, "test": test}


def _write_json(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, path)


def plot(results: list[dict], path: Path) -> None:
    """Validation curves and test errors; runs at other learning rates are dashed and labelled."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    results = sorted(results, key=lambda r: (METHODS.index(r["method"]), -r.get("lr", 0)))
    lrs = sorted({r.get("lr") for r in results}, reverse=True)
    label = (lambda r: f"{r['method']} lr {r['lr']:g}") if len(lrs) > 1 else (lambda r: r["method"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.4))
    for r in results:
        a.plot([c["step"] for c in r["validation_curve"]], [c["val_mean_mm"] for c in r["validation_curve"]],
               marker="o", label=label(r), color=COLOURS[r["method"]],
               linestyle="-" if r.get("lr") == lrs[0] else "--")
    a.set(xlabel=f"training step (batch {results[0]['batch_size']})", ylabel="validation mean error (mm)",
          title="equal training budget")
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
    names = [label(r) for r in results]
    bars = b.bar(range(len(results)), [r["test"]["mean_mm"] for r in results],
                 color=[COLOURS[r["method"]] for r in results])
    for bar, r in zip(bars, results):
        bar.set_hatch("" if r.get("lr") == lrs[0] else "//")
        b.text(bar.get_x() + bar.get_width() / 2, r["test"]["mean_mm"], f"{r['test']['mean_mm']:.1f}",
               ha="center", va="bottom")
    b.set_xticks(range(len(results)), [n.replace(" lr", "\nlr") for n in names], fontsize=8)
    b.set(ylabel="test mean 3D error (mm)", title="held-out test set (2,000 frames)")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plot-only", nargs="+", type=Path, metavar="JSON",
                    help="draw one figure (--figure) from finished ablation.json files; no training")
    ap.add_argument("--figure", type=Path, default=Path("docs/images/ablation.png"))
    ap.add_argument("--train")
    ap.add_argument("--val")
    ap.add_argument("--test")
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=12)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--evals", type=int, default=5, help="validation points per run")
    ap.add_argument("--val-frames", type=int, default=500)
    ap.add_argument("--test-frames", type=int, default=0, help="0 = the whole test set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    ap.add_argument("--out", default="runs/ablation")
    args = ap.parse_args()
    if args.plot_only:
        plot([r for f in args.plot_only for r in json.loads(f.read_text())["results"]], args.figure)
        print(f"wrote {args.figure}")
        return
    if not (args.train and args.val and args.test):
        ap.error("--train, --val and --test are required (or --plot-only)")
    torch.set_flush_denormal(True)
    torch.set_num_threads(2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train_set = open_dataset(args.dataset, args.train, "train")
    val_full = open_dataset(args.dataset, args.val, "train")
    val_set = torch.utils.data.Subset(val_full, range(min(args.val_frames, len(val_full))))
    test_set = open_dataset(args.dataset, args.test, "train")
    if args.test_frames:
        test_set = torch.utils.data.Subset(test_set, range(min(args.test_frames, len(test_set))))
    result_path = out / "ablation.json"
    payload = json.loads(result_path.read_text()) if result_path.exists() else {"results": []}
    payload.update({"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
                               f"{torch.__version__}", "train": args.train, "test": args.test,
                    "test_frames": len(test_set), "date": time.strftime("%Y-%m-%d")})
    done = {r["method"] for r in payload["results"] if r["steps"] == args.steps}
    for method in args.methods:
        if method in done:
            print(f"{method}: already in {result_path}, skipped")
            continue
        result = run_method(method, args, train_set, val_set, test_set)
        payload["results"] = [r for r in payload["results"] if r["method"] != method] + [result]
        _write_json(result_path, payload)
        print(f"{method}: test mean {result['test']['mean_mm']:.2f} mm ({result['train_minutes']} min)")
    plot(payload["results"], out / "ablation.png")
    print(f"wrote {result_path} and {out / 'ablation.png'}")


if __name__ == "__main__":
    main()
