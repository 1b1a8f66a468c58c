"""Fine-tune a shipped model: the network's weights back out of a handpose-live ONNX file.

`train --init-from models/v2v-lite-hand.onnx` starts from the file a user actually has (the
PyTorch checkpoints behind the shipped models are not shipped). Export folds every BatchNorm that
follows a convolution into it (W' = W * gamma / sigma, bias b'). This module rebuilds the network
from the file's metadata, gives each such convolution W' and re-expands its BatchNorm from the
statistics of W'x on training grids, so that the network computes exactly the file's function in
eval mode and nearly the same in training mode (an identity BatchNorm would throw most of what the
model knew away in the first step). Layers the exporter kept unfolded are copied as they are.
Graph convolutions pair with modules in execution order, checked on every weight's shape and then
against ONNX Runtime on the same grids. The algebra: docs/design-notes.md, `training/onnx_weights.py`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import UserError
from ..inference.modelfile import parse_metadata
from ..modeling.v2v import V2VConfig, build_model

_CONV = (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_BN = (nn.BatchNorm2d, nn.BatchNorm3d)
PARITY_TOL_VOX = 0.02


def is_onnx_path(path: str | Path) -> bool:
    return str(path).lower().endswith(".onnx")


def read_model_file(path: Path):
    """(onnx ModelProto, handpose_live metadata dict) of a fp32 model file, or a one-line error."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise UserError(f"--init-from: {path} not found")
    try:
        proto = onnx.load(str(path))
    except Exception:  # onnx raises DecodeError, ValueError, OSError depending on the damage
        raise UserError(f"--init-from: {path} is not a readable ONNX file") from None
    meta = dict(parse_metadata({p.key: p.value for p in proto.metadata_props}, path).raw)
    if "config" not in meta:
        raise UserError(f"--init-from: {path} does not record its network's config; it cannot be fine-tuned")
    if "quantization" in meta:
        precision = meta["quantization"].get("precision", "int8")
        raise UserError(f"--init-from: {path} is an {precision} model; fine-tune from its fp32 file "
                        f"(the same name without -{precision}) and convert the result again")
    return proto, meta


def config_of(meta: dict) -> V2VConfig:
    try:
        return V2VConfig(**meta["config"])
    except TypeError as exc:
        raise UserError(f"--init-from: the model's config {meta['config']} is not one this version builds: {exc}") from None


def _execution_order(model: nn.Module, grid: int) -> list[nn.Module]:
    """Convolution modules in the order a forward pass runs them (= the order of the traced graph)."""
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda mod, i, o: order.append(mod)) for m in model.modules() if isinstance(m, _CONV)]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 1, grid, grid, grid))
    for h in hooks:
        h.remove()
    return order


def _following_batchnorm(model: nn.Module) -> dict[nn.Module, nn.Module]:
    """conv -> the BatchNorm right after it in the same Sequential."""
    follow = {}
    for seq in model.modules():
        if isinstance(seq, nn.Sequential):
            items = list(seq)
            for a, b in zip(items, items[1:]):
                if isinstance(a, _CONV) and isinstance(b, _BN):
                    follow[a] = b
    return follow


