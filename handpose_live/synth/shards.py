"""On-disk format of a synthetic dataset, and its atomic writes.

A dataset folder holds `index.json` and shards `shard-00000.npz`, `shard-00001.npz`, ...
(`np.savez_compressed`). Shard k holds the frames k*shard_size .. k*shard_size + count - 1:

    depth_mm      uint16 [sum of crop pixels]  every frame's depth crop, row-major, concatenated
                                               (millimetres, 0 = invalid)
    depth_offset  int64  [N + 1]               crop i is depth_mm[depth_offset[i]:depth_offset[i+1]]
    roi_px        int32  [N, 4]                crop window (u0, v0, u1, v1) in the full image, end
                                               exclusive; crop i has shape (v1 - v0, u1 - u0)
    joints_mm     float32 [N, J, 3]            ground-truth joints, camera mm (x right, y down, z fwd)
    visible       bool   [N, J]                joint not occluded (see world.joint_visibility)
    centre_mm     float32 [N, 3]               cube centre (palm centre for hands, torso for bodies)
    frame_index   int64  [N]                   global frame number (its random stream is (seed, it))
    intrinsics    float64 [6]                  fx, fy, cx, cy, width, height

The crop is the projection of the cube (250 mm hands, 2000 mm bodies) around the centre,
clipped to the image. `index.json` holds: format, version, the settings that decide the frames
(generate.dataset_settings: generator_version, target, cube_mm, camera (Intrinsics.to_dict()),
seed, hand_prior = {sha256 (content hash of the packaged prior), fraction, frames, source,
source_sha256} or null for bodies, sensor = {name, parameters}), skeleton, shard_size, count and
shards = [{"file", "count", "first_frame"}]. Only shards listed in the index belong to the
dataset; each file and the index are written to a temporary file, fsynced and renamed into
place, so a killed run leaves either the old or the new version, never half a shard.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..fileio import atomic_write

INDEX = "index.json"
FORMAT = "handpose-live-synth"
VERSION = 1


def shard_name(k: int) -> str:
    return f"shard-{k:05d}.npz"


def pack_frames(frames: list, intrinsics) -> dict[str, np.ndarray]:
    """Arrays of one shard from `world.SynthFrame`s plus their global frame numbers."""
    crops = [np.clip(np.rint(f.depth_mm), 0, 65535).astype(np.uint16).ravel() for f, _ in frames]
    offsets = np.concatenate([[0], np.cumsum([c.size for c in crops])]).astype(np.int64)
    return {
        "depth_mm": np.concatenate(crops) if crops else np.zeros(0, np.uint16),
        "depth_offset": offsets,
        "roi_px": np.array([f.roi_px for f, _ in frames], np.int32).reshape(-1, 4),
        "joints_mm": np.stack([f.joints_mm for f, _ in frames]).astype(np.float32),
        "visible": np.stack([f.visible for f, _ in frames]).astype(bool),
        "centre_mm": np.stack([f.centre_mm for f, _ in frames]).astype(np.float32),
        "frame_index": np.array([i for _, i in frames], np.int64),
        "intrinsics": np.array([intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy,
                                intrinsics.width, intrinsics.height], np.float64),
    }


def write_shard(path: Path, arrays: dict[str, np.ndarray]) -> None:
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def write_index(root: Path, index: dict) -> None:
    atomic_write(Path(root) / INDEX, lambda f: f.write((json.dumps(index, indent=1) + "\n").encode()))


def read_index(root: Path) -> dict:
    path = Path(root) / INDEX
    if not path.is_file():
        raise UserError(f"{root} is not a synthetic dataset (no {INDEX})")
    try:
        index = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is corrupt: {exc}") from None
    if index.get("format") != FORMAT:
        raise UserError(f"{path} is not a {FORMAT} index")
    return index


def read_shard(path: Path) -> dict[str, np.ndarray]:
    """All arrays of a shard, decompressed."""
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"cannot read shard {path}: {exc}") from None
