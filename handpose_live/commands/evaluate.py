"""`handpose-live eval`: prediction files (the published protocol) or a model over a dataset split."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..evaluation.metrics import EvalResult, eval_intrinsics
from ..evaluation.predictions import evaluate_files, write_uvd_file
from ..evaluation.report import plot_success, print_table
from ..fileio import FIGURE_FORMATS, atomic_write, check_format


def eval_files(dataset: str, predictions: list[Path], ground_truth: Path | None, labels: list[str],
               as_json: bool = False, plot: Path | None = None) -> list[tuple[str, EvalResult]]:
    eval_intrinsics(dataset)
    if not predictions:
        raise UserError("give at least one --predictions FILE")
    if ground_truth is None:
        raise UserError("--predictions needs --ground-truth FILE (the test set's labels, same u v d format)")
    if len(labels) > len(predictions):
        raise UserError(f"{len(labels)} --label values for {len(predictions)} --predictions files")
    labels = labels + [Path(p).stem for p in predictions[len(labels):]]
    curves = [(label, evaluate_files(p, ground_truth, dataset)) for label, p in zip(labels, predictions)]
    if as_json:
        for _, result in curves:
            print(json.dumps(result.to_json()))
    else:
        print_table(curves, dataset)
    if plot is not None:
        plot_success(curves, plot)
    return curves


def eval_model(model: Path, dataset: str, data_root: Path | None, split: str = "test", out: Path | None = None,
               plot: Path | None = None, as_json: bool = False, limit: int = 0, **dataset_kw) -> dict:
    from ..evaluation.model_eval import evaluate_model

    ev = evaluate_model(Path(model), dataset, data_root, split, limit=limit, **dataset_kw)
    if out is not None:
        intr = getattr(ev.dataset, "intrinsics", None)
        if intr is None:
            atomic_write(Path(out).with_suffix(".npy"), lambda f: np.save(f, ev.pred_mm))
        else:
            write_uvd_file(Path(out), ev.pred_mm, intr)
    if as_json:
        print(json.dumps(ev.report))
    else:
        name = ev.predictor.info.skeleton if dataset not in ("nyu", "icvl", "msra") else dataset
        print_table([(Path(model).stem, ev.result)], name)
        if "map_10cm" in ev.report:
            print(f"mAP at 10 cm: {ev.report['map_10cm'] * 100:.2f}")
    if plot is not None:
        plot_success([(Path(model).stem, ev.result)], plot)
    return ev.report


def eval_cli(dataset: str, predictions: list[Path], ground_truth: Path | None = None, plot: Path | None = None,
             as_json: bool = False, labels: list[str] | None = None, model: Path | None = None,
             data_root: Path | None = None, split: str = "test", out: Path | None = None, limit: int = 0):
    """What `handpose-live eval` does: a model over a dataset split, or prediction files."""
    if plot is not None:
        check_format(plot, FIGURE_FORMATS, "--plot")
    if model is not None:
        return eval_model(Path(model), dataset, data_root, split, out=out, plot=plot, as_json=as_json, limit=limit)
    return eval_files(dataset, list(predictions), ground_truth, list(labels or []), as_json=as_json, plot=plot)
