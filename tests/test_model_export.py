import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from handpose_live.errors import UserError
from handpose_live.inference.runtime import OnnxRuntimeSession, read_model_info
from handpose_live.modeling.v2v import V2VConfig, V2VNet, build_model, count_parameters, preset
from handpose_live.training.checkpoint import save_checkpoint
from handpose_live.training.export import export_checkpoint, port_to_ours


def _our_checkpoint(path, arch="v2v-lite", joints=21, config=None):
    config = config or preset(arch, joints)
    torch.manual_seed(0)
    model = build_model(config)
    save_checkpoint(path, {"config": config.to_dict(), "model_state_dict": model.state_dict(), "skeleton": "hand21"
                           if joints == 21 else "nyu14", "cube_mm": 250.0, "target": "hand", "epoch": 0,
                           "training_data": "none (freshly initialised)"})
    return model


@pytest.mark.slow
def test_full_layout_matches_the_paper_port():
    model = V2VNet(preset("v2v-full"))
    sd = model.state_dict()
    assert count_parameters(model) == 3_410_453
    assert len(sd) == 212
    for key in ("front_layers.0.block.0.weight", "front_layers.2.res_branch.0.weight",
                "encoder_decoder.skip_res1.res_branch.3.weight", "output_layer.bias"):
        assert key in sd
    out = model.eval()(torch.zeros(1, 1, 88, 88, 88))
    assert out.shape == (1, 21, 44, 44, 44)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["v2v-lite", "v2v-full"])
def test_export_fresh_checkpoint_matches_pytorch(tmp_path, arch):
    # v2v-full on a 32-voxel grid: the same blocks as at 88 (its full size is exported by the quick reproduction's
    # backends step and, as the paper's port, its peers step), at a tenth of the time
    config = V2VConfig("v2v-full", 21, 32, 16, 32) if arch == "v2v-full" else None
    model = _our_checkpoint(tmp_path / "ckpt.pt", arch, config=config)
    out = tmp_path / f"{arch}.onnx"
    report = export_checkpoint(tmp_path / "ckpt.pt", out, with_heatmaps=(arch == "v2v-lite"), log=lambda *_: None)
    assert report["max_heatmap_diff"] < 1e-4
    onnx.checker.check_model(onnx.load(str(out)))
    info = read_model_info(out)
    assert info.arch == arch and info.num_joints == 21 and info.cube_mm == 250.0
    sess = OnnxRuntimeSession(out, device="cpu", threads=2)
    assert "CPU" in sess.describe()
    s = info.input_grid
    vox = (torch.rand(2, 1, s, s, s, generator=torch.Generator().manual_seed(3)) < 0.04).float()
    joints, conf = sess.run(vox)
    assert joints.shape == (2, 21, 3) and conf.shape == (2, 21)
    with torch.no_grad():
        heat = model.eval()(vox).numpy()
    np.testing.assert_allclose(conf, heat.reshape(2, 21, -1).max(axis=2), rtol=1e-3, atol=1e-6)
    names = [o.name for o in sess.session.get_outputs()]
    assert ("heatmaps" in names) == (arch == "v2v-lite")


