"""`handpose-live bench`: the real pipeline, timed per stage, on a recording or the synthetic camera.

Frames are decoded once up front (that cost is reported as `capture_decode`), then replayed
through `PosePipeline` exactly as `run` does, without a viewer. Several models, precisions,
thread counts or backends in one process run (repeat `--model`, `--precision`, `--threads`,
`--backend`) give ratios that survive a noisy machine.

`--viewer none|opencv|open3d` (repeatable) also runs the whole app, `run_pipeline` with its
capture thread, live source and viewer, once per viewer, in the same process: its fps, dropped
frames and the viewer's draws per second stand next to the headless pipeline's figures, so what
a viewer costs the camera rate is measured, not guessed. The synthetic camera renders its frames
on the same cores, so what the source alone delivers (rendered as fast as it can) is printed too.
"""
from __future__ import annotations

import json
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..inference.modelfile import check_target, read_model_info
from ..inference.runtime import check_backend
from ..options import check_minimums, option, repeated, reuse
from ..stats import FrameStats
from ..targets import get_target
from ..tracker import TrackerOptions, check_image_options

VIEWERS = ("none", "opencv", "open3d")


@dataclass(kw_only=True)
class BenchOptions:
    """`handpose-live bench` options. The source and model options are `run`'s own fields
    (`TrackerOptions`, taken with `reuse` / `repeated`): the model, precision, thread and backend
    options repeatable to compare, and two defaults overridden here, each saying why in its help:
    the synthetic camera and the CPU, so a benchmark is reproducible whatever is plugged in."""

    model: list[Path] = repeated(TrackerOptions, "model")
    precision: list[str] = repeated(TrackerOptions, "precision", "--precision fp32 --precision int8")
    camera: str = reuse(TrackerOptions, "camera", "synthetic", "bench's default: figures that reproduce")
    input: Path | None = reuse(TrackerOptions, "input")
    topic: str | None = reuse(TrackerOptions, "topic")
    intrinsics: str | None = reuse(TrackerOptions, "intrinsics")
    depth_encoding: str = reuse(TrackerOptions, "depth_encoding")
    frames: int = option(300, "frames to time")
    threads: list[int] = repeated(TrackerOptions, "threads")
    backend: list[str] = repeated(TrackerOptions, "backend")
    device: str = reuse(TrackerOptions, "device", "cpu", "bench's default: figures that compare across machines")
    target: str = reuse(TrackerOptions, "target")
    as_json: bool = option(False, "print the figures as JSON", "--json")
    soak: int = option(0, "also replay this many frames and check RSS stays flat")
    viewer: list[str] = option([], f"{' | '.join(VIEWERS)}; repeat: also run the whole app (live source, pipeline, "
                                   "viewer) with each, next to the pipeline alone")
    subjects: list[int] = option([], "also time N subjects per frame through the network as one batch; repeat "
                                     "(e.g. --subjects 1 --subjects 2 --subjects 4), ratios to one subject in one "
                                     "run, for each --model")

    def __post_init__(self) -> None:
        """Everything is checked before the slow frame loading; repeated values count once."""
        from ..resources import check_precision

        get_target(self.target)
        check_minimums(("--frames", self.frames, 1), ("--soak", self.soak, 0))
        self.subjects = sorted(set(self.subjects))
        if any(n < 1 or n > 16 for n in self.subjects):
            raise UserError(f"--subjects must lie in 1..16, got {self.subjects}")
        self.precision = [check_precision(p) for p in dict.fromkeys(self.precision)]
        if self.precision and self.model:
            raise UserError("--precision picks shipped models; with --model the files decide")
        self.backend = [check_backend(b) for b in self.backend or [TrackerOptions.backend]]
        self.viewer = list(dict.fromkeys(self.viewer))
        for v in self.viewer:
            if v not in VIEWERS:
                raise UserError(f"unknown viewer '{v}' ({', '.join(VIEWERS)})")
        check_image_options(self.input, self.intrinsics, self.depth_encoding)


