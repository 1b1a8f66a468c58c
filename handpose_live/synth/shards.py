"""On-disk format of a synthetic dataset, and its atomic writes.

A dataset folder holds `index.json` and shards `shard-00000.npz`, ... (`np.savez_compressed`);
shard k holds frames k*shard_size onwards. A frame is stored as its depth crop, the projection of
the cube around its centre clipped to the image, so a shard holds `depth_mm` (uint16, all crops
concatenated), `depth_offset`, `roi_px`, `joints_mm`, `visible`, `centre_mm`, `frame_index` and
`intrinsics`. `index.json` holds the settings that decide the frames (`generate.dataset_settings`),
the skeleton and the list of shards. Only shards listed in the index belong to the dataset; each
file and the index are written to a temporary file, fsynced and renamed into place, so a killed
run leaves either the old or the new version, never half a shard.
Every array's dtype, shape and meaning, and the index's keys: docs/design-notes.md, `synth/shards.py`.
"""
from __future__ import annotations

import json
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..fileio import atomic_write, describe_os_error
from ..types import Intrinsics

INDEX = "index.json"
FORMAT = "handpose-live-synth"
VERSION = 1


ARRAYS = ("depth_mm", "depth_offset", "roi_px", "joints_mm", "visible", "centre_mm", "frame_index", "intrinsics")


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
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        raise UserError(f"{root} is not a synthetic dataset (no {INDEX})") from None
    except OSError as exc:   # e.g. a folder we may not read
        raise UserError(f"cannot read {path}: {describe_os_error(exc)}") from None
    try:
        index = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is corrupt: {exc}") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise UserError(f"{path} is not a {FORMAT} index")
    return index


# What a damaged .npz raises: a cut-off file has no zip directory (BadZipFile), a damaged member
# fails its CRC (BadZipFile) or its inflate (zlib.error, EOFError), a bad array header ValueError.
_DAMAGED = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


def _damaged(path: Path, exc: BaseException) -> UserError:
    reason = describe_os_error(exc) if isinstance(exc, OSError) else (str(exc) or type(exc).__name__)
    return UserError(f"cannot read shard {path} (truncated or corrupt?): {reason}")


def check_shard(path: Path, count: int) -> None:
    """Cheaply check that a shard is whole and holds `count` frames, or raise a one-line UserError.

    Opening reads the zip directory, which sits at the end of the file, so a truncated shard
    fails here; only the small `frame_index` array is decompressed. Run for every shard when a
    dataset opens, so a damaged one stops training before it starts, not later in a loader worker.
    """
    try:
        with np.load(path) as z:
            missing = sorted(set(ARRAYS) - set(z.files))
            labels = {} if missing else {k: z[k] for k in ("frame_index", *LABELS)}
    except _DAMAGED as exc:
        raise _damaged(path, exc) from None
    if missing:
        raise UserError(f"shard {path} lacks {', '.join(missing)} (not written by handpose-live synth?)")
    frames = len(labels["frame_index"])
    if frames != count:
        raise UserError(f"shard {path} holds {frames} frames but {INDEX} lists {count}")
    check_labels(path, labels)


LABELS = ("centre_mm", "joints_mm", "intrinsics")   # the numbers training trusts: each must be finite


def check_labels(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A one-line UserError naming the shard, the array and the first frame whose labels are NaN or
    infinite (training on them fails far from the cause: a NaN loss, or a ValueError in a worker)."""
    for key in LABELS:
        values = np.asarray(arrays[key], np.float64)
        bad = ~np.isfinite(values)
        if not bad.any():
            continue
        if key == "intrinsics":
            raise UserError(f"shard {path}: its intrinsics are not finite ({values.tolist()})")
        row = int(np.argwhere(bad.reshape(len(values), -1).any(axis=1))[0, 0])
        frame = int(arrays["frame_index"][row]) if row < len(arrays["frame_index"]) else row
        raise UserError(f"shard {path}: frame {frame} (entry {row} of the shard) has a non-finite {key} "
                        f"({int(bad.sum())} value(s) NaN or infinite; regenerate the dataset with `synth`)")


def read_shard(path: Path) -> dict[str, np.ndarray]:
    """All arrays of a shard, decompressed."""
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except _DAMAGED as exc:
        raise _damaged(path, exc) from None


class ShardReader:
    """`len()` and `frame(i)` over all frames listed in `root/index.json`, a few shards cached.

    The format's reader, shared by the training loader (`data/synthetic.py`) and the preview.
    `cube_mm` defaults to the one the data was rendered for.
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
        for path, s in zip(self._files, shards):
            check_shard(path, s["count"])
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

    def shard_blocks(self, rng: np.random.Generator) -> list[np.ndarray]:
        """The shards in a shuffled order, each a shuffled block of frame indices."""
        return [self._starts[k] + rng.permutation(int(self._starts[k + 1] - self._starts[k]))
                for k in rng.permutation(len(self._files))]

    def shard_local_order(self, rng: np.random.Generator) -> np.ndarray:
        """A shuffled order that visits shards one at a time (for a sampler: fast loading)."""
        blocks = self.shard_blocks(rng)
        return np.concatenate(blocks) if blocks else np.zeros(0, np.int64)