def load_onnx_weights(path: Path, config: V2VConfig) -> tuple[nn.Module, list[tuple[nn.Module, np.ndarray]]]:
    """The network of `path` with every weight in place, plus the (BatchNorm, folded bias) pairs
    still to re-expand (`reexpand_batchnorm`); until then those BatchNorms are the identity plus
    the folded bias, which already makes the eval-mode function exact."""
    from onnx import numpy_helper

    proto, meta = read_model_file(path)
    theirs = config_of(meta)
    if theirs != config:
        raise UserError(f"--init-from: {path} holds a {theirs.arch} model with {theirs.num_joints} joints and grids "
                        f"{theirs.input_grid}/{theirs.output_grid}; this run asks for {config.arch} with {config.num_joints}")
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    nodes = [n for n in proto.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    model = build_model(config)
    convs = _execution_order(model, config.input_grid)
    if len(nodes) != len(convs):
        raise UserError(f"--init-from: {path} has {len(nodes)} convolutions, the {config.arch} network {len(convs)}")
    names = {m: n for n, m in model.named_modules()}
    follow = _following_batchnorm(model)
    state = model.state_dict()
    pending = []
    for node, conv in zip(nodes, convs):
        weight = inits.get(node.input[1])
        if weight is None or tuple(weight.shape) != tuple(conv.weight.shape):
            raise UserError(f"--init-from: {path}'s convolution {node.name or node.input[1]} does not match "
                            f"{names[conv]} of the network (shape {None if weight is None else weight.shape})")
        out_channels = weight.shape[1 if node.op_type == "ConvTranspose" else 0]
        bias = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else np.zeros(out_channels, np.float32)
        key = node.input[1].removeprefix("net.")
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(np.array(weight)))
            if key in state:                     # kept unfolded: bias and BatchNorm are named too
                if conv.bias is not None:
                    conv.bias.copy_(torch.from_numpy(np.array(bias)))
                bn = follow.get(conv)
                if bn is not None:
                    prefix = names[bn] + "."
                    for name in ("weight", "bias", "running_mean", "running_var"):
                        getattr(bn, name).copy_(torch.from_numpy(np.array(inits["net." + prefix + name])))
                continue
            if conv.bias is not None:
                conv.bias.zero_()
            bn = follow.get(conv)
            if bn is None:                       # a plain convolution with its bias, nothing folded in
                if conv.bias is None:
                    raise UserError(f"--init-from: {path}'s {names[conv]} carries a bias the network has no place for")
                conv.bias.copy_(torch.from_numpy(np.array(bias)))
                continue
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(np.array(bias)))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            pending.append((bn, bias.astype(np.float32)))
    return model.eval(), pending


def _conv_before(model: nn.Module) -> dict[nn.Module, nn.Module]:
    return {bn: conv for conv, bn in _following_batchnorm(model).items()}


def reexpand_batchnorm(model: nn.Module, pending: list[tuple[nn.Module, np.ndarray]], grids: list[torch.Tensor]) -> None:
    """Set each pending BatchNorm from the per-channel statistics of its convolution's output on `grids`."""
    before = _conv_before(model)
    sums: dict[nn.Module, list] = {}

    def hook(mod, inp, out):
        dims = [0] + list(range(2, out.dim()))
        s = sums.setdefault(mod, [0.0, 0.0, 0])
        s[0] = s[0] + out.double().sum(dims)
        s[1] = s[1] + (out.double() ** 2).sum(dims)
        s[2] += out.numel() // out.shape[1]

    hooks = [before[bn].register_forward_hook(hook) for bn, _ in pending]
    model.eval()
    with torch.no_grad():
        for g in grids:
            model(g)
    for h in hooks:
        h.remove()
    with torch.no_grad():
        for bn, bias in pending:
            total, squares, n = sums[before[bn]]
            mean = total / n
            var = torch.clamp(squares / n - mean ** 2, min=1e-6)
            bn.running_mean.copy_(mean.float())
            bn.running_var.copy_((var - bn.eps).clamp(min=1e-8).float())
            bn.weight.copy_(torch.sqrt(bn.running_var + bn.eps))
            bn.bias.copy_(mean.float() + torch.from_numpy(bias))


def check_against_file(model: nn.Module, path: Path, grids: torch.Tensor) -> float:
    """Largest joint difference (output voxels) between the rebuilt network and ONNX Runtime."""
    import onnxruntime as ort

    from ..heatmaps import decode_heatmaps

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = sess.run(None, {sess.get_inputs()[0].name: grids.numpy()})[0]
    with torch.no_grad():
        ours, _ = decode_heatmaps(model.eval()(grids))
    return float(np.abs(ours.numpy() - theirs).max())


def model_from_onnx(path: Path, config: V2VConfig, grids: list[torch.Tensor]) -> nn.Module:
    """The network of `path`, BatchNorms re-expanded on `grids`, checked against the file."""
    model, pending = load_onnx_weights(path, config)
    reexpand_batchnorm(model, pending, grids)
    gap = check_against_file(model, path, grids[0])
    if gap > PARITY_TOL_VOX:
        raise UserError(f"--init-from: the network rebuilt from {path} differs from the file by {gap:.3f} voxels "
                        f"(tolerance {PARITY_TOL_VOX}); it cannot be fine-tuned by this version")
    return model
