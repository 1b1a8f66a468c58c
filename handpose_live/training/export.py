"""Checkpoint -> self-describing ONNX model (network + heatmap decoding), verified against PyTorch.

Accepted checkpoints:
- ours (written by `handpose-live train`): {"format": "handpose-live-checkpoint", "config": ...,
  "model_state_dict": ..., "skeleton": ..., "cube_mm": ..., ...};
- the public PyTorch port of V2V-PoseNet: {"model_state_dict": ...} or a bare state dict with
  keys like `front_layers.0.block.0.weight`. Its grids are indexed [x, y, z] and, for NYU /
  MSRA / ITOP, built in y-up space; both are converted exactly by permuting (and flipping)
  the 3D kernels, which every layer of the network is equivariant to.
Everything is loaded with `weights_only=True`: a checkpoint never executes code.
"""
from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..errors import UserError
from ..fileio import atomic_path
from ..heatmaps import decode_heatmaps
from ..inference.modelfile import INPUT, METADATA_KEY, MODEL_FORMAT, OUTPUTS
from ..modeling.v2v import V2VConfig, build_model, preset
from ..skeletons import generic_skeleton, get_skeleton
from ..targets import get_target
from .checkpoint import CHECKPOINT_FORMAT, load_checkpoint


class DecodedModel(nn.Module):
    """The graph that is exported: voxels -> (joints_vox, confidence, heatmaps)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, voxels):
        heatmaps = self.net(voxels)
        joints, confidence = decode_heatmaps(heatmaps)
        return joints, confidence, heatmaps


def _is_port_state_dict(sd: dict) -> bool:
    return "output_layer.weight" in sd and any(k.startswith("front_layers.0.block.0") for k in sd)


def port_to_ours(state_dict: dict, source_xyz: bool = True, source_y_up: bool = False) -> dict:
    """Convert the port's 3D kernels to our (z, y, x), y-down grid layout."""
    out = {}
    for k, v in state_dict.items():
        if v.ndim == 5:
            if source_xyz:
                v = v.permute(0, 1, 4, 3, 2)
            if source_y_up:
                v = v.flip(3)
            v = v.contiguous()
        out[k] = v
    return out


def model_from_checkpoint(ckpt: dict, *, arch: str | None = None, skeleton: str | None = None,
                          cube_mm: float | None = None, source_y_up: bool = False, source_xyz: bool = True,
                          path: Path | str = "checkpoint") -> tuple[nn.Module, dict]:
    """Build the network and the metadata the runtime needs from a loaded checkpoint."""
    if ckpt.get("format") == CHECKPOINT_FORMAT:
        try:
            config = V2VConfig(**ckpt["config"])
            state = ckpt["model_state_dict"]
        except (KeyError, TypeError) as exc:
            raise UserError(f"checkpoint {path} is incomplete: {exc}") from None
        if arch and arch != config.arch:
            raise UserError(f"checkpoint {path} is a {config.arch} model, not {arch}")
        skel = get_skeleton(ckpt.get("skeleton", "hand21"))
        meta = {"cube_mm": float(ckpt.get("cube_mm", get_target(skel.target).cube_mm)), "target": ckpt.get("target", skel.target),
                "training_data": ckpt.get("training_data", "unknown"),
                "trained_epochs": int(ckpt.get("epoch", 0)),
                "validation": ckpt.get("validation", {})}
    else:
        state = ckpt.get("model_state_dict", ckpt)
        if not isinstance(state, dict) or not _is_port_state_dict(state):
            raise UserError(f"{path} is neither a handpose-live checkpoint nor a V2V-PoseNet port state dict "
                            "(expected keys like front_layers.0.block.0.weight)")
        num_joints = int(state["output_layer.weight"].shape[0])
        config = preset(arch or "v2v-full", num_joints)
        if config.arch != "v2v-full":
            raise UserError("a V2V-PoseNet port checkpoint has the v2v-full layout; drop --arch or use v2v-full")
        state = port_to_ours(state, source_xyz=source_xyz, source_y_up=source_y_up)
        skel = get_skeleton(skeleton) if skeleton else generic_skeleton(num_joints)
        if skel.num_joints != num_joints:
            raise UserError(f"skeleton {skel.name} has {skel.num_joints} joints, the checkpoint {num_joints}")
        meta = {"cube_mm": float(cube_mm or get_target(skel.target).cube_mm), "target": skel.target,
                "training_data": "imported V2V-PoseNet PyTorch port checkpoint", "trained_epochs": int(ckpt.get("epoch", 0)),
                "validation": {}}
    if skeleton and ckpt.get("format") == CHECKPOINT_FORMAT:
        skel = get_skeleton(skeleton)
    model = build_model(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else lines[0]
        raise UserError(f"checkpoint {path} does not fit {config.arch} with {config.num_joints} joints: "
                        f"{detail[:200]}") from None
    if skel.num_joints != config.num_joints:
        raise UserError(f"skeleton {skel.name} has {skel.num_joints} joints, the model {config.num_joints}")
    meta.update({
        "format": MODEL_FORMAT, "format_version": 1, "package_version": __version__,
        "arch": config.arch, "config": config.to_dict(),
        "input_grid": config.input_grid, "output_grid": config.output_grid,
        "skeleton": skel.name, "joint_names": list(skel.joints),
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_checkpoint": Path(path).name,
        "io": "voxels float32 [N,1,S,S,S] binary occupancy, axes (z,y,x), cube centred on the reference point; "
              "joints_vox [N,J,3] (x,y,z) continuous output voxels, voxel centres at integers; confidence [N,J]",
    })
    return model.eval(), meta


def export_model(model: nn.Module, meta: dict, out: Path, *, with_heatmaps: bool = False, opset: int = 17,
                 verify: bool = True, log=print) -> dict:
    """Export, check and (optionally) verify parity with PyTorch. Returns the parity report."""
    import onnx

    out = Path(out)
    if out.suffix != ".onnx":
        raise UserError(f"output must end in .onnx: {out}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out.parent}: {exc.strerror}") from None
    if not os.access(out.parent, os.W_OK):
        raise UserError(f"output folder is not writable: {out.parent}")
    s = meta["input_grid"]
    wrapped = DecodedModel(model).eval()
    example = torch.zeros(1, 1, s, s, s)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp) / "model.onnx"
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapped, (example,), str(tmp_path), input_names=[INPUT], output_names=list(OUTPUTS),
                              dynamic_axes={n: {0: "batch"} for n in (INPUT,) + OUTPUTS},
                              opset_version=opset, dynamo=False)
        proto = onnx.load(str(tmp_path))
    report = verify_parity(wrapped, proto, s) if verify else {}
    if not with_heatmaps:
        keep = [o for o in proto.graph.output if o.name != "heatmaps"]
        del proto.graph.output[:]
        proto.graph.output.extend(keep)
    meta = dict(meta, outputs=[o.name for o in proto.graph.output])
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta)
    for key in ("arch", "skeleton", "target", "cube_mm"):
        e = proto.metadata_props.add()
        e.key, e.value = key, str(meta[key])
    proto.producer_name, proto.producer_version = "handpose-live", __version__
    onnx.checker.check_model(proto)
    with atomic_path(out) as tmp:
        onnx.save(proto, str(tmp))
    size_mb = out.stat().st_size / 1e6
    log(f"wrote {out} ({size_mb:.1f} MB, {meta['arch']}, {len(meta['joint_names'])} joints, "
        f"grid {meta['input_grid']}->{meta['output_grid']}, cube {meta['cube_mm']:.0f} mm)")
    if report:
        log(f"parity with PyTorch on {report['grids']} random grids: max |heatmap diff| {report['max_heatmap_diff']:.2e}, "
            f"max |joint diff| {report['max_joint_diff_vox']:.2e} voxels over {report['joints_compared']} clear peaks")
    return report


