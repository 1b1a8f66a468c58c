"""`handpose-live synth`: render a sharded synthetic dataset (format in shards.py), resumably.

Frame i is drawn from the random stream (seed, i) alone, so any shard can be re-rendered
identically, an interrupted run continues with --append, and datasets with different seeds
(train / test) share no frame. `--count` is the dataset's total size: rerunning the same
command with --append renders only what is missing. The `synth` command is `commands/synth.py`.

index.json records every setting that decides the frames (`dataset_settings`): generator
version, world (`classic`, `crowded` or `rooms`, see world.py), target, cube, camera, seed, the hand-pose
prior's identity and share, and the sensor model(s) with the crowded world's mix. An index
written before worlds existed has no `world` key and is a classic one. --append onto a dataset
whose recorded settings differ is refused, so a dataset never mixes frames made two ways.
"""
from __future__ import annotations

import os
import time
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError
from ..fileio import IMAGE_FORMATS, atomic_write, check_format, remove_temporaries
from ..geometry import camera_to_pixel
from ..options import check_minimums
from ..skeletons import get_skeleton
from ..targets import get_target
from ..types import Intrinsics
from . import shards as sh
from .hand import PRIOR_FRACTION, nyu_prior
from .rooms import ROOM_SENSOR_MIX, ROOM_SENSORS, sample_room_body, subject_seen
from .sensor import SENSORS
from .world import BODY_ONLY_WORLDS, WORLDS, check_target, render_frame, sample_scene, scene_of

# synth-2: the hand-pose prior comes from the packaged hand_prior.npz (float32), never from
# a data folder beside the checkout; index.json records the prior, its share and the sensor model.
GENERATOR_VERSION = "synth-2"
SHARD_SIZE = 500
# The index keys that must agree for --append (all of `dataset_settings`).
SETTINGS = ("target", "seed", "camera", "generator_version", "world", "cube_mm", "hand_prior", "sensor")
LEGACY = {"world": "classic"}      # what an index without the key was rendered with


def frame_rng(seed: int, frame_index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(frame_index)])


def check_world(world: str, target: str | None = None) -> str:
    if world not in WORLDS:
        raise UserError(f"unknown world '{world}' (known: {', '.join(WORLDS)})")
    if world in BODY_ONLY_WORLDS and target is not None and get_target(target).synthetic_scene != "body":
        raise UserError(f"the {world} world has people only: use it with --target body")
    return world


def render_dataset_frame(target: str, intr: Intrinsics, seed: int, frame_index: int, world: str = "classic",
                         near_face_window: bool = True):
    """The frame `frame_index` of the dataset (target, camera, seed, world): a `world.SynthFrame`
    (`near_face_window=False`: the same scene, rendered over the whole cube's window)."""
    rng = frame_rng(seed, frame_index)
    cube = get_target(target).cube_mm
    if world == "rooms":     # a subject hidden by someone in front of it is drawn again
        while True:
            subject, background, sensor = sample_room_body(rng, intr)
            frame = render_frame(subject, background, intr, rng, cube, sensor=sensor, near_face_window=near_face_window)
            if subject_seen(frame.visible):
                return frame
    subject, background, sensor = sample_scene(target, rng, intr, world)
    return render_frame(subject, background, intr, rng, cube, sensor=sensor, near_face_window=near_face_window)


def _sensor_settings(name: str, world: str = "crowded") -> dict:
    """A sensor model's fields; the optional ones (default 0 = off) only when on, so an index written
    before they existed records the D4xx model exactly as it does now."""
    model = ROOM_SENSORS[name] if world == "rooms" else SENSORS[name]
    return {"name": type(model).__name__,
            **{f.name: getattr(model, f.name) for f in fields(model) if f.default or getattr(model, f.name) != f.default}}