@dataclass
class BenchResult:
    label: str
    frames: int
    fps: float
    latency_p50_ms: float
    latency_p95_ms: float
    stages_ms: dict[str, dict[str, float]]
    cpu_percent: float
    rss_mb: float
    found: int
    mean_error_mm: float | None
    provider: str
    crops_per_frame: float = 1.0   # cubes through the network per frame: subjects, candidates, re-centring passes
    fit_ms: dict | None = None     # the skeleton fit (inference/kinematics.py): per subject, and end to end without it

    def to_json(self) -> dict:
        return {"label": self.label, "frames": self.frames, "fps": round(self.fps, 2),
                "latency_ms": {"p50": round(self.latency_p50_ms, 3), "p95": round(self.latency_p95_ms, 3)},
                "stages_ms": self.stages_ms, "cpu_percent": round(self.cpu_percent, 1), "rss_mb": round(self.rss_mb, 1),
                "found": self.found, "mean_error_mm": self.mean_error_mm, "provider": self.provider,
                "crops_per_frame": round(self.crops_per_frame, 3), "skeleton_fit": self.fit_ms}


def _rss_mb() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def load_frames(camera: str, input_path: Path | None, frames: int, target: str, seed: int = 0,
                intrinsics: str | None = None, depth_encoding: str = "auto", topic: str | None = None):
    """Decode the source once; returns (frames, ms per decoded frame). Depth images need `intrinsics`."""
    from ..capture.sources import open_source

    source = open_source(camera, input_path, target, realtime=False, seed=seed, frames=frames, intrinsics=intrinsics,
                         depth_encoding=depth_encoding, topic=topic)
    out = []
    t0 = time.perf_counter()
    try:
        for frame in source.frames():
            out.append(frame)
            if len(out) >= frames:
                break
    finally:
        source.close()
    if not out:
        raise UserError(f"{source.name} produced no frames")
    return out, (time.perf_counter() - t0) * 1e3 / len(out)


def bench_model(model: Path, frames: list, decode_ms: float, threads: int | None, device: str, label: str,
                warmup: int = 10, backend: str = "onnxruntime") -> BenchResult:
    import psutil

    from ..inference.pipeline import build_pipeline, fit_ms_of
    from ..inference.predictor import Predictor

    predictor = Predictor(model, device=device, threads=threads, backend=backend)
    pipeline = build_pipeline(predictor)        # `run`'s defaults (subjects, detector): bench times what runs
    for f in frames[:warmup]:
        pipeline.process(f)
    pipeline = build_pipeline(predictor)
    proc = psutil.Process()
    cpu0 = proc.cpu_times()
    crops0 = predictor.crops
    stats = FrameStats()
    totals, fits, without = [], [], []
    t_start = time.perf_counter()
    for f in frames:
        t0 = time.perf_counter()
        result = pipeline.process(f)
        totals.append((time.perf_counter() - t0) * 1e3)
        fit = fit_ms_of(pipeline, f)
        if fit is not None:
            result.latency_ms["fit"] = fit
            fits.append(fit / len(result.subjects))
        without.append(totals[-1] - (fit or 0.0))
        stats.add(f, result)
    wall = time.perf_counter() - t_start
    cpu1 = proc.cpu_times()
    cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / wall * 100
    stage_stats = {"capture_decode": {"p50": round(decode_ms, 3), "p95": round(decode_ms, 3)}}
    for k, (p50, p95) in stats.percentiles().items():
        stage_stats[k] = {"p50": round(p50, 3), "p95": round(p95, 3)}
    fit_ms = None
    if fits:       # the fit runs inside the pipeline's decode stage: without it, end to end is the rest
        e2e, rest = float(np.percentile(totals, 50)), float(np.percentile(without, 50))
        fit_ms = {"per_subject_p50": round(float(np.percentile(fits, 50)), 3),
                  "per_subject_p95": round(float(np.percentile(fits, 95)), 3),
                  "end_to_end_without_p50": round(rest, 3), "end_to_end_ratio": round(e2e / rest, 3)}
    return BenchResult(label, len(frames), len(frames) / wall, float(np.percentile(totals, 50)),
                       float(np.percentile(totals, 95)), stage_stats, cpu,
                       resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, stats.found,
                       stats.mean_error_mm, predictor.session.describe(), (predictor.crops - crops0) / len(frames),
                       fit_ms)


