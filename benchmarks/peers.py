"""Peers side by side: the same frame through v2v-lite (fp32, int8), an A2J-shaped network and the
paper's V2V, in one process, interleaved, with ratios.

What is timed is each network's ONNX graph in ONNX Runtime (CPU, batch 1, the same threads),
decoding included where the network decodes (ours decode inside the graph; the A2J-shaped graph
ends with its anchor aggregation), on the same depth frame of the synthetic camera prepared the
way each network takes it: 64^3 voxels in a 250 mm cube (v2v-lite), 88^3 (the paper's V2V), a
176x176 depth crop (A2J). One round runs every network once, in turn, so all of them see the same
load; p50 over the rounds. Figures are speed only: v2v-lite is the shipped model (fp32 and its
int8 variant); the two peers have random weights (their speed does not depend on the weights).

The A2J-shaped network follows Xiong et al., ICCV 2019 ("A2J: Anchor-to-Joint Regression
Network for 3D Articulated Pose Estimation from a Single Depth Image"), the common fast depth
baseline: a ResNet-50 backbone on a 176x176 depth crop with output stride 16 (layer 4 dilated),
16 anchors per 11x11 feature cell (one every 4 pixels), and three heads of four 3x3 convolutions
with 256 channels: anchor weights (from layer 3), in-plane offsets and depths (from layer 4);
joints are the anchor-weighted sums. Its paper reports 105.06 fps on a GPU.

Usage: .venv/bin/python benchmarks/peers.py [--rounds 20] [--threads 2] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handpose_live.fileio import atomic_write_text  # noqa: E402


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        cout = width * self.expansion
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


def _layer(cin: int, width: int, blocks: int, stride: int, dilation: int = 1) -> tuple[nn.Sequential, int]:
    layers = [Bottleneck(cin, width, stride, dilation)]
    layers += [Bottleneck(width * 4, width, 1, dilation) for _ in range(blocks - 1)]
    return nn.Sequential(*layers), width * 4


def _head(cin: int, cout: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(4):
        mods += [nn.Conv2d(cin if i == 0 else 256, 256, 3, padding=1), nn.BatchNorm2d(256), nn.ReLU(inplace=True)]
    return nn.Sequential(*mods, nn.Conv2d(256, cout, 3, padding=1))


class A2JShaped(nn.Module):
    """Depth crop [N,1,176,176] -> joints [N,J,3] (u, v in crop pixels, depth), anchors aggregated in the graph."""

    def __init__(self, num_joints: int = 21, size: int = 176, anchors_per_cell: int = 16):
        super().__init__()
        self.j, self.a = num_joints, anchors_per_cell
        self.stem = nn.Sequential(nn.Conv2d(1, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        self.layer1, c = _layer(64, 64, 3, 1)
        self.layer2, c = _layer(c, 128, 4, 2)
        self.layer3, c3 = _layer(c, 256, 6, 2)
        self.layer4, c4 = _layer(c3, 512, 3, 1, dilation=2)      # output stride 16
        self.proposal = _head(c3, anchors_per_cell * num_joints)
        self.offset = _head(c4, anchors_per_cell * num_joints * 2)
        self.depth = _head(c4, anchors_per_cell * num_joints)
        cells = size // 16
        step = size / (cells * 4)                                   # anchors every 4 px
        grid = (torch.arange(cells * 4, dtype=torch.float32) + 0.5) * step
        v, u = torch.meshgrid(grid, grid, indexing="ij")            # [44, 44]
        # Anchor order matching the heads' (cell_y, cell_x, anchor_in_cell) layout.
        u = u.reshape(cells, 4, cells, 4).permute(0, 2, 1, 3).reshape(-1)
        v = v.reshape(cells, 4, cells, 4).permute(0, 2, 1, 3).reshape(-1)
        self.register_buffer("anchors", torch.stack([u, v], -1))   # [A_total, 2]

    def _flat(self, x, k: int):
        n, _, h, w = x.shape
        return x.reshape(n, self.a, self.j, k, h, w).permute(0, 4, 5, 1, 2, 3).reshape(n, h * w * self.a, self.j, k)

    def forward(self, depth):
        x = self.layer2(self.layer1(self.stem(depth)))
        f3 = self.layer3(x)
        f4 = self.layer4(f3)
        weights = torch.softmax(self._flat(self.proposal(f3), 1)[..., 0], dim=1)      # [N, A, J]
        offsets = self._flat(self.offset(f4), 2)                                       # [N, A, J, 2]
        depths = self._flat(self.depth(f4), 1)[..., 0]                                 # [N, A, J]
        uv = ((self.anchors[None, :, None, :] + offsets) * weights[..., None]).sum(1)
        d = (depths * weights).sum(1)
        return torch.cat([uv, d[..., None]], -1)


def count_macs(net: nn.Module, example: torch.Tensor) -> float:
    macs = []

    def hook(mod, inp, out):
        k = mod.weight[0].numel()                  # in/groups x kernel
        macs.append(out.numel() * k)
    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))]
    with torch.no_grad():
        net(example)
    for h in handles:
        h.remove()
    return float(sum(macs))


def frame_inputs(seed: int = 0) -> dict[str, np.ndarray]:
    """One synthetic-camera frame, prepared for each network around the true palm centre."""
    import cv2

    from handpose_live.capture.synthetic import SyntheticCamera
    from handpose_live.geometry import cube_roi_px
    from handpose_live.voxelize import voxelize_depth

    cam = SyntheticCamera(seed=seed, realtime=False)
    frame = next(iter(cam.frames()))
    cam.close()
    depth = frame.depth_mm.astype(np.float32)
    joints = np.asarray(frame.ground_truth_mm, np.float64).reshape(-1, 21, 3)[0]
    centre = joints[[0, 5, 9, 13, 17]].mean(0)
    grids = {s: voxelize_depth(torch.as_tensor(depth), frame.intrinsics, centre, 250.0, s).numpy() for s in (64, 88)}
    u0, v0, u1, v1 = cube_roi_px(centre, 250.0, frame.intrinsics)
    crop = np.zeros((v1 - v0, u1 - u0), np.float32)
    h, w = depth.shape
    a0, b0, a1, b1 = max(u0, 0), max(v0, 0), min(u1, w), min(v1, h)
    crop[b0 - v0:b1 - v0, a0 - u0:a1 - u0] = depth[b0:b1, a0:a1]
    crop = cv2.resize(crop, (176, 176), interpolation=cv2.INTER_NEAREST)
    crop = np.where(crop > 0, np.clip((crop - centre[2]) / 125.0, -1, 1), 1.0).astype(np.float32)
    return {"grid64": grids[64], "grid88": grids[88], "crop176": crop[None, None]}


def onnx_file(net: nn.Module, example: torch.Tensor, path: Path) -> Path:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (example,), str(path), input_names=["x"], output_names=["y"], opset_version=17,
                          dynamo=False)
    return path


def session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20, help="timed rounds (each runs every network once)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from handpose_live.modeling.v2v import build_model, count_parameters, preset
    from handpose_live.modeling.v2v import count_macs as v2v_macs
    from handpose_live.training.export import DecodedModel

    inputs = frame_inputs()
    models = REPO / "models"
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        a2j = A2JShaped().eval()
        full_cfg = preset("v2v-full", 21)
        full = build_model(full_cfg).eval()
        nets = {
            "v2v-lite fp32": (session(models / "v2v-lite-hand.onnx", args.threads), "voxels", "grid64"),
            "v2v-lite int8": (session(models / "v2v-lite-hand-int8.onnx", args.threads), "voxels", "grid64"),
            "A2J-shaped (ResNet-50, 176x176)": (session(onnx_file(a2j, torch.as_tensor(inputs["crop176"]),
                                                                  Path(tmp) / "a2j.onnx"), args.threads), "x", "crop176"),
            "V2V-PoseNet (paper, 88^3)": (session(onnx_file(DecodedModel(full), torch.as_tensor(inputs["grid88"]),
                                                            Path(tmp) / "full.onnx"), args.threads), "x", "grid88"),
        }
        lite_cfg = preset("v2v-lite", 21)
        size = {"v2v-lite fp32": (count_parameters(build_model(lite_cfg)), v2v_macs(build_model(lite_cfg), lite_cfg)),
                "v2v-lite int8": (count_parameters(build_model(lite_cfg)), v2v_macs(build_model(lite_cfg), lite_cfg)),
                "A2J-shaped (ResNet-50, 176x176)": (sum(p.numel() for p in a2j.parameters()),
                                                    count_macs(a2j, torch.as_tensor(inputs["crop176"]))),
                "V2V-PoseNet (paper, 88^3)": (count_parameters(full), v2v_macs(full, full_cfg))}
        times: dict[str, list[float]] = {k: [] for k in nets}
        for r in range(args.warmup + args.rounds):
            for name, (sess, inp, key) in nets.items():
                t0 = time.perf_counter()
                sess.run(None, {inp: inputs[key]})
                if r >= args.warmup:
                    times[name].append((time.perf_counter() - t0) * 1e3)
            print(f"round {r + 1}/{args.warmup + args.rounds}", file=sys.stderr, end="\r", flush=True)
    print(file=sys.stderr)
    base = float(np.median(times["v2v-lite fp32"]))
    rows = []
    for name, t in times.items():
        p50 = float(np.median(t))
        rows.append({"network": name, "params": int(size[name][0]), "gmac": round(size[name][1] / 1e9, 3),
                     "p50_ms": round(p50, 2), "p95_ms": round(float(np.percentile(t, 95)), 2),
                     "x_lite_fp32": round(p50 / base, 2), "fps": round(1000 / p50, 1)})
    report = {"setup": {"threads": args.threads, "rounds": args.rounds, "warmup": args.warmup, "batch": 1,
                        "runtime": "ONNX Runtime CPU", "cpu": platform.processor() or platform.machine()},
              "networks": rows}
    width = max(len(r["network"]) for r in rows)
    print(f"{'network':<{width}}  params      GMAC     p50 ms    x v2v-lite fp32")
    for r in rows:
        print(f"{r['network']:<{width}}  {r['params']:>10,}  {r['gmac']:>6.2f}  {r['p50_ms']:>8.2f}  {r['x_lite_fp32']:>8.2f}x")
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
