"""What every dataset loader yields, whatever the benchmark: points, joints and a centre in camera mm.

Camera mm here is the project convention (geometry.py): x right, y down, z forward. Loaders
convert y-up / negative-z labels on load. The voxelizer turns a `Sample` into a grid, so
loaders never voxelize themselves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError


@dataclass
class Sample:
    points_mm: np.ndarray      # [P, 3] float32: valid depth points near the subject (inside the cube slab)
    joints_mm: np.ndarray      # [J, 3] float32 ground truth
    centre_mm: np.ndarray      # [3] float32 reference point the cube is centred on
    frame_id: str = ""


class PoseDataset:
    """Minimal map-style dataset (works as a torch Dataset): `len()` and `[i] -> Sample`."""

    skeleton_name: str = "hand21"
    cube_mm: float = 250.0

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Sample:
        raise NotImplementedError


class ConcatDataset(PoseDataset):
    """Several datasets of one skeleton and cube as one (e.g. two synthetic worlds mixed for a fine-tune).

    `shard_local_order` keeps the sharded parts' fast loading: the blocks (shards) of every part
    are shuffled together, so a step still reads one shard at a time, from any part."""

    def __init__(self, parts: list[PoseDataset], names: list[str]):
        first = parts[0]
        for part, name in zip(parts[1:], names[1:]):
            if (part.skeleton_name, float(part.cube_mm)) != (first.skeleton_name, float(first.cube_mm)):
                raise UserError(f"{name} holds {part.skeleton_name} frames in a {part.cube_mm:g} mm cube; {names[0]} holds "
                                f"{first.skeleton_name} in {first.cube_mm:g} mm: datasets trained together must match")
        self.parts, self.skeleton_name, self.cube_mm = parts, first.skeleton_name, first.cube_mm
        self._starts = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} out of range (dataset has {len(self)})")
        k = int(np.searchsorted(self._starts, index, side="right") - 1)
        return self.parts[k][index - int(self._starts[k])]

    def shard_blocks(self, rng: np.random.Generator) -> list[np.ndarray]:
        blocks = []
        for start, part in zip(self._starts, self.parts):
            own = part.shard_blocks(rng) if hasattr(part, "shard_blocks") else list(rng.permutation(len(part))[:, None])
            blocks += [start + b for b in own]
        return [blocks[i] for i in rng.permutation(len(blocks))]

    def shard_local_order(self, rng: np.random.Generator) -> np.ndarray:
        blocks = self.shard_blocks(rng)
        return np.concatenate(blocks) if blocks else np.zeros(0, np.int64)
