"""Train the hand detector (`modeling/detector.py`) on whole synthetic scenes and export it.

    handpose-live train-detector --data det-data --frames 6000 --epochs 30 --out models/hand-detector.onnx

1. Scenes (`synth/scenes.py`) are rendered straight at the network's resolution (the camera's
   intrinsics scaled by 1/4, which is exactly what striding a full frame by 4 samples), for
   several cameras' fields of view, into shards of `SHARD` frames under --data (uint16 mm and
   the palm pixels). Rendering resumes where it stopped; the settings are in index.json.
2. Targets: a Gaussian (sigma 1 cell) at each palm's heatmap cell; CenterNet's focal loss.
   Augmentation: horizontal flips.
3. A checkpoint after every epoch (atomic); `--resume` continues from the last whole epoch with
   the same options: each epoch's order and flips come from (seed, epoch), and the weights,
   optimizer and schedule are restored, so a resumed run follows the uninterrupted one.
4. Export: ONNX (dynamic image size) with the detector's metadata, checked against PyTorch.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..fileio import atomic_path, atomic_write, atomic_write_text, read_json
from ..modeling.detector import DetectorConfig, HandDetectorNet, detector_input
from ..synth.sensor import PRESET_SENSOR, SENSORS
from .args import DetectorTrainArgs
from .checkpoint import load_checkpoint, save_checkpoint

SHARD = 500
CAMERAS = ("d435-640x480", "sr305", "nyu", "kinect-v2", "azure-kinect-nfov")
# The scenes' sensor model: "stereo" renders every camera through the D4xx stereo model (generator
# scenes-1, the shipped file); "per-camera" through each preset's family (scenes-2, PRESET_SENSOR).
GENERATORS = {"stereo": "scenes-1", "per-camera": "scenes-2"}
# --scenes heads: the same scenes plus hard negatives, heads and faces at hand range (synth/scenes.py,
# HEAD_SCENES), as generator scenes-3 (stereo) or scenes-4 (per-camera).
HEAD_GENERATORS = {"stereo": "scenes-3", "per-camera": "scenes-4"}
# --scenes rooms: offices and labs with 0-4 people for the person detector (synth/rooms.py, generator
# rooms-1), each camera with its own sensor family and range (rooms.ROOM_CAMERAS); the labels are torsos.
ROOMS_GENERATOR = "rooms-1"
SCENES = ("hands", "heads", "rooms")
ROOM_MAX_DEPTH_M = 8.0       # people are found out to here (hands: the config's 3 m)


def detector_config(scenes: str) -> DetectorConfig:
    return DetectorConfig(max_depth_m=ROOM_MAX_DEPTH_M) if scenes == "rooms" else DetectorConfig()


def scene_settings(sensors: str, scenes: str = "hands") -> dict:
    """What a scene folder and the exported file record about how the scenes were rendered."""
    if sensors not in GENERATORS:
        raise UserError(f"unknown --sensors '{sensors}' ({', '.join(GENERATORS)})")
    if scenes not in SCENES:
        raise UserError(f"unknown --scenes '{scenes}' ({', '.join(SCENES)})")
    if scenes == "rooms":
        from ..synth.rooms import ROOM_CAMERAS

        return {"generator": ROOMS_GENERATOR, "target": "body", "cameras": list(ROOM_CAMERAS),
                "sensors": [ROOM_CAMERAS[c][0] for c in ROOM_CAMERAS]}
    settings = {"generator": (HEAD_GENERATORS if scenes == "heads" else GENERATORS)[sensors], "cameras": list(CAMERAS)}
    if sensors == "per-camera":
        settings["sensors"] = [PRESET_SENSOR[c] for c in CAMERAS]
    if scenes == "heads":
        settings["hard_negatives"] = "heads"
    return settings


def scene_sensor(settings: dict, camera: str):
    """The sensor model that renders scenes through `camera` under these settings."""
    return SENSORS[PRESET_SENSOR[camera]] if "sensors" in settings else SENSORS["d4xx"]


DETECTOR_FORMAT = "handpose-live-detector"
DETECTOR_KEY = "handpose_live_detector"


def render_shards(data: Path, frames: int, seed: int, sensors: str = "stereo", log=print, scenes: str = "hands"
                  ) -> list[Path]:
    """Render (or extend) the scene shards; returns the shard files in order."""
    from ..calib import load_intrinsics
    from ..synth.scenes import render_detection_scene

    scenes = scene_settings(sensors, scenes)
    data.mkdir(parents=True, exist_ok=True)
    index_path = data / "index.json"
    cameras = scenes["cameras"]
    settings = {"generator": scenes["generator"], "seed": seed, "shard": SHARD, "cameras": cameras, "size": [160, 120],
                **{k: scenes[k] for k in ("sensors", "hard_negatives") if k in scenes}}
    if index_path.exists():
        old = read_json(index_path, "scene index")
        if not isinstance(old, dict) or {k: old.get(k) for k in settings} != settings:
            raise UserError(f"{data} holds scenes made with other settings ({old}); use another --data folder")
    atomic_write_text(index_path, json.dumps(settings, indent=1))
    rooms = scenes["generator"] == ROOMS_GENERATOR
    cams = [load_intrinsics(c) if rooms else load_intrinsics(c).scaled(160, 120) for c in cameras]
    shards = []
    t0 = time.perf_counter()
    for k in range(math.ceil(frames / SHARD)):
        path = data / f"scenes-{k:04d}.npz"
        shards.append(path)
        count = min(SHARD, frames - k * SHARD)      # the last shard: only the scenes asked for, the first of its SHARD
        if path.exists() and _scenes_in(path) >= count:
            continue
        rng = np.random.default_rng([seed, k])
        depth = np.zeros((count, 120, 160), np.uint16)
        hands = []
        for i in range(count):
            c = int(rng.integers(len(cams)))
            if rooms:
                from ..synth.rooms import render_room_scene

                d, people = render_room_scene(rng, cams[c], cameras[c])
                depth[i] = np.clip(np.rint(d), 0, 65535).astype(np.uint16)
                hands.extend([i, p.centre_px[0], p.centre_px[1], 0.0] for p in people)
                continue
            d, scene_hands = render_detection_scene(rng, cams[c], scene_sensor(scenes, CAMERAS[c]),
                                                    hard_negatives="hard_negatives" in scenes)
            depth[i] = np.clip(np.rint(d), 0, 65535).astype(np.uint16)
            hands.extend([i, h.centre_px[0], h.centre_px[1], h.side == "left"] for h in scene_hands)
        table = np.asarray(hands, np.float32).reshape(-1, 4)
        with atomic_path(path) as tmp:
            np.savez_compressed(tmp, depth=depth, hands=table)
        log(f"rendered {min((k + 1) * SHARD, frames)}/{frames} scenes ({time.perf_counter() - t0:.0f} s)")
    return shards


def _scenes_in(path: Path) -> int:
    """How many scenes a shard file holds (0 if unreadable: rendered again). A shard's scene i comes from its
    own generator's i-th draws, so a shard of fewer scenes is the start of a longer one; only the depth
    array's header is read."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z, z.open("depth.npy") as f:
            major, _ = np.lib.format.read_magic(f)
            header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            return int(header(f)[0][0])
    except (OSError, KeyError, ValueError, IndexError, zipfile.BadZipFile):
        return 0


