"""The Python API: a `Tracker` owns a depth source, the capture thread and the pose pipeline.

    from handpose_live import Tracker
    with Tracker(camera="synthetic", frames=100) as tracker:
        for frame in tracker:
            for hand in frame.hands:
                print(hand.id, hand.handedness, hand.joints_mm["index_tip"], hand.pinch)

`Tracker.from_model(path).process(depth_mm, intrinsics)` runs one frame of your own;
`tracker.run(outputs=["take.jsonl", OscSender("127.0.0.1:9000")])` runs the whole source into
outputs (sinks; `sinks.outputs.open_outputs` makes them from `run`'s output options). `handpose-live
run` is exactly that plus a status line and a summary, so the API and the command line cannot drift
apart. Options are `TrackerOptions` fields, the same names as the command line's (`--max-hands` is
`max_hands=`), declared once.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .capture import cameras
from .errors import UserError
from .interrupts import held
from .options import check_minimums, option
from .records import stream_header
from .resources import check_precision, shipped_model
from .stats import RunStats
from .targets import TARGETS, get_target
from .types import DepthFrame, Intrinsics, PoseResult

if TYPE_CHECKING:
    from .capture.base import FrameSource
    from .capture.thread import CaptureThread
    from .sinks.base import Sink


@dataclass
class TrackerOptions:
    """Where frames come from and how subjects are found (the `run` options that are not outputs)."""

    camera: str = option("auto", cameras.camera_help())
    input: Path | None = option(None, f"recording to replay ({cameras.recording_types_text()}) or depth images "
                                      "(folder, glob, .png, .npy); --camera is then ignored")
    topic: str | None = option(None, "ROS recordings: the depth topic, when there are several")
    intrinsics: str | None = option(None, "depth images: camera preset (sr305, d435, kinect-v2, ...) or calib JSON file")
    depth_encoding: str = option("auto", "depth images: auto | raw (x depth_scale_m) | nyu-rgb (G*256+B mm)")
    model: Path | None = option(None, "ONNX model (default: the shipped model for --target)")
    precision: str = option("auto", "shipped model: auto (int8 on a CPU with int8 dot products such as AVX-512 VNNI, "
                                    "else fp32) | fp32 | int8")
    target: str = option("hand", " | ".join(TARGETS))
    max_hands: int = option(TARGETS["hand"].default_subjects, "hands tracked at once (--target hand)")
    max_people: int = option(TARGETS["body"].default_subjects, "people tracked at once (--target body; the default: "
                                                               "every person in view, up to this many)")
    detector: str = option("auto", "where new hands or people are looked for: auto (the learned detector shipped for "
                                   "--target, when installed) | geometric | FILE.onnx")
    frames: int = option(0, "stop after N frames (0 = until the source ends or Ctrl-C)")
    realtime: bool | None = option(None, "files: play at recorded speed (default: every frame, fast)",
                                   "--realtime/--no-realtime")
    loop: bool = option(False, "replay the file endlessly", "--loop")
    strict: bool = option(False, "recordings: frames the file lists but cannot be read are an error (exit 2), "
                                 "not a warning", "--strict")
    serial: str | None = option(None, f"serial number of the camera to open ({cameras.devices_text()})")
    width: int = option(640, "camera depth width in pixels")
    height: int = option(480, "camera depth height in pixels")
    fps: int = option(30, "camera frame rate (depth images: the rate they are numbered and replayed at)")
    seed: int = option(0, "synthetic camera seed")
    synthetic_hands: int = option(1, "hands in the synthetic camera's scene (1 or 2: a right and a left hand)")
    device: str = option("auto", "auto | cpu | cuda")
    threads: int | None = option(None, "CPU inference threads")
    backend: str = option("onnxruntime", "onnxruntime | openvino (CPU; pip install openvino)")
    smoothing: bool = option(False, "One-Euro filter on the joints", "--smoothing/--no-smoothing")
    fit: bool = option(True, "joints of each subject's fitted skeleton (constant bone lengths, joint limits); "
                             "--no-fit: the network's own joints (orientations, palm and velocity either way)",
                       "--fit/--no-fit")
    min_confidence: float | None = option(None, "mean peak below which a candidate is not a subject")

    def __post_init__(self) -> None:
        """Numeric options are checked before anything opens."""
        get_target(self.target)
        check_precision(self.precision)
        if self.model is not None and self.precision != "auto":
            raise UserError("--precision picks a shipped model; with --model the file decides (e.g. a *-int8.onnx)")
        check_image_options(self.input, self.intrinsics, self.depth_encoding)
        if self.frames < 0:
            raise UserError(f"--frames must be >= 0, got {self.frames}")
        check_minimums(("--width", self.width, 16), ("--height", self.height, 16), ("--fps", self.fps, 1),
                       ("--max-hands", self.max_hands, 1), ("--max-people", self.max_people, 1), ("--seed", self.seed, 0))
        if self.synthetic_hands not in (1, 2):
            raise UserError(f"--synthetic-hands must be 1 or 2, got {self.synthetic_hands}")
        if self.threads is not None:
            check_minimums(("--threads", self.threads, 1))
        if self.min_confidence is not None and not (math.isfinite(self.min_confidence)
                                                    and 0.0 <= self.min_confidence < 1.0):
            raise UserError(f"--min-confidence must lie in [0, 1), got {self.min_confidence}")

    @property
    def max_subjects(self) -> int:
        """The count option of this target (`--max-hands`, `--max-people`: the profile names it)."""
        return int(getattr(self, get_target(self.target).max_subjects_option.lstrip("-").replace("-", "_")))

    def tracker_options(self) -> TrackerOptions:
        """Only the tracker's fields (from a subclass such as `RunOptions`)."""
        return TrackerOptions(**{f.name: getattr(self, f.name) for f in fields(TrackerOptions)})


