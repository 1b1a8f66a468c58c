"""`handpose-live run`: source -> capture thread -> pipeline -> sinks, with a status line and a summary.

A file is replayed frame by frame (nothing dropped); a camera feeds a latest-frame slot so the
pipeline always works on the newest frame and lag never builds up.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from ..options import option
from ..sinks.outputs import OutputOptions
from ..stats import RunStats
from ..targets import count_words, get_target
from ..tracker import TrackerOptions


@dataclass
class RunOptions(OutputOptions, TrackerOptions):
    """`handpose-live run` options: the tracker's (`tracker.TrackerOptions`), the outputs
    (`sinks.outputs.OutputOptions`) and the command's own. The command line is built from these fields."""

    quiet: bool = option(False, "no status line or summary", "--quiet")


def run_pipeline(opts: RunOptions, log=print) -> RunStats:
    """`Tracker.run` into the requested outputs, with a status line and, however the run ends, a
    summary (the real counts) unless `quiet`; then an interrupt or an error goes on to the CLI
    (exit 130, or `error: ...` and exit 2). The fps counts the loop only, not the time the source
    takes to stop. The source is opened first, before the model loads (a bad input is its one line
    at once) and before the outputs (a bad source leaves files alone)."""
    from ..sinks.outputs import open_outputs
    from ..tracker import Tracker, open_tracker_source

    options = opts.tracker_options()
    source = open_tracker_source(options)
    try:
        tracker = Tracker(options, source=source)
    except BaseException:
        source.close()
        raise
    target = get_target(tracker.info.target)
    stats = RunStats()
    status = _StatusLine(target) if sys.stderr.isatty() and not opts.quiet else None
    try:
        tracker.open()
        sinks = open_outputs(opts, tracker.predictor.skeleton, tracker.info.num_joints, opts.fps)
        if not opts.quiet:
            log(f"source: {tracker.source.name}; model: {tracker.model_path.name}; {tracker.describe()}")
            for sink in sinks:
                if hasattr(sink, "announce"):
                    log(sink.announce())     # where to point a browser (--ws)
        try:
            tracker.run(sinks, on_frame=status, stats=stats)
        except KeyboardInterrupt as exc:
            log(f"stopped ({exc.args[0] if exc.args else 'Ctrl-C'})")
            raise
        finally:
            if status is not None:
                sys.stderr.write("\n")
    finally:
        tracker.close()
        if stats.started and not opts.quiet:
            print_summary(stats, target)
    return stats


class _StatusLine:
    """The live status line on a terminal: frames, fps, latency and subjects found, twice a second."""

    def __init__(self, target) -> None:
        self.target = target
        self.start = self.last = time.perf_counter()
        self.width = len(count_words(target, 2))

    def __call__(self, result, stats: RunStats) -> None:
        now = time.perf_counter()
        if now - self.last <= 0.5:
            return
        state = count_words(self.target, len(result.subjects))
        sys.stderr.write(f"\r{stats.frames} frames  {stats.frames / (now - self.start):5.1f} fps  "
                         f"{result.latency_ms['total']:5.1f} ms  {state.ljust(self.width)}")
        sys.stderr.flush()
        self.last = now


def print_summary(stats: RunStats, target) -> None:
    from rich.console import Console
    from rich.table import Table

    fps = stats.frames / stats.wall_s if stats.wall_s > 0 else 0.0
    console = Console(stderr=True)
    # The fps over the whole loop, its first frames (model warm-up) included; a viewer shows the rate of the
    # last frames (sinks/base.FpsMeter), so the two differ by the start-up (README, "Quick start").
    # The headline on one line of its own (a table title would be wrapped to the table's width).
    console.print(f"{stats.frames} frames processed ({stats.frames_in} in, {stats.dropped} dropped), "
                  f"{fps:.1f} fps over the whole run, {target.noun} found in {stats.found}", soft_wrap=True, highlight=False)
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
    if stats.viewer is not None:
        v = stats.viewer
        sys.stderr.write(f"viewer: {v['draws']} draw{'s' * (v['draws'] != 1)}, {v['draw_fps']:.1f} fps, "
                         f"{v['stale']} stale result{'s' * (v['stale'] != 1)} skipped"
                         + ("" if v["showing"] else " (no window: drawn only for the screenshot)")
                         + (f"; it drew less while the pipeline missed camera frames (down to "
                            f"{100 * v['lowest_draw_share']:.0f} % of the time)"
                            if v["missed"] and v["showing"] else "") + "\n")


def run_app(opts: RunOptions) -> None:
    run_pipeline(opts)          # prints the summary itself, also when stopped by Ctrl-C or an error
