"""The standard hand-pose metrics, exactly as published tables compute them, plus ITOP's mAP.

Pure functions of arrays: mean error = mean over joints of the per-joint mean over frames;
success rate at T = fraction of frames whose MAXIMUM joint error is <= T mm, T = 0..80.
Prediction files become xyz with the dataset's standard *evaluation* intrinsics
(`eval_uvd_to_xyz`; not the calib presets: the published figures were computed with these
rounded values). Reading files is `predictions.py`, tables and plots are `report.py`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..geometry import flip_y, pixel_to_camera_mm
from ..types import Intrinsics

# (fx, fy, cx, cy, width, height); a negative fy is NYU's y-up labelling, applied as geometry.flip_y.
EVAL_INTRINSICS = {
    "nyu": (588.03, -587.07, 320.0, 240.0, 640, 480),
    "icvl": (240.99, 240.96, 160.0, 120.0, 320, 240),
    "msra": (241.42, 241.42, 160.0, 120.0, 320, 240),
}
EVAL_SKELETONS = {"nyu": "nyu14", "icvl": "icvl16", "msra": "msra21"}
THRESHOLDS_MM = np.arange(0, 81, dtype=np.float64)
TABLE_THRESHOLDS_MM = (10, 20, 30, 40, 50)

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
    fx, fy, cx, cy, width, height = eval_intrinsics(dataset)
    xyz = pixel_to_camera_mm(uvd, Intrinsics(fx, abs(fy), cx, cy, width, height, name=f"{dataset}-eval"))
    return flip_y(xyz) if fy < 0 else xyz


def eval_intrinsics(dataset: str) -> tuple:
    if dataset not in EVAL_INTRINSICS:
        raise UserError(f"no standard evaluation for dataset '{dataset}' (known: {', '.join(EVAL_INTRINSICS)})")
    return EVAL_INTRINSICS[dataset]