def open_tracker_source(opts: TrackerOptions) -> FrameSource:
    """The source these options name, opened. `run` opens it before the model loads, so a bad input is
    its one line at once; `Tracker.open` otherwise."""
    from .capture.sources import open_source

    realtime = opts.realtime if opts.realtime is not None else opts.input is None
    return open_source(opts.camera, opts.input, opts.target, realtime=realtime, loop=opts.loop,
                       serial=opts.serial, width=opts.width, height=opts.height, fps=opts.fps,
                       # a live source drops frames while the pipeline is busy: bound what is
                       # processed (in __iter__), not what is made
                       seed=opts.seed, frames=None if realtime else (opts.frames or None),
                       intrinsics=opts.intrinsics,
                       depth_encoding=opts.depth_encoding, hands=opts.synthetic_hands, topic=opts.topic,
                       strict=opts.strict)


def check_image_options(input_path, intrinsics: str | None, depth_encoding: str) -> None:
    """`--intrinsics` and `--depth-encoding` against `--input`, before the model loads."""
    from .capture.images import ENCODINGS, is_image_input

    if depth_encoding not in ENCODINGS:
        raise UserError(f"--depth-encoding must be one of {', '.join(ENCODINGS)}, got {depth_encoding!r}")
    if input_path is not None and is_image_input(input_path) and intrinsics is None:
        raise UserError("depth images need --intrinsics: a preset (e.g. sr305, d435, kinect-v2, nyu) or a "
                        "calib JSON file with fx, fy, cx, cy, width, height, depth_scale_m")


