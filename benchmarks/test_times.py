"""How long the README's two test commands take here: the fast tier and the whole suite.

    .venv/bin/python benchmarks/test_times.py              # both, one after the other
    .venv/bin/python benchmarks/test_times.py --fast-only

The README quotes these times with the machine they were measured on (CPU model, cores, load), which
this script prints beside them: a test suite's duration depends on the machine and on what else runs.
The tiers are defined by the `slow` marker (pyproject.toml); `-p no:cacheprovider` keeps the run from
writing .pytest_cache.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIERS = {"fast": ["-m", "not slow"], "whole": ["-n", "2"]}     # the README's commands (whole: two pytest-xdist workers)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_tier(name: str, log: Path | None = None) -> dict:
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--durations=20", *TIERS[name]],
                          cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if log is not None:
        log.mkdir(parents=True, exist_ok=True)
        (log / f"{name}.txt").write_text(proc.stdout + proc.stderr)
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    return {"tier": name, "command": " ".join(["pytest", *TIERS[name]]), "seconds": round(seconds, 1),
            "minutes": round(seconds / 60, 1), "exit": proc.returncode, "result": last,
            "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fast-only", action="store_true", help="time the fast tier only")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--log", type=Path, help="keep each tier's pytest output here (<tier>.txt: progress, slowest tests)")
    args = ap.parse_args(argv)
    machine = {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()}
    print(f"machine: {machine['cpu']}, {machine['cores']} cores", flush=True)
    rows = []
    for name in (["fast"] if args.fast_only else list(TIERS)):
        row = time_tier(name, args.log)
        rows.append(row)
        print(f"{row['command']:<22} {row['seconds']:7.1f} s ({row['minutes']} min), exit {row['exit']}, load "
              f"{row['load_before']} -> {row['load_after']}: {row['result']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "tiers": rows}, indent=1))
    return max(r["exit"] for r in rows)


if __name__ == "__main__":
    sys.exit(main())
