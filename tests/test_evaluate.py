"""The standard evaluation: reproduces the published NYU figures, and rejects bad files with one line."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from handpose_live.commands.cli import app
from handpose_live.commands.evaluate import EvalOptions, evaluate
from handpose_live.errors import UserError
from handpose_live.evaluation.metrics import eval_uvd_to_xyz, evaluate_xyz, map_at
from handpose_live.evaluation.predictions import evaluate_files

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GT = SHARED / "real-hand-poses" / "nyu_test_groundtruth_label.txt"
REFS = SHARED / "reference-results"
needs_shared = pytest.mark.skipif(not GT.is_file(), reason=f"real NYU annotations not found at {SHARED}")


@needs_shared
@pytest.mark.parametrize("name, mean_mm, at20, at40", [
    ("nyu_DeepPrior++_ICCVW17.txt", 12.238, 0.4472, 0.8353),
    ("nyu_Point-to-Point_ECCV18.txt", 9.045, 0.7155, 0.8894),
])
def test_reproduces_published_nyu_figures(name, mean_mm, at20, at40):
    result = evaluate_files(REFS / name, GT, "nyu")
    assert round(result.mean_error_mm, 3) == mean_mm
    assert round(result.success_at(20), 4) == at20
    assert round(result.success_at(40), 4) == at40
    assert result.success_rate[20] == pytest.approx(result.success_at(20))
    assert result.per_joint_mm.shape == (14,) and result.success_rate.shape == (81,)


@needs_shared
def test_cli_json_and_plot(tmp_path):
    plot = tmp_path / "curves" / "curve.png"
    res = CliRunner().invoke(app, ["eval", "--dataset", "nyu", "--predictions", str(REFS / "nyu_Point-to-Point_ECCV18.txt"),
                                   "--ground-truth", str(GT), "--json", "--plot", str(plot)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"mean_error_mm", "per_joint_mm", "success_rate"}
    assert round(out["mean_error_mm"], 3) == 9.045 and len(out["per_joint_mm"]) == 14
    assert list(out["success_rate"]) == ["10", "20", "30", "40", "50"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in plot.parent.iterdir()] == ["curve.png"]
    mask = os.umask(0)
    os.umask(mask)
    assert plot.stat().st_mode & 0o777 == 0o666 & ~mask          # like any new file (not 0600)


@needs_shared
def test_cli_table_compares_several_methods():
    res = CliRunner().invoke(app, ["eval", "--dataset", "nyu", "--predictions", str(REFS / "nyu_DeepPrior++_ICCVW17.txt"),
                                   "--predictions", str(REFS / "nyu_Point-to-Point_ECCV18.txt"), "--label", "DPP",
                                   "--ground-truth", str(GT)])
    assert res.exit_code == 0, res.output
    assert "12.238" in res.stdout and "9.045" in res.stdout and "DPP" in res.stdout and "palm" in res.stdout


def test_evaluate_xyz_and_success_curve():
    gt = np.zeros((4, 2, 3))
    pred = gt.copy()
    pred[:, 0, 0] = [0.0, 10.0, 30.0, 90.0]  # joint 0 errors; joint 1 exact
    result = evaluate_xyz(pred, gt)
    assert result.per_joint_mm.tolist() == [32.5, 0.0]
    assert result.mean_error_mm == pytest.approx(16.25)
    assert result.success_at(10) == 0.5 and result.success_rate[0] == 0.25 and result.success_rate[80] == 0.75


def test_map_at_itop_threshold():
    gt = np.zeros((2, 3, 3))
    pred = gt.copy()
    pred[0, 0, 2] = 150.0   # joint 0 wrong in frame 0
    pred[:, 1, 1] = 100.0   # joint 1 exactly at the threshold counts as correct
    result = map_at(pred, gt, threshold_mm=100)
    assert result.per_joint.tolist() == [0.5, 1.0, 1.0]
    assert result.mean == pytest.approx(2.5 / 3)


def test_nyu_eval_intrinsics_are_y_up_and_icvl_y_down():
    uvd = np.array([[320.0, 100.0, 500.0]])
    assert eval_uvd_to_xyz(uvd, "nyu")[0, 1] > 0
    assert eval_uvd_to_xyz(np.array([[160.0, 20.0, 500.0]]), "icvl")[0, 1] < 0


def _write(path: Path, rows) -> Path:
    path.write_text("".join(" ".join(str(v) for v in row) + "\n" for row in rows))
    return path


@pytest.fixture
def icvl_files(tmp_path):
    rng = np.random.default_rng(0)
    gt = rng.uniform(100, 300, (3, 48)).round(3)
    return _write(tmp_path / "gt.txt", gt), gt


def test_file_errors_name_file_and_line(tmp_path, icvl_files):
    gt_path, gt = icvl_files
    with pytest.raises(UserError, match="file not found: .*missing.txt"):
        evaluate_files(tmp_path / "missing.txt", gt_path, "icvl")
    short = _write(tmp_path / "short.txt", gt[:2])
    with pytest.raises(UserError, match=r"short.txt has 2 lines but the ground truth .*gt.txt has 3"):
        evaluate_files(short, gt_path, "icvl")
    wrong = _write(tmp_path / "wrong.txt", [gt[0], gt[1][:-1], gt[2]])
    with pytest.raises(UserError, match=r"wrong.txt line 2: expected 48 fields .* found 47"):
        evaluate_files(wrong, gt_path, "icvl")
    text = _write(tmp_path / "text.txt", [gt[0], gt[1], list(gt[2][:5]) + ["abc"] + list(gt[2][6:])])
    with pytest.raises(UserError, match=r"text.txt line 3: 'abc' is not a number"):
        evaluate_files(text, gt_path, "icvl")
    assert evaluate_files(gt_path, gt_path, "icvl").mean_error_mm == 0.0


def test_cli_refuses_bad_model_runs_and_unknown_datasets(tmp_path, icvl_files):
    gt_path, _ = icvl_files
    with pytest.raises(UserError, match="--model needs --data-root"):
        evaluate(EvalOptions(dataset="nyu", model=tmp_path / "m.onnx"))
    with pytest.raises(UserError, match="model not found"):
        evaluate(EvalOptions(dataset="nyu", model=tmp_path / "m.onnx", data_root=tmp_path))
    with pytest.raises(UserError, match="itop predictions are scored against the labels of the dataset folder: give "
                                        "--data-root DIR instead of --ground-truth"):
        evaluate(EvalOptions(dataset="itop", predictions=[gt_path], ground_truth=gt_path))
    with pytest.raises(UserError, match="unknown dataset 'nope'"):
        evaluate(EvalOptions(dataset="nope", predictions=[gt_path], ground_truth=gt_path))
    with pytest.raises(UserError, match="needs --ground-truth"):
        evaluate(EvalOptions(dataset="icvl", predictions=[gt_path]))
    res = CliRunner().invoke(app, ["eval", "--dataset", "msra", "--predictions", str(gt_path), "--ground-truth", str(gt_path)])
    assert isinstance(res.exception, UserError) and "expected 63 fields" in str(res.exception)


def test_predictions_of_a_synthetic_set_are_scored_against_its_folder(tmp_path, capsys):
    """`eval --model --dataset synthetic --out P`, then `eval --dataset synthetic --predictions P --data-root`:
    the same figures."""
    from handpose_live.calib import load_intrinsics
    from handpose_live.resources import default_model
    from handpose_live.synth.generate import generate_dataset

    root = tmp_path / "set"
    generate_dataset(root, "hand", 6, load_intrinsics("d435-640x480"), seed=7, progress=False)
    preds = tmp_path / "p.txt"
    report = evaluate(EvalOptions(dataset="synthetic", model=default_model("hand"), data_root=root, out=preds,
                                  as_json=True))
    [(_, result)] = evaluate(EvalOptions(dataset="synthetic", predictions=[preds], data_root=root, as_json=True))
    assert result.mean_error_mm == pytest.approx(report["mean_error_mm"], abs=0.01)     # u v d written to 4 decimals
    evaluate(EvalOptions(dataset="synthetic", predictions=[preds], data_root=root))
    assert "mean error (mm)" in capsys.readouterr().out
    with pytest.raises(UserError, match="give --data-root DIR"):
        evaluate(EvalOptions(dataset="synthetic", predictions=[preds]))
