"""Before and after a change: `handpose-live bench` of another commit and of this checkout, alternating.

A speed-up that comes from code (not from a model file that `bench --model` could compare in
one process) needs the old code running beside the new. This checks the base commit out into a
temporary git worktree, then runs the same `bench ... --json` command there and here, in turn,
`--rounds` times each (so both see the same machine load), and reports per side the median over
rounds of the end-to-end p50 and of each stage's p50, and the ratio base / here.

Usage: .venv/bin/python benchmarks/ab_commits.py --base 91755f7 --rounds 3 -- --target body --frames 300
(everything after `--` goes to `handpose-live bench`; `--json` is added). The shipped models of
each side are its own (a model file added later does not exist at the base).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def bench(tree: Path, args: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run([sys.executable, "-m", "handpose_live", "bench", *args, "--json"], cwd=tree, env=env,
                          text=True, capture_output=True)
    if proc.returncode:
        raise SystemExit(f"error: bench failed in {tree}: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])[0]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="commit (or tag, branch) to compare against")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    runs: dict[str, list[dict]] = {"base": [], "here": []}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.base], cwd=REPO, check=True,
                       capture_output=True)
        try:
            for r in range(args.rounds):
                for side, where in (("base", tree), ("here", REPO)):
                    runs[side].append(bench(where, rest))
                    print(f"round {r + 1}/{args.rounds} {side}: {runs[side][-1]['latency_ms']['p50']:.2f} ms p50",
                          file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)
    out: dict = {"base": args.base, "bench_args": rest, "rounds": args.rounds, "sides": {}}
    for side, rows in runs.items():
        stages = sorted({k for r in rows for k in r["stages_ms"]})
        out["sides"][side] = {"e2e_p50_ms": float(np.median([r["latency_ms"]["p50"] for r in rows])),
                              "fps": float(np.median([r["fps"] for r in rows])),
                              "model": rows[0]["label"],
                              "stages_p50_ms": {k: float(np.median([r["stages_ms"][k]["p50"] for r in rows
                                                                    if k in r["stages_ms"]])) for k in stages}}
    b, h = out["sides"]["base"], out["sides"]["here"]
    out["speedup_e2e"] = b["e2e_p50_ms"] / h["e2e_p50_ms"]
    print(json.dumps(out, indent=2))
    if args.json:
        from handpose_live.fileio import atomic_write_text
        atomic_write_text(args.json, json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
