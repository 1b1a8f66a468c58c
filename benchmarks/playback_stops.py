"""Does stopping a RealSense replay early ever abort the process? Counts aborts over many stops.

Each child process writes a 60-frame recording (.db3 or .bag, through librealsense's own
recorder), then `--stops` times opens it with `RealSensePlayback`, reads 0-5 frames through a
`CaptureThread` with a slow consumer, and stops it as `run` does (`CaptureThread.stop()`,
which closes the source). A child that dies (librealsense's "pure virtual method called",
SIGABRT) counts as one abort; the first error lines of each are printed. With `--load`, a
`run --camera synthetic --no-realtime` keeps the CPUs busy meanwhile, as the other test worker
does in CI: that is where the teardown race showed.

The damaged-file check (`probe.py`, a child process per open) is skipped here: it is not part
of the teardown, and it would make each stop ten times slower.

Usage: .venv/bin/python benchmarks/playback_stops.py [--format .db3] [--children 8] [--stops 60] [--load]
Exit status: 1 if any child aborted.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r'''
import faulthandler, random, sys, tempfile, time
from pathlib import Path
import numpy as np
from handpose_live.capture.realsense import RealSensePlayback
from handpose_live.capture.record import write_bag, write_db3
from handpose_live.capture.thread import CaptureThread
from handpose_live.types import DepthFrame, Intrinsics
faulthandler.enable()
fmt, stops, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
intr = Intrinsics(fx=52.5, fy=53.25, cx=31.5, cy=23.75, width=64, height=48, name="stops")
frames = [DepthFrame(depth_mm=np.full((48, 64), 500.0 + i, np.float32), intrinsics=intr, timestamp_ms=i * 33.3, index=i)
          for i in range(60)]
path = Path(tempfile.mkdtemp()) / ("stops" + fmt)
if fmt == ".db3":
    write_db3(path, frames, intr, paced=False)
else:
    write_bag(path, frames, intr)
RealSensePlayback._check_streams = lambda self: None
for _ in range(stops):
    capture = CaptureThread(RealSensePlayback(path)).start()
    for _ in range(rng.randint(0, 5)):
        capture.get(timeout=10)
        time.sleep(rng.random() * 0.06)
    capture.stop()
print("done", flush=True)
'''


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--format", choices=[".db3", ".bag"], default=".db3")
    ap.add_argument("--children", type=int, default=8)
    ap.add_argument("--stops", type=int, default=60, help="early stops per child")
    ap.add_argument("--load", action="store_true", help="keep the CPUs busy with a synthetic run meanwhile")
    args = ap.parse_args()
    load = None
    if args.load:
        load = subprocess.Popen([sys.executable, "-m", "handpose_live", "run", "--camera", "synthetic", "--no-realtime",
                                 "--frames", "1000000", "--viewer", "none", "--quiet"], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(5)     # past the model load
    aborted = 0
    try:
        for child in range(args.children):
            proc = subprocess.run([sys.executable, "-c", CHILD, args.format, str(args.stops), str(child)],
                                  capture_output=True, text=True, cwd=REPO)
            ok = proc.returncode == 0 and "done" in proc.stdout
            aborted += not ok
            print(f"child {child + 1}/{args.children}: {args.stops} stops, "
                  + ("ok" if ok else f"ABORTED (exit {proc.returncode}): "
                     + " / ".join(proc.stderr.strip().splitlines()[:2])), flush=True)
    finally:
        if load is not None:
            load.kill()
            load.wait()
    print(f"{args.format}, {'with' if args.load else 'without'} load: {aborted} of {args.children} children aborted "
          f"({args.children * args.stops} early stops)")
    return 1 if aborted else 0


if __name__ == "__main__":
    sys.exit(main())
