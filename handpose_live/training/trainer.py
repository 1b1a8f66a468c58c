"""Training V2V models: the paper's recipe by default, resumable, single process or DDP.

Data flow per batch: dataset `Sample`s (points, joints, centre in camera mm) -> `Collate`
(runs in the loader workers: augmentation, the shared voxelizer, Gaussian targets) ->
model -> MSE on heatmaps. Validation decodes heatmaps exactly like the exported model.

Resumability: `last.pt` is written atomically every `--checkpoint-minutes` and at the end of
every epoch with (epoch, step in epoch). The data order of an epoch is a permutation seeded by
(seed, epoch) and the augmentation of a batch is seeded by (seed, epoch, step), so `--resume`
continues with the same optimizer state and exactly the batches that were not yet seen.
Scale-out: `torchrun --nproc-per-node K -m handpose_live train ...` (DDP; gloo on CPU).
"""
from __future__ import annotations

import csv
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .checkpoint import load_checkpoint, save_checkpoint
from ..data import open_dataset
from ..data.base import PoseDataset, Sample
from ..errors import UserError
from ..heatmaps import decode_heatmaps, gaussian_targets, norm_to_voxel
from ..modeling.v2v import V2VConfig, build_model, preset
from ..skeletons import get_skeleton
from ..voxelize import Augmentation, augment_points_norm, normalise_points, voxelize_norm


@dataclass
class TrainArgs:
    dataset: str
    data_root: str
    out: str
    arch: str = "v2v-lite"
    epochs: int = 10
    batch_size: int = 8
    lr: float = 2.5e-4
    optimizer: str = "rmsprop"
    device: str = "cpu"
    workers: int = 1
    resume: bool = False
    seed: int = 0
    val_fraction: float = 0.05
    val_root: str | None = None
    centers: str | None = None
    checkpoint_minutes: float = 10.0
    max_steps_per_epoch: int = 0      # 0 = whole epoch; >0 caps it (quick runs, CI)
    augment: bool = True
    export: bool = True
    schedule: str = "none"           # "none" (paper: constant lr) or "cosine" (decay to 0 over all epochs)
    init_from: str | None = None     # start from this checkpoint's weights (fine-tuning); fresh optimizer and schedule


class Collate:
    """Samples -> (voxels, target heatmaps, joints_vox, centres). Picklable, so it runs in workers."""

    def __init__(self, config: V2VConfig, cube_mm: float, augment: bool, seed: int):
        self.config, self.cube_mm, self.augment, self.seed = config, cube_mm, augment, seed
        self.epoch = 0

    def __call__(self, batch: list[tuple[int, Sample]]):
        pts_norm, valid, joints_norm, centres = self.normalised_points(batch)
        voxels = voxelize_norm(pts_norm, valid, self.config.input_grid)
        joints_vox = norm_to_voxel(joints_norm, self.config.output_grid)
        targets = gaussian_targets(joints_vox, self.config.output_grid)
        return voxels, targets, joints_vox, centres

    def normalised_points(self, batch: list[tuple[int, Sample]]):
        """Points and joints in cube-normalised units (the cube spans [-0.5, 0.5)), augmented when training."""
        steps = [b[0] for b in batch]
        samples = [b[1] for b in batch]
        n = len(samples)
        p = max(1, max(len(s.points_mm) for s in samples))
        points = torch.zeros(n, p, 3)
        valid = torch.zeros(n, p, dtype=torch.bool)
        for i, s in enumerate(samples):
            points[i, : len(s.points_mm)] = torch.from_numpy(np.asarray(s.points_mm, np.float32))
            valid[i, : len(s.points_mm)] = True
        joints = torch.from_numpy(np.stack([np.asarray(s.joints_mm, np.float32) for s in samples]))
        centres = torch.from_numpy(np.stack([np.asarray(s.centre_mm, np.float32) for s in samples]))
        pts_norm = normalise_points(points, centres, self.cube_mm)
        joints_norm = normalise_points(joints, centres, self.cube_mm)
        if self.augment:
            g = torch.Generator().manual_seed(hash((self.seed, self.epoch, steps[0])) & 0x7FFFFFFF)
            aug = Augmentation.sample(n, g)
            pts_norm = augment_points_norm(pts_norm, aug, self.config.input_grid)
            joints_norm = augment_points_norm(joints_norm, aug, self.config.input_grid)
        return pts_norm, valid, joints_norm, centres


class IndexedBatches(torch.utils.data.Dataset):
    """Wraps a PoseDataset so each item carries its position in the epoch (for augmentation seeds)."""

    def __init__(self, dataset: PoseDataset, order: list[int], batch_size: int):
        self.dataset, self.order, self.batch_size = dataset, order, batch_size

    def __len__(self):
        return len(self.order)

    def __getitem__(self, i):
        return i // self.batch_size, self.dataset[self.order[i]]