def dataset_settings(target: str, intr: Intrinsics, seed: int, world: str = "classic") -> dict:
    """Everything besides the frame number that decides a dataset's frames (JSON-ready)."""
    hand_prior = None
    if scene_of(target).hand_prior:
        prior = nyu_prior()
        hand_prior = {"sha256": prior.sha256, "fraction": PRIOR_FRACTION, "frames": len(prior),
                      "source": prior.provenance.get("source"), "source_sha256": prior.provenance.get("source_sha256")}
    if world == "classic":
        sensor = _sensor_settings("d4xx")
    else:
        mix = ROOM_SENSOR_MIX if world == "rooms" else scene_of(target).sensor_mix
        sensor = {"mix": dict(mix), "models": {name: _sensor_settings(name, world) for name in mix}}
    return {"generator_version": GENERATOR_VERSION, "world": world, "target": target, "cube_mm": get_target(target).cube_mm,
            "camera": intr.to_dict(), "seed": int(seed), "hand_prior": hand_prior, "sensor": sensor}


def _difference(key: str, recorded, ours) -> tuple[str, object, object] | None:
    """The first (dotted key, recorded, ours) that differs, descending into dicts."""
    if isinstance(recorded, dict) and isinstance(ours, dict):
        for k in list(ours) + [k for k in recorded if k not in ours]:
            diff = _difference(f"{key}.{k}", recorded.get(k), ours.get(k))
            if diff:
                return diff
        return None
    return None if recorded == ours else (key, recorded, ours)


