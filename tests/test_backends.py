"""Inference backends: ONNX Runtime (default) and OpenVINO run the same exported file alike."""
import json

import numpy as np
import pytest
import torch

from handpose_live.errors import UserError
from handpose_live.inference.runtime import open_session
from handpose_live.resources import models_dir

HAND = models_dir() / "v2v-lite-hand.onnx"


def _hand_like_grid(seed=0, grid=64):
    """A blob of occupied voxels with fingers, so every joint has a clear peak to agree on."""
    rng = np.random.default_rng(seed)
    vox = np.zeros((2, 1, grid, grid, grid), np.float32)
    zz, yy, xx = np.mgrid[:grid, :grid, :grid]
    vox[0, 0][((xx - 32) ** 2 + (yy - 36) ** 2 < 100) & (np.abs(zz - 30) < 3)] = 1
    for k in range(5):
        vox[0, 0][(np.abs(xx - 22 - 5 * k) < 2) & (yy > 12) & (yy < 30) & (np.abs(zz - 30) < 2)] = 1
    vox[1, 0] = rng.random((grid, grid, grid)) < 0.01
    return vox


def test_openvino_matches_onnxruntime_on_the_shipped_model():
    pytest.importorskip("openvino")
    vox = _hand_like_grid()
    ort_j, ort_c = open_session(HAND, "onnxruntime", device="cpu", threads=1).run(vox)
    ov = open_session(HAND, "openvino", device="cpu", threads=1)
    ov_j, ov_c = ov.run(torch.from_numpy(vox))
    assert ov_j.shape == ort_j.shape == (2, 21, 3) and ov_c.shape == (2, 21)
    clear = ort_c[0] > 0.2  # where the peak is clear both engines must pick the same voxel
    assert clear.sum() >= 10
    np.testing.assert_allclose(ov_j[0][clear], ort_j[0][clear], atol=1e-3)
    np.testing.assert_allclose(ov_c, ort_c, atol=1e-4)
    assert "OpenVINO" in ov.describe() and ov.info.skeleton == "hand21"


def test_backend_errors_are_one_line(tmp_path):
    with pytest.raises(UserError, match="unknown backend 'tensorrt'"):
        open_session(HAND, "tensorrt")
    pytest.importorskip("openvino")
    with pytest.raises(UserError, match="runs on the CPU"):
        open_session(HAND, "openvino", device="cuda")
    (tmp_path / "x.onnx").write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a readable ONNX file"):
        open_session(tmp_path / "x.onnx", "openvino")


def test_bench_compares_backends_in_one_run(capsys):
    pytest.importorskip("openvino")
    from handpose_live.commands.bench import BenchOptions, bench_cli

    bench_cli(BenchOptions(model=[HAND], frames=6, threads=[1], as_json=True, backend=["onnxruntime", "openvino"]))
    out = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in out] == ["v2v-lite-hand onnxruntime 1t", "v2v-lite-hand openvino 1t"]
    assert all(r["frames"] == 6 and r["fps"] > 0 and "inference" in r["stages_ms"] for r in out)
    assert "OpenVINO" in out[1]["provider"]
