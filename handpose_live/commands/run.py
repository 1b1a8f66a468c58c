"""`handpose-live run`: source -> capture thread -> pipeline -> sinks, with a status line and a summary.

A file is replayed frame by frame (nothing dropped); a camera feeds a latest-frame slot so the
pipeline always works on the newest frame and lag never builds up.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..resources import models_dir

SHIPPED = {"hand": "v2v-lite-hand.onnx", "body": "v2v-lite-body.onnx"}


def default_model(target: str) -> Path:
    if target not in SHIPPED:
        raise UserError(f"unknown target '{target}' (hand, body)")
    path = models_dir() / SHIPPED[target]
    if not path.is_file():
        raise UserError(f"no shipped {target} model at {path}; pass --model FILE.onnx "
                        "(train one with `handpose-live train` and `handpose-live export-onnx`)")
    return path


@dataclass
class RunOptions:
    camera: str = "auto"
    input_path: Path | None = None
    model_path: Path | None = None
    target: str = "hand"
    frames: int = 0
    output: Path | None = None
    viewer: str = "auto"
    screenshot: Path | None = None
    save_video: Path | None = None
    udp: str | None = None
    realtime: bool | None = None
    loop: bool = False
    serial: str | None = None
    width: int = 640
    height: int = 480
    fps: int = 30
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    backend: str = "onnxruntime"
    smoothing: bool = False
    min_confidence: float | None = None
    quiet: bool = False


@dataclass
class RunStats:
    frames_processed: int = 0
    hands_found: int = 0
    wall_s: float = 0.0
    stages: dict[str, list[float]] = field(default_factory=dict)
    frames_in: int = 0
    dropped: int = 0
    errors_mm: list[float] = field(default_factory=list)

    def add(self, latency: dict[str, float]) -> None:
        for k, v in latency.items():
            self.stages.setdefault(k, []).append(v)

    def percentiles(self) -> dict[str, tuple[float, float]]:
        return {k: (float(np.percentile(v, 50)), float(np.percentile(v, 95))) for k, v in self.stages.items()}


def _choose_viewer(name: str) -> str:
    if name not in ("auto", "open3d", "opencv", "none"):
        raise UserError(f"unknown viewer '{name}' (auto, open3d, opencv, none)")
    if name != "auto":
        return name
    return "open3d" if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") else "none"


def _open_sinks(opts: RunOptions, skeleton, num_joints: int) -> tuple[list, object | None]:
    """Create every requested sink up front, so a bad path fails before any frame is processed."""
    sinks, viewer = [], None
    if opts.output is not None:
        from ..sinks.files import open_output
        sinks.append(open_output(opts.output, num_joints))
    if opts.udp:
        from ..sinks.udp import UdpSender
        sinks.append(UdpSender(opts.udp))
    if opts.save_video is not None:
        from ..sinks.opencv_viewer import VideoWriterSink
        sinks.append(VideoWriterSink(opts.save_video, opts.fps, skeleton))
    kind = _choose_viewer(opts.viewer)
    if kind == "none" and opts.screenshot is not None:
        kind = "opencv-headless"
    if kind == "open3d":
        from ..sinks.open3d_viewer import Open3DViewer
        viewer = Open3DViewer(skeleton, screenshot_path=opts.screenshot)
    elif kind in ("opencv", "opencv-headless"):
        from ..sinks.opencv_viewer import OpenCvViewer
        viewer = OpenCvViewer(skeleton, window=kind == "opencv", screenshot_path=opts.screenshot)
    if viewer is not None:
        sinks.append(viewer)
    return sinks, viewer


def run_pipeline(opts: RunOptions, log=print) -> RunStats:
    """Run until the source ends, `frames` are done, the viewer is closed or Ctrl-C."""
    from ..capture.sources import open_source
    from ..capture.thread import CaptureThread
    from ..inference.pipeline import PipelineOptions, PosePipeline
    from ..inference.predictor import Predictor

    model_path = Path(opts.model_path) if opts.model_path else default_model(opts.target)
    predictor = Predictor(model_path, device=opts.device, threads=opts.threads, backend=opts.backend)
    if predictor.info.target != opts.target:
        raise UserError(f"{model_path.name} is a {predictor.info.target} model but --target is {opts.target}")
    realtime = opts.realtime if opts.realtime is not None else opts.input_path is None  # files: every frame, fast
    source = open_source(opts.camera, opts.input_path, opts.target, realtime=realtime, loop=opts.loop,
                         serial=opts.serial, width=opts.width, height=opts.height, fps=opts.fps, seed=opts.seed,
                         frames=opts.frames or None)
    pipeline = PosePipeline(predictor, PipelineOptions(min_confidence=opts.min_confidence, smoothing=opts.smoothing))
    sinks, viewer = [], None
    stats = RunStats()
    try:
        sinks, viewer = _open_sinks(opts, predictor.skeleton, predictor.info.num_joints)
        if not opts.quiet:
            log(f"source: {source.name}; model: {model_path.name}; {predictor.session.describe()}")
        start = time.perf_counter()
        last_status = start
        interactive = sys.stderr.isatty() and not opts.quiet
        with CaptureThread(source) as capture:
            while True:
                try:
                    frame = capture.get(timeout=10.0)
                except TimeoutError:
                    raise UserError(f"no frame from {source.name} for 10 s") from None
                if frame is None:
                    break
                t0 = time.perf_counter()
                result = pipeline.process(frame)
                t1 = time.perf_counter()
                for sink in sinks:
                    sink.write(frame, result)
                t2 = time.perf_counter()
                result.latency_ms["sinks"] = (t2 - t1) * 1e3
                result.latency_ms["total"] = (t2 - t0) * 1e3
                stats.add(result.latency_ms)
                stats.frames_processed += 1
                stats.hands_found += int(result.hand_found)
                if result.hand_found and frame.ground_truth_mm is not None \
                        and frame.ground_truth_mm.shape == result.joints_mm.shape:
                    stats.errors_mm.append(float(np.linalg.norm(result.joints_mm - frame.ground_truth_mm, axis=1).mean()))
                if interactive and t2 - last_status > 0.5:
                    fps = stats.frames_processed / (t2 - start)
                    sys.stderr.write(f"\r{stats.frames_processed} frames  {fps:5.1f} fps  "
                                     f"{result.latency_ms['total']:5.1f} ms  "
                                     f"{'hand found' if result.hand_found else 'no hand   '}")
                    sys.stderr.flush()
                    last_status = t2
                if viewer is not None and getattr(viewer, "quit_requested", False):
                    break
                if opts.frames and stats.frames_processed >= opts.frames:
                    break
            stats.frames_in, stats.dropped = capture.frames_in, capture.dropped
        stats.wall_s = time.perf_counter() - start
        if interactive:
            sys.stderr.write("\n")
    except KeyboardInterrupt:
        stats.wall_s = time.perf_counter() - start if stats.frames_processed else 0.0
        log("stopped (Ctrl-C)")
    finally:
        for sink in sinks:
            sink.close()
        source.close()
    return stats


def print_summary(stats: RunStats) -> None:
    from rich.console import Console
    from rich.table import Table

    fps = stats.frames_processed / stats.wall_s if stats.wall_s > 0 else 0.0
    table = Table(title=f"{stats.frames_processed} frames processed ({stats.frames_in} in, {stats.dropped} dropped), "
                        f"{fps:.1f} fps, hand found in {stats.hands_found}")
    table.add_column("stage")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    for name, (p50, p95) in stats.percentiles().items():
        table.add_row(name, f"{p50:.2f}", f"{p95:.2f}")
    console = Console(stderr=True)
    console.print(table)
    if stats.errors_mm:
        console.print(f"mean joint error against the synthetic ground truth: {np.mean(stats.errors_mm):.1f} mm "
                      f"over {len(stats.errors_mm)} frames")


def run_app(opts: RunOptions) -> None:
    stats = run_pipeline(opts)
    if not opts.quiet:
        print_summary(stats)