class _Subset(PoseDataset):
    def __init__(self, base: PoseDataset, indices: list[int]):
        self.base, self.indices = base, indices
        self.skeleton_name, self.cube_mm = base.skeleton_name, base.cube_mm

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.base[self.indices[i]]


def split_train_val(dataset: PoseDataset, fraction: float, seed: int) -> tuple[PoseDataset, PoseDataset | None]:
    """A deterministic hold-out of the training data for model selection (never the test set)."""
    n = len(dataset)
    if fraction <= 0 or n < 2:
        return dataset, None
    perm = np.random.default_rng(seed + 12345).permutation(n)
    k = max(1, int(round(n * fraction)))
    return _Subset(dataset, sorted(perm[k:].tolist())), _Subset(dataset, sorted(perm[:k].tolist()))


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _setup_distributed(device: str) -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")


def _epoch_order(dataset: PoseDataset, seed: int, epoch: int, rank: int, world: int) -> list[int]:
    """This rank's sample order for an epoch: a permutation seeded by (seed, epoch).

    Sharded datasets offer `shard_local_order` (shuffled, but one shard at a time) because a
    fully random order would decompress a whole shard per sample. Ranks take contiguous
    chunks, padded so every rank runs the same number of steps.
    """
    rng = np.random.default_rng((seed, epoch))
    n = len(dataset)
    if hasattr(dataset, "shard_local_order"):
        perm = [int(i) for i in dataset.shard_local_order(rng)]
    else:
        perm = rng.permutation(n).tolist()
    per_rank = math.ceil(n / world)
    perm = (perm * (1 + (per_rank * world) // max(n, 1)))[: per_rank * world]
    return perm[rank * per_rank:(rank + 1) * per_rank]


def _one_thread(_worker_id: int) -> None:
    """Loader workers voxelize with one thread each: the training step owns the other cores."""
    torch.set_num_threads(1)


def _learning_rate(args: TrainArgs, epoch_progress: float) -> float:
    """Computed from progress alone, so a resumed run continues on the same curve."""
    if args.schedule == "none":
        return args.lr
    if args.schedule == "cosine":
        return args.lr * 0.5 * (1 + math.cos(math.pi * min(epoch_progress / args.epochs, 1.0)))
    raise UserError(f"unknown schedule '{args.schedule}' (none, cosine)")


def _make_optimizer(name: str, params, lr: float):
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.99, eps=1e-8)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise UserError(f"unknown optimizer '{name}' (rmsprop, adam)")


@torch.no_grad()
def validate(model: nn.Module, loader, config: V2VConfig, cube_mm: float, device) -> dict:
    """Mean heatmap loss and mean 3D joint error (mm) with the export's decoding."""
    model.eval()
    losses, errors = [], []
    for voxels, targets, joints_vox, _ in loader:
        heat = model(voxels.to(device))
        losses.append(float(nn.functional.mse_loss(heat, targets.to(device))))
        pred, _ = decode_heatmaps(heat.float())
        err_vox = (pred.cpu() - joints_vox).norm(dim=-1)
        errors.append(err_vox * (cube_mm / config.output_grid))
    model.train()
    if not errors:
        return {}
    err = torch.cat(errors)
    return {"val_loss": float(np.mean(losses)), "val_mean_mm": float(err.mean()),
            "val_per_joint_mm": [round(float(e), 2) for e in err.mean(dim=0)]}


def _write_curves(csv_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(csv_path.open()))
    if not rows:
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    tr = [(float(r["epoch_progress"]), float(r["train_loss"])) for r in rows if r["train_loss"]]
    if tr:
        a.plot(*zip(*tr), label="train")
    va = [(float(r["epoch_progress"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
    if va:
        a.plot(*zip(*va), "o-", label="validation")
    a.set_xlabel("epoch")
    a.set_ylabel("heatmap MSE")
    a.set_yscale("log")
    a.legend()
    vm = [(float(r["epoch_progress"]), float(r["val_mean_mm"])) for r in rows if r["val_mean_mm"]]
    if vm:
        b.plot(*zip(*vm), "o-", color="C2")
    b.set_xlabel("epoch")
    b.set_ylabel("validation mean joint error (mm)")
    b.grid(alpha=0.3)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=png_path.parent, suffix=".png")
    os.close(fd)
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, png_path)


class _Log:
    FIELDS = ["epoch_progress", "global_step", "train_loss", "val_loss", "val_mean_mm", "lr", "elapsed_s"]

    def __init__(self, out: Path, enabled: bool):
        self.enabled = enabled
        self.csv = out / "metrics.csv"
        self.png = out / "curves.png"
        self.tb = None
        if enabled:
            if not self.csv.exists():
                with self.csv.open("w", newline="") as f:
                    csv.DictWriter(f, self.FIELDS).writeheader()
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(out / "tb"))
            except Exception:  # tensorboard is optional
                self.tb = None

    def row(self, **kw):
        if not self.enabled:
            return
        with self.csv.open("a", newline="") as f:
            csv.DictWriter(f, self.FIELDS).writerow({k: kw.get(k, "") for k in self.FIELDS})
        if self.tb is not None:
            for k in ("train_loss", "val_loss", "val_mean_mm"):
                if kw.get(k) not in (None, ""):
                    self.tb.add_scalar(k, float(kw[k]), int(kw["global_step"]))


def _load_same_model(path: Path, config: V2VConfig, option: str, hint: str = "") -> dict:
    """A checkpoint whose network is exactly `config`, or a one-line error naming `option`."""
    state = load_checkpoint(path)
    if state.get("config") != config.to_dict():
        theirs = state.get("config", {})
        raise UserError(f"{option}: {path} holds a {theirs.get('arch')} model with {theirs.get('num_joints')} joints; "
                        f"this run asks for {config.arch} with {config.num_joints}{hint}")
    return state


def train(args: TrainArgs, dataset: PoseDataset | None = None, log=print) -> dict:
    """Run training; returns the final validation metrics. `dataset` overrides --dataset (tests)."""
    torch.set_flush_denormal(True)  # the paper's N(0, 0.001) init yields denormals that stall CPU math 100x
    device = torch.device(args.device if args.device != "cuda" or torch.cuda.is_available() else "cpu")
    if args.device == "cuda" and device.type != "cuda":
        raise UserError("--device cuda was requested but PyTorch sees no CUDA device")
    _setup_distributed(device.type)
    rank, world = _world()
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    out = Path(args.out)
    if rank == 0:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create output folder {out}: {exc.strerror}") from None
    if world > 1:
        dist.barrier()

    if dataset is None:
        kw = {"centres_file": Path(args.centers)} if args.centers else {}
        dataset = open_dataset(args.dataset, args.data_root, "train", **kw)
    if len(dataset) == 0:
        raise UserError(f"dataset {args.dataset} at {args.data_root} has no training frames")
    if args.val_root:
        train_set, val_set = dataset, open_dataset(args.dataset, args.val_root, "train")
    else:
        train_set, val_set = split_train_val(dataset, args.val_fraction, args.seed)
    skeleton = get_skeleton(dataset.skeleton_name)
    cube_mm = float(dataset.cube_mm)
    config = preset(args.arch, skeleton.num_joints)

    ckpt_path = out / "last.pt"
    if rank == 0:
        for stale in out.glob(".*.tmp"):  # a write interrupted by a kill; the previous checkpoint is intact
            stale.unlink(missing_ok=True)
    state = init_state = None
    if args.resume:
        if not ckpt_path.exists():
            raise UserError(f"--resume: no checkpoint at {ckpt_path}")
        state = _load_same_model(ckpt_path, config, "--resume", " (use a new --out)")
    elif ckpt_path.exists():
        raise UserError(f"{out} already holds a run; pass --resume to continue it or choose a new --out")
    elif args.init_from:  # a resumed run already carries the weights it started from
        init_state = _load_same_model(Path(args.init_from), config, "--init-from")

    torch.manual_seed(args.seed)
    model = build_model(config).to(device)
    optimizer = _make_optimizer(args.optimizer, model.parameters(), args.lr)
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    start_epoch, start_step, global_step, history = 0, 0, 0, []
    elapsed_before = 0.0
    if init_state is not None:
        model.load_state_dict(init_state["model_state_dict"])
        if rank == 0:
            log(f"initialised from {args.init_from} (weights only; new optimizer and schedule)")
    if state is not None:
        model.load_state_dict(state["model_state_dict"])
        optimizer.load_state_dict(state["optimizer_state_dict"])
        if "scaler_state_dict" in state and use_amp:
            scaler.load_state_dict(state["scaler_state_dict"])
        start_epoch, start_step = int(state["epoch"]), int(state["step_in_epoch"])
        global_step, history = int(state["global_step"]), list(state.get("history", []))
        elapsed_before = float(state.get("elapsed_s", 0.0))
        if rank == 0:
            log(f"resuming {ckpt_path}: epoch {start_epoch + 1}, step {start_step}")
    net = nn.parallel.DistributedDataParallel(model) if world > 1 else model

    collate = Collate(config, cube_mm, args.augment, args.seed)
    val_loader = None
    if val_set is not None and rank == 0:
        val_loader = torch.utils.data.DataLoader(
            IndexedBatches(val_set, list(range(len(val_set))), args.batch_size), batch_size=args.batch_size,
            collate_fn=Collate(config, cube_mm, False, args.seed), num_workers=0)
    logger = _Log(out, rank == 0)
    training_data = f"{args.dataset} ({args.data_root}), {len(train_set)} training frames"
    t_start = time.time()
    last_save = time.time()
    metrics: dict = {}

    def checkpoint(epoch: int, step_in_epoch: int) -> None:
        if rank != 0:
            return
        save_checkpoint(ckpt_path, {
            "config": config.to_dict(), "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(), "scaler_state_dict": scaler.state_dict(),
            "epoch": epoch, "step_in_epoch": step_in_epoch, "global_step": global_step,
            "skeleton": skeleton.name, "cube_mm": cube_mm, "target": skeleton.target,
            "training_data": training_data, "args": asdict(args), "history": history,
            "validation": metrics, "elapsed_s": elapsed_before + time.time() - t_start,
        })

    from tqdm import tqdm

    for epoch in range(start_epoch, args.epochs):
        order = _epoch_order(train_set, args.seed, epoch, rank, world)
        steps_total = math.ceil(len(order) / args.batch_size)
        if args.max_steps_per_epoch:
            steps_total = min(steps_total, args.max_steps_per_epoch)
        first = start_step if epoch == start_epoch else 0
        collate.epoch = epoch
        subset = order[first * args.batch_size: steps_total * args.batch_size]
        loader = torch.utils.data.DataLoader(
            IndexedBatches(train_set, subset, args.batch_size), batch_size=args.batch_size, shuffle=False,
            collate_fn=collate, num_workers=args.workers, persistent_workers=False, worker_init_fn=_one_thread,
            prefetch_factor=2 if args.workers > 0 else None)
        net.train()
        bar = tqdm(total=steps_total, initial=first, desc=f"epoch {epoch + 1}/{args.epochs}", disable=rank != 0,
                   dynamic_ncols=True)
        running = []
        for step_offset, (voxels, targets, _, _) in enumerate(loader):
            step = first + step_offset
            lr = _learning_rate(args, epoch + step / steps_total)
            for group in optimizer.param_groups:
                group["lr"] = lr
            voxels, targets = voxels.to(device, non_blocking=True), targets.to(device, non_blocking=True)
            with torch.autocast(device.type, enabled=use_amp):
                heat = net(voxels)
            loss = nn.functional.mse_loss(heat.float(), targets)
            if not torch.isfinite(loss):
                raise UserError(f"training diverged at epoch {epoch + 1}, step {step} (loss {float(loss)}); "
                                "lower --lr")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            global_step += 1
            running.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(running[-50:]):.2e}")
            bar.update(1)
            if step % 25 == 24:
                logger.row(epoch_progress=epoch + (step + 1) / steps_total, global_step=global_step,
                           train_loss=np.mean(running[-25:]), lr=lr, elapsed_s=round(time.time() - t_start, 1))
            if time.time() - last_save > args.checkpoint_minutes * 60 and step + 1 < steps_total:
                checkpoint(epoch, step + 1)
                last_save = time.time()
        bar.close()
        if world > 1:
            dist.barrier()
        if rank == 0:
            metrics = validate(model, val_loader, config, cube_mm, device) if val_loader is not None else {}
            history.append({"epoch": epoch + 1, "train_loss": float(np.mean(running)) if running else None,
                            **{k: v for k, v in metrics.items() if k != "val_per_joint_mm"}})
            logger.row(epoch_progress=epoch + 1, global_step=global_step,
                       train_loss=np.mean(running) if running else "", val_loss=metrics.get("val_loss", ""),
                       val_mean_mm=metrics.get("val_mean_mm", ""), lr=_learning_rate(args, epoch + 1),
                       elapsed_s=round(time.time() - t_start, 1))
            checkpoint(epoch + 1, 0)
            last_save = time.time()
            best = min((h.get("val_mean_mm", math.inf) or math.inf) for h in history)
            if metrics.get("val_mean_mm", math.inf) <= best:
                import shutil
                shutil.copyfile(ckpt_path, out / ".best.pt.tmp")
                os.replace(out / ".best.pt.tmp", out / "best.pt")
            _write_curves(logger.csv, logger.png)
            log(f"epoch {epoch + 1}: train loss {history[-1]['train_loss']:.3e}"
                + (f", validation {metrics['val_mean_mm']:.2f} mm" if metrics else ""))
    if rank == 0:
        (out / "summary.json").write_text(json.dumps({"history": history, "validation": metrics,
                                                      "config": config.to_dict()}, indent=2))
        if args.export:
            from .export import export_checkpoint
            best = out / "best.pt" if (out / "best.pt").exists() else ckpt_path
            export_checkpoint(best, out / "model.onnx", log=log)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return metrics
