"""`train --init-from MODEL.onnx`: the network comes back out of an exported file, exactly.

Checked against ONNX Runtime running the file itself (an independent implementation of the
folded graph), for the shipped lite model and for a freshly exported 3D (v2v-full) network with
random BatchNorm statistics and convolution biases.
"""
from pathlib import Path

import onnx
import pytest
import torch
from tinyhands import TinyHands

from handpose_live.errors import UserError
from handpose_live.heatmaps import decode_heatmaps
from handpose_live.modeling.v2v import V2VConfig, build_model, preset
from handpose_live.training.checkpoint import CHECKPOINT_FORMAT, load_checkpoint
from handpose_live.training.export import export_model, model_from_checkpoint
from handpose_live.training.onnx_weights import check_against_file, load_onnx_weights, model_from_onnx, reexpand_batchnorm
from handpose_live.training.trainer import Collate, TrainArgs, train

MODELS = Path(__file__).resolve().parents[1] / "models"
HAND = MODELS / "v2v-lite-hand.onnx"


def _grids(config: V2VConfig, n: int = 8, seed: int = 0) -> torch.Tensor:
    ds = TinyHands(n, seed)
    return Collate(config, ds.cube_mm, False, 0)([(0, ds[i]) for i in range(n)])[0]


def test_shipped_model_unfolds_to_the_same_function():
    config = preset("v2v-lite", 21)
    grids = _grids(config)
    model, pending = load_onnx_weights(HAND, config)
    assert len(pending) > 10                         # the folded BatchNorms
    assert check_against_file(model, HAND, grids) < 1e-3
    reexpand_batchnorm(model, pending, [grids])
    assert check_against_file(model, HAND, grids) < 1e-3
    # Training mode on the very grids the statistics came from normalises with those statistics:
    # the same function again (this is what lets fine-tuning start where the file is). The
    # BatchNorms the exporter kept unfolded hold the original training statistics; they are
    # left in eval mode here, since these stick-figure grids are not that training data.
    unfolded = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) and m not in {bn for bn, _ in pending}]
    assert len(unfolded) == 2
    with torch.no_grad():
        eval_joints, _ = decode_heatmaps(model.eval()(grids))
        model.train()
        for m in unfolded:
            m.eval()
        train_joints, _ = decode_heatmaps(model(grids))
    assert (eval_joints - train_joints).abs().max() < 0.05
    bn = pending[0][0]
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))   # re-expanded, not the identity


@pytest.mark.slow
def test_a_3d_network_with_biases_and_batchnorm_statistics_round_trips(tmp_path):
    torch.manual_seed(0)
    config = V2VConfig("v2v-full", 21, 32, 16, 32)
    net = build_model(config)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.uniform_(-0.01, 0.01)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
            if isinstance(m, (torch.nn.Conv3d, torch.nn.ConvTranspose3d)):
                m.weight.normal_(0, 0.1)
                if m.bias is not None:
                    m.bias.uniform_(-0.1, 0.1)
    ckpt = {"format": CHECKPOINT_FORMAT, "config": config.to_dict(), "model_state_dict": net.state_dict(), "skeleton": "hand21"}
    model, meta = model_from_checkpoint(ckpt)
    path = tmp_path / "full.onnx"
    export_model(model, meta, path, log=lambda *_: None)
    grids = _grids(config, 4)
    back = model_from_onnx(path, config, [grids])
    assert check_against_file(back, path, grids) < 1e-3
    with torch.no_grad():
        a, _ = decode_heatmaps(model(grids))
        b, _ = decode_heatmaps(back.eval()(grids))
    assert (a - b).abs().max() < 1e-3


@pytest.mark.slow
def test_fine_tuning_from_the_shipped_file(tmp_path):
    """lr 0: the checkpoint holds the file's network (its unfolded output layer, bit for bit)."""
    ds = TinyHands(8)
    messages = []
    args = TrainArgs(dataset="tiny", data_root="memory", out=str(tmp_path / "ft"), arch="v2v-lite", epochs=1,
                     batch_size=4, lr=0.0, optimizer="adam", workers=0, val_fraction=0.25, export=False,
                     init_from=str(HAND), max_steps_per_epoch=1)
    train(args, dataset=ds, log=messages.append)
    assert any("weights unfolded from the model file" in m for m in messages)
    state = load_checkpoint(tmp_path / "ft" / "last.pt")["model_state_dict"]
    inits = {t.name: t for t in onnx.load(str(HAND)).graph.initializer}
    expected = torch.from_numpy(onnx.numpy_helper.to_array(inits["net.output_layer.weight"]).copy())
    assert torch.equal(state["output_layer.weight"], expected)


@pytest.mark.parametrize("make,message", [
    (lambda d: MODELS / "v2v-lite-hand-int8.onnx", "is an int8 model"),
    (lambda d: MODELS / "hand-detector.onnx", "not a handpose-live model"),
    (lambda d: d / "missing.onnx", "not found"),
    (lambda d: (d / "junk.onnx").write_bytes(b"not onnx") and d / "junk.onnx", "not a readable ONNX file"),
])
def test_bad_model_files_are_one_line_errors(tmp_path, make, message):
    with pytest.raises(UserError, match=message):
        load_onnx_weights(make(tmp_path), preset("v2v-lite", 21))


def test_a_model_of_another_shape_is_refused():
    with pytest.raises(UserError, match="holds a v2v-lite model with 15 joints"):
        load_onnx_weights(MODELS / "v2v-lite-body.onnx", preset("v2v-lite", 21))