class Tracker:
    """Depth source -> pipeline; iterate for one `PoseResult` per frame (`.hands` / `.people`)."""

    def __init__(self, options: TrackerOptions | None = None, source: FrameSource | None = None, **kwargs) -> None:
        """`source`: one already opened from these options (`open_tracker_source`), which the tracker
        now owns and closes; else the tracker opens its own on first use."""
        from .inference.modelfile import check_target, read_model_info

        if options is not None and kwargs:
            raise TypeError("pass TrackerOptions or keyword options, not both")
        self.options = options if options is not None else TrackerOptions(**kwargs)
        opts = self.options
        self.model_path = (Path(opts.model) if opts.model
                           else shipped_model(opts.target, opts.precision, opts.device, opts.backend))
        # the file's metadata against its graph and --target first: a wrong model is its one line before
        # the seconds that importing the runtime (torch) and creating its session take
        check_target(read_model_info(self.model_path), self.model_path, opts.target)
        from .inference.pipeline import PipelineOptions, build_pipeline
        from .inference.predictor import Predictor

        self.predictor = Predictor(self.model_path, device=opts.device, threads=opts.threads, backend=opts.backend)
        self.pipeline = build_pipeline(self.predictor, PipelineOptions(
            min_confidence=opts.min_confidence, smoothing=opts.smoothing, max_subjects=opts.max_subjects, fit=opts.fit),
            target=opts.target, detector=opts.detector)
        self.detector_path = self.pipeline.options.detector
        self.source: FrameSource | None = source
        self._capture: CaptureThread | None = None
        self.frames_in = 0       # frames the source delivered
        self.dropped = 0         # frames a live source delivered while the pipeline was busy
        self.depth_warning: str | None = None   # calib.implausible_depth of the first frames, said once on stderr
        self._depth_checks = 0
        self._empty_frames = 0   # of the first frames checked, those with (almost) no depth (calib.no_depth)

    @classmethod
    def from_model(cls, model: str | Path, **kwargs) -> Tracker:
        """A tracker for your own frames (`process`), on this model; its target is read from the model."""
        from .inference.modelfile import read_model_info

        info = read_model_info(Path(model))
        return cls(model=Path(model), target=kwargs.pop("target", info.target), **kwargs)

    @property
    def info(self):
        """The model's metadata (`inference.modelfile.ModelInfo`): target, skeleton, cube, grid..."""
        return self.predictor.info

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(self.predictor.skeleton.joints)

    def header(self, intrinsics: Intrinsics | None = None) -> dict:
        """The stream header of the records (`records.stream_header`)."""
        info = self.predictor.info
        if intrinsics is None and self.source is not None:
            intrinsics = getattr(self.source, "intrinsics", None)
        return stream_header(info.target, self.predictor.skeleton.name, self.model_path.name,
                             intrinsics if isinstance(intrinsics, Intrinsics) else None)

    def describe(self) -> str:
        if not get_target(self.info.target).learned_detector:
            return self.predictor.session.describe()
        found = f"learned ({self.detector_path.name})" if self.detector_path else "geometric"
        return f"{self.predictor.session.describe()}; detector: {found}"

    def process(self, depth_mm: np.ndarray, intrinsics: Intrinsics, timestamp_ms: float | None = None,
                index: int | None = None) -> PoseResult:
        """One depth image of your own (float or integer mm, 0 = no measurement) -> its result.
        Consecutive calls track subjects across frames (ids, smoothing)."""
        depth = np.asarray(depth_mm)
        if depth.ndim != 2 or depth.shape != (intrinsics.height, intrinsics.width):
            raise UserError(f"depth image is {depth.shape}, the intrinsics say {intrinsics.height}x{intrinsics.width}")
        frame = DepthFrame(depth.astype(np.float32, copy=False), intrinsics,
                           timestamp_ms=1000.0 * time.monotonic() if timestamp_ms is None else float(timestamp_ms),
                           index=self.pipeline_frames if index is None else int(index))
        return self.process_frame(frame)

    @property
    def pipeline_frames(self) -> int:
        return self.pipeline._frames

    def process_frame(self, frame: DepthFrame, check_depth: bool = True) -> PoseResult:
        if check_depth and self._depth_checks < 10 and self.depth_warning is None:
            self._check_depth(frame)
        from .inference.pipeline import fit_ms_of

        t0 = time.perf_counter()
        result = self.pipeline.process(frame)
        result.frame = frame
        result.latency_ms["total"] = (time.perf_counter() - t0) * 1e3
        fit_ms = fit_ms_of(self.pipeline, frame)
        if fit_ms is not None:
            result.latency_ms["fit"] = fit_ms        # the skeleton fit, part of "decode"
        return result

    def _check_depth(self, frame: DepthFrame) -> None:
        """Depth read with intrinsics the user gave (depth images, `process`) that looks read with the wrong
        scale, or first frames with almost none: one `warning: ...` line on stderr, with the likely fix
        (`calib.implausible_depth`, `calib.no_depth`)."""
        import sys

        from .calib import EMPTY_FRAMES, implausible_depth, no_depth, no_depth_warning

        self._depth_checks += 1
        self.depth_warning = implausible_depth(frame.depth_mm, frame.intrinsics, get_target(self.info.target))
        if self._empty_frames == self._depth_checks - 1 and no_depth(frame.depth_mm):     # empty from the first frame on
            self._empty_frames += 1
            if self._empty_frames == EMPTY_FRAMES:
                self.depth_warning = no_depth_warning(frame.intrinsics)
        if self.depth_warning is not None:
            self._depth_checks = 10
            sys.stderr.write(f"warning: {self.depth_warning}\n")
            sys.stderr.flush()

    def open(self) -> Tracker:
        """Open the source (iteration does it on first use); a bad source fails here, one line."""
        if self.source is None:
            self.source = open_tracker_source(self.options)
        return self

    def __iter__(self) -> Iterator[PoseResult]:
        from .capture.thread import CaptureThread

        self.open()
        assert self.source is not None
        capture = self._capture = CaptureThread(self.source).start()
        done = 0
        try:
            while not self.options.frames or done < self.options.frames:
                try:
                    frame = capture.get(timeout=10.0)
                except TimeoutError:
                    raise UserError(f"no frame from {self.source.name} for 10 s") from None
                if frame is None:
                    break
                result = self.process_frame(frame, check_depth=self.options.intrinsics is not None)
                done += 1
                yield result
        finally:
            self._stop_capture()

    def run(self, outputs: Iterable[Sink | str | Path] = (), on_frame: Callable[[PoseResult, RunStats], None] | None = None,
            stats: RunStats | None = None) -> RunStats:
        """Every frame of the source into `outputs` (sinks, or .jsonl/.csv paths), until the source
        ends, `frames` are done, a viewer is closed (q / Esc), or Ctrl-C / SIGTERM.

        However it ends (the end, an interrupt, an error such as a full disk) the source is stopped
        and every output closed (record files fsynced); then an interrupt or error goes on to the
        caller. `on_frame(result, stats)` follows each frame (a status line); `stats` (given, so a
        caller can report it even when the run raises) gets the latencies, counts and wall time,
        a threaded viewer's summary included. Outputs are closed by this call.
        """
        from .sinks.base import close_all
        from .sinks.outputs import as_sink

        stats = stats if stats is not None else RunStats()
        sinks: list = []
        try:
            sinks = [as_sink(o, self.info.num_joints) for o in outputs]
            self.open()
            start = time.perf_counter()
            stats.started = True                 # the header may already meet a full disk: summary too
            try:
                header = self.header()
                for sink in sinks:
                    sink.begin(header)
                for result in self:
                    with held():             # a frame is written and counted whole (interrupts.py)
                        t1 = time.perf_counter()
                        for sink in sinks:
                            sink.write(result.frame, result)
                        result.latency_ms["sinks"] = (time.perf_counter() - t1) * 1e3
                        result.latency_ms["total"] += result.latency_ms["sinks"]
                        stats.add(result.frame, result)
                    if on_frame is not None:
                        on_frame(result, stats)
                    if any(getattr(sink, "quit_requested", False) for sink in sinks):
                        break
            finally:
                stats.wall_s = time.perf_counter() - start
                self._stop_capture()             # joins the producer, then closes the source
                stats.frames_in, stats.dropped = self.frames_in, self.dropped
        finally:
            self.close()
            try:
                close_all(sinks)
            finally:
                for sink in sinks:
                    summary = getattr(sink, "summary", None)
                    if summary is not None:
                        stats.viewer = summary()
        return stats

    def _stop_capture(self) -> None:
        if self._capture is not None:
            self._capture.stop()           # joins the producer, then closes the source
            self.frames_in, self.dropped = self._capture.frames_in, self._capture.dropped
            self._capture = None

    def close(self) -> None:
        self._stop_capture()
        if self.source is not None:
            self.source.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
