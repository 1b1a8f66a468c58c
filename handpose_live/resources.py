"""Where the files shipped beside the code live: `calib/` and `models/` at the repo top level,
and which shipped model serves each target.

In a source checkout (editable install) they are read in place; a wheel installs them as the
packages `handpose_live.calib` and `handpose_live.shipped_models` (see pyproject.toml).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import UserError
from .targets import get_target

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _folder(repo_name: str, package: str) -> Path:
    in_repo = _REPO_ROOT / repo_name
    if in_repo.is_dir():
        return in_repo
    return Path(str(resources.files(package)))


def calib_dir() -> Path:
    return _folder("calib", "handpose_live.calib")


def models_dir() -> Path:
    return _folder("models", "handpose_live.shipped_models")


def default_model(target: str) -> Path:
    """The shipped model for `target` (hand, body)."""
    path = models_dir() / get_target(target).shipped_model
    if not path.is_file():
        raise UserError(f"no shipped {target} model at {path}; pass --model FILE.onnx "
                        "(train one with `handpose-live train` and `handpose-live export-onnx`)")
    return path


PRECISIONS = ("auto", "fp32", "int8")


def cpu_has_int8_dot() -> bool:
    """Whether this CPU has int8 dot-product instructions (x86 AVX-512 VNNI / AVX-VNNI, ARM dotprod),
    read from /proc/cpuinfo (Linux). Without them ONNX Runtime's uint8 kernels lose their edge
    (and can saturate on plain AVX2), so `auto` keeps fp32 there and on other systems."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_vnni", "avx_vnni", "asimddp"})
    except OSError:
        pass
    return False


def check_precision(precision: str) -> str:
    """`--precision` is one of PRECISIONS (one message for `run`, `bench` and the API)."""
    if precision not in PRECISIONS:
        raise UserError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def shipped_model(target: str, precision: str = "auto", device: str = "auto", backend: str = "onnxruntime") -> Path:
    """The shipped model `run` uses for `target`: the int8 variant (`<name>-int8.onnx`, same accuracy
    within 0.3 mm / 1 point of mAP, see its model card) when `precision` asks for it, or, for
    `auto`, on a CPU with int8 dot products when ONNX Runtime runs inference on the CPU; otherwise fp32."""
    check_precision(precision)
    fp32 = default_model(target)
    if precision == "fp32" or (precision == "auto" and (device == "cuda" or backend != "onnxruntime"
                                                         or not cpu_has_int8_dot())):
        return fp32
    if precision == "auto" and device == "auto":
        import torch  # a GPU that can run the model: there, fp32 (int8 QLinearConv has no CUDA kernel)
        if torch.cuda.is_available():
            return fp32
    int8 = fp32.with_name(fp32.stem + "-int8.onnx")
    if int8.is_file():
        return int8
    if precision == "int8":
        raise UserError(f"no shipped int8 {target} model at {int8}; make one with "
                        f"`handpose-live export-onnx {fp32} --int8 --calibration DIR --out {int8}`")
    return fp32


def default_detector(target: str = "hand") -> Path | None:
    """The learned detector shipped for `target` (its profile's `detector_file`), or None when there is
    none or this installation lacks it (geometric detection)."""
    from .targets import get_target

    name = get_target(target).detector_file
    path = models_dir() / name if name else None
    return path if path is not None and path.is_file() else None
