"""Run the fault-injection suite (tests/test_faults.py) and write docs/reliability.md from it.

Usage: .venv/bin/python benchmarks/reliability.py [--out docs/reliability.md]

The table has one row per test: its docstring's first line "case -> expected" (handed over as a
junit property by the suite itself) and what was observed: pass or fail, the duration, and
whatever the test reported through `observe(...)`. So adding a case to the table is writing a
test. The page is written atomically; the exit status is pytest's.
"""
from __future__ import annotations

import argparse
import datetime as dt
import platform
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handpose_live.fileio import atomic_write_text  # noqa: E402

SUITE = "tests/test_faults.py"
# Cases that live beside the code they check, run with the suite for the table.
EXTRA = ["tests/test_train_cli.py::test_kill_9_mid_epoch_then_resume_is_exact"]

INTRO = """\
The project's reliability policy, checked case by case:

- bad input gets one line `error: ...` on stderr and exit status 2, never a traceback;
- nothing the user recorded is lost;
- streamed outputs (`run --output` records) are written under their own name as they go: a
  kill, even SIGKILL, or a full disk leaves every completed record readable there (at most the
  last line cut);
- whole artefacts (models, checkpoints, reports, screenshots, `--save-video` videos, recordings,
  shards) are written atomically (`handpose_live/fileio.py`): the old version or the new one, never half a file;
- Ctrl-C and SIGTERM stop `run` cleanly: sinks closed, the summary printed, exit 130;
- a recording is first opened by its SDK in a child process under a time limit (`capture/probe.py`):
  an SDK that aborts or hangs on a damaged file costs one line and exit 2, and Ctrl-C works; frames
  a recording lists but cannot deliver are reported (`warning: N of M depth frames ... unreadable`,
  `--strict`: exit 2); a recording cut short by a full disk is kept, and the true count said;
- a record file is locked while a run writes it (a second run onto it is refused); a FIFO is never
  opened blocking; checkpoints are checked (every zip entry's CRC) before torch loads them.

Each row is one test of `tests/test_faults.py`, plus the exact-resume test of
`tests/test_train_cli.py` (real processes, real signals, a real ENOSPC
from /dev/full, a real file-size limit, real permission bits); the case and the expectation are
the first line of its docstring. Add a case by adding a test there, then rerun the command below.
"""


def _cell(text: str) -> str:
    text = re.sub(r"/\S*/pytest-\d+/[^/\s]+/", "<tmp>/", str(text))     # pytest's temp folders: noise
    return " ".join(text.split()).replace("|", "\\|")


def _rows(junit: Path) -> list[dict]:
    rows = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        line = props.get("case") or case.get("name")
        what, _, expected = line.partition("->")
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        seconds = float(case.get("time") or 0.0)
        if bad is not None:
            message = (bad.get("message") or bad.text or "").strip().splitlines()
            status = f"**fail** ({seconds:.1f} s): {message[0] if message else 'see pytest output'}"
        elif skipped is not None:
            status = f"skipped: {skipped.get('message') or ''}"
        else:
            status = f"pass ({seconds:.1f} s)"
            if props.get("observed"):
                status += f": {props['observed']}"
        rows.append({"case": what.strip(), "expected": expected.strip() or "(no expectation written)",
                     "observed": status, "ok": bad is None, "test": case.get("name")})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "reliability.md")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        junit = Path(tmp) / "faults.xml"
        pytest_cmd = [sys.executable, "-m", "pytest", SUITE, *EXTRA, "-q", "-p", "no:cacheprovider",
                      f"--junitxml={junit}", "-o", "junit_family=xunit1"]
        started = dt.datetime.now(dt.timezone.utc)
        proc = subprocess.run(pytest_cmd, cwd=REPO)
        if not junit.is_file():
            print(f"pytest wrote no report (exit {proc.returncode})", file=sys.stderr)
            return proc.returncode or 1
        rows = _rows(junit)

    passed = sum(r["ok"] for r in rows)
    lines = [
        "# Reliability: fault-injection results",
        "",
        INTRO,
        f"Produced {started:%Y-%m-%d %H:%M} UTC by `.venv/bin/python benchmarks/reliability.py` "
        f"(runs `python -m pytest {SUITE} --junitxml=...`) on {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}: **{passed} of {len(rows)} cases as expected**.",
        "",
        "| case | expected | observed |",
        "|---|---|---|",
    ]
    lines += [f"| {_cell(r['case'])} | {_cell(r['expected'])} | {_cell(r['observed'])} |" for r in rows]
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out}: {passed} of {len(rows)} cases as expected")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
