"""Training checkpoints: written atomically, read without executing code."""
from __future__ import annotations

import pickle
from pathlib import Path

import torch

from ..errors import UserError
from ..fileio import atomic_write

CHECKPOINT_FORMAT = "handpose-live-checkpoint"


def save_checkpoint(path: Path, state: dict) -> None:
    """Write `state` (plain containers and tensors only) so that a crash never leaves a broken file.

    The file is written beside its target, fsynced and renamed over it: a kill -9 or a full
    disk at any moment leaves the previous checkpoint intact.
    """
    atomic_write(path, lambda f: torch.save(dict(state, format=CHECKPOINT_FORMAT), f))


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint safely; every failure becomes a one-line UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc) or "GLOBAL" in str(exc):
            raise UserError(f"checkpoint {path} needs code execution to load (it pickles Python objects, "
                            "not only tensors); refusing to load it") from None
        raise UserError(f"checkpoint {path} is corrupt or not a PyTorch file") from None
    except Exception as exc:  # torch.load raises many types on damaged files (RuntimeError, EOFError, struct.error...)
        first = str(exc).strip().splitlines()[0][:150] if str(exc).strip() else type(exc).__name__
        raise UserError(f"checkpoint {path} is corrupt or not a PyTorch file: {first}") from None
    if not isinstance(obj, dict):
        raise UserError(f"checkpoint {path} holds a {type(obj).__name__}, not a state dict")
    return obj