def load_scenes(shards: list[Path], frames: int) -> tuple[np.ndarray, list[np.ndarray]]:
    depth, hands = [], []
    for path in shards:
        with np.load(path) as z:
            d, h = z["depth"], z["hands"]
        for i in range(len(d)):
            depth.append(d[i])
            hands.append(h[h[:, 0] == i, 1:3])
    return np.stack(depth[:frames]), hands[:frames]


def heatmap_targets(hands: list[np.ndarray], shape: tuple[int, int], stride: int, flip: np.ndarray) -> torch.Tensor:
    """Gaussian (sigma 1 cell) per palm at the heatmap resolution; `flip` mirrors the batch items."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((len(hands), 1, h, w), np.float32)
    for n, uv in enumerate(hands):
        for u, v in uv:
            if flip[n]:
                u = w * stride - 1 - u
            cx, cy = (u - (stride - 1) / 2) / stride, (v - (stride - 1) / 2) / stride
            if not (-1 <= cx <= w and -1 <= cy <= h):
                continue
            g = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 2.0)
            ix, iy = int(np.clip(round(cx), 0, w - 1)), int(np.clip(round(cy), 0, h - 1))
            g[iy, ix] = 1.0
            out[n, 0] = np.maximum(out[n, 0], g)
    return torch.from_numpy(out)


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), per palm."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1.0).float()
    pos_loss = -(torch.log(p) * (1 - p) ** 2 * pos).sum()
    neg_loss = -(torch.log(1 - p) * p ** 2 * (1 - target) ** 4 * (1 - pos)).sum()
    return (pos_loss + neg_loss) / pos.sum().clamp(min=1.0)


def train_detector(args: DetectorTrainArgs, log=print) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    from tqdm import tqdm

    shards = render_shards(Path(args.data), args.frames, args.seed, args.sensors, log, args.scenes)
    depth, hands = load_scenes(shards, args.frames)
    config = detector_config(args.scenes)
    torch.manual_seed(args.seed)
    net = HandDetectorNet(config)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(depth) / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.1)
    start_epoch, history = 0, []
    if args.resume:
        ck = load_checkpoint(args.checkpoint)
        saved = ck.get("args", {})
        changed = [k for k in ("frames", "epochs", "batch", "lr", "seed") if saved.get(k) != str(getattr(args, k))]
        if changed:
            raise UserError(f"{args.checkpoint} was made with other --{', --'.join(changed)}: resume with the same "
                            "options (a resumed run continues the same schedule)")
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        start_epoch, history = int(ck["epoch"]), list(ck["history"])
        log(f"resumed from {args.checkpoint} after epoch {start_epoch}")
    stride = config.output_stride
    t0 = time.perf_counter()
    for epoch in range(start_epoch, args.epochs):
        rng = np.random.default_rng([args.seed, epoch])
        order = rng.permutation(len(depth))
        net.train()
        total = 0.0
        bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{args.epochs}", unit="step", leave=False)
        for b in range(steps_per_epoch):
            idx = order[b * args.batch:(b + 1) * args.batch]
            flip = rng.random(len(idx)) < 0.5
            d = torch.from_numpy(depth[idx].astype(np.float32))
            d = torch.where(torch.from_numpy(flip)[:, None, None], d.flip(-1), d)
            x = detector_input(d, config, strided=True)
            logits = net(x)
            target = heatmap_targets([hands[i] for i in idx], logits.shape[-2:], stride, flip)
            loss = focal_loss(logits, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        bar.close()
        history.append(total / len(depth))
        save_checkpoint(args.checkpoint, {"model": net.state_dict(), "optimizer": opt.state_dict(),
                                          "scheduler": sched.state_dict(), "epoch": epoch + 1, "history": history,
                                          "config": config.to_dict(), "args": {k: str(v) for k, v in asdict(args).items()}})
        log(f"epoch {epoch + 1}/{args.epochs}: loss {history[-1]:.4f} ({time.perf_counter() - t0:.0f} s)")
    export_detector(net, config, Path(args.out), {"frames": args.frames, "epochs": args.epochs, "seed": args.seed,
                                                   **scene_settings(args.sensors, args.scenes),
                                                   "final_loss": history[-1] if history else None},
                    threshold=args.threshold, scales=args.scales)
    log(f"wrote {args.out}")
    return {"history": history}


def export_detector(net: HandDetectorNet, config: DetectorConfig, out: Path, training: dict,
                    threshold: float = 0.3, scales: list[float] | tuple[float, ...] = ()) -> None:
    """ONNX with a dynamic image size and the metadata the runtime reads, checked against PyTorch."""
    import onnx
    import onnxruntime as ort

    net = net.eval()
    example = detector_input(torch.rand(1, 120, 160) * 2000, config, strided=True)
    meta = {"format": DETECTOR_FORMAT, "version": 1, "target": training.get("target", "hand"), "config": config.to_dict(),
            "threshold": threshold, "scales": sorted({1.0, *map(float, scales)}), "training_data": training}
    with atomic_path(out) as tmp:
        torch.onnx.export(net, example, str(tmp), input_names=["depth_input"], output_names=["palm_logits"],
                          dynamic_axes={"depth_input": {0: "n", 2: "h", 3: "w"}, "palm_logits": {0: "n", 2: "h4", 3: "w4"}},
                          opset_version=17, dynamo=False)
        proto = onnx.load(str(tmp))
        entry = proto.metadata_props.add()
        entry.key, entry.value = DETECTOR_KEY, json.dumps(meta)
        atomic_write(tmp, lambda f: f.write(proto.SerializeToString()))
        sess = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        for h, w in ((120, 160), (120, 212), (144, 160)):
            x = detector_input(torch.rand(1, h, w) * 2000, config, strided=True)
            with torch.no_grad():
                ref = net(x).numpy()
            got = sess.run(None, {"depth_input": x.numpy()})[0]
            if got.shape != ref.shape or float(np.abs(got - ref).max()) > 1e-3:
                raise UserError(f"exported detector disagrees with PyTorch at {h}x{w}")
