"""fp32 model file -> reduced-precision model file: int8 for CPUs with int8 dot products (AVX-512
VNNI, AVX-VNNI, ARM dot), fp16 for GPUs.

int8: ONNX Runtime's static quantisation, in the recipe measured on the shipped lite models (the
model cards and `benchmarks/results.md`, rebuilt by `benchmarks/int8.py`): uint8 activations with
int8 per-channel weights (U8S8, the fast kernel), QOperator format, `QUANTISED_OPS` so activations
stay uint8 between layers, the heatmap convolution and the decoding in fp32, and `PERCENTILE`
calibration on voxel grids built exactly as the model sees them. The result is an ordinary model
file (metadata copied over, plus a `quantization` entry), checked for parity with the fp32 model
on the calibration grids before writing. fp16 (`half_model`): the network in float16, decoding in
fp32; no calibration (parity on the `--calibration` frames, else a few synthetic frames).
Why each choice, with measurements: docs/design-notes.md, `training/quantize.py`.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..fileio import atomic_path
from ..inference.modelfile import INPUT, METADATA_KEY, load_model_proto

QUANTISED_OPS = ("Conv", "ConvTranspose", "Relu", "Add", "MaxPool")
PERCENTILE = 99.99
CALIBRATION_FRAMES = 96


def calibration_grids(model_path: Path, data_root: Path, dataset: str = "synthetic", split: str = "train",
                      count: int = CALIBRATION_FRAMES, seed: int = 0) -> np.ndarray:
    """`count` voxel grids [N,1,S,S,S] of a labelled dataset, spread evenly over it, voxelized
    around each frame's reference point with the model's cube and grid."""
    import torch

    from ..data import open_dataset
    from ..inference.modelfile import read_model_info
    from ..voxelize import pad_points, voxelize_points

    info = read_model_info(model_path)
    try:
        data = open_dataset(dataset, data_root, split)
    except FileNotFoundError as exc:
        raise UserError(f"--calibration {data_root}: {exc}") from None
    if len(data) == 0:
        raise UserError(f"--calibration {data_root} has no frames")
    if data.skeleton_name != info.skeleton:
        raise UserError(f"--calibration {data_root} holds {data.skeleton_name} frames; the model predicts {info.skeleton}")
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(data), size=min(count, len(data)), replace=False))
    grids = []
    for start in range(0, len(picks), 16):
        samples = [data[int(i)] for i in picks[start:start + 16]]
        pts, valid = pad_points([s.points_mm for s in samples])
        centres = torch.as_tensor(np.stack([s.centre_mm for s in samples]).astype(np.float32))
        grids.append(voxelize_points(pts, centres, info.cube_mm, info.input_grid, valid=valid).numpy())
    return np.concatenate(grids).astype(np.float32)


def _output_conv(proto) -> str:
    """Name of the convolution that writes the heatmaps: the last Conv/ConvTranspose of the graph."""
    convs = [n for n in proto.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    if not convs:
        raise UserError("the model has no convolution to quantise")
    return convs[-1].name


def _named(proto) -> None:
    """Give every node a unique name (the exporter leaves some empty; exclusion is by name)."""
    seen = set()
    for i, node in enumerate(proto.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}"
        seen.add(node.name)


@contextlib.contextmanager
def _quiet():
    """The quantisation tool prints its histogram steps and warns through the root logger about
    the decoding's integer tensors (which are deliberately not quantised); keep that off the console."""
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.disable(logging.NOTSET)


