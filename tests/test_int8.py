"""int8 models: `export-onnx --int8`, the shipped int8 files against their fp32 models, and the choice
of precision (`run --precision`, `bench --precision`).

The parity reference is the fp32 model file itself (an independent graph run by ONNX Runtime);
the int8 graph must put joints within one output voxel of it, and keep the no-hand gate."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handpose_live.calib import load_intrinsics
from handpose_live.errors import UserError
from handpose_live.inference.modelfile import METADATA_KEY, read_model_info
from handpose_live.inference.runtime import open_session
from handpose_live.resources import models_dir
from handpose_live.synth.generate import generate_dataset
from handpose_live.training.quantize import calibration_grids

REPO = Path(__file__).resolve().parents[1]


def cli(*args, rc: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "handpose_live", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=600)
    assert proc.returncode == rc, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def hand_sets(tmp_path_factory):
    """A calibration set (training seed) and a test set (a seed of no shipped model's data)."""
    root = tmp_path_factory.mktemp("int8")
    intr = load_intrinsics("d435-640x480")
    generate_dataset(root / "calib", "hand", 24, intr, seed=0, progress=False)
    generate_dataset(root / "test", "hand", 32, intr, seed=515151, progress=False)
    return root / "calib", root / "test"


def joints_of(model: Path, grids: np.ndarray) -> np.ndarray:
    session = open_session(model, device="cpu", threads=2)
    return np.concatenate([session.run(grids[i:i + 8])[0] for i in range(0, len(grids), 8)])


@pytest.mark.slow
@pytest.mark.parametrize("target", ["hand", "body"])
def test_shipped_int8_model_is_small_described_and_within_one_voxel(tmp_path, target):
    fp32 = models_dir() / f"v2v-lite-{target}.onnx"
    int8 = models_dir() / f"v2v-lite-{target}-int8.onnx"
    assert int8.stat().st_size < fp32.stat().st_size / 2
    assert (models_dir() / f"v2v-lite-{target}.md").read_text().count("int8") >= 2   # the card carries int8
    a, b = read_model_info(fp32), read_model_info(int8)
    assert (a.arch, a.input_grid, a.output_grid, a.cube_mm, a.joint_names, a.min_confidence) == \
           (b.arch, b.input_grid, b.output_grid, b.cube_mm, b.joint_names, b.min_confidence)
    assert b.raw["quantization"]["precision"] == "int8"
    generate_dataset(tmp_path / "t", target, 16, load_intrinsics("d435-640x480"), seed=626262, progress=False)
    grids = calibration_grids(fp32, tmp_path / "t", count=16)
    shift = np.linalg.norm(joints_of(fp32, grids) - joints_of(int8, grids), axis=-1)
    assert (shift <= 1.0).mean() >= 0.95, f"{(shift <= 1.0).mean():.3f} of joints within one voxel"
    assert np.median(shift) < 0.35


@pytest.mark.slow
def test_export_int8_from_a_model_file_and_its_errors(tmp_path, hand_sets):
    calib, test = hand_sets
    fp32 = models_dir() / "v2v-lite-hand.onnx"
    out = tmp_path / "hand-int8.onnx"
    proc = cli("export-onnx", fp32, "--int8", "--calibration", calib, "--calibration-frames", 24, "--out", out)
    assert "within 1 voxel" in proc.stdout and proc.stderr == ""
    meta = read_model_info(out).raw
    assert meta["quantization"]["calibration_frames"] == 24 and meta["quantization"]["source_model"] == fp32.name
    grids = calibration_grids(fp32, test, count=32)
    shift = np.linalg.norm(joints_of(fp32, grids) - joints_of(out, grids), axis=-1)
    assert (shift <= 1.0).mean() >= 0.9
    # The model runs the whole app like any other.
    rec = cli("run", "--camera", "synthetic", "--model", out, "--frames", 10, "--viewer", "none",
              "--output", tmp_path / "x.jsonl")
    assert "frames processed" in rec.stderr
    # Errors: one line, exit 2, nothing written.
    for args, words in (
            (("--int8", "--out", tmp_path / "a.onnx"), "needs --calibration"),
            (("--int8", "--calibration", tmp_path / "nope", "--out", tmp_path / "a.onnx"), "no such folder"),
            (("--calibration", calib, "--out", tmp_path / "a.onnx"), "only used with --int8"),
            (("--int8", "--calibration", calib, "--calibration-frames", 0, "--out", tmp_path / "a.onnx"), "1..10000"),
            (("--out", tmp_path / "a.onnx"), "already a model file")):
        p = cli("export-onnx", fp32, *args, rc=2)
        assert p.stderr.startswith("error:") and words in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not (tmp_path / "a.onnx").exists()
    p = cli("export-onnx", out, "--int8", "--calibration", calib, "--out", tmp_path / "a.onnx", rc=2)
    assert "already quantised" in p.stderr
    body = cli("export-onnx", models_dir() / "v2v-lite-body.onnx", "--int8", "--calibration", calib,
               "--out", tmp_path / "a.onnx", rc=2)
    assert "hand21 frames" in body.stderr and not (tmp_path / "a.onnx").exists()


@pytest.mark.slow
@pytest.mark.parametrize("target", ["hand"])      # the body model's fp16: the quick reproduction's int8 step (int8.py)
def test_export_fp16_keeps_the_joints_and_decodes_in_fp32(tmp_path, hand_sets, target):
    """`export-onnx --fp16` (the GPU variant): half the size, the same metadata plus how it was made,
    joints within one output voxel of fp32 on frames of a seed no model was made from, and the
    decoding still fp32 (the heatmaps are cast back once, after the output convolution)."""
    import onnx

    fp32 = models_dir() / f"v2v-lite-{target}.onnx"
    out = tmp_path / f"{target}-fp16.onnx"
    proc = cli("export-onnx", fp32, "--fp16", "--out", out)
    assert "within 1 voxel" in proc.stdout and proc.stderr == ""
    assert out.stat().st_size < 0.6 * fp32.stat().st_size
    a, b = read_model_info(fp32).raw, read_model_info(out).raw
    how = b.pop("quantization")
    assert a == b and how["precision"] == "fp16" and how["source_model"] == fp32.name
    graph = onnx.load(str(out)).graph
    kinds = {t.data_type for t in graph.initializer if t.name.endswith("weight")}
    assert kinds == {onnx.TensorProto.FLOAT16}, kinds
    ops = [n.op_type for n in graph.node]
    assert ops[0] == "Cast" and ops.index("ArgMax") > ops.index("Cast", 1), ops
    test = hand_sets[1]
    if target == "body":
        test = tmp_path / "test"
        generate_dataset(test, "body", 16, load_intrinsics("d435-640x480"), seed=515151, progress=False)
    grids = calibration_grids(fp32, test, count=16)
    j32, j16 = joints_of(fp32, grids), joints_of(out, grids)
    assert j16.dtype == np.float32
    shift = np.linalg.norm(j32 - j16, axis=-1)
    assert (shift <= 1.0).mean() >= 0.98 and np.median(shift) < 0.1, np.median(shift)
    # Errors: one line, exit 2.
    for args, words in ((("--fp16", "--int8"), "exclude each other"), (("--fp16", "--calibration", tmp_path / "nope"),
                                                                        "no such folder")):
        p = cli("export-onnx", fp32, *args, "--out", tmp_path / "a.onnx", rc=2)
        assert p.stderr.startswith("error:") and words in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    p = cli("export-onnx", out, "--fp16", "--out", tmp_path / "a.onnx", rc=2)
    assert "already quantised (fp16)" in p.stderr and not (tmp_path / "a.onnx").exists()


@pytest.mark.slow
def test_a_variant_failing_parity_is_refused_unless_forced(tmp_path, hand_sets, monkeypatch):
    """Below the parity bar: one error naming --force, nothing written; with --force: written, and the log says so."""
    from handpose_live.training import quantize

    fp32 = models_dir() / "v2v-lite-hand.onnx"
    grids = calibration_grids(fp32, hand_sets[0], count=8)
    monkeypatch.setattr(quantize, "PARITY_MIN", 1.01)      # no model passes
    out, lines = tmp_path / "hand-fp16.onnx", []
    with pytest.raises(UserError, match=r"not written \(--force writes it anyway"):
        quantize.half_model(fp32, out, grids, log=lines.append)
    assert not out.exists()
    quantize.half_model(fp32, out, grids, log=lines.append, force=True)
    assert out.is_file() and "written anyway (--force)" in lines[-1]
    p = cli("export-onnx", fp32, "--force", "--out", tmp_path / "a.onnx", rc=2)
    assert p.stderr.startswith("error: --force is only used with --int8 or --fp16"), p.stderr


def test_quantised_metadata_is_the_fp32_models_plus_how_it_was_made():
    import onnx

    fp32 = {p.key: p.value for p in onnx.load(str(models_dir() / "v2v-lite-hand.onnx")).metadata_props}
    int8 = {p.key: p.value for p in onnx.load(str(models_dir() / "v2v-lite-hand-int8.onnx")).metadata_props}
    assert set(fp32) == set(int8)
    a, b = json.loads(fp32[METADATA_KEY]), json.loads(int8[METADATA_KEY])
    quant = b.pop("quantization")
    assert a == b
    assert quant["fp32"] == ["heatmap convolution", "decoding"] and quant["calib_method"] == "percentile 99.99"


def test_precision_picks_the_shipped_file(monkeypatch):
    from handpose_live import resources
    from handpose_live.resources import shipped_model
    from handpose_live.tracker import TrackerOptions

    assert shipped_model("hand", "fp32").name == "v2v-lite-hand.onnx"
    assert shipped_model("body", "int8").name == "v2v-lite-body-int8.onnx"
    assert shipped_model("hand", "auto", device="cuda").name == "v2v-lite-hand.onnx"
    assert shipped_model("hand", "auto", backend="openvino").name == "v2v-lite-hand.onnx"
    monkeypatch.setattr(resources, "cpu_has_int8_dot", lambda: False)
    assert shipped_model("hand", "auto", device="cpu").name == "v2v-lite-hand.onnx"
    monkeypatch.setattr(resources, "cpu_has_int8_dot", lambda: True)
    assert shipped_model("hand", "auto", device="cpu").name == "v2v-lite-hand-int8.onnx"
    with pytest.raises(UserError, match="--precision"):
        shipped_model("hand", "int4")
    with pytest.raises(UserError, match="with --model the file decides"):
        TrackerOptions(model=models_dir() / "v2v-lite-hand.onnx", precision="int8")


def test_cpu_flags_are_read_from_proc_cpuinfo():
    from handpose_live.resources import cpu_has_int8_dot

    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    flags = next((set(line.split(":", 1)[1].split()) for line in text.splitlines() if line.startswith(("flags", "Features"))),
                 set())
    assert cpu_has_int8_dot() == bool(flags & {"avx512_vnni", "avx_vnni", "asimddp"})


@pytest.mark.slow
def test_bench_compares_precisions_in_one_run():
    proc = cli("bench", "--frames", 6, "--threads", 1, "--precision", "fp32", "--precision", "int8")
    assert "v2v-lite-hand-int8 1t against v2v-lite-hand 1t, same run: end to end" in " ".join(proc.stdout.split())
    assert "network" in proc.stdout
    p = cli("bench", "--frames", 6, "--precision", "fp16", rc=2)
    assert p.stderr.startswith("error: --precision")


@pytest.mark.slow
def test_bench_times_several_subjects_for_each_model():
    """`bench --subjects` with two models: each model's first configuration carries its own cost table."""
    proc = cli("bench", "--frames", 4, "--threads", 1, "--precision", "fp32", "--precision", "int8",
               "--subjects", 1, "--subjects", 2, "--json")
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [r["label"] for r in rows] == ["v2v-lite-hand 1t", "v2v-lite-hand-int8 1t"]
    for r in rows:
        cost = r["subject_cost"]["subjects"]
        assert [c["n"] for c in cost] == [1, 2] and cost[0]["ratio"] == 1.0 and all(c["p50_ms"] > 0 for c in cost)
