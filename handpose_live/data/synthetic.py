"""Reader of the synthetic shard datasets written by `handpose-live synth` (format: synth/shards.py).

Shards are compressed, so a whole shard is decompressed once and kept in a small LRU cache;
read in shard order (see `shard_local_order`) for speed, random order costs a shard load per
sample.
"""
from __future__ import annotations

import numpy as np

from ..geometry import cube_roi_px, depth_to_points_mm
from ..synth.shards import ShardReader
from .base import PoseDataset, Sample


class SyntheticShardDataset(ShardReader, PoseDataset):
    """`len()` and `[i] -> Sample` over all frames listed in `root/index.json`.

    points_mm are the valid crop pixels inside the cube's projection and its z-slab
    (centre z +- cube_mm / 2). `cube_mm` defaults to the one the data was rendered for; a
    larger one still only sees the stored crop.
    """

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
