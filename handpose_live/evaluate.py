"""The standard hand-pose evaluation, exactly as published tables compute it, plus ITOP's mAP.

Prediction files: one line per test frame, J x (u v d), in the ground truth's frame order.
Both files become xyz with the dataset's standard *evaluation* intrinsics (not the calib
presets: the published figures were computed with these rounded values), then:
mean error = mean over joints of the per-joint mean over frames; success rate at T = fraction
of frames whose MAXIMUM joint error is <= T mm, T = 0..80.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError
from .geometry import flip_y, pixel_to_camera_mm
from .skeletons import get_skeleton
from .types import Intrinsics

# (fx, fy, cx, cy, width, height); a negative fy is NYU's y-up labelling, applied as geometry.flip_y.
EVAL_INTRINSICS = {
    "nyu": (588.03, -587.07, 320.0, 240.0, 640, 480),
    "icvl": (240.99, 240.96, 160.0, 120.0, 320, 240),
    "msra": (241.42, 241.42, 160.0, 120.0, 320, 240),
}
EVAL_SKELETONS = {"nyu": "nyu14", "icvl": "icvl16", "msra": "msra21"}
THRESHOLDS_MM = np.arange(0, 81, dtype=np.float64)
TABLE_THRESHOLDS_MM = (10, 20, 30, 40, 50)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NYU_GROUND_TRUTH = SHARED_DATA / "real-hand-poses" / "nyu_test_groundtruth_label.txt"


@dataclass
class EvalResult:
    errors_mm: np.ndarray        # [N, J] per-frame, per-joint Euclidean error
    per_joint_mm: np.ndarray     # [J] mean over frames
    mean_error_mm: float         # mean of per_joint_mm
    thresholds_mm: np.ndarray    # [T] 0..80
    success_rate: np.ndarray     # [T] fraction of frames whose max joint error <= threshold

    def success_at(self, threshold_mm: float) -> float:
        return float(np.mean(self.errors_mm.max(axis=1) <= threshold_mm)) if len(self.errors_mm) else 0.0

    def to_json(self) -> dict:
        return {
            "mean_error_mm": float(self.mean_error_mm),
            "per_joint_mm": [float(e) for e in self.per_joint_mm],
            "success_rate": {str(t): self.success_at(t) for t in TABLE_THRESHOLDS_MM},
        }


@dataclass
class MapResult:
    per_joint: np.ndarray        # [J] fraction of frames with the joint within the threshold
    mean: float                  # mAP: mean over joints
    threshold_mm: float


def evaluate_xyz(pred_mm: np.ndarray, gt_mm: np.ndarray) -> EvalResult:
    """Standard metrics from [N, J, 3] predictions and ground truth in the same 3D frame (mm)."""
    pred, gt = np.asarray(pred_mm, np.float64), np.asarray(gt_mm, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise UserError(f"predictions {pred.shape} and ground truth {gt.shape} must both be [N, J, 3]")
    if len(gt) == 0:
        raise UserError("nothing to evaluate: zero frames")
    errors = np.linalg.norm(pred - gt, axis=2)
    per_joint = errors.mean(axis=0)
    worst = errors.max(axis=1)
    success = (worst[None, :] <= THRESHOLDS_MM[:, None]).mean(axis=1)
    return EvalResult(errors, per_joint, float(per_joint.mean()), THRESHOLDS_MM.copy(), success)


def map_at(pred_mm: np.ndarray, gt_mm: np.ndarray, threshold_mm: float = 100.0) -> MapResult:
    """ITOP metric: per joint, the fraction of frames within `threshold_mm` (10 cm); mAP = their mean."""
    pred, gt = np.asarray(pred_mm, np.float64), np.asarray(gt_mm, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[2] != 3 or len(gt) == 0:
        raise UserError(f"predictions {pred.shape} and ground truth {gt.shape} must both be non-empty [N, J, 3]")
    per_joint = (np.linalg.norm(pred - gt, axis=2) <= threshold_mm).mean(axis=0)
    return MapResult(per_joint, float(per_joint.mean()), float(threshold_mm))


def eval_uvd_to_xyz(uvd: np.ndarray, dataset: str) -> np.ndarray:
    """[..., 3] (u, v, d) -> xyz mm with the standard evaluation intrinsics of `dataset`."""
    fx, fy, cx, cy, width, height = _eval_intrinsics(dataset)
    xyz = pixel_to_camera_mm(uvd, Intrinsics(fx, abs(fy), cx, cy, width, height, name=f"{dataset}-eval"))
    return flip_y(xyz) if fy < 0 else xyz


def _eval_intrinsics(dataset: str) -> tuple:
    if dataset not in EVAL_INTRINSICS:
        raise UserError(f"no standard evaluation for dataset '{dataset}' (known: {', '.join(EVAL_INTRINSICS)})")
    return EVAL_INTRINSICS[dataset]


def read_uvd_file(path: Path, num_joints: int) -> np.ndarray:
    """A prediction / ground-truth file -> [N, J, 3] (u, v, d); any defect is a one-line UserError."""
    from .data.common import read_table
    path = Path(path)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    _, values = read_table(path, num_joints * 3, what=f"{num_joints} joints x u v d")
    return values.reshape(-1, num_joints, 3)


def evaluate_files(predictions: Path, ground_truth: Path, dataset: str) -> EvalResult:
    _eval_intrinsics(dataset)
    num_joints = get_skeleton(EVAL_SKELETONS[dataset]).num_joints
    gt = read_uvd_file(ground_truth, num_joints)
    pred = read_uvd_file(predictions, num_joints)
    if len(pred) != len(gt):
        raise UserError(f"{predictions} has {len(pred)} lines but the ground truth {ground_truth} has {len(gt)}")
    return evaluate_xyz(eval_uvd_to_xyz(pred, dataset), eval_uvd_to_xyz(gt, dataset))


def default_ground_truth(dataset: str) -> Path:
    if dataset == "nyu" and NYU_GROUND_TRUTH.is_file():
        return NYU_GROUND_TRUTH
    where = f" (looked for {NYU_GROUND_TRUTH})" if dataset == "nyu" else ""
    raise UserError(f"no ground truth for '{dataset}' at hand{where}: pass --ground-truth FILE")


def plot_success(curves: list[tuple[str, EvalResult]], path: Path) -> None:
    """Success-rate curves of several methods on one figure, written atomically (tmp + rename)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    for label, result in curves:
        ax.plot(result.thresholds_mm, result.success_rate * 100.0, lw=2,
                label=f"{label} ({result.mean_error_mm:.2f} mm)")
    ax.set_xlabel("maximum allowed distance to ground truth (mm)")
    ax.set_ylabel("fraction of frames within distance (%)")
    ax.set_xlim(0, THRESHOLDS_MM[-1])
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.4)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)


