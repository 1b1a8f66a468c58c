"""Reader of the synthetic shard datasets written by `handpose-live synth` (format: synth/shards.py).

Shards are compressed, so a whole shard is decompressed once and kept in a small LRU cache;
read in shard order (see `shard_local_order`) for speed, random order costs a shard load per
sample.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..geometry import cube_roi_px, depth_to_points_mm
from ..synth.shards import read_index, read_shard
from ..types import Intrinsics
from .base import PoseDataset, Sample


class SyntheticShardDataset(PoseDataset):
    """`len()` and `[i] -> Sample` over all frames listed in `root/index.json`.

    points_mm are the valid crop pixels inside the cube's projection and its z-slab
    (centre z +- cube_mm / 2). `cube_mm` defaults to the one the data was rendered for; a
    larger one still only sees the stored crop.
    """

    def __init__(self, root: str | Path, split: str = "train", cube_mm: float | None = None, cache_shards: int = 2):
        """`split` is accepted for the common loader signature; a synthetic folder IS one split."""
        self.root = Path(root)
        self.index = read_index(self.root)
        self.intrinsics = Intrinsics(**{k: v for k, v in self.index["camera"].items() if k != "distortion"},
                                     distortion=tuple(self.index["camera"].get("distortion", (0.0,) * 5)))
        self.skeleton_name = self.index["skeleton"]
        self.cube_mm = float(cube_mm if cube_mm is not None else self.index["cube_mm"])
        if self.cube_mm <= 0:
            raise UserError(f"cube_mm must be positive, got {self.cube_mm}")
        shards = self.index["shards"]
        self._files = [self.root / s["file"] for s in shards]
        self._starts = np.concatenate([[0], np.cumsum([s["count"] for s in shards])]).astype(np.int64)
        self._cache: OrderedDict[int, dict] = OrderedDict()
        self._cache_size = max(1, int(cache_shards))

    def __len__(self) -> int:
        return int(self._starts[-1])

    def _shard(self, k: int) -> dict:
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        data = read_shard(self._files[k])
        self._cache[k] = data
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return data

    def _locate(self, index: int) -> tuple[dict, int]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} out of range (dataset has {len(self)})")
        k = int(np.searchsorted(self._starts, index, side="right") - 1)
        return self._shard(k), index - int(self._starts[k])

    def frame(self, index: int) -> dict:
        """Everything stored for one frame: depth crop (uint16 mm), roi_px, joints_mm, visible, centre_mm."""
        data, i = self._locate(index)
        u0, v0, u1, v1 = (int(x) for x in data["roi_px"][i])
        crop = data["depth_mm"][data["depth_offset"][i]:data["depth_offset"][i + 1]].reshape(v1 - v0, u1 - u0)
        return {"depth_mm": crop, "roi_px": (u0, v0, u1, v1), "joints_mm": data["joints_mm"][i],
                "visible": data["visible"][i], "centre_mm": data["centre_mm"][i],
                "frame_index": int(data["frame_index"][i])}

    def __getitem__(self, index: int) -> Sample:
        f = self.frame(index)
        u0, v0, u1, v1 = f["roi_px"]
        centre = f["centre_mm"]
        cu0, cv0, cu1, cv1 = cube_roi_px(centre, self.cube_mm, self.intrinsics)
        roi = (max(cu0, u0), max(cv0, v0), min(cu1, u1), min(cv1, v1))
        full = np.zeros((self.intrinsics.height, self.intrinsics.width), np.uint16)
        full[v0:v1, u0:u1] = f["depth_mm"]
        half = self.cube_mm / 2
        points = depth_to_points_mm(full, self.intrinsics, roi, (float(centre[2]) - half, float(centre[2]) + half))
        return Sample(points, f["joints_mm"].astype(np.float32), centre.astype(np.float32),
                      f"{self.root.name}/{f['frame_index']}")

    def shard_local_order(self, rng: np.random.Generator) -> np.ndarray:
        """A shuffled order that visits shards one at a time (for a sampler: fast loading)."""
        order = []
        for k in rng.permutation(len(self._files)):
            order.append(self._starts[k] + rng.permutation(int(self._starts[k + 1] - self._starts[k])))
        return np.concatenate(order) if order else np.zeros(0, np.int64)
