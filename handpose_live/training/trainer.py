"""Training V2V models: the paper's recipe by default, resumable, single process or DDP.

Per batch: dataset `Sample`s -> `Collate` (in the loader workers: augmentation, the shared
voxelizer, Gaussian targets) -> model -> MSE on heatmaps; validation decodes like the exported model.
Three parts: `Trainer.__init__` (set-up, resume or init-from), `train_epoch` and `end_epoch`
(validation, history, checkpoint, best model, curves). Exact resume: `last.pt` is written atomically
during and at the end of every epoch, and the data order and augmentation are seeded by
(seed, epoch) and (seed, epoch, step in the epoch), so `--resume` after a kill at any step gives
bit-identical weights and the same `metrics.csv` rows.
Scale-out: `torchrun --nproc-per-node K -m handpose_live train ...` (DDP; gloo on CPU).
How resume works: docs/design-notes.md, `training/trainer.py`.
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ..data import open_datasets
from ..data.base import PoseDataset, Sample
from ..errors import UserError
from ..fileio import atomic_path, atomic_write, atomic_write_text, remove_temporaries, save_figure
from ..geometry import norm_to_voxel
from ..heatmaps import decode_heatmaps, gaussian_targets
from ..modeling.v2v import V2VConfig, build_model, preset
from ..skeletons import get_skeleton
from ..voxelize import Augmentation, augment_points_norm, normalise_points, pad_points, voxelize_norm
from .args import TrainArgs, check_args
from .checkpoint import load_checkpoint, save_checkpoint
from .onnx_weights import is_onnx_path, model_from_onnx

ONNX_INIT_FRAMES = 96      # training frames whose statistics re-expand the BatchNorms of a model file


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
        step = batch[0][0]
        samples = [b[1] for b in batch]
        points, valid = pad_points([s.points_mm for s in samples])
        joints = torch.from_numpy(np.stack([np.asarray(s.joints_mm, np.float32) for s in samples]))
        centres = torch.from_numpy(np.stack([np.asarray(s.centre_mm, np.float32) for s in samples]))
        pts_norm = normalise_points(points, centres, self.cube_mm)
        joints_norm = normalise_points(joints, centres, self.cube_mm)
        if self.augment:
            g = torch.Generator().manual_seed(hash((self.seed, self.epoch, step)) & 0x7FFFFFFF)
            aug = Augmentation.sample(len(samples), g)
            pts_norm = augment_points_norm(pts_norm, aug, self.config.input_grid)
            joints_norm = augment_points_norm(joints_norm, aug, self.config.input_grid)
        return pts_norm, valid, joints_norm, centres


class IndexedBatches(torch.utils.data.Dataset):
    """The samples of one epoch from position `first` on, each carrying the step (counted from the
    start of the epoch) that it belongs to: the seed of that batch's augmentation."""

    def __init__(self, dataset: PoseDataset, order: list[int], batch_size: int, first: int = 0):
        self.dataset, self.order, self.batch_size, self.first = dataset, order, batch_size, first

    def __len__(self):
        return len(self.order) - self.first

    def __getitem__(self, i):
        position = self.first + i
        return position // self.batch_size, self.dataset[self.order[position]]


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


def learning_rate(args: TrainArgs, epoch_progress: float) -> float:
    """Computed from progress alone, so a resumed run continues on the same curve."""
    if args.schedule == "cosine":
        return args.lr * 0.5 * (1 + math.cos(math.pi * min(epoch_progress / args.epochs, 1.0)))
    return args.lr          # "none" (check_args knows no other)


def _make_optimizer(name: str, params, lr: float):
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.99, eps=1e-8)
    return torch.optim.Adam(params, lr=lr)      # "adam" (check_args knows no other)


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


def write_curves(csv_path: Path, png_path: Path) -> None:
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
    try:
        save_figure(fig, png_path, dpi=100)
    finally:
        plt.close(fig)


