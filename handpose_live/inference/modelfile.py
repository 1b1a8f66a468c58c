"""The model file: what a handpose-live ONNX file carries and how it is read and checked.

A model file is self-describing: `metadata_props["handpose_live"]` (JSON) holds the
architecture, the input/output grids, the cube, the skeleton and joint names, the target and
the default "no subject" gate. The exporter (training side) writes it with the constants
below; the runtime (inference side) reads it with `parse_metadata` and checks it against the
graph itself with `check_graph`, so a file whose metadata disagrees with its network is
refused before the first frame instead of failing on it or, worse, running with nonsense.
This module imports neither torch nor training code.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import UserError

MODEL_FORMAT = "handpose-live-model"
METADATA_KEY = "handpose_live"
OUTPUTS = ("joints_vox", "confidence", "heatmaps")
INPUT = "voxels"


@dataclass(frozen=True)
class ModelInfo:
    """The typed view of a model file's metadata."""

    arch: str
    input_grid: int
    output_grid: int
    cube_mm: float
    skeleton: str
    joint_names: tuple[str, ...]
    target: str
    min_confidence: float | None = None     # the model's own "no subject" gate (mean heatmap peak)
    training_data: str = "unknown"
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)


def _positive_int(meta: Mapping, key: str) -> int:
    value = meta[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{key} must be a positive integer, got {value!r}")
    return value


def parse_metadata(custom: Mapping[str, str], path: Path) -> ModelInfo:
    """`metadata_props` -> `ModelInfo`; any missing, foreign or out-of-range value is a one-line error."""
    if METADATA_KEY not in custom:
        raise UserError(f"{path} is not a handpose-live model (no '{METADATA_KEY}' metadata); "
                        "convert a checkpoint with `handpose-live export-onnx`")
    try:
        meta = json.loads(custom[METADATA_KEY])
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
        if meta.get("format") != MODEL_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}")
        cube = float(meta["cube_mm"])
        if not math.isfinite(cube) or cube <= 0:
            raise ValueError(f"cube_mm must be a positive number, got {meta['cube_mm']!r}")
        names = meta["joint_names"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ValueError("joint_names must be a non-empty list of names")
        gate = meta.get("min_confidence")
        if gate is not None:
            gate = float(gate)
            if not 0.0 <= gate < 1.0:
                raise ValueError(f"min_confidence must lie in [0, 1), got {meta['min_confidence']!r}")
        return ModelInfo(str(meta["arch"]), _positive_int(meta, "input_grid"), _positive_int(meta, "output_grid"),
                         cube, str(meta["skeleton"]), tuple(names), str(meta["target"]), gate,
                         str(meta.get("training_data", "unknown")), meta)
    except (ValueError, KeyError, TypeError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise UserError(f"{path} has unreadable handpose-live metadata: {detail}") from None


def check_graph(info: ModelInfo, path: Path, input_shape: Sequence, outputs: Mapping[str, Sequence]) -> None:
    """The metadata must describe the graph: input [N,1,S,S,S] with S = input_grid, joints_vox [N,J,3]
    and confidence [N,J] with J = the number of joint names. Symbolic (dynamic) dims are not checked."""
    def fixed(dim) -> int | None:
        return dim if isinstance(dim, int) and not isinstance(dim, bool) and dim > 0 else None

    problems = []
    if len(input_shape) != 5:
        problems.append(f"input '{INPUT}' has {len(input_shape)} dimensions, expected 5 [N,1,S,S,S]")
    else:
        spatial = [fixed(d) for d in input_shape[2:]]
        if any(s is not None and s != info.input_grid for s in spatial):
            problems.append(f"the network takes a {'x'.join(str(s) for s in spatial)} grid but the metadata says "
                            f"input_grid {info.input_grid}")
    for name, rank in (("joints_vox", 3), ("confidence", 2)):
        if name not in outputs:
            problems.append(f"no '{name}' output")
            continue
        shape = outputs[name]
        if len(shape) != rank:
            problems.append(f"output '{name}' has {len(shape)} dimensions, expected {rank}")
        elif fixed(shape[1]) is not None and shape[1] != info.num_joints:
            problems.append(f"the network outputs {shape[1]} joints but the metadata names {info.num_joints}")
    if problems:
        raise UserError(f"{path} is inconsistent: {problems[0]}")


def load_model_proto(path: Path):
    """The whole model (its external weight files too) as an onnx ModelProto, or a one-line UserError:
    missing, damaged, or weights outside the model's folder (onnx refuses those; ONNX Runtime too)."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise UserError(f"model not found: {path}")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # DecodeError, ValueError, OSError, onnx's ValidationError (external data paths)
        raise UserError(f"{path} is not a readable ONNX model: {str(exc).splitlines()[0][:200]}") from None


def read_model_info(path: Path) -> ModelInfo:
    """Metadata only, without creating a session (cheap), checked against the graph's declared shapes."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise UserError(f"model not found: {path}")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError/ValueError/OSError depending on the damage
        raise UserError(f"{path} is not a readable ONNX file: {str(exc).splitlines()[0][:150]}") from None
    info = parse_metadata({p.key: p.value for p in proto.metadata_props}, path)

    def shape(value_info) -> list:
        return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value_info.type.tensor_type.shape.dim]

    inputs = {i.name: shape(i) for i in proto.graph.input}
    if INPUT not in inputs:
        raise UserError(f"{path} is inconsistent: no '{INPUT}' input")
    check_graph(info, path, inputs[INPUT], {o.name: shape(o) for o in proto.graph.output})
    return info
