"""Does the viewer cost the camera rate? `handpose-live run` with a window, against a real-time source.

`run` with a viewer once ran at 11-16 fps and dropped up to half of a 30 fps camera's frames,
while the headless pipeline reaches 100+ fps: drawing, not pose estimation, set the pace. This
soak runs the real app the way a user does, the real-time synthetic camera (30 fps) into
`handpose-live run --viewer opencv|open3d` inside a real X server (xvfb-run), and reads its
summary: frames the source delivered (in), processed, dropped (overwritten in the capture slot
before the pipeline took them), the pipeline's fps and the viewer's draws and draw fps.

The synthetic camera renders each frame in the capture thread, on the same CPU cores as the
pipeline and the viewer. So first the soak measures what the source alone can deliver (frames
rendered as fast as they come, no pipeline, no viewer): when that is near or under the asked
fps, the CPU is the limit, not the viewer, and the report says so. The machine's load average
before and after is recorded too: other jobs on a shared machine move every figure here.

Usage: .venv/bin/python benchmarks/viewer_soak.py --viewer open3d --frames 18000 [--fps 30]
       [--json viewer-soak.json] [--source-seconds 10] [-- extra `run` options]
(18000 frames at 30 fps = 10 minutes.) A source that cannot keep its rate would stretch the soak,
so the run is stopped (SIGTERM: it still prints its summary) after `--max-seconds`, by default the
planned length plus a minute. Exit status: that of `run` (0 when it ran through or was stopped so).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handpose_live.fileio import atomic_write_text  # noqa: E402

SUMMARY = re.compile(r"(\d+) frames processed \((\d+) in, (\d+) dropped\), ([\d.]+) fps")
VIEWER = re.compile(r"viewer: (\d+) draws?, ([\d.]+) fps, (\d+) stale results? skipped")
SCREEN = "-screen 0 1280x1024x24"   # xvfb-run's default screen (640x480x8) is too small for the window


def source_alone(fps: float, seconds: float, seed: int) -> dict:
    """Frames per second the synthetic camera renders on its own (not real-time, one thread)."""
    from handpose_live.capture.synthetic import SyntheticCamera

    camera = SyntheticCamera(fps=fps, seed=seed, realtime=False)
    frames = 0
    cpu0, t0 = time.thread_time(), time.perf_counter()
    for _ in camera.frames():
        frames += 1
        if time.perf_counter() - t0 >= seconds:
            break
    camera.close()
    wall, cpu = time.perf_counter() - t0, time.thread_time() - cpu0
    return {"frames": frames, "seconds": round(wall, 2), "fps": round(frames / wall, 1),
            "cpu_ms_per_frame": round(cpu / frames * 1e3, 2),
            "cores_needed_at_rate": round(cpu / frames * fps, 2)}


def _stop_app(proc: subprocess.Popen) -> None:
    """SIGTERM to `handpose-live` itself (under xvfb-run, a grandchild; xvfb-run would not pass the
    signal on): it stops like Ctrl-C and still prints its summary with the real counts."""
    import psutil

    top = psutil.Process(proc.pid)
    for process in [*top.children(recursive=True), top]:
        try:
            if process.name().startswith(("handpose", "python")):
                process.send_signal(signal.SIGTERM)
                return
        except psutil.Error:
            continue


def run_app(viewer: str, frames: int, fps: float, seed: int, extra: list[str], xvfb: bool, max_seconds: float) -> dict:
    exe = REPO / ".venv" / "bin" / "handpose-live"
    command = [str(exe) if exe.exists() else "handpose-live", "run", "--camera", "synthetic", "--viewer", viewer,
               "--frames", str(frames), "--fps", str(int(fps)), "--seed", str(seed), *extra]
    if xvfb:
        command = ["xvfb-run", "-a", "-s", SCREEN, *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=max_seconds)
        stopped = False
    except subprocess.TimeoutExpired:            # a source slower than its rate: stop at the time asked
        _stop_app(proc)
        stdout, stderr = proc.communicate()
        stopped = True
    proc = subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = {"command": " ".join(command), "returncode": proc.returncode, "wall_s": round(wall, 1),
           "stopped_at_time_limit": stopped, "cpu_cores_used": round(cpu / wall, 2)}
    match = SUMMARY.search(proc.stderr)
    if match:
        processed, frames_in, dropped, run_fps = int(match[1]), int(match[2]), int(match[3]), float(match[4])
        out.update(frames_in=frames_in, processed=processed, dropped=dropped,
                   dropped_percent=round(100.0 * dropped / frames_in, 2) if frames_in else None, fps=run_fps,
                   source_delivered_fps=round(frames_in * run_fps / processed, 1) if processed else None)
    match = VIEWER.search(proc.stderr)
    if match:
        out.update(viewer_draws=int(match[1]), viewer_fps=float(match[2]), viewer_stale_skipped=int(match[3]))
    elif "processed" in out:
        out["viewer_draws"] = None       # a `run` that does not report its viewer (one draw per frame)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    if proc.returncode and errors:
        out["error"] = errors[-1]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewer", choices=("opencv", "open3d", "none"), required=True,
                        help="none: the same run without a viewer, for reference")
    parser.add_argument("--frames", type=int, default=1800, help="frames of the source (1800 = 60 s at 30 fps)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source-seconds", type=float, default=10.0, help="how long to time the source alone")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="stop the run (SIGTERM) after this long (default: frames / fps + 60 s, for a "
                             "source slower than its rate)")
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    parser.add_argument("--no-xvfb", action="store_true", help="use the current display instead of xvfb-run")
    parser.add_argument("extra", nargs="*", help="after --: more `handpose-live run` options")
    args = parser.parse_args()
    if args.frames < 1 or args.fps <= 0 or args.source_seconds < 0:
        print("error: --frames, --fps must be positive and --source-seconds >= 0", file=sys.stderr)
        return 2
    if not args.no_xvfb and shutil.which("xvfb-run") is None:
        print("error: xvfb-run not found (apt-get install xvfb), or pass --no-xvfb on a machine with a display",
              file=sys.stderr)
        return 2
    report = {"viewer": args.viewer, "frames": args.frames, "source_fps": args.fps, "cpu_count": os.cpu_count(),
              "pythonpath": os.environ.get("PYTHONPATH"), "loadavg_before": os.getloadavg()}
    if args.source_seconds:
        report["source_alone"] = source_alone(args.fps, args.source_seconds, args.seed)
        print(f"source alone: {report['source_alone']['fps']} fps "
              f"({report['source_alone']['cpu_ms_per_frame']} ms CPU per frame, "
              f"{report['source_alone']['cores_needed_at_rate']} cores at {args.fps:g} fps)", flush=True)
    max_seconds = args.max_seconds or args.frames / args.fps + 60.0
    report["run"] = run_app(args.viewer, args.frames, args.fps, args.seed, args.extra, not args.no_xvfb, max_seconds)
    report["loadavg_after"] = os.getloadavg()
    run = report["run"]
    if "processed" in run:
        draws = run.get("viewer_draws")
        viewer_part = "" if draws is None else f"; viewer {draws} draws, {run['viewer_fps']} fps"
        print(f"{args.viewer}: {run['frames_in']} in, {run['processed']} processed, {run['dropped']} dropped "
              f"({run['dropped_percent']} %), {run['fps']} fps{viewer_part}; "
              f"{run['cpu_cores_used']} cores used, load {report['loadavg_before'][0]:.2f} -> "
              f"{report['loadavg_after'][0]:.2f}")
    else:
        print(f"{args.viewer}: run ended with status {run['returncode']} and no summary: {run.get('error', '')}")
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0 if run["returncode"] == 130 and run["stopped_at_time_limit"] else run["returncode"]


if __name__ == "__main__":
    sys.exit(main())
