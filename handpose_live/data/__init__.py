"""Dataset registry: `open_dataset(name, root, split, **kw)` for every benchmark and the synthetic shards."""
from __future__ import annotations

from importlib import import_module
from pathlib import Path

from ..errors import UserError
from .base import ConcatDataset, PoseDataset, Sample

_LOADERS = {
    "nyu": ("handpose_live.data.nyu", "NYUDataset"),
    "icvl": ("handpose_live.data.icvl", "ICVLDataset"),
    "msra": ("handpose_live.data.msra", "MSRADataset"),
    "hands2017": ("handpose_live.data.hands2017", "Hands2017Dataset"),
    "itop": ("handpose_live.data.itop", "ITOPDataset"),
    "synthetic": ("handpose_live.data.synthetic", "SyntheticShardDataset"),
}
DATASET_NAMES = tuple(_LOADERS)


def dataset_class(name: str) -> type:
    """The loader class for `name`, imported only when asked for (keeps h5py/scipy off the fast path)."""
    if name not in _LOADERS:
        raise UserError(f"unknown dataset '{name}' (known: {', '.join(DATASET_NAMES)})")
    module, cls = _LOADERS[name]
    return getattr(import_module(module), cls)


def open_dataset(name: str, root: Path | str, split: str = "train", **kw) -> PoseDataset:
    """E.g. `open_dataset("msra", "/data/msra", "test", test_subject="P3", centres_file=...)`."""
    return dataset_class(name)(Path(root), split, **kw)


def open_datasets(name: str, roots: list[str | Path], split: str = "train", **kw) -> PoseDataset:
    """One dataset from several folders of the same type (`train --data-root A --data-root B`)."""
    parts = [open_dataset(name, root, split, **kw) for root in roots]
    return parts[0] if len(parts) == 1 else ConcatDataset(parts, [str(r) for r in roots])


__all__ = ["DATASET_NAMES", "ConcatDataset", "PoseDataset", "Sample", "dataset_class", "open_dataset", "open_datasets"]
