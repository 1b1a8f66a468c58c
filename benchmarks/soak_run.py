"""Does `run` hold its memory over a long run? RSS sampled over N frames of the real command.

`handpose-live run --camera synthetic --no-realtime` with outputs (JSONL records; add more
after `--`, e.g. `-- --save-video soak.mp4`) is started as a user would, and its resident set size
(/proc/PID/status VmRSS) is sampled with the frames done so far (the records written, counted in
the JSONL file as it grows). The report is the least-squares slope of RSS against frames over
frames `--from`..N (after the warm-up: model load, first allocations), as MB per 1,000 frames and
as MB over that span, the growth over the second half of the run, plus the samples. Growth in the
live path (capture thread, tracker, records, sinks) shows as a slope that never levels; a flat run
stays under a few MB (the allocators may still step up once or twice early on).

Over a short span one such step weighs as much as a leak (a 1 MB step in the middle of 700 frames
is a slope of 2 MB per 1,000 frames), so the report also gives the *steady* growth: the span cut
in three, each third's growth per 1,000 frames, and the least of them. Something kept per frame
grows RSS in every third; an allocator stepping up once or twice leaves at least one third flat.

Usage: .venv/bin/python benchmarks/soak_run.py [--frames 10000] [--from 1000] [--width 640 --height 480]
       [--json soak.json] [-- extra `run` options]
Exit status: that of `run`.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handpose_live.fileio import atomic_write_text  # noqa: E402


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares MB per frame."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


def steady_growth(points: list[tuple[int, float]], parts: int = 3) -> float:
    """The least growth, MB per frame, over `parts` consecutive, equally long stretches of frames."""
    lo, hi = points[0][0], points[-1][0]
    rates = []
    for k in range(parts):
        a, b = lo + (hi - lo) * k / parts, lo + (hi - lo) * (k + 1) / parts
        part = [(f, r) for f, r in points if a <= f <= b]
        if len(part) < 2 or part[-1][0] == part[0][0]:
            return float("nan")
        rates.append((part[-1][1] - part[0][1]) / (part[-1][0] - part[0][0]))
    return min(rates)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--from", dest="start", type=int, default=1_000, help="first frame of the fitted span")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    ap.add_argument("--json", type=Path)
    ap.add_argument("extra", nargs="*", help="more `run` options (after --)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        records = Path(tmp) / "soak.jsonl"
        cmd = [sys.executable, "-m", "handpose_live", "run", "--camera", "synthetic", "--no-realtime",
               "--frames", str(args.frames), "--width", str(args.width), "--height", str(args.height),
               "--viewer", "none", "--output", str(records), *args.extra]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        samples: list[tuple[int, float, float]] = []      # (frames done, RSS MB, seconds)
        done, lines, offset = 0, 0, 0
        while proc.poll() is None:
            time.sleep(args.interval)
            if records.exists():
                with open(records, "rb") as f:          # only what was added since the last sample
                    f.seek(offset)
                    chunk = f.read()
                offset += len(chunk)
                lines += chunk.count(b"\n")
                done = max(0, lines - 1)                   # the stream header, then one line per frame
            rss = rss_mb(proc.pid)
            if rss is not None and done > 0:
                samples.append((done, rss, time.monotonic() - t0))
        stderr = proc.stderr.read() if proc.stderr else ""
    # Samples taken once the last record is out belong to the shutdown (summary, closing), not the run.
    fitted = [(f, r) for f, r, _ in samples if args.start <= f < args.frames]
    half = [r for f, r in fitted if f >= args.frames // 2]
    per_frame = slope(fitted) if len(fitted) > 2 else float("nan")
    steady = steady_growth(fitted) if len(fitted) > 6 else float("nan")
    span = (max(f for f, _ in fitted) - min(f for f, _ in fitted)) if fitted else 0
    report = {
        "command": " ".join(cmd[2:]).replace(str(records), "soak.jsonl"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "exit": proc.returncode, "frames_done": done, "seconds": round(time.monotonic() - t0, 1),
        "fitted_frames": [min((f for f, _ in fitted), default=0), max((f for f, _ in fitted), default=0)],
        "mb_per_1000_frames": round(per_frame * 1000, 3),
        "mb_over_fitted_span": round(per_frame * span, 2),
        "steady_mb_per_1000_frames": round(steady * 1000, 3),
        "rss_first_last_mb": [round(fitted[0][1], 1), round(fitted[-1][1], 1)] if fitted else None,
        "second_half_mb": round(half[-1] - half[0], 2) if half else None,   # steps of the allocators settle early
        "samples": [(f, round(r, 1)) for f, r, _ in samples[:: max(1, len(samples) // 40)]],
    }
    print(f"{report['command']}\n{done} frames in {report['seconds']} s, exit {proc.returncode}; RSS over frames "
          f"{report['fitted_frames'][0]}-{report['fitted_frames'][1]}: {report['mb_per_1000_frames']:+.3f} MB per 1,000 "
          f"frames ({report['mb_over_fitted_span']:+.2f} MB over the span; {report['rss_first_last_mb']} MB first/last; "
          f"{report['second_half_mb']:+.2f} MB over the second half of the run); steady growth (the least of "
          f"three thirds): {report['steady_mb_per_1000_frames']:+.3f} MB per 1,000 frames")
    if proc.returncode:
        print(stderr[-2000:], file=sys.stderr)
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
