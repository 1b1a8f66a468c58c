"""Training checkpoints: written atomically, read without executing code, refused when damaged.

A checkpoint is a zip archive (torch.save); torch's reader does not check the CRC-32 of the
entries it loads, so a flipped weight byte loaded silently (an export "worked", with weights of
1e5). `load_checkpoint` checks every entry's CRC first. torch's writer turns the OSError of a
full disk into a RuntimeError; `save_checkpoint` hands the OSError itself to `atomic_write`.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import IO

import torch

from ..errors import UserError
from ..fileio import atomic_write

CHECKPOINT_FORMAT = "handpose-live-checkpoint"


def save_checkpoint(path: Path, state: dict) -> None:
    """Write `state` (plain containers and tensors only) so that a crash never leaves a broken file.

    The file is written beside its target, fsynced and renamed over it: a kill -9 or a full
    disk at any moment leaves the previous checkpoint intact.
    """
    def write(f: IO) -> None:
        out = _ErrorKeepingFile(f)
        try:
            torch.save(dict(state, format=CHECKPOINT_FORMAT), out)  # type: ignore[arg-type]
        except RuntimeError:
            if out.error is not None:     # "[enforce fail at inline_container.cc] ... file write failed"
                raise out.error from None
            raise

    atomic_write(path, write)


class _ErrorKeepingFile:
    """A file whose first write error is kept (torch.save replaces it with a RuntimeError)."""

    def __init__(self, f: IO) -> None:
        self._f = f
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self._f.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def flush(self) -> None:
        self._f.flush()


def check_archive(path: Path) -> None:
    """A one-line UserError unless every entry of the checkpoint's zip archive reads back with its CRC.
    (Old-format, non-zip files are left to torch.load.)"""
    try:
        if not zipfile.is_zipfile(path):
            return
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise UserError(f"checkpoint {path} is corrupt (truncated or damaged?): {exc}") from None
    if bad is not None:
        raise UserError(f"checkpoint {path} is corrupt: its entry {bad} fails its CRC check (damaged on disk or in transfer)")


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint safely; every failure becomes a one-line UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}" if not path.exists() else f"checkpoint {path} is not a regular file")
    check_archive(path)
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


