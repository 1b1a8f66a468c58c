"""`handpose-live run`: source -> capture thread -> pipeline -> sinks, with a status line and a summary.

A file is replayed frame by frame (nothing dropped); a camera feeds a latest-frame slot so the
pipeline always works on the newest frame and lag never builds up.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..fileio import IMAGE_FORMATS, check_format
from ..options import option
from ..targets import get_target
from ..tracker import TrackerOptions
from .stats import FrameStats


@dataclass
class RunOptions(TrackerOptions):
    """`handpose-live run` options: the tracker's (`tracker.TrackerOptions`) plus the outputs.
    The command line is built from these fields."""

    output: Path | None = option(None, "write one record per frame (.jsonl or .csv)")
    viewer: str = option("auto", "auto | open3d | opencv | none (auto: open3d with a display, else none)")
    screenshot: Path | None = option(None, "save the last viewer image to this PNG or JPEG (works headless)")
    save_video: Path | None = option(None, "write the 2D overlay to an .mp4")
    udp: str | None = option(None, "stream each frame's JSON record to host:port")
    osc: str | None = option(None, "send each frame as OSC messages to host:port (TouchDesigner, Max, Unity, Unreal)")
    ws: str | None = option(None, "serve a live page and WebSocket stream on [host:]port (host: 127.0.0.1 unless named)")
    quiet: bool = option(False, "no status line or summary", "--quiet")

    def __post_init__(self) -> None:
        """Numeric and address options are checked before anything opens."""
        super().__post_init__()
        if self.screenshot is not None:
            check_format(self.screenshot, IMAGE_FORMATS, "--screenshot")
        if self.udp is not None:
            host, sep, port = self.udp.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise UserError(f"--udp must be host:port, got {self.udp!r}")
        if self.osc is not None:
            from ..sinks.udp import parse_host_port
            parse_host_port(self.osc, what="OSC")
        if self.ws is not None:
            from ..sinks.websocket import parse_ws_address
            parse_ws_address(self.ws)


@dataclass
class RunStats(FrameStats):
    """`FrameStats` (latencies, subjects found, error against ground truth) plus the capture's counts."""

    wall_s: float = 0.0
    frames_in: int = 0
    dropped: int = 0
    subject: str = "hand"
    viewer: dict | None = None   # a threaded viewer's `summary()`: draws, draw fps, stale results skipped


def _choose_viewer(name: str) -> str:
    if name not in ("auto", "open3d", "opencv", "none"):
        raise UserError(f"unknown viewer '{name}' (auto, open3d, opencv, none)")
    if name != "auto":
        return name
    return "open3d" if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") else "none"


def _open_sinks(opts: RunOptions, skeleton, num_joints: int) -> tuple[list, object | None]:
    """Create every requested sink up front, so a bad path fails before any frame is processed.

    The record file comes last because opening it truncates an existing file: a run refused
    for another sink leaves it alone. It is written first in each frame. On a failure the sinks
    already opened are closed.

    A viewer that draws (Open3D, always; OpenCV with a display) runs on its own thread
    (`ViewerThread`): the loop hands it each result and never waits for drawing. The OpenCV
    viewer without a display draws nothing until its screenshot at the end, so it stays in the loop.
    """
    from ..sinks.base import close_all, display_available

    sinks, viewer = [], None
    try:
        if opts.udp:
            from ..sinks.udp import UdpSender
            sinks.append(UdpSender(opts.udp))
        if opts.osc:
            from ..sinks.osc import OscSender
            sinks.append(OscSender(opts.osc))
        if opts.ws:
            from ..sinks.websocket import WebSocketServer
            sinks.append(WebSocketServer.from_address(opts.ws))
        if opts.save_video is not None:
            from ..sinks.video import VideoWriterSink
            sinks.append(VideoWriterSink(opts.save_video, opts.fps, skeleton))
        kind = _choose_viewer(opts.viewer)
        if kind == "none" and opts.screenshot is not None:
            kind = "opencv-headless"
        if kind == "opencv" and not display_available():
            kind = "opencv-headless"
        if kind == "open3d":
            from ..sinks.open3d_viewer import Open3DViewer
            from ..sinks.viewer_thread import ViewerThread
            viewer = ViewerThread(lambda: Open3DViewer(skeleton, screenshot_path=opts.screenshot), "open3d")
        elif kind == "opencv":
            from ..sinks.opencv_viewer import OpenCvViewer
            from ..sinks.viewer_thread import ViewerThread
            viewer = ViewerThread(lambda: OpenCvViewer(skeleton, window=True, screenshot_path=opts.screenshot), "opencv")
        elif kind == "opencv-headless":
            from ..sinks.opencv_viewer import OpenCvViewer
            viewer = OpenCvViewer(skeleton, window=False, screenshot_path=opts.screenshot)
        if viewer is not None:
            sinks.append(viewer)
        if opts.output is not None:
            from ..sinks.files import open_output
            sinks.insert(0, open_output(opts.output, num_joints))
    except BaseException:
        close_all(sinks)
        raise
    return sinks, viewer


