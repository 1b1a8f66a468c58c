"""Open a recording in a child process first, so that an SDK which aborts or hangs on a damaged
file costs one line and exit 2, not the process.

librealsense hangs in `load_device` on some damaged .bag files (holding the GIL: Ctrl-C and SIGTERM
do nothing) and libk4arecord aborts (SIGABRT, "EOF in readFully") on an .mkv cut after a few
bytes. Neither can be stopped from inside our process, so the players (`realsense.py`,
`kinect.py`) call `probe(kind, path)` before they open a file themselves: the same opening calls
run in `python -m handpose_live.capture.probe MODULE:FUNCTION PATH` under a time limit, and report what they
found as one JSON line on stdout. A child that dies by a signal or outlives the limit, or reports
an error, becomes a one-line `UserError`; Ctrl-C during the probe kills the child and ends the run.
"""
from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ..errors import UserError

PROBE_TIMEOUT_S = 10.0             # opening reads a file's index: seconds even for big files
PROBE_S_PER_GB = 10.0              # and a little more per size


def probe(opener: str, path: Path, what: str) -> dict:
    """The child's findings for `path` (a dict), or a one-line UserError naming `what` the file should be.

    `opener` is "module:function" of this package, `(path) -> dict` (a reference, not an import: the
    players import this module); `what` e.g. "RealSense recording".
    """
    path = Path(path)
    try:
        size_gb = path.stat().st_size / 1e9
    except OSError:
        size_gb = 0.0
    timeout = float(os.environ.get("HANDPOSE_LIVE_PROBE_TIMEOUT_S", PROBE_TIMEOUT_S + PROBE_S_PER_GB * size_gb))
    cmd = [sys.executable, "-m", "handpose_live.capture.probe", opener, str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise UserError(f"{path} is not a readable {what} (damaged?): its SDK was still opening it after "
                        f"{timeout:.0f} s and was stopped") from None
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        said = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        detail = said[-1][:120] if said else ""
        raise UserError(f"{path} is not a readable {what} (truncated or corrupt?): its SDK crashed opening it "
                        f"({name}{': ' + detail if detail else ''})")
    lines = proc.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        found = None
    if not isinstance(found, dict):
        detail = " ".join(proc.stderr.split()[-12:]) or f"exit status {proc.returncode}"
        raise UserError(f"{path} is not a readable {what}: the probe of it failed ({detail})")
    if "error" in found:
        raise UserError(str(found["error"]))
    return found


def main(argv: list[str]) -> int:
    """The child: one JSON line, {"error": message} for a file the SDK refused in an orderly way."""
    ref, path = argv
    module, _, name = ref.partition(":")
    try:
        found = getattr(importlib.import_module(f"{__package__}.{module}"), name)(Path(path))
    except UserError as exc:
        found = {"error": str(exc)}
    print(json.dumps(found), flush=True)
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)         # the report is out: no SDK destructor at exit gets a say in the status