def verify_parity(wrapped: nn.Module, proto, grid: int, count: int = 3, seed: int = 0) -> dict:
    """Run ONNX Runtime and PyTorch on random occupancy grids; raise if they disagree."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(seed)
    voxels = (torch.rand(count, 1, grid, grid, grid, generator=g) < 0.03).float()
    with torch.no_grad():
        tj, tc, th = (t.numpy() for t in wrapped(voxels))
    oj, oc, oh = sess.run(list(OUTPUTS), {INPUT: voxels.numpy()})
    scale = max(float(np.abs(th).max()), 1e-12)
    heat_diff = float(np.abs(oh - th).max())
    if heat_diff > 1e-3 * scale + 1e-6:
        raise UserError(f"exported model disagrees with PyTorch: max heatmap difference {heat_diff:.3g}")
    flat = th.reshape(th.shape[0], th.shape[1], -1)
    top2 = np.sort(flat, axis=2)[:, :, -2:]
    clear = (top2[:, :, 1] - top2[:, :, 0]) > 20 * heat_diff + 1e-7
    joint_diff = float(np.abs(oj - tj)[clear].max()) if clear.any() else 0.0
    if joint_diff > 1e-3:
        raise UserError(f"exported model decodes joints differently from PyTorch (max {joint_diff:.3g} voxels)")
    return {"grids": count, "max_heatmap_diff": heat_diff, "max_joint_diff_vox": joint_diff,
            "joints_compared": int(clear.sum()), "max_confidence_diff": float(np.abs(oc - tc).max())}


def export_checkpoint(checkpoint: Path, out: Path, *, arch=None, skeleton=None, cube_mm=None, source_y_up=False,
                      source_xyz=True, with_heatmaps=False, opset=17, min_confidence: float | None = None,
                      log=print) -> dict:
    ckpt = load_checkpoint(checkpoint)
    model, meta = model_from_checkpoint(ckpt, arch=arch, skeleton=skeleton, cube_mm=cube_mm, source_y_up=source_y_up,
                                        source_xyz=source_xyz, path=checkpoint)
    if min_confidence is not None:
        if not 0.0 <= min_confidence < 1.0:
            raise UserError(f"--min-confidence must lie in [0, 1), got {min_confidence}")
        meta["min_confidence"] = float(min_confidence)  # the runtime's default "no hand" gate for this model
    return export_model(model, meta, out, with_heatmaps=with_heatmaps, opset=opset, log=log)


PARITY_FRAMES = 32


def parity_frames(model: Path, folder: Path, count: int) -> Path:
    """`count` labelled frames of the model's target from the synthetic world (seed 0, the default camera)."""
    from ..calib import load_intrinsics
    from ..inference.modelfile import read_model_info
    from ..synth.generate import generate_dataset

    generate_dataset(folder, read_model_info(model).target, count, load_intrinsics("d435-640x480"), seed=0,
                     progress=False, world="classic")
    return folder
