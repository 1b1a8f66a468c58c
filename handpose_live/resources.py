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


SHIPPED_DETECTOR = "hand-detector.onnx"


def default_detector() -> Path | None:
    """The shipped hand detector, or None when this installation has none (geometric detection)."""
    path = models_dir() / SHIPPED_DETECTOR
    return path if path.is_file() else None