def subject_cost(model: Path, frames: list, counts: list[int], threads: int | None, device: str,
                 backend: str = "onnxruntime", rounds: int = 3) -> dict:
    """End-to-end cost of N subjects per frame (centre search once, then N cubes voxelized and run
    through the network as one batch, decoded), for each N, interleaved frame by frame so the
    ratios come from one run under the same load. The N cubes sit around the frame's own subject
    (its centre moved by up to a third of a cube), so every cube holds a realistic point cloud."""
    from ..inference.pipeline import PipelineOptions, build_pipeline
    from ..inference.predictor import Predictor

    predictor = Predictor(model, device=device, threads=threads, backend=backend)
    pipeline = build_pipeline(predictor, PipelineOptions(), detector="geometric")
    rng = np.random.default_rng(0)
    times: dict[int, list[float]] = {n: [] for n in counts}
    centres = []
    for f in frames:
        result = pipeline.process(f)
        centres.append(result.centre_mm if result.found else None)
    for _ in range(rounds):
        for f, centre in zip(frames, centres):
            if centre is None:
                continue
            for n in rng.permutation(counts):
                shifts = rng.uniform(-1, 1, (int(n), 3)) * predictor.cube_mm / 3
                shifts[0] = 0.0
                t0 = time.perf_counter()
                pipeline.centre.detect(f, limit=1)
                predictor.predict_centres(f.depth_mm, f.intrinsics, centre + shifts)
                times[int(n)].append((time.perf_counter() - t0) * 1e3)
    if not times[counts[0]]:
        raise UserError("no frame with a subject to time --subjects on")
    p50 = {n: float(np.percentile(v, 50)) for n, v in times.items()}
    base = p50[min(counts)]
    return {"subjects": [{"n": n, "p50_ms": round(p50[n], 3), "ratio": round(p50[n] / base, 3)} for n in counts]}