class _Reader:
    """ONNX Runtime's CalibrationDataReader protocol over an array of grids, a few at a time."""

    def __init__(self, grids: np.ndarray, batch: int = 8):
        self.grids, self.batch, self.pos = grids, batch, 0

    def get_next(self):
        if self.pos >= len(self.grids):
            return None
        chunk = self.grids[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return {INPUT: chunk}

    def rewind(self) -> None:
        self.pos = 0


def check_not_quantised(fp32_path: Path, meta) -> None:
    """A reduced-precision variant is made from an fp32 model (`meta`: its handpose-live metadata)."""
    if meta.get("quantization"):
        raise UserError(f"{fp32_path} is already quantised ({meta['quantization'].get('precision', '?')}); "
                        "start from the fp32 model")


def _load_fp32(fp32_path: Path, out: Path):
    """The fp32 model file a reduced-precision variant is made from: (proto, metadata props, our metadata)."""
    if out.suffix != ".onnx":
        raise UserError(f"output must end in .onnx: {out}")
    proto = load_model_proto(fp32_path)
    props = {p.key: p.value for p in proto.metadata_props}
    if METADATA_KEY not in props:
        raise UserError(f"{fp32_path} is not a handpose-live model (no '{METADATA_KEY}' metadata)")
    meta = json.loads(props[METADATA_KEY])
    check_not_quantised(fp32_path, meta)
    _named(proto)
    return proto, props, meta


def _write_variant(proto, variant, props: dict, meta: dict, how: dict, grids: np.ndarray, out: Path,
                   force: bool = False) -> dict:
    """Give `variant` the fp32 file's metadata plus a `quantization` entry (`how`), check its parity
    with `proto` on `grids`, then write it atomically (`force`: also when it fails the check). Returns
    the parity report."""
    import onnx

    meta = dict(meta, quantization=how)
    del variant.metadata_props[:]
    for key, value in props.items():
        entry = variant.metadata_props.add()
        entry.key, entry.value = key, json.dumps(meta) if key == METADATA_KEY else value
    variant.producer_name, variant.producer_version = proto.producer_name, proto.producer_version
    onnx.checker.check_model(variant)
    report = parity(proto, variant, grids, meta["output_grid"], how["precision"], required=not force)
    with atomic_path(out) as tmp:
        onnx.save(variant, str(tmp))
    return report


def _log_parity(report: dict, log) -> None:
    log(f"parity with fp32 on {report['grids']} grids: median joint shift {report['median_joint_shift_vox']:.2f} voxels, "
        f"{100 * report['within_one_voxel']:.1f} % of joints within 1 voxel")
    if report["within_one_voxel"] < PARITY_MIN:
        log(f"warning: below the {100 * PARITY_MIN:.0f} % the check asks for; written anyway (--force)")


def quantize_model(fp32_path: Path, out: Path, grids: np.ndarray, *, percentile: float = PERCENTILE,
                   calibration: str = "", log=print, force: bool = False) -> dict:
    """Write the int8 model to `out` (atomically) and return its parity report against fp32 (`force`: written
    even when it fails the parity check)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    fp32_path, out = Path(fp32_path), Path(out)
    proto, props, meta = _load_fp32(fp32_path, out)
    excluded = _output_conv(proto)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "fp32.onnx"
        dst = Path(tmp) / "int8.onnx"
        onnx.save(proto, str(src))
        log(f"calibrating on {len(grids)} grids and quantising ...")
        with _quiet():
            quantize_static(str(src), str(dst), _Reader(grids), quant_format=QuantFormat.QOperator,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                            op_types_to_quantize=list(QUANTISED_OPS), nodes_to_exclude=[excluded],
                            calibrate_method=CalibrationMethod.Percentile,
                            extra_options={"CalibPercentile": percentile})
        qproto = onnx.load(str(dst))
    how = {"precision": "int8", "scheme": "static U8S8 per-channel, QOperator", "ops": list(QUANTISED_OPS),
           "fp32": ["heatmap convolution", "decoding"], "calibration": calibration, "calibration_frames": int(len(grids)),
           "calib_method": f"percentile {percentile}", "source_model": fp32_path.name}
    report = _write_variant(proto, qproto, props, meta, how, grids, out, force)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, int8 U8S8, {len(grids)} calibration grids, "
        f"percentile {percentile}; fp32 kept: {excluded} and the decoding)")
    _log_parity(report, log)
    return report


def half_model(fp32_path: Path, out: Path, grids: np.ndarray, *, parity_data: str = "", log=print,
               force: bool = False) -> dict:
    """Write the fp16 model to `out` (atomically) and return its parity report against fp32.

    For GPUs (tensor cores): the network's weights and activations in float16; the input, the
    outputs and the decoding (argmax, sub-voxel fit) stay float32 as in the fp32 file, so callers
    see no difference: one Cast after the input, one after the heatmap convolution. No calibration:
    `grids` only serve the parity check."""
    fp32_path, out = Path(fp32_path), Path(out)
    proto, props, meta = _load_fp32(fp32_path, out)
    heatmap_conv = _output_conv(proto)
    hproto = _half_network(proto, heatmap_conv)
    how = {"precision": "fp16", "scheme": "float16 weights and activations, Cast at the input and before decoding",
           "fp32": ["inputs and outputs", "decoding"], "parity_data": parity_data, "source_model": fp32_path.name}
    report = _write_variant(proto, hproto, props, meta, how, grids, out, force)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, fp16; fp32 kept: the decoding after {heatmap_conv})")
    _log_parity(report, log)
    return report


def _half_network(proto, heatmap_conv: str):
    """A copy of `proto` whose nodes up to `heatmap_conv` (the network) compute in float16.

    (ONNX Runtime's own float16 converter, with the decoding blocked, writes one Cast per consumer
    of the heatmaps under a single name: an invalid graph. The network here is plain: float
    initializers and Constants become float16, the graph input is cast once, the heatmaps back once.)"""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    half = onnx.ModelProto()
    half.CopyFrom(proto)
    graph = half.graph
    names = [n.name for n in graph.node]
    cut = names.index(heatmap_conv) + 1
    network, decoding = list(graph.node[:cut]), list(graph.node[cut:])
    used_later = {i for n in decoding for i in n.input} | {o.name for o in graph.output}

    def to_half(tensor):
        if tensor.data_type != TensorProto.FLOAT:
            return tensor
        return numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float16), tensor.name)

    inputs = {i for n in network for i in n.input}
    for k, t in enumerate(graph.initializer):
        if t.name in inputs:
            if t.name in used_later:
                raise UserError(f"the weight {t.name} is shared by the network and the decoding; cannot make it fp16")
            graph.initializer[k].CopyFrom(to_half(t))
    for n in network:
        if n.op_type == "Constant":
            for attr in n.attribute:
                if attr.name == "value":
                    attr.t.CopyFrom(to_half(attr.t))
    graph_inputs = [i.name for i in graph.input]
    for n in network:
        for k, name in enumerate(n.input):
            if name in graph_inputs:
                n.input[k] = name + "_fp16"
    heat = network[-1].output[0]
    network[-1].output[0] = heat + "_fp16"
    casts_in = [helper.make_node("Cast", [name], [name + "_fp16"], name=f"Cast_{name}_fp16", to=TensorProto.FLOAT16)
                for name in graph_inputs if any(name + "_fp16" in n.input for n in network)]
    cast_out = helper.make_node("Cast", [heat + "_fp16"], [heat], name=f"Cast_{heat}_fp32", to=TensorProto.FLOAT)
    del graph.node[:]
    graph.node.extend(casts_in + network + [cast_out] + decoding)
    del graph.value_info[:]       # recorded float32 types of the network's tensors
    return half


PARITY_MIN = 0.9    # share of joints a reduced-precision model must keep within one output voxel of fp32


def parity(fp32_proto, variant_proto, grids: np.ndarray, output_grid: int, precision: str = "int8",
           required: bool = True) -> dict:
    """Joints of both models on the same grids: the share within one output voxel of fp32; below
    PARITY_MIN a `UserError` when `required`.

    A quantised graph that decodes differently (wrong scales, a broken decoding) moves most
    joints by many voxels; a good one keeps the great majority within one."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    joints = []
    for proto in (fp32_proto, variant_proto):
        sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        joints.append(np.concatenate([sess.run(["joints_vox"], {INPUT: grids[i:i + 8]})[0]
                                      for i in range(0, len(grids), 8)]))
    shift = np.linalg.norm(joints[0] - joints[1], axis=-1)
    report = {"grids": int(len(grids)), "median_joint_shift_vox": float(np.median(shift)),
              "within_one_voxel": float((shift <= 1.0).mean()), "max_joint_shift_vox": float(shift.max())}
    if required and report["within_one_voxel"] < PARITY_MIN:
        raise UserError(f"the {precision} model moves {100 * (1 - report['within_one_voxel']):.0f} % of joints by more than "
                        f"one voxel of {output_grid}^3 against fp32 (at most {100 * (1 - PARITY_MIN):.0f} % may); not "
                        "written (--force writes it anyway, e.g. to measure it yourself)")
    return report