def print_table(curves: list[tuple[str, EvalResult]], dataset: str) -> None:
    from rich.console import Console
    from rich.table import Table

    joints = get_skeleton(EVAL_SKELETONS.get(dataset, dataset)).joints
    table = Table(title=f"{dataset.upper()} standard evaluation")
    table.add_column("metric")
    for label, _ in curves:
        table.add_column(label, justify="right")
    table.add_row("mean error (mm)", *(f"{r.mean_error_mm:.3f}" for _, r in curves), style="bold")
    for t in TABLE_THRESHOLDS_MM:
        table.add_row(f"success @ {t} mm", *(f"{r.success_at(t):.4f}" for _, r in curves))
    table.add_section()
    for j, name in enumerate(joints):
        table.add_row(f"{name} (mm)", *(f"{r.per_joint_mm[j]:.3f}" for _, r in curves))
    Console().print(table)


def eval_cli(dataset: str, predictions: list[Path], ground_truth: Path | None = None, plot: Path | None = None,
             as_json: bool = False, labels: list[str] | None = None, model: Path | None = None,
             data_root: Path | None = None, split: str = "test", out: Path | None = None,
             limit: int = 0) -> list[tuple[str, EvalResult]] | dict:
    """What `handpose-live eval` does; returns the (label, result) pairs it printed (or the model report)."""
    if model is not None:
        from .eval_model import run_model_eval
        return run_model_eval(Path(model), dataset, data_root, split, predictions_out=out, plot=plot,
                              as_json=as_json, limit=limit)
    _eval_intrinsics(dataset)
    if not predictions:
        raise UserError("give at least one --predictions FILE")
    labels = list(labels or [])
    if len(labels) > len(predictions):
        raise UserError(f"{len(labels)} --label values for {len(predictions)} --predictions files")
    labels += [Path(p).stem for p in predictions[len(labels):]]
    gt_path = ground_truth if ground_truth is not None else default_ground_truth(dataset)
    curves = [(label, evaluate_files(p, gt_path, dataset)) for label, p in zip(labels, predictions)]
    if as_json:
        for _, result in curves:
            print(json.dumps(result.to_json()))
    else:
        print_table(curves, dataset)
    if plot is not None:
        plot_success(curves, plot)
    return curves
