"""Regenerate every published figure from a clean clone, and compare it with what the docs say.

The registry, benchmarks/figures.json (data: edit it, not this script), lists every measured figure in
README.md, docs/results.md, benchmarks/results.md and the model cards (plus the fault-case count of
docs/reliability.md and the NYU figures `handpose-live eval` reproduces): the step that measures it,
the published value, the tolerance it is held to, and where it is written (file, the number as
written, words it is near). Its not_regenerated list holds the numbers in those documents that are
not measured on the shipped models (configuration, targets, estimates, training runs) and why.
tests/test_reproduce.py checks that each is written where the registry says, and that every number
with a unit in the documents is in one of them. The steps are in benchmarks/reproduce_steps.py.

Usage:
  .venv/bin/python benchmarks/reproduce.py --out reproduce-out/                  # everything (hours)
  .venv/bin/python benchmarks/reproduce.py --quick --out reproduce-out/          # small sizes (CI)
  .venv/bin/python benchmarks/reproduce.py --only hand-model bench-pipeline --out reproduce-out/
  .venv/bin/python benchmarks/reproduce.py --shared ../shared/data --out ...     # + the NYU figures
  .venv/bin/python benchmarks/reproduce.py --list                                # the registry as a table

Each step runs the project's own commands and scripts (`handpose-live synth/record/eval/bench`,
benchmarks/evaluate_shipped.py, backends.py, live_quality.py, reliability.py, ablation.py) as
subprocesses, exactly as printed, and reads their JSON. `--quick` runs the same steps through the
same code with small sizes (Step.sizes: (full, quick)); its values are only checked to be produced,
finite and in range, not compared with the published ones. In `--quick` each Python command starts as
a fork of this process after it has imported PyTorch, Open3D, OpenCV and SciPy once (benchmarks/warm.py:
same command line, environment, streams and exit status, without paying those imports ~30 times);
`--cold` starts fresh processes as the full run does. Steps marked full-only (the fault
suite, the ablation: hours) do not run in `--quick`; the report gives their command.

The report, OUT/reproduce.json (written atomically), holds per figure the published value, the
reproduced value and its status:
  ok / off         within / outside the stated tolerance (accuracy, counts, parameters, and timing
                   RATIOS measured in one run, which is how the docs quote them)
  measured         absolute times, rates and memory: reported as measured, never pass/fail
                   (machine- and load-dependent); also figures not yet published
  produced         --quick: a finite value in range (not compared)
  out-of-range / missing / failed / skipped (full-only, needs --shared, missing optional SDK)
Exit status 0 when no figure is off, out of range, missing or failed.

Datasets are rendered under --data (default OUT/data) with `synth --append`, so reruns and a
quick run followed by a full one reuse what is there; the quick test set is the first frames of
the published one (frames are drawn from (seed, index) alone).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reproduce_steps import REPO, STEP_BY_NAME, STEPS, Context, Step, StepSkipped
from warm import Warm

from handpose_live.fileio import atomic_write_text  # importable: reproduce_steps puts REPO on sys.path

REGISTRY = Path(__file__).resolve().with_name("figures.json")


# ------------------------------------------------------------------------------------------------
# The registry (benchmarks/figures.json)


@dataclass(frozen=True)
class Where:
    file: str                 # relative to the repository root
    text: str                 # the figure as written there: "9.44 mm" (a claim in words: its words)
    near: str | None = None   # words of the same table row or paragraph (its row label, a few words)


@dataclass(frozen=True)
class Figure:
    id: str
    step: str
    key: str               # the step's value that is this figure
    unit: str              # mm, %, ms, fps, x, MB, params, GMAC, peak, fraction, count
    published: Any         # float, list of floats (per joint), or None (not published yet)
    kind: str              # exact | accuracy | ratio | measured | at_most | at_least | no_object
    tol: float | None = None   # exact/accuracy: absolute (unit); ratio: relative; at_most/at_least: the bound
    where: tuple[Where, ...] = ()
    note: str = ""
    cpu: str = ""          # CPU vendor of a ratio whose two sides run different kernels (engines, 2D vs 3D convolutions),
                           # which differ by CPU: compared only on that vendor's CPUs

    def tolerance(self) -> str:
        if self.kind in ("exact", "accuracy"):
            return "exact" if not self.tol else f"+-{self.tol:g} {'points' if self.unit == '%' else self.unit}"
        if self.kind == "ratio":
            return f"+-{(self.tol or 0) * 100:g} % of the ratio"
        if self.kind in ("at_most", "at_least"):
            return f"{'<=' if self.kind == 'at_most' else '>='} {self.tol:g} {self.unit}"
        return {"measured": "reported as measured", "no_object": "no object found"}[self.kind]


@dataclass(frozen=True)
class NotRegenerated:
    """Numbers in a document that are not measurements of the shipped models, and why."""
    file: str
    near: str                  # words of the same table row or paragraph
    numbers: tuple[str, ...]   # as written there
    why: str


def load_registry(path: Path = REGISTRY) -> tuple[tuple[str, ...], list[Figure], list[NotRegenerated]]:
    """(the documents whose numbers must all be registered, the figures, the numbers not regenerated)."""
    data = json.loads(path.read_text())
    figures = [Figure(**{**f, "where": tuple(Where(**w) for w in f.get("where", ()))}) for f in data["figures"]]
    explained = [NotRegenerated(**{**e, "numbers": tuple(e["numbers"])}) for e in data["not_regenerated"]]
    return tuple(data["documents"]), figures, explained


DOCUMENTS, FIGURES, NOT_REGENERATED = load_registry()


# ------------------------------------------------------------------------------------------------

RANGES = {"mm": (0.0, 5000.0), "%": (0.0, 100.0), "ms": (0.0, 1e6), "fps": (0.0, 1e5), "x": (0.0, 1e4),
          "MB": (0.0, 1e6), "params": (1.0, 1e9), "M params": (0.001, 1e3), "GMAC": (0.0, 1e4), "peak": (0.0, 1.0),
          "fraction": (0.0, 1.0), "count": (0.0, 1e6), "min": (0.0, 1e5), "passes": (1.0, 10.0),
          "points": (-100.0, 100.0), "mm diff": (-5000.0, 5000.0)}   # a difference may be negative (int8 better)


def _values(v) -> list[float] | None:
    if v is None:
        return None
    return [float(x) for x in v] if isinstance(v, (list, tuple)) else [float(v)]


def judge(fig: Figure, value, quick: bool) -> tuple[str, str]:
    """(status, detail) of one reproduced value."""
    if fig.kind == "no_object":
        return ("ok" if value is None else ("produced" if quick else "off")), ("no object found" if value is None else "")
    vals = _values(value)
    if not vals:
        return "missing", "the step gave no value"
    lo, hi = RANGES[fig.unit]
    if fig.unit == "%" and fig.kind == "measured":   # CPU percent: up to 100 per core
        hi = 100.0 * (os.cpu_count() or 1)
    bad = [x for x in vals if not math.isfinite(x) or not lo <= x <= hi]
    if bad:
        return "out-of-range", f"{bad[0]!r} outside [{lo:g}, {hi:g}] {fig.unit}"
    if isinstance(fig.published, list) and len(fig.published) != len(vals):
        return "out-of-range", f"{len(vals)} values, {len(fig.published)} published"
    if quick:
        return "produced", ""
    if fig.kind == "measured" or fig.published is None:
        return "measured", ""
    if fig.cpu and fig.cpu != cpu_vendor():
        return "measured", f"published on a {fig.cpu} CPU, this one is {cpu_vendor() or 'unknown'}: not compared"
    pub = _values(fig.published) or []
    if fig.kind in ("exact", "accuracy"):
        worst = max(abs(a - b) for a, b in zip(vals, pub))
        return ("ok" if worst <= (fig.tol or 0) + 1e-9 else "off"), f"|diff| {worst:.4g}"
    if fig.kind == "ratio":
        rel = abs(vals[0] / pub[0] - 1.0)
        return ("ok" if rel <= (fig.tol or 0) else "off"), f"{rel * 100:.0f} % from published"
    if fig.kind == "at_most":
        return ("ok" if vals[0] <= (fig.tol or 0) else "off"), ""
    if fig.kind == "at_least":
        return ("ok" if vals[0] >= (fig.tol or 0) else "off"), ""
    raise ValueError(fig.kind)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, (list, tuple)):
        return f"[{len(v)} values]"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1000):
        return f"{int(v):,}"
    return f"{v:.5g}" if isinstance(v, float) else str(v)


def step_command_lines(step: Step, quick: bool) -> str:
    flags = "--quick " if quick else ""
    return f"python benchmarks/reproduce.py {flags}--only {step.name}" + (" --shared ../shared/data" if step.needs_shared else "")


@functools.cache
def cpu_vendor() -> str:
    """GenuineIntel, AuthenticAMD, ... (Linux), else ''."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    return ""