@pytest.mark.slow
def test_port_checkpoint_is_converted_exactly(tmp_path):
    cfg = V2VConfig("v2v-full", 14, 32, 16, 32)
    torch.manual_seed(1)
    port = V2VNet(cfg).eval()
    for p in port.parameters():
        torch.nn.init.normal_(p, 0, 0.1)
    # the port's grids are indexed [x, y, z] and built y-up
    grid_port = (torch.rand(1, 1, 32, 32, 32) < 0.1).float()
    with torch.no_grad():
        heat_port = port(grid_port)
    ours = V2VNet(cfg).eval()
    ours.load_state_dict(port_to_ours(port.state_dict(), source_xyz=True, source_y_up=True))
    grid_ours = grid_port.permute(0, 1, 4, 3, 2).flip(3)
    with torch.no_grad():
        heat_ours = ours(grid_ours)
    torch.testing.assert_close(heat_ours, heat_port.permute(0, 1, 4, 3, 2).flip(3), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_port_checkpoint_exports_with_inferred_joints(tmp_path):
    port = V2VNet(preset("v2v-full", 14))
    torch.save({"model_state_dict": port.state_dict(), "epoch": 3}, tmp_path / "port.pth")
    export_checkpoint(tmp_path / "port.pth", tmp_path / "port.onnx", skeleton="nyu14", source_y_up=True,
                      log=lambda *_: None)
    info = read_model_info(tmp_path / "port.onnx")
    assert info.num_joints == 14 and info.skeleton == "nyu14" and info.arch == "v2v-full"
    torch.save(port.state_dict(), tmp_path / "bare.pth")
    with pytest.raises(UserError, match="the checkpoint 14"):
        export_checkpoint(tmp_path / "bare.pth", tmp_path / "x.onnx", skeleton="hand21", log=lambda *_: None)


class Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_bad_checkpoints(tmp_path):
    with pytest.raises(UserError, match="not found"):
        export_checkpoint(tmp_path / "missing.pt", tmp_path / "m.onnx")
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(UserError, match="corrupt"):
        export_checkpoint(tmp_path / "junk.pt", tmp_path / "m.onnx")
    torch.save({"model_state_dict": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(UserError, match="code execution"):
        export_checkpoint(tmp_path / "evil.pt", tmp_path / "m.onnx")
    _our_checkpoint(tmp_path / "lite.pt", "v2v-lite")
    with pytest.raises(UserError, match="v2v-lite model, not v2v-full"):
        export_checkpoint(tmp_path / "lite.pt", tmp_path / "m.onnx", arch="v2v-full")
    full = V2VNet(preset("v2v-full", 21)).state_dict()
    save_checkpoint(tmp_path / "mismatch.pt", {"config": preset("v2v-full", 14).to_dict(), "model_state_dict": full,
                                               "skeleton": "nyu14"})
    with pytest.raises(UserError, match="does not fit v2v-full with 14 joints"):
        export_checkpoint(tmp_path / "mismatch.pt", tmp_path / "m.onnx")
    torch.save({"something": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="neither"):
        export_checkpoint(tmp_path / "other.pt", tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_onnx_without_metadata_is_refused(tmp_path):
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["voxels"], ["joints_vox"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("voxels", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("joints_vox", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "x.onnx")
    with pytest.raises(UserError, match="not a handpose-live model"):
        OnnxRuntimeSession(tmp_path / "x.onnx", device="cpu")
    with pytest.raises(UserError, match="not a handpose-live model"):
        read_model_info(tmp_path / "x.onnx")
    (tmp_path / "broken.onnx").write_bytes(b"not an onnx file at all")
    with pytest.raises(UserError):
        OnnxRuntimeSession(tmp_path / "broken.onnx", device="cpu")


@pytest.mark.slow
def test_cli_reports_one_line_errors(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"junk")
    proc = subprocess.run([sys.executable, "-m", "handpose_live", "export-onnx", str(tmp_path / "junk.pt"), "--out",
                           str(tmp_path / "m.onnx")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: checkpoint") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_read_model_info_reads_the_protobuf_as_onnx_does(tmp_path):
    """read_model_info's own protobuf reader (no `onnx` import) against onnx.load, an independent reader: the
    metadata and the graph's input and output shapes of every shipped model and of a model with symbolic
    dims; a file cut anywhere, or of random bytes, is a one-line UserError, never another exception"""
    from pathlib import Path

    from handpose_live.inference import modelfile

    def by_onnx(path):
        proto = onnx.load(str(path), load_external_data=False)

        def shape(vi):
            return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in vi.type.tensor_type.shape.dim]
        return ({p.key: p.value for p in proto.metadata_props}, {i.name: shape(i) for i in proto.graph.input},
                {o.name: shape(o) for o in proto.graph.output})

    def by_us(path):
        import mmap
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            model = modelfile._message(buf, (0, len(buf)), {7: "graph", 14: "metadata"})
            meta = {}
            for span in model["metadata"]:
                e = modelfile._message(buf, span, {1: "key", 2: "value"})
                meta[modelfile._text(buf, e["key"][0])] = modelfile._text(buf, e["value"][0])
            graph = modelfile._message(buf, model["graph"][-1], {11: "input", 12: "output"})
            return meta, modelfile._value_infos(buf, graph["input"]), modelfile._value_infos(buf, graph["output"])

    models = sorted(Path(modelfile.__file__).resolve().parents[2].joinpath("models").glob("*.onnx"))
    assert len(models) >= 6
    proto = onnx.load(str(models[-1]))
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.save(proto, str(tmp_path / "symbolic.onnx"))
    for path in [*models, tmp_path / "symbolic.onnx"]:
        assert by_us(path) == by_onnx(path), path
        if "handpose_live" in by_onnx(path)[0]:
            assert read_model_info(path).input_grid == 64
    assert by_us(tmp_path / "symbolic.onnx")[1]["voxels"][0] == "batch"
    data = (tmp_path / "symbolic.onnx").read_bytes()
    rng = np.random.default_rng(0)
    for n, cut in enumerate([1, 2, 7, *rng.integers(8, len(data), 12)]):
        (tmp_path / f"cut{n}.onnx").write_bytes(data[:int(cut)])
        with pytest.raises(UserError):
            read_model_info(tmp_path / f"cut{n}.onnx")
    for n in range(20):
        (tmp_path / f"random{n}.onnx").write_bytes(rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
        with pytest.raises(UserError):
            read_model_info(tmp_path / f"random{n}.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(UserError):
        read_model_info(tmp_path / "empty.onnx")