def _prepare_output(out: Path, append: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"output {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UserError(f"output folder {out} is not writable")
    if not append and any(out.iterdir()):
        raise UserError(f"output folder {out} is not empty (use --append to resume or extend it)")


def _start_index(out: Path, target: str, intr: Intrinsics, seed: int, append: bool, shard_size: int, world: str) -> dict:
    fresh = {"format": sh.FORMAT, "version": sh.VERSION, **dataset_settings(target, intr, seed, world),
             "skeleton": get_target(target).skeleton, "shard_size": int(shard_size), "count": 0, "shards": []}
    if not (append and (out / sh.INDEX).is_file()):
        return fresh
    index = sh.read_index(out)
    for key in SETTINGS:
        diff = _difference(key, index.get(key, LEGACY.get(key)), fresh[key])
        if diff:
            name, recorded, ours = diff
            raise UserError(f"cannot append to {out}: its {name} is {recorded!r}, this run's is {ours!r}")
    return index


def generate_dataset(out: str | Path, target: str, count: int, intr: Intrinsics, seed: int = 0,
                     append: bool = False, progress: bool = True, shard_size: int = SHARD_SIZE, world: str = "classic") -> dict:
    """Render until `out` holds `count` frames; returns the index. Raises UserError on bad input.
    An existing dataset (append) keeps its own shard size."""
    target, world = check_target(target), check_world(world, target)
    check_minimums(("--count", int(count), 1), ("--seed", seed, 0))
    out = Path(out)
    _prepare_output(out, append)
    remove_temporaries(out)
    index = _start_index(out, target, intr, seed, append, shard_size, world)
    size = int(index["shard_size"])
    full = [s for s in index["shards"] if s["count"] == size]
    done = min(sum(s["count"] for s in index["shards"]), count)
    if done >= count:
        return index
    index["shards"] = full                      # a short last shard is rendered again, complete
    bar = _progress(count, len(full) * size, progress)
    t0, rendered = time.perf_counter(), 0
    try:
        for k in range(len(full), (count + size - 1) // size):
            indices = range(k * size, min((k + 1) * size, count))
            frames = []
            for i in indices:
                frames.append((render_dataset_frame(target, intr, seed, i, world), i))
                rendered += 1
                bar.update(1)
            sh.write_shard(out / sh.shard_name(k), sh.pack_frames(frames, intr))
            index["shards"].append({"file": sh.shard_name(k), "count": len(frames), "first_frame": indices[0]})
            index["count"] = sum(s["count"] for s in index["shards"])
            sh.write_index(out, index)
    finally:
        bar.close()
    index["frames_per_s"] = rendered / max(time.perf_counter() - t0, 1e-9)
    return index


class _Quiet:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return _Quiet()
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, unit="frame", desc="rendering", smoothing=0.1)


OUT_OF_VIEW_BGR = (48, 48, 48)   # preview tiles: no stored pixel there (invalid depth is black)


def contact_sheet(root: str | Path, tiles: int = 16, tile_px: int = 240) -> np.ndarray:
    """BGR image: the first `tiles` frames, each one tile of the same view: a square of the cube's
    edge (a fixed metric size) around the subject's centre, at the centre's depth, projected and
    scaled to `tile_px`, so every subject appears at the same scale, centred. Where that square
    holds no stored pixels (beyond the image border, outside the stored crop) the tile is dark
    grey; invalid depth is black. Depth is colour-mapped over the cube's z-slab (near = red, far
    = blue), joints and bones are drawn in the skeleton's colours; occluded joints are hollow."""
    ds = sh.ShardReader(root)
    skel = get_skeleton(ds.skeleton_name)
    intr = ds.intrinsics
    colours = [tuple(int(255 * c) for c in rgb[::-1]) for rgb in skel.colours()]
    cols = int(np.ceil(np.sqrt(min(tiles, len(ds)))))
    images = []
    for i in range(min(tiles, len(ds))):
        f = ds.frame(i)
        u, v, z = camera_to_pixel(np.asarray(f["centre_mm"], np.float64), intr)
        z = max(float(z), 1.0)
        half = np.array([intr.fx, intr.fy]) * ds.cube_mm / 2 / z      # the cube's half size at the centre's depth, px
        origin = np.array([u, v]) - half                               # tile corner, full image px
        scale = tile_px / (2 * half)
        u0, v0 = f["roi_px"][:2]
        # crop px -> tile px: nearest neighbour keeps depth values exact; outside the crop stays 0
        warp = np.array([[scale[0], 0.0, (u0 - origin[0]) * scale[0]], [0.0, scale[1], (v0 - origin[1]) * scale[1]]])
        d = cv2.warpAffine(f["depth_mm"].astype(np.float32), warp, (tile_px, tile_px), flags=cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        near = z - ds.cube_mm / 2
        level = np.clip((d - near) / ds.cube_mm, 0, 1)
        tile = cv2.applyColorMap((255 * (1 - level)).astype(np.uint8), cv2.COLORMAP_JET)
        tile[d == 0] = 0
        seen = cv2.warpAffine(np.ones(f["depth_mm"].shape, np.uint8), warp, (tile_px, tile_px), flags=cv2.INTER_NEAREST,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        tile[seen == 0] = OUT_OF_VIEW_BGR
        uv = (camera_to_pixel(f["joints_mm"], intr)[:, :2] - origin) * scale
        pts = [tuple(int(round(c)) for c in p) for p in uv]
        for a, b in skel.bones:
            cv2.line(tile, pts[a], pts[b], colours[b], 2, cv2.LINE_AA)
        for j, p in enumerate(pts):
            cv2.circle(tile, p, 4, colours[j], -1 if f["visible"][j] else 1, cv2.LINE_AA)
        cv2.putText(tile, str(f["frame_index"]), (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        images.append(tile)
    while len(images) % cols:
        images.append(np.zeros_like(images[0]))
    rows = [np.hstack(images[r:r + cols]) for r in range(0, len(images), cols)]
    return np.vstack(rows)


def write_preview(root: str | Path, path: str | Path) -> None:
    sheet = contact_sheet(root)
    path = check_format(path, IMAGE_FORMATS, "--preview")
    ok, buf = cv2.imencode(path.suffix, sheet)
    if not ok:
        raise UserError(f"cannot encode preview as {path.suffix}")
    atomic_write(path, lambda f: f.write(buf.tobytes()))