class MetricsLog:
    """`metrics.csv` (one row every 25 steps and one per epoch), mirrored to TensorBoard when installed."""

    FIELDS = ["epoch_progress", "global_step", "train_loss", "val_loss", "val_mean_mm", "lr", "elapsed_s"]

    def __init__(self, out: Path, enabled: bool, resume_at_step: int | None = None):
        self.enabled = enabled
        self.csv = out / "metrics.csv"
        self.png = out / "curves.png"
        self.tb = None
        if not enabled:
            return
        if resume_at_step is not None and self.csv.exists():
            # Rows written after the checkpoint belong to steps that run again: drop them.
            rows = [r for r in csv.DictReader(self.csv.open()) if int(r["global_step"]) <= resume_at_step]
            self._rewrite(rows)
        elif not self.csv.exists():
            self._rewrite([])
        try:
            from torch.utils.tensorboard import SummaryWriter
            self.tb = SummaryWriter(str(out / "tb"))
        except Exception:  # tensorboard is optional
            self.tb = None

    def _rewrite(self, rows: list[dict]) -> None:
        def write(f):
            w = csv.DictWriter(f, self.FIELDS)
            w.writeheader()
            w.writerows(rows)
        atomic_write(self.csv, write, mode="w")

    def row(self, **kw) -> None:
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