def machine() -> dict:
    versions = {}
    for pkg in ("torch", "onnxruntime", "onnxruntime-gpu", "openvino", "numpy", "pyrealsense2"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[pkg] = importlib.metadata.version(pkg)
    git = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
        git["dirty"] = bool(status.strip())
    return {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(), "cpu_vendor": cpu_vendor(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(), "packages": versions, "git": git,
            "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None}


def run_steps(steps: list[Step], ctx: Context) -> dict:
    report_steps = {}
    for i, step in enumerate(steps, 1):
        sz = {k: (q if ctx.quick else f) for k, (f, q) in step.sizes.items()}
        entry: dict = {"title": step.title, "sizes": sz, "setup": step.setup, "threads": ctx.threads,
                       "rerun": step_command_lines(step, ctx.quick and not step.full_only)}
        if step.full_only and ctx.quick:
            entry.update(status="skipped", reason="full-only: not run by --quick",
                         command=step_command_lines(step, False), by_hand=list(step.by_hand))
        elif step.needs_shared and ctx.shared is None:
            entry.update(status="skipped", reason="needs --shared DIR (../shared/data)")
        else:
            print(f"[{i}/{len(steps)}] {step.name}: {step.title} {sz}", file=sys.stderr, flush=True)
            ctx.commands, ctx.crashes = [], []
            t0 = time.perf_counter()
            try:
                assert step.run is not None
                entry.update(status="ok", values=step.run(ctx, sz))
            except StepSkipped as exc:
                entry.update(status="skipped", reason=str(exc))
            except Exception as exc:   # one failed step must not lose the others' figures
                entry.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
            entry.update(seconds=round(time.perf_counter() - t0, 1), commands=ctx.commands)
            if ctx.crashes:
                entry["crashed_then_rerun"] = ctx.crashes
            print(f"[{i}/{len(steps)}] {step.name}: {entry['status']} in {entry['seconds']:.0f} s"
                  + (f" ({entry['reason']})" if entry.get("reason") else ""), file=sys.stderr, flush=True)
        report_steps[step.name] = entry
    return report_steps


def figure_rows(steps: dict, quick: bool) -> list[dict]:
    rows = []
    for fig in FIGURES:
        if fig.step not in steps:
            continue
        st = steps[fig.step]
        value = st.get("values", {}).get(fig.key)
        if st["status"] == "ok":
            status, detail = judge(fig, value, quick)
        else:
            status, detail = st["status"], st.get("reason", "")
        rows.append({"id": fig.id, "step": fig.step, "unit": fig.unit, "published": fig.published, "reproduced": value,
                     "kind": fig.kind, "tolerance": fig.tolerance(), "status": status, "detail": detail,
                     "where": [{"file": w.file, "text": w.text, "near": w.near} for w in fig.where], "note": fig.note})
    return rows


BAD = ("off", "out-of-range", "missing", "failed")


def print_table(rows: list[dict], steps: dict) -> None:
    width = max(len(r["id"]) for r in rows) if rows else 10
    print(f"{'figure':<{width}}  {'published':>11}  {'reproduced':>11}  {'unit':<8} status")
    for r in rows:
        print(f"{r['id']:<{width}}  {_fmt(r['published']):>11}  {_fmt(r['reproduced']):>11}  {r['unit']:<8} {r['status']}"
              + (f" ({r['detail']})" if r["detail"] and r["status"] not in ("skipped",) else ""))
    print()
    for name, s in steps.items():
        extra = f"{s.get('seconds', 0):.0f} s" if "seconds" in s else ""
        reason = s.get("reason", "")
        print(f"step {name}: {s['status']} {extra} {reason}".rstrip()
              + (f"; command: {s['command']}" if s.get("command") else ""))


def print_registry() -> None:
    """The registry as markdown: per step its set-up, then its figures."""
    for step in STEPS:
        sizes = ", ".join(f"{k} {f} ({q})" for k, (f, q) in step.sizes.items()) or "-"
        flags = " **full-only**" if step.full_only else " (needs `--shared`)" if step.needs_shared else ""
        print(f"### `{step.name}`{flags}: {step.title}\n")
        print(f"Set-up: {step.setup}; sizes full (quick): {sizes}; {step_command_lines(step, False)}\n")
        for line in step.by_hand:
            print(f"    {line}")
        print("\n| figure | where (text) | published | tolerance |\n|---|---|---|---|")
        for fig in (f for f in FIGURES if f.step == step.name):
            where = "; ".join(f"{w.file}: {w.text}" for w in fig.where) or f"(not published: {fig.note})"
            pub = _fmt(fig.published) if not isinstance(fig.published, list) else f"{len(fig.published)} per-joint values"
            print(f"| {fig.id} | {where.replace('|', '/')} | {pub} {fig.unit} | {fig.tolerance()} |")
        print()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--out", type=Path, help="output folder (reproduce.json, the steps' raw outputs under work/)")
    ap.add_argument("--quick", action="store_true", help="small sizes, same code path; values checked, not compared")
    ap.add_argument("--only", nargs="+", metavar="STEP", help=f"run these steps ({', '.join(STEP_BY_NAME)})")
    ap.add_argument("--shared", type=Path, default=None, help="../shared/data: needed by the nyu-published step")
    ap.add_argument("--data", type=Path, default=None, help="where the synthetic datasets go (default OUT/data)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads of every measurement (the docs' set-up: 2)")
    ap.add_argument("--cold", action="store_true",
                    help="--quick: every command a fresh process (default: forks of a process that has imported "
                         "PyTorch, Open3D, OpenCV; benchmarks/warm.py)")
    ap.add_argument("--list", action="store_true", help="print the figure registry as a markdown table and exit")
    args = ap.parse_args(argv)
    if args.list:
        print_registry()
        return 0
    if args.out is None:
        ap.error("--out is required")
    unknown = [s for s in args.only or [] if s not in STEP_BY_NAME]
    if unknown:
        ap.error(f"unknown step(s) {', '.join(unknown)} (known: {', '.join(STEP_BY_NAME)})")
    if args.shared is not None and not (args.shared / "real-hand-poses").is_dir():
        ap.error(f"--shared {args.shared}: no real-hand-poses/ folder there")
    steps = [s for s in STEPS if not args.only or s.name in args.only]
    out = args.out.resolve()
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    ctx = Context(out=out, data=(args.data or out / "data").resolve(), work=work, quick=args.quick, threads=args.threads,
                  shared=args.shared.resolve() if args.shared else None)
    if args.quick and not args.cold:
        ctx.warm = Warm()
        if not ctx.warm.available:
            print(f"commands start as plain processes: the warm start {ctx.warm.reason}", file=sys.stderr)
            ctx.warm = None
    ctx.data.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    before = machine()
    step_reports = run_steps(steps, ctx)
    rows = figure_rows(step_reports, args.quick)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    report = {"mode": "quick" if args.quick else "full", "started": started.isoformat(timespec="seconds"),
              "duration_s": round(time.perf_counter() - t0, 1), "command": " ".join(sys.argv),
              "machine": before, "load_average_after": machine()["load_average"],
              "summary": counts, "steps": step_reports, "figures": rows,
              "not_regenerated": [{"file": e.file, "near": e.near, "numbers": list(e.numbers), "why": e.why}
                                  for e in NOT_REGENERATED]}
    atomic_write_text(out / "reproduce.json", json.dumps(report, indent=1))
    print_table(rows, step_reports)
    print(f"\n{len(rows)} figures: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
          + f"; {report['duration_s']:.0f} s; report {out / 'reproduce.json'}")
    return 1 if any(r["status"] in BAD for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