def soak(model: Path, frames: list, total: int, threads: int | None, device: str, log=print,
         backend: str = "onnxruntime") -> dict:
    """Replay `frames` cyclically for `total` frames and sample RSS: memory must stay flat."""
    from ..inference.pipeline import build_pipeline
    from ..inference.predictor import Predictor

    predictor = Predictor(model, device=device, threads=threads, backend=backend)
    pipeline = build_pipeline(predictor)
    samples = []
    for i in range(total):
        pipeline.process(frames[i % len(frames)])
        if i % 500 == 0 or i == total - 1:
            samples.append((i, _rss_mb()))
    settled = [r for i, r in samples if i >= min(1000, total // 4)]
    growth = (max(settled) - min(settled)) / min(settled) * 100 if settled else 0.0
    log(f"soak: {total} frames, RSS {samples[0][1]:.0f} -> {samples[-1][1]:.0f} MB, "
        f"spread after warm-up {growth:.1f}%")
    return {"frames": total, "rss_mb": [[i, round(r, 1)] for i, r in samples], "growth_percent": round(growth, 2)}


def print_results(results: list[BenchResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="handpose-live bench (ms)", caption="capture_decode: reading and decoding the source, measured "
                  "once before the timed loop (a mean per frame: p50 = p95), not in end to end; fit: the skeleton fit "
                  "(joints, orientations, palm) of a frame's subjects, part of decode; end to end without the fit: "
                  "each frame's end to end less its fit (p50), and end to end's p50 over it")
    table.add_column("stage")
    for r in results:
        table.add_column(f"{r.label} p50", justify="right")
        table.add_column("p95", justify="right")
    names = list(dict.fromkeys(k for r in results for k in r.stages_ms))
    for name in names:
        row = []
        for r in results:
            s = r.stages_ms.get(name)
            row += [f"{s['p50']:.2f}", f"{s['p95']:.2f}"] if s else ["-", "-"]
        table.add_row(name, *row)
    table.add_section()
    table.add_row("end to end", *[x for r in results for x in (f"{r.latency_p50_ms:.2f}", f"{r.latency_p95_ms:.2f}")])
    table.add_row("fps", *[x for r in results for x in (f"{r.fps:.1f}", "")])
    table.add_row("CPU %", *[x for r in results for x in (f"{r.cpu_percent:.0f}", "")])
    table.add_row("peak RSS MB", *[x for r in results for x in (f"{r.rss_mb:.0f}", "")])
    table.add_row("network crops / frame", *[x for r in results for x in (f"{r.crops_per_frame:.2f}", "")])
    table.add_row("subject found", *[x for r in results for x in (f"{r.found}/{r.frames}", "")])
    table.add_row("mean error mm", *[x for r in results for x in (
        f"{r.mean_error_mm:.1f}" if r.mean_error_mm is not None else "-", "")])
    table.add_row("skeleton fit ms / subject", *[x for r in results for x in (
        (f"{r.fit_ms['per_subject_p50']:.3f}", f"{r.fit_ms['per_subject_p95']:.3f}") if r.fit_ms else ("-", "-"))])
    table.add_row("end to end without the fit", *[x for r in results for x in (
        (f"{r.fit_ms['end_to_end_without_p50']:.2f}", f"{r.fit_ms['end_to_end_ratio']:.3f}x") if r.fit_ms else ("-", ""))])
    console = Console()
    console.print(table)
    for r in results:
        console.print(f"{r.label}: {r.provider}")
    if len(results) > 1:
        base = results[0]

        def speed(before: float, after: float) -> str:
            ratio = before / after
            return f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"

        for r in results[1:]:
            line = f"{r.label} against {base.label}, same run: end to end {speed(base.latency_p50_ms, r.latency_p50_ms)} (p50)"
            if "inference" in r.stages_ms and "inference" in base.stages_ms:
                line += f", network {speed(base.stages_ms['inference']['p50'], r.stages_ms['inference']['p50'])}"
            console.print(line + f", {r.fps / base.fps:.2f}x the fps")


def bench_app(viewer: str, model: Path, camera: str, input_path: Path | None, frames: int, target: str,
              threads: int | None, device: str, backend: str, source_fps: float, intrinsics: str | None = None,
              depth_encoding: str = "auto") -> dict:
    """The whole app (`run` without its summary) with this viewer, on the live source."""
    from ..sinks.base import display_available
    from .run import RunOptions, run_pipeline

    opts = RunOptions(camera=camera, input=input_path, model=model, target=target, frames=frames, viewer=viewer,
                      threads=threads, device=device, backend=backend, quiet=True, intrinsics=intrinsics,
                      depth_encoding=depth_encoding)
    stats = run_pipeline(opts)
    fps = stats.frames / stats.wall_s if stats.wall_s > 0 else 0.0
    total = stats.stages.get("total") or [0.0]
    shown = stats.viewer or {}
    return {"label": f"app viewer={viewer}", "kind": "app", "viewer": viewer, "frames": stats.frames,
            "frames_in": stats.frames_in, "dropped": stats.dropped,
            "dropped_percent": round(100.0 * stats.dropped / stats.frames_in, 2) if stats.frames_in else 0.0,
            "fps": round(fps, 2), "in_fps": round(stats.frames_in / stats.wall_s, 2) if stats.wall_s > 0 else 0.0,
            "latency_ms": {"p50": round(float(np.percentile(total, 50)), 3),
                           "p95": round(float(np.percentile(total, 95)), 3)},
            "viewer_draws": shown.get("draws"), "viewer_fps": shown.get("draw_fps"),
            "viewer_stale": shown.get("stale"), "window": bool(shown.get("showing")) and display_available(),
            "source_alone_fps": round(source_fps, 1), "found": stats.found, "mean_error_mm": stats.mean_error_mm}


def print_app_results(apps: list[dict], pipeline_fps: float, source_fps: float, camera_fps: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="the whole app (run), live source, per viewer")
    for name in ("", "fps", "in", "done", "dropped", "draws", "draw fps", "p50 ms", "p95 ms"):
        table.add_column(name, justify="left" if not name else "right")
    table.add_row("pipeline alone", f"{pipeline_fps:.1f}", *[""] * 7)
    for a in apps:
        name = "app, no viewer" if a["viewer"] == "none" else f"app + {a['viewer']}" + ("" if a["window"] else " (no window)")
        table.add_row(name, f"{a['fps']:.1f}", str(a["frames_in"]), str(a["frames"]),
                      f"{a['dropped']} ({a['dropped_percent']:.1f}%)",
                      "-" if a["viewer_draws"] is None else str(a["viewer_draws"]),
                      "-" if a["viewer_fps"] is None else f"{a['viewer_fps']:.1f}",
                      f"{a['latency_ms']['p50']:.2f}", f"{a['latency_ms']['p95']:.2f}")
    console = Console()
    console.print(table)
    console.print(f"source alone: {source_fps:.1f} fps (frames made as fast as they come, no pipeline), for a "
                  f"{camera_fps} fps live source" + (": this machine cannot keep up even without the app"
                                                     if source_fps < camera_fps else ""), highlight=False)


def bench_cli(opts: BenchOptions) -> list[BenchResult]:
    """Measure per-stage latency, fps, CPU and memory of the real pipeline (and of the whole app with --viewer).

    The source is read and decoded once, before the timed loop; the `capture_decode` row is that
    cost per frame (one mean, so its p50 and p95 are the same number), not part of end to end."""
    from ..resources import shipped_model

    camera, input_path, frames, target, device = opts.camera, opts.input, opts.frames, opts.target, opts.device
    intrinsics, depth_encoding, as_json, soak_frames = opts.intrinsics, opts.depth_encoding, opts.as_json, opts.soak
    subjects, backends, viewers = opts.subjects, opts.backend, opts.viewer
    # auto: the file `run` would take; with another backend in the comparison, the one file all of them run (fp32)
    auto_backend = "onnxruntime" if set(backends) == {"onnxruntime"} else "openvino"
    models = [Path(m) for m in opts.model] or [shipped_model(target, p, device, auto_backend)
                                               for p in opts.precision or [TrackerOptions.precision]]
    for m in models:      # as `run` refuses it: timing a body model on hand scenes measures nothing
        check_target(read_model_info(m), m, target)
    threads = opts.threads or [0]
    data, decode_ms = load_frames(camera, input_path, frames, target, intrinsics=intrinsics, depth_encoding=depth_encoding,
                                  topic=opts.topic)
    results = []
    for m in models:
        for b in backends:
            for t in threads:
                label = m.stem + (f" {b}" if len(backends) > 1 else "") + (f" {t}t" if t else "")
                results.append(bench_model(m, data, decode_ms, t or None, device, label, backend=b))
    source_fps = 1000.0 / decode_ms if decode_ms > 0 else float("inf")
    apps = [bench_app(v, models[0], camera, input_path, frames, target, threads[0] or None, device, backends[0],
                      source_fps, intrinsics, depth_encoding) for v in viewers]
    # N subjects per frame, for each model (e.g. fp32 and fp16 on a GPU), each on its first configuration
    costs = {m: subject_cost(m, data, subjects, threads[0] or None, device, backends[0]) for m in models} if subjects else {}
    firsts = {m: k * len(backends) * len(threads) for k, m in enumerate(models)}
    if as_json:
        payload = [r.to_json() for r in results]
        for m, cost in costs.items():
            payload[firsts[m]]["subject_cost"] = cost
        if soak_frames:
            payload[0]["soak"] = soak(models[0], data, soak_frames, threads[0] or None, device, log=lambda *_: None,
                                      backend=backends[0])
        print(json.dumps(payload + apps))   # always a list, one object per configuration
    else:
        print_results(results)
        if apps:
            from .run import RunOptions
            print_app_results(apps, results[0].fps, source_fps, RunOptions.fps)
        for m, cost in costs.items():
            from rich.console import Console
            Console(stderr=False).print(f"{m.stem}: per frame, end to end, N subjects batched (p50 ms, ratio to one): "
                                        + ", ".join(f"{c['n']}: {c['p50_ms']:.2f} ({c['ratio']:.2f}x)" for c in cost["subjects"]),
                                        highlight=False, soft_wrap=True)
        if soak_frames:
            soak(models[0], data, soak_frames, threads[0] or None, device, backend=backends[0])
    return results
