"""Prediction and ground-truth files in the standard format: one line per frame, J x (u v d)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UserError
from ..fileio import atomic_write
from ..geometry import camera_to_pixel, pixel_to_camera_mm
from ..skeletons import get_skeleton
from ..types import Intrinsics
from .metrics import EVAL_SKELETONS, EvalResult, eval_intrinsics, eval_uvd_to_xyz, evaluate_xyz


def read_uvd_file(path: Path, num_joints: int) -> np.ndarray:
    """A prediction / ground-truth file -> [N, J, 3] (u, v, d); any defect is a one-line UserError."""
    from ..data.common import read_table
    path = Path(path)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    _, values = read_table(path, num_joints * 3, what=f"{num_joints} joints x u v d")
    return values.reshape(-1, num_joints, 3)


def evaluate_files(predictions: Path, ground_truth: Path, dataset: str) -> EvalResult:
    eval_intrinsics(dataset)
    num_joints = get_skeleton(EVAL_SKELETONS[dataset]).num_joints
    gt = read_uvd_file(ground_truth, num_joints)
    pred = read_uvd_file(predictions, num_joints)
    if len(pred) != len(gt):
        raise UserError(f"{predictions} has {len(pred)} lines but the ground truth {ground_truth} has {len(gt)}")
    return evaluate_xyz(eval_uvd_to_xyz(pred, dataset), eval_uvd_to_xyz(gt, dataset))


def evaluate_on_dataset(predictions: Path, dataset: str, data_root: Path, split: str = "test") -> tuple[EvalResult, str]:
    """Predictions for a dataset read by its loader (synthetic, hands2017, itop: no published u v d ground
    truth) against its labels: what `eval --model --out` writes, u v d in the dataset's intrinsics (or, for
    a dataset without them, a .npy of joints in mm), for the first frames of the split (as many as lines).
    Returns the result and the labels' skeleton name."""
    from ..data import open_dataset

    data = open_dataset(dataset, data_root, split)
    num_joints = get_skeleton(data.skeleton_name).num_joints
    intr = getattr(data, "intrinsics", None)
    predictions = Path(predictions)
    if predictions.suffix == ".npy":
        if not predictions.is_file():
            raise UserError(f"file not found: {predictions}")
        pred = np.load(predictions)
        if pred.ndim != 3 or pred.shape[1:] != (num_joints, 3):
            raise UserError(f"{predictions} holds an array of shape {pred.shape}; expected [frames, {num_joints}, 3] mm")
    elif intr is None:
        raise UserError(f"{dataset} has no camera intrinsics to read u v d with: give the .npy file of joints in mm "
                        "that `eval --model --out` writes for it")
    else:
        pred = pixel_to_camera_mm(read_uvd_file(predictions, num_joints), intr)
    if not 0 < len(pred) <= len(data):
        raise UserError(f"{predictions} has {len(pred)} frames; the {dataset} {split} split at {data_root} has {len(data)}")
    gt = np.stack([data[i].joints_mm for i in range(len(pred))])
    return evaluate_xyz(pred, gt), data.skeleton_name


def write_uvd_file(path: Path, pred_mm: np.ndarray, intrinsics: Intrinsics) -> None:
    """Predictions [N, J, 3] in camera mm -> the standard u v d file (the inverse of `read_uvd_file`)."""
    uvd = camera_to_pixel(pred_mm, intrinsics).reshape(len(pred_mm), -1)
    atomic_write(path, lambda f: np.savetxt(f, uvd, fmt="%.4f"), mode="w")
