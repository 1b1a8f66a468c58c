"""`handpose-live eval --model`: run an exported model over a dataset split and score it.

Frames go through the same Predictor as `handpose-live run` (voxelizer, ONNX Runtime,
decoding); the reference point is the dataset's (its centres file, or the ground-truth-derived
default the loader documents), so the score isolates the pose network.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .data import open_dataset
from .errors import UserError
from .evaluate import evaluate_xyz, map_at, plot_success, print_table
from .geometry import camera_to_pixel
from .predictor import Predictor


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


def _write_uvd(path: Path, pred_mm: np.ndarray, intrinsics) -> None:
    uvd = camera_to_pixel(pred_mm, intrinsics).reshape(len(pred_mm), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".txt")
    with os.fdopen(fd, "w") as f:
        np.savetxt(f, uvd, fmt="%.4f")
    os.replace(tmp, path)


def run_model_eval(model: Path, dataset_name: str, data_root: Path, split: str = "test",
                   predictions_out: Path | None = None, plot: Path | None = None, as_json: bool = False,
                   limit: int = 0, **dataset_kw) -> dict:
    if data_root is None:
        raise UserError("--model needs --data-root (the dataset folder)")
    predictor = Predictor(model)
    dataset = open_dataset(dataset_name, data_root, split, **dataset_kw)
    if len(dataset) == 0:
        raise UserError(f"{dataset_name} {split} split at {data_root} has no frames")
    if dataset.skeleton_name != predictor.info.skeleton:
        raise UserError(f"{model.name} predicts the {predictor.info.skeleton} skeleton, the {dataset_name} labels are "
                        f"{dataset.skeleton_name}")
    if abs(dataset.cube_mm - predictor.cube_mm) > 1e-6:
        print(f"note: model cube {predictor.cube_mm:.0f} mm, dataset default {dataset.cube_mm:.0f} mm; using the model's")
    pred, gt = predict_dataset(predictor, dataset, limit=limit)
    result = evaluate_xyz(pred, gt)
    report = result.to_json()
    if predictor.info.target == "body":
        m = map_at(pred, gt, 100.0)
        report["map_10cm"] = float(m.mean)
        report["map_10cm_per_joint"] = [float(v) for v in m.per_joint]
    if predictions_out is not None:
        intr = getattr(dataset, "intrinsics", None)
        if intr is None:
            np.save(predictions_out.with_suffix(".npy"), pred)
        else:
            _write_uvd(predictions_out, pred, intr)
    if as_json:
        print(json.dumps(report))
    else:
        print_table([(model.stem, result)], predictor.info.skeleton if dataset_name not in ("nyu", "icvl", "msra")
                    else dataset_name)
        if "map_10cm" in report:
            print(f"mAP at 10 cm: {report['map_10cm'] * 100:.2f}")
    if plot is not None:
        plot_success([(model.stem, result)], plot)
    return report
