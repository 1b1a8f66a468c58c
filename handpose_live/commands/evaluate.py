"""`handpose-live eval`: prediction files (the published protocol) or a model over a dataset split."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import dataset_class
from ..errors import UserError
from ..evaluation.metrics import EVAL_INTRINSICS, EvalResult
from ..evaluation.predictions import evaluate_files, evaluate_on_dataset, write_uvd_file
from ..evaluation.report import plot_success, print_table
from ..fileio import FIGURE_FORMATS, atomic_write, check_format
from ..options import option


@dataclass(kw_only=True)
class EvalOptions:
    """`handpose-live eval` options (the command line is built from these fields)."""

    dataset: str = option(help="nyu | icvl | msra (published protocol: --ground-truth file) | hands2017 | itop | "
                               "synthetic (a folder: --data-root)")
    predictions: list[Path] = option([], "prediction file, one line per frame of J x (u v d) (or the .npy `--model "
                                         "--out` writes for a dataset without intrinsics); repeat to compare methods")
    ground_truth: Path | None = option(None, "nyu, icvl, msra: ground truth of the test set in the same u v d format "
                                             "(needed with --predictions; other datasets: their --data-root labels)")
    plot: Path | None = option(None, "write the success-rate curve to this file (.png, .pdf or .svg)")
    as_json: bool = option(False, "print the figures as JSON, one line per predictions file", "--json")
    label: list[str] = option([], "method name per --predictions, in order (default: file name)")
    model: Path | None = option(None, "ONNX model to evaluate on --data-root")
    data_root: Path | None = option(None, "dataset folder for --model (and for --predictions of hands2017, itop, synthetic)")
    split: str = option("test", "dataset split for --model or --data-root")
    out: Path | None = option(None, "with --model: write its predictions (standard u v d format)")
    limit: int = option(0, "with --model: evaluate only the first N frames (0 = all)")

    def __post_init__(self) -> None:
        if self.plot is not None:
            check_format(self.plot, FIGURE_FORMATS, "--plot")


def eval_files(dataset: str, predictions: list[Path], ground_truth: Path | None, labels: list[str],
               as_json: bool = False, plot: Path | None = None, data_root: Path | None = None,
               split: str = "test") -> list[tuple[str, EvalResult]]:
    """Prediction files against a ground-truth file (nyu, icvl, msra: the published protocol) or against
    the labels of a dataset folder (`--data-root`: the datasets `--model` evaluates on)."""
    published = dataset in EVAL_INTRINSICS
    if not published:
        dataset_class(dataset)               # an unknown name: the list of known ones
    if not predictions:
        raise UserError("give at least one --predictions FILE")
    if published and ground_truth is None:
        raise UserError("--predictions needs --ground-truth FILE (the test set's labels, same u v d format)")
    if not published and (data_root is None or ground_truth is not None):
        raise UserError(f"{dataset} predictions are scored against the labels of the dataset folder: give --data-root "
                        f"DIR{' instead of --ground-truth' if ground_truth is not None else ''} (and --split)")
    if len(labels) > len(predictions):
        raise UserError(f"{len(labels)} --label values for {len(predictions)} --predictions files")
    labels = labels + [Path(p).stem for p in predictions[len(labels):]]
    if published:
        assert ground_truth is not None
        curves = [(label, evaluate_files(p, ground_truth, dataset)) for label, p in zip(labels, predictions)]
        name = dataset
    else:
        assert data_root is not None
        scored = [(label, *evaluate_on_dataset(p, dataset, data_root, split)) for label, p in zip(labels, predictions)]
        curves, name = [(label, result) for label, result, _ in scored], scored[0][2]
    if as_json:
        for _, result in curves:
            print(json.dumps(result.to_json()))
    else:
        print_table(curves, name)
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


def evaluate(opts: EvalOptions) -> dict | list[tuple[str, EvalResult]]:
    """Evaluate prediction files, or a model on a dataset split, with the standard protocol."""
    if opts.model is not None:
        return eval_model(opts.model, opts.dataset, opts.data_root, opts.split, out=opts.out, plot=opts.plot,
                          as_json=opts.as_json, limit=opts.limit)
    return eval_files(opts.dataset, list(opts.predictions), opts.ground_truth, list(opts.label), as_json=opts.as_json,
                      plot=opts.plot, data_root=opts.data_root, split=opts.split)