class Trainer:
    """One training run. `run()` returns the final validation metrics."""

    def __init__(self, args: TrainArgs, dataset: PoseDataset | None = None, log=print):
        check_args(args)
        self.args, self.log = args, log
        torch.set_flush_denormal(True)  # the paper's N(0, 0.001) init yields denormals that stall CPU math 100x
        self.device = self._setup_device()
        self.rank, self.world = _world()
        self.out = Path(args.out)
        if self.rank == 0:
            try:
                self.out.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create output folder {self.out}: {exc.strerror}") from None
        self._barrier()

        # data and network
        if dataset is None:
            if args.centres and len(args.data_root) > 1:
                raise UserError("--centres gives the reference points of one dataset: use it with one --data-root")
            kw = {"centres_file": Path(args.centres)} if args.centres else {}
            dataset = open_datasets(args.dataset, args.data_root, "train", **kw)
        if len(dataset) == 0:
            raise UserError(f"dataset {args.dataset} at {', '.join(args.data_root)} has no training frames")
        if args.val_root:
            self.train_set, val_set = dataset, open_datasets(args.dataset, args.val_root, "train")
        else:
            self.train_set, val_set = split_train_val(dataset, args.val_fraction, args.seed)
        self.skeleton = get_skeleton(dataset.skeleton_name)
        self.cube_mm = float(dataset.cube_mm)
        self.config = preset(args.arch, self.skeleton.num_joints)
        self.ckpt_path = self.out / "last.pt"
        state = self._resume_state()

        torch.manual_seed(args.seed)
        self.model = build_model(self.config).to(self.device)
        self.optimizer = _make_optimizer(args.optimizer, self.model.parameters(), args.lr)
        self.use_amp = self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.start_epoch = self.start_step = self.global_step = 0
        self.history: list[dict] = []
        self.epoch_losses: list[float] = []     # this epoch's step losses (kept across a resume)
        self.elapsed_before = 0.0
        self.metrics: dict = {}
        if state is not None:
            self._restore(state)
        self.net = nn.parallel.DistributedDataParallel(self.model) if self.world > 1 else self.model

        self.collate = Collate(self.config, self.cube_mm, args.augment, args.seed)
        self.val_loader = None
        if val_set is not None and self.rank == 0:
            self.val_loader = torch.utils.data.DataLoader(
                IndexedBatches(val_set, list(range(len(val_set))), args.batch_size), batch_size=args.batch_size,
                collate_fn=Collate(self.config, self.cube_mm, False, args.seed), num_workers=0)
        self.logger = MetricsLog(self.out, self.rank == 0, self.global_step if state is not None else None)
        self.training_data = f"{args.dataset} ({', '.join(args.data_root)}), {len(self.train_set)} training frames"
        self.t_start = time.time()

    # --- set-up -------------------------------------------------------------------------------
    def _setup_device(self) -> torch.device:
        args = self.args
        wanted = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
        device = torch.device(wanted if wanted != "cuda" or torch.cuda.is_available() else "cpu")
        if args.device == "cuda" and device.type != "cuda":
            raise UserError("--device cuda was requested but PyTorch sees no CUDA device")
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        return device

    def _barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def _resume_state(self) -> dict | None:
        """The checkpoint to continue (--resume), after checking it fits; --init-from is loaded in _restore."""
        args = self.args
        if self.rank == 0:
            remove_temporaries(self.out)  # a write interrupted by a kill; the previous checkpoint is intact
        if args.resume:
            if not self.ckpt_path.exists():
                raise UserError(f"--resume: no checkpoint at {self.ckpt_path}")
            return _load_same_model(self.ckpt_path, self.config, "--resume", " (use a new --out)")
        if self.ckpt_path.exists():
            raise UserError(f"{self.out} already holds a run; pass --resume to continue it or choose a new --out")
        if args.init_from and is_onnx_path(args.init_from):   # a model file: unfolded in _restore, on training grids
            return {"init_from_onnx": Path(args.init_from)}
        if args.init_from:  # a resumed run already carries the weights it started from
            return {"init_from": _load_same_model(Path(args.init_from), self.config, "--init-from")}
        return None

    def _restore(self, state: dict) -> None:
        if "init_from_onnx" in state:
            collate = Collate(self.config, self.cube_mm, False, self.args.seed)
            n = min(len(self.train_set), ONNX_INIT_FRAMES)
            grids = [collate([(0, self.train_set[i]) for i in range(k, min(k + 12, n))])[0] for k in range(0, n, 12)]
            model = model_from_onnx(state["init_from_onnx"], self.config, grids)
            self.model.load_state_dict(model.state_dict())
            if self.rank == 0:
                self.log(f"initialised from {self.args.init_from} (weights unfolded from the model file, BatchNorm "
                         f"statistics from {n} training frames; new optimizer and schedule)")
            return
        if "init_from" in state:
            self.model.load_state_dict(state["init_from"]["model_state_dict"])
            if self.rank == 0:
                self.log(f"initialised from {self.args.init_from} (weights only; new optimizer and schedule)")
            return
        self.model.load_state_dict(state["model_state_dict"])
        self.optimizer.load_state_dict(state["optimizer_state_dict"])
        if "scaler_state_dict" in state and self.use_amp:
            self.scaler.load_state_dict(state["scaler_state_dict"])
        self.start_epoch, self.start_step = int(state["epoch"]), int(state["step_in_epoch"])
        self.global_step, self.history = int(state["global_step"]), list(state.get("history", []))
        self.epoch_losses = [float(x) for x in state.get("epoch_losses", [])] if self.start_step else []
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        self.metrics = dict(state.get("validation", {}))
        if self.rank == 0:
            self.log(f"resuming {self.ckpt_path}: epoch {self.start_epoch + 1}, step {self.start_step}")

    def elapsed_s(self) -> float:
        return self.elapsed_before + time.time() - self.t_start

    def checkpoint(self, epoch: int, step_in_epoch: int) -> None:
        if self.rank != 0:
            return
        save_checkpoint(self.ckpt_path, {
            "config": self.config.to_dict(), "model_state_dict": self.model.state_dict(),
            "optimizer_state_dict": self.optimizer.state_dict(), "scaler_state_dict": self.scaler.state_dict(),
            "epoch": epoch, "step_in_epoch": step_in_epoch, "global_step": self.global_step,
            "epoch_losses": list(self.epoch_losses) if step_in_epoch else [],
            "skeleton": self.skeleton.name, "cube_mm": self.cube_mm, "target": self.skeleton.target,
            "training_data": self.training_data, "args": asdict(self.args), "history": self.history,
            "validation": self.metrics, "elapsed_s": self.elapsed_s(),
        })

    # --- one epoch ----------------------------------------------------------------------------
    def steps_in_epoch(self, order: list[int]) -> int:
        steps = math.ceil(len(order) / self.args.batch_size)
        return min(steps, self.args.max_steps_per_epoch) if self.args.max_steps_per_epoch else steps

    def train_epoch(self, epoch: int) -> None:
        from tqdm import tqdm

        args = self.args
        order = _epoch_order(self.train_set, args.seed, epoch, self.rank, self.world)
        steps_total = self.steps_in_epoch(order)
        first = self.start_step if epoch == self.start_epoch else 0
        if first == 0:
            self.epoch_losses = []
        self.collate.epoch = epoch
        loader = torch.utils.data.DataLoader(
            IndexedBatches(self.train_set, order[: steps_total * args.batch_size], args.batch_size,
                           first * args.batch_size),
            batch_size=args.batch_size, shuffle=False, collate_fn=self.collate, num_workers=args.workers,
            persistent_workers=False, worker_init_fn=_one_thread, prefetch_factor=2 if args.workers > 0 else None)
        self.net.train()
        bar = tqdm(total=steps_total, initial=first, desc=f"epoch {epoch + 1}/{args.epochs}",
                   disable=self.rank != 0, dynamic_ncols=True)
        last_save = time.time()
        for step, (voxels, targets, _, _) in enumerate(loader, start=first):
            lr = learning_rate(args, epoch + step / steps_total)
            loss = self.train_step(voxels, targets, lr, epoch, step)
            self.epoch_losses.append(loss)
            bar.set_postfix(loss=f"{np.mean(self.epoch_losses[-50:]):.2e}")
            bar.update(1)
            if step % 25 == 24:
                self.logger.row(epoch_progress=epoch + (step + 1) / steps_total, global_step=self.global_step,
                                train_loss=np.mean(self.epoch_losses[-25:]), lr=lr, elapsed_s=round(self.elapsed_s(), 1))
            if time.time() - last_save >= args.checkpoint_minutes * 60 and step + 1 < steps_total:
                self.checkpoint(epoch, step + 1)
                last_save = time.time()
        bar.close()

    def train_step(self, voxels, targets, lr: float, epoch: int, step: int) -> float:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        voxels, targets = voxels.to(self.device, non_blocking=True), targets.to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            heat = self.net(voxels)
        loss = nn.functional.mse_loss(heat.float(), targets)
        if not torch.isfinite(loss):
            raise UserError(f"training diverged at epoch {epoch + 1}, step {step} (loss {float(loss)}); lower --lr")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.global_step += 1
        return float(loss.detach())

    # --- end of an epoch ----------------------------------------------------------------------
    def end_epoch(self, epoch: int) -> None:
        self._barrier()
        if self.rank != 0:
            return
        self.metrics = validate(self.model, self.val_loader, self.config, self.cube_mm, self.device) \
            if self.val_loader is not None else {}
        train_loss = float(np.mean(self.epoch_losses)) if self.epoch_losses else None
        self.history.append({"epoch": epoch + 1, "train_loss": train_loss,
                             **{k: v for k, v in self.metrics.items() if k != "val_per_joint_mm"}})
        self.logger.row(epoch_progress=epoch + 1, global_step=self.global_step,
                        train_loss="" if train_loss is None else train_loss, val_loss=self.metrics.get("val_loss", ""),
                        val_mean_mm=self.metrics.get("val_mean_mm", ""), lr=learning_rate(self.args, epoch + 1),
                        elapsed_s=round(self.elapsed_s(), 1))
        self.checkpoint(epoch + 1, 0)
        best = min((h.get("val_mean_mm", math.inf) or math.inf) for h in self.history)
        if self.metrics.get("val_mean_mm", math.inf) <= best:
            with atomic_path(self.out / "best.pt") as tmp:
                tmp.write_bytes(self.ckpt_path.read_bytes())
        write_curves(self.logger.csv, self.logger.png)
        self.log(f"epoch {epoch + 1}: train loss " + ("-" if train_loss is None else f"{train_loss:.3e}")
                 + (f", validation {self.metrics['val_mean_mm']:.2f} mm" if self.metrics else ""))

    def finish(self) -> None:
        if self.rank == 0:
            atomic_write_text(self.out / "summary.json", json.dumps(
                {"history": self.history, "validation": self.metrics, "config": self.config.to_dict()}, indent=2))
            if self.args.export:
                from .export import export_checkpoint
                best = self.out / "best.pt" if (self.out / "best.pt").exists() else self.ckpt_path
                export_checkpoint(best, self.out / "model.onnx", log=self.log)
        if self.world > 1:
            dist.barrier()
            dist.destroy_process_group()

    def run(self) -> dict:
        for epoch in range(self.start_epoch, self.args.epochs):
            self.train_epoch(epoch)
            self.end_epoch(epoch)
        self.finish()
        return self.metrics


def train(args: TrainArgs, dataset: PoseDataset | None = None, log=print) -> dict:
    """Run training; returns the final validation metrics. `dataset` overrides --dataset (tests)."""
    return Trainer(args, dataset, log).run()
