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
import mmap
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


def check_target(info: ModelInfo, path: Path, target: str) -> None:
    """The model must be one for `target` (`--target`), or a one-line UserError."""
    from ..targets import get_target

    if get_target(target).name != info.target:
        raise UserError(f"{Path(path).name} is a {info.target} model but --target is {target}")


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


def _fields(buf, start: int, end: int):
    """(field number, wire type, value) of a protobuf message in buf[start:end]: an int for varints, a
    (start, end) span for length-delimited fields (sub-messages, strings and bytes are not read)."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        value: int | tuple[int, int] | None
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire == 2:
            size, pos = _varint(buf, pos, end)
            value, pos = (pos, pos + size), pos + size
        elif wire in (1, 5):
            value, pos = None, pos + (8 if wire == 1 else 4)
        else:
            raise ValueError(f"wire type {wire}")
        if pos > end or number == 0:
            raise ValueError("truncated" if pos > end else "field number 0")
        yield number, wire, value


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ValueError("truncated varint")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if byte < 0x80:
            return value, pos


def _message(buf, span, wanted: dict) -> dict:
    """{name: [values]} of the fields numbered in `wanted` ({number: name}) of the message at span."""
    found: dict = {name: [] for name in wanted.values()}
    for number, wire, value in _fields(buf, *span):
        if number in wanted:
            found[wanted[number]].append(value)
    return found


def _text(buf, span) -> str:
    return bytes(buf[span[0]:span[1]]).decode("utf-8")


def _value_infos(buf, spans) -> dict[str, list]:
    """ValueInfoProto name -> its tensor shape: per dim its dim_value, or dim_param (a name) if symbolic."""
    shapes = {}
    for span in spans:
        info = _message(buf, span, {1: "name", 2: "type"})
        dims: list = []
        for t in info["type"]:
            for tensor in _message(buf, t, {1: "tensor"})["tensor"]:
                for shape in _message(buf, tensor, {2: "shape"})["shape"]:
                    for dim in _message(buf, shape, {1: "dim"})["dim"]:
                        d = _message(buf, dim, {1: "value", 2: "param"})
                        dims.append(d["value"][0] if d["value"] else _text(buf, d["param"][0]) if d["param"] else None)
        if info["name"]:
            shapes[_text(buf, info["name"][0])] = dims
    return shapes


def read_model_info(path: Path) -> ModelInfo:
    """Metadata only, checked against the graph's declared shapes; cheap: no session is created and no
    library imported. The file's protobuf is read in place for the few fields this needs (ModelProto's
    metadata_props and graph, GraphProto's inputs and outputs: onnx.proto's field numbers), skipping
    the weights (importing the `onnx` package alone takes about a second, most of it `ml_dtypes`)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model not found: {path}")
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            model = _message(buf, (0, len(buf)), {7: "graph", 14: "metadata"})
            custom = {}
            for span in model["metadata"]:
                entry = _message(buf, span, {1: "key", 2: "value"})
                custom[_text(buf, entry["key"][0]) if entry["key"] else ""] = \
                    _text(buf, entry["value"][0]) if entry["value"] else ""
            graph = _message(buf, model["graph"][-1], {11: "input", 12: "output"}) if model["graph"] else None
            inputs = _value_infos(buf, graph["input"]) if graph else {}
            outputs = _value_infos(buf, graph["output"]) if graph else {}
    except (ValueError, OSError, UnicodeDecodeError) as exc:      # mmap of an empty file: ValueError too
        raise UserError(f"{path} is not a readable ONNX file: {str(exc).splitlines()[0][:150]}") from None
    info = parse_metadata(custom, path)
    if INPUT not in inputs:
        raise UserError(f"{path} is inconsistent: no '{INPUT}' input")
    check_graph(info, path, inputs[INPUT], outputs)
    return info
