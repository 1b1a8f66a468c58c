"""A model over a dataset split: predictions, ground truth and the standard figures.

Frames go through the same Predictor as `handpose-live run` (voxelizer, ONNX Runtime,
decoding); the reference point is the dataset's (its centres file, or the ground-truth-derived
default the loader documents), so the score isolates the pose network.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import open_dataset
from ..errors import UserError
from ..inference.predictor import Predictor
from ..targets import get_target
from .metrics import EvalResult, evaluate_xyz, map_at


def predict_dataset(predictor: Predictor, dataset, batch_size: int = 8, limit: int = 0):
    """Predictions and ground truth for every frame: (pred_mm [N,J,3], gt_mm [N,J,3])."""
    from tqdm import tqdm

    n = len(dataset) if not limit else min(limit, len(dataset))
    preds, gts = [], []
    for start in tqdm(range(0, n, batch_size), desc="evaluating", unit="batch", leave=False):
        samples = [dataset[i] for i in range(start, min(n, start + batch_size))]
        joints, _ = predictor.predict_points([s.points_mm for s in samples], np.stack([s.centre_mm for s in samples]))
        preds.append(joints)
        gts.append(np.stack([s.joints_mm for s in samples]))
    return np.concatenate(preds), np.concatenate(gts)


@dataclass
class ModelEvaluation:
    predictor: Predictor
    dataset: object
    pred_mm: np.ndarray
    result: EvalResult
    report: dict          # the JSON figures: standard metrics, plus mAP at 10 cm for bodies


def evaluate_model(model: Path, dataset_name: str, data_root: Path | None, split: str = "test", limit: int = 0,
                   log=print, **dataset_kw) -> ModelEvaluation:
    if data_root is None:
        raise UserError("--model needs --data-root (the dataset folder)")
    if limit < 0:
        raise UserError(f"--limit must be >= 0, got {limit}")
    predictor = Predictor(model)
    dataset = open_dataset(dataset_name, data_root, split, **dataset_kw)
    if len(dataset) == 0:
        raise UserError(f"{dataset_name} {split} split at {data_root} has no frames")
    if dataset.skeleton_name != predictor.info.skeleton:
        raise UserError(f"{Path(model).name} predicts the {predictor.info.skeleton} skeleton, the {dataset_name} "
                        f"labels are {dataset.skeleton_name}")
    if abs(dataset.cube_mm - predictor.cube_mm) > 1e-6:
        log(f"note: model cube {predictor.cube_mm:.0f} mm, dataset default {dataset.cube_mm:.0f} mm; using the model's")
    pred, gt = predict_dataset(predictor, dataset, limit=limit)
    result = evaluate_xyz(pred, gt)
    report = result.to_json()
    if get_target(predictor.info.target).metric == "map_10cm":
        m = map_at(pred, gt, 100.0)
        report["map_10cm"] = float(m.mean)
        report["map_10cm_per_joint"] = [float(v) for v in m.per_joint]
    return ModelEvaluation(predictor, dataset, pred, result, report)
