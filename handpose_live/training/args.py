"""The options of a training run (light: the command line imports it without torch)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..options import check_device, check_minimums, option


@dataclass
class TrainArgs:
    """`handpose-live train` options (the command line is built from these fields)."""

    dataset: str = option(help="nyu | icvl | msra | hands2017 | itop | synthetic")
    data_root: list[str] = option(help="dataset folder; repeat to train on several at once (same type, skeleton and cube)")
    out: str = option(help="run folder (checkpoints, metrics.csv, curves.png, model.onnx)")
    arch: str = option("v2v-lite", "v2v-full (the paper) | v2v-lite")
    epochs: int = option(10, "number of epochs")
    batch_size: int = option(8, "samples per step")
    lr: float = option(2.5e-4, "learning rate (paper: RMSProp 2.5e-4)")
    optimizer: str = option("rmsprop", "rmsprop | adam")
    device: str = option("auto", "auto (cuda when PyTorch sees a GPU, else cpu; as `run`) | cpu | cuda")
    workers: int = option(1, "data loader worker processes")
    resume: bool = option(False, "continue the run in --out exactly where it stopped", "--resume")
    seed: int = option(0, "seed of the initial weights, the data order and the augmentation")
    val_fraction: float = option(0.05, "share of training frames held out for validation")
    val_root: list[str] = option([], "separate validation set (same dataset type); repeat to validate on several")
    centres: str | None = option(None, "per-frame reference points file (x y z or invalid)", "--centres", "--centers")
    checkpoint_minutes: float = option(10.0, "also checkpoint mid-epoch this often (0 = every step)")
    max_steps_per_epoch: int = option(0, "cap steps per epoch (0 = all)")
    augment: bool = option(True, "paper augmentation: scale, rotation, shift", "--augment/--no-augment")
    export: bool = option(True, "export model.onnx from the best checkpoint at the end", "--export/--no-export")
    schedule: str = option("none", "learning-rate schedule: none (paper) | cosine")
    init_from: str | None = option(None, "start from this checkpoint's or exported model file's (.onnx, fp32) weights "
                                                "(fine-tune; new optimizer and schedule)")

    def __post_init__(self) -> None:
        # Python callers may pass one folder as a string (or None for no validation set).
        self.data_root = [str(self.data_root)] if isinstance(self.data_root, (str, Path)) else [str(r) for r in self.data_root]
        self.val_root = [str(self.val_root)] if isinstance(self.val_root, (str, Path)) else [str(r) for r in self.val_root or []]


OPTIMIZERS = ("rmsprop", "adam")
SCHEDULES = ("none", "cosine")


def check_args(args: TrainArgs) -> None:
    """`train`'s options, validated before torch loads or anything is read (`train` and `Trainer` call it)."""
    check_minimums(("--epochs", args.epochs, 1), ("--batch-size", args.batch_size, 1), ("--workers", args.workers, 0),
                   ("--max-steps-per-epoch", args.max_steps_per_epoch, 0), ("--seed", args.seed, 0))
    for name, value in (("--lr", args.lr), ("--checkpoint-minutes", args.checkpoint_minutes)):
        if not math.isfinite(value) or value < 0:
            raise UserError(f"{name} must be a non-negative number, got {value}")
    if not (math.isfinite(args.val_fraction) and 0 <= args.val_fraction < 1):
        raise UserError(f"--val-fraction must lie in [0, 1), got {args.val_fraction}")
    check_device(args.device)
    if args.schedule not in SCHEDULES:
        raise UserError(f"unknown schedule '{args.schedule}' ({', '.join(SCHEDULES)})")
    if args.optimizer not in OPTIMIZERS:
        raise UserError(f"unknown optimizer '{args.optimizer}' ({', '.join(OPTIMIZERS)})")


@dataclass
class DetectorTrainArgs:
    """`handpose-live train-detector` options."""

    data: Path = option(Path("detector-data"), "folder of rendered scenes (made or extended here)")
    frames: int = option(6000, "scenes to render and train on")
    epochs: int = option(30, "passes over the scenes")
    batch: int = option(64, "scenes per step")
    lr: float = option(2e-3, "AdamW learning rate (cosine decay)")
    seed: int = option(0, "scene and training seed")
    out: Path = option(Path("hand-detector.onnx"), "the exported detector")
    checkpoint: Path = option(Path("detector-checkpoint.pt"), "checkpoint after every epoch")
    resume: bool = option(False, "continue from --checkpoint", "--resume")
    threads: int | None = option(None, "CPU threads")
    threshold: float = option(0.3, "candidate threshold stored in the file (choose it with benchmarks/detector_threshold.py)")
    sensors: str = option("stereo", "sensor model of the scenes: stereo (every camera; the shipped file) | per-camera "
                                    "(each camera's family: D4xx, SR300, Kinect v1)")
    scenes: str = option("hands", "scene content: hands (generator scenes-1/-2) | heads (the same plus heads and faces "
                                  "at hand range as hard negatives: scenes-3/-4) | rooms (offices and labs with 0-4 "
                                  "people: a person detector)")
    scales: list[float] = option([], "image pyramid stored in the file: the detector also runs at its input stride "
                                     "times each scale, for subjects nearer than in training (repeat: --scales 1 "
                                     "--scales 1.5; default: one level)")

    def __post_init__(self) -> None:
        check_minimums(("--frames", self.frames, 1), ("--epochs", self.epochs, 1), ("--batch", self.batch, 1),
                       ("--seed", self.seed, 0))
        if any(not (math.isfinite(x) and x >= 1) for x in self.scales):
            raise UserError(f"--scales must be numbers >= 1 (1: the input stride), got {self.scales}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UserError(f"--lr must be positive, got {self.lr}")
        if not (math.isfinite(self.threshold) and 0 < self.threshold < 1):
            raise UserError(f"--threshold must lie in (0, 1), got {self.threshold}")