def run_pipeline(opts: RunOptions, log=print) -> RunStats:
    """Run until the source ends, `frames` are done, the viewer is closed, or Ctrl-C / SIGTERM.

    Once frames flow, the run ends the same way whatever stops it (the end, Ctrl-C, SIGTERM, an
    error such as a full disk): the source is stopped, every sink is closed (record files are
    fsynced), and the summary, with the real counts, is printed unless `quiet`. Then an interrupt
    or an error goes on to the CLI (exit 130, or `error: ...` and exit 2). The fps counts the
    loop only, not the time the source takes to stop.
    """
    from ..sinks.base import close_all
    from ..tracker import Tracker

    tracker = Tracker(opts.tracker_options())
    sinks, viewer = [], None
    stats = RunStats(subject=get_target(tracker.info.target).subject)
    start = None            # set once frames flow: from then on the summary is always printed
    interactive = sys.stderr.isatty() and not opts.quiet
    try:
        tracker.open()
        sinks, viewer = _open_sinks(opts, tracker.predictor.skeleton, tracker.info.num_joints)
        if not opts.quiet:
            log(f"source: {tracker.source.name}; model: {tracker.model_path.name}; {tracker.describe()}")
            for sink in sinks:
                if hasattr(sink, "announce"):
                    log(sink.announce())     # where to point a browser (--ws)
        start = last_status = time.perf_counter()      # the header may already meet a full disk: summary too
        header = tracker.header()
        for sink in sinks:
            sink.begin(header)
        try:
            for result in tracker:
                frame = result.frame
                t1 = time.perf_counter()
                for sink in sinks:
                    sink.write(frame, result)
                t2 = time.perf_counter()
                result.latency_ms["sinks"] = (t2 - t1) * 1e3
                result.latency_ms["total"] += result.latency_ms["sinks"]
                stats.add(frame, result)
                if interactive and t2 - last_status > 0.5:
                    fps = stats.frames / (t2 - start)
                    count = len(result.subjects)
                    state = f"{count} {stats.subject}{'s' * (count > 1)}" if count else f"no {stats.subject}"
                    sys.stderr.write(f"\r{stats.frames} frames  {fps:5.1f} fps  {result.latency_ms['total']:5.1f} ms  "
                                     f"{state.ljust(len(stats.subject) + 6)}")
                    sys.stderr.flush()
                    last_status = t2
                if viewer is not None and getattr(viewer, "quit_requested", False):
                    break
        except KeyboardInterrupt as exc:
            log(f"stopped ({exc.args[0] if exc.args else 'Ctrl-C'})")
            raise
        finally:
            stats.wall_s = time.perf_counter() - start
            tracker.close()                     # joins the producer, then closes the source
            stats.frames_in, stats.dropped = tracker.frames_in, tracker.dropped
            if interactive:
                sys.stderr.write("\n")
    finally:
        tracker.close()
        try:
            close_all(sinks)
        finally:
            summary = getattr(viewer, "summary", None)
            stats.viewer = summary() if summary is not None else None
            if start is not None and not opts.quiet:
                print_summary(stats)
                if stats.viewer is not None:
                    v = stats.viewer
                    sys.stderr.write(f"viewer: {v['draws']} draw{'s' * (v['draws'] != 1)}, {v['draw_fps']:.1f} fps, "
                                     f"{v['stale']} stale result{'s' * (v['stale'] != 1)} skipped"
                                     + ("" if v["showing"] else " (no window: drawn only for the screenshot)")
                                     + (f"; it drew less while the pipeline missed camera frames (down to "
                                        f"{100 * v['lowest_draw_share']:.0f} % of the time)"
                                        if v["missed"] and v["showing"] else "") + "\n")
    return stats


def print_summary(stats: RunStats) -> None:
    from rich.console import Console
    from rich.table import Table

    fps = stats.frames / stats.wall_s if stats.wall_s > 0 else 0.0
    console = Console(stderr=True)
    # The headline on one line of its own (a table title would be wrapped to the table's width).
    console.print(f"{stats.frames} frames processed ({stats.frames_in} in, {stats.dropped} dropped), "
                  f"{fps:.1f} fps, {stats.subject} found in {stats.found}", soft_wrap=True, highlight=False)
    table = Table()
    table.add_column("stage")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    for name, (p50, p95) in stats.percentiles().items():
        table.add_row(name, f"{p50:.2f}", f"{p95:.2f}")
    if stats.stages:
        console.print(table)
    if stats.mean_error_mm is not None:
        console.print(f"mean joint error against the synthetic ground truth: {stats.mean_error_mm:.1f} mm "
                      f"over {len(stats.errors_mm)} frames")


def run_app(opts: RunOptions) -> None:
    run_pipeline(opts)          # prints the summary itself, also when stopped by Ctrl-C or an error
