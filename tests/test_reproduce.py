"""benchmarks/reproduce.py: its registry (benchmarks/figures.json) ties each figure to the documents by
number, not by wording: each place a figure is written names the file, the number as written and
words of the same table row or paragraph, so prose around a number can be reworded freely while a
changed number fails here. Every number with a unit in the documents must be one of the registry's
(or listed as not regenerated, with why). The --quick run (the same steps and code as the full run,
small sizes) must produce every figure."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import reproduce  # noqa: E402

# A number, possibly a range or list ("5-7", "20 / 40", "10 / 20 / 40"), followed by a unit.
UNIT_NUMBER = re.compile(r"(?<![\w.^])\d[\d,]*(?:\.\d+)?(?:\s*[-/]\s*\d[\d,]*(?:\.\d+)?)*\s*"
                         r"(?:mm|ms|fps|frames/s|%|x|MB|GMAC|min|minutes|hours|s)(?![\w/])")
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
# Lines that start a block of their own: table rows, headings, list items.
BLOCK_START = re.compile(r"\s*(\||#|[-*+] |\d+\. )")


def normalise(text: str) -> str:
    """Whitespace runs as one space, without markdown bold: how texts and their words are matched."""
    return " ".join(text.replace("**", "").split())


def blocks(text: str) -> list[str]:
    """The document's paragraphs, list items, headings and table rows, each normalised: a number
    and the words it is near must be in one of them."""
    out: list[str] = []
    lines: list[str] = []
    for line in text.splitlines():
        if not line.strip() or BLOCK_START.match(line) or (lines and lines[0].lstrip().startswith(("|", "#"))):
            if lines:
                out.append(normalise(" ".join(lines)))
            lines = [line] if line.strip() else []
        else:
            lines.append(line)
    if lines:
        out.append(normalise(" ".join(lines)))
    return out


def located(doc: list[str], text: str, near: str | None) -> list[tuple[int, int, int]]:
    """(block, start, end) of each occurrence of `text` in a block that holds `near` (any block without it)."""
    text = normalise(text)
    return [(i, m.start(), m.end()) for i, block in enumerate(doc) if near is None or normalise(near) in block
            for m in re.finditer(re.escape(text), block)]


def _doc(file: str) -> list[str] | None:
    path = (REPO / file).resolve()
    return blocks(path.read_text()) if path.is_file() else None


def _written() -> dict[str, list[tuple[str, str | None, str]]]:
    """file -> (text, near, whose) for every place the registry says a number is written."""
    places: dict[str, list[tuple[str, str | None, str]]] = {}
    for fig in reproduce.FIGURES:
        for w in fig.where:
            places.setdefault(w.file, []).append((w.text, w.near, fig.id))
    for e in reproduce.NOT_REGENERATED:
        for number in e.numbers:
            places.setdefault(e.file, []).append((number, e.near, f"not regenerated ({e.why})"))
    return places


def test_registry_is_consistent():
    ids = [f.id for f in reproduce.FIGURES]
    assert len(ids) == len(set(ids)), "figure ids must be unique"
    for fig in reproduce.FIGURES:
        assert fig.step in reproduce.STEP_BY_NAME, fig.id
        assert fig.unit in reproduce.RANGES, fig.id
        assert fig.kind in ("exact", "accuracy", "ratio", "measured", "at_most", "at_least", "no_object"), fig.id
        if fig.kind in ("exact", "accuracy", "ratio", "at_most", "at_least"):
            assert fig.tol is not None and fig.published is not None, fig.id
        assert all(w.file and normalise(w.text) for w in fig.where), fig.id
    assert {f.step for f in reproduce.FIGURES} == set(reproduce.STEP_BY_NAME), "every step measures a figure"
    for e in reproduce.NOT_REGENERATED:
        assert e.file and normalise(e.near) and e.numbers and e.why, e


def test_every_figure_is_written_where_the_registry_says():
    """A number no longer found near its words means the document changed: update benchmarks/figures.json."""
    for file, places in _written().items():
        doc = _doc(file)
        if doc is None:
            assert file.startswith("../shared/"), f"{file} does not exist"
            continue
        missing = [f"{whose}: {text!r} near {near!r}" for text, near, whose in places if not located(doc, text, near)]
        assert not missing, f"{file}: numbers not found near their words (document changed?):\n" + "\n".join(missing)


def test_every_number_with_a_unit_is_registered_or_explained():
    """Each number followed by a unit in the documents is, number by number, a text of the registry
    written near its words: a figure's, or a not-regenerated one's (configuration, target, estimate,
    training run)."""
    places = _written()
    unexplained = []
    for file in reproduce.DOCUMENTS:
        doc = _doc(file)
        assert doc is not None, file
        spans: dict[int, list[tuple[int, int]]] = {}
        for text, near, _ in places.get(file, []):
            for i, start, end in located(doc, text, near):
                spans.setdefault(i, []).append((start, end))
        for i, block in enumerate(doc):
            for m in UNIT_NUMBER.finditer(block):
                if not all(any(a <= m.start() + n.start() and m.start() + n.end() <= b for a, b in spans.get(i, ()))
                           for n in NUMBER.finditer(m.group(0))):
                    unexplained.append(f"{file}: '{m.group(0)}' in ...{block[max(0, m.start() - 50):m.end() + 20]}...")
    assert not unexplained, ("numbers with units neither figures in benchmarks/figures.json nor listed in its "
                             "not_regenerated:\n" + "\n".join(unexplained))


def test_a_figure_is_found_by_its_number_whatever_the_wording():
    before = blocks("| mean joint error | 9.44 mm | 14.29 mm |\n\nThe hand model scores 9.44 mm on\nthe test set.\n")
    reworded = blocks("| mean joint error | 9.44 mm | 14.29 mm |\n\nOn the held-out set the hand model\nreaches 9.44 mm.\n")
    changed = blocks("| mean joint error | 9.51 mm | 14.29 mm |\n\nThe hand model scores 9.51 mm.\n")
    assert located(before, "9.44 mm", "| mean joint error |") == [(0, 21, 28)]
    assert located(before, "9.44 mm", "hand model") and located(reworded, "9.44 mm", "hand model")
    assert not located(changed, "9.44 mm", "hand model") and not located(changed, "9.44 mm", "| mean joint error |")
    assert not located(before, "14.29 mm", "hand model")     # written, but not in the paragraph of its words


def test_judging():
    fig = reproduce.Figure("t", "hand-model", "k", "mm", 9.56, "accuracy", 0.05)
    assert reproduce.judge(fig, 9.6, quick=False)[0] == "ok"
    assert reproduce.judge(fig, 9.7, quick=False)[0] == "off"
    assert reproduce.judge(fig, 99.0, quick=True)[0] == "produced"      # quick: not compared
    assert reproduce.judge(fig, float("nan"), quick=True)[0] == "out-of-range"
    assert reproduce.judge(fig, None, quick=True)[0] == "missing"
    timing = reproduce.Figure("t", "bench-pipeline", "k", "ms", 7.2, "measured")
    assert reproduce.judge(timing, 70.0, quick=False)[0] == "measured"   # absolute times: never pass/fail
    ratio = reproduce.Figure("t", "backends", "k", "x", 91.0, "ratio", 0.3)
    assert reproduce.judge(ratio, 70.0, quick=False)[0] == "ok"
    assert reproduce.judge(ratio, 50.0, quick=False)[0] == "off"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, progress):
    """reproduce.py --quick, its step lines ("[3/18] detection: ...", "... ok in 12 s") shown as they come."""
    out = tmp_path_factory.mktemp("reproduce")
    shared = REPO.parent / "shared" / "data"
    cmd = [sys.executable, str(REPO / "benchmarks" / "reproduce.py"), "--quick", "--out", str(out)]
    if (shared / "real-hand-poses").is_dir():
        cmd += ["--shared", str(shared)]
    t0 = time.monotonic()
    stderr: list[str] = []
    with open(out / "stdout.txt", "w+") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=REPO)
        watchdog = threading.Timer(900, proc.kill)      # a hung step fails the test, not the suite
        watchdog.start()
        try:
            assert proc.stderr is not None
            progress("")
            for line in proc.stderr:          # ends when reproduce.py does
                stderr.append(line)
                if line.startswith("["):
                    progress(f"    reproduce.py --quick {line.rstrip()} ({time.monotonic() - t0:.0f} s)")
            proc.wait(timeout=60)
        finally:
            watchdog.cancel()
        stdout.seek(0)
        result = subprocess.CompletedProcess(cmd, proc.returncode, stdout.read(), "".join(stderr))
    report_path = out / "reproduce.json"
    assert report_path.is_file(), result.stdout[-3000:] + result.stderr[-3000:]
    return result, json.loads(report_path.read_text()), time.monotonic() - t0


@pytest.mark.slow
def test_quick_mode_produces_every_figure(quick_run):
    proc, report, seconds = quick_run
    print(proc.stdout)
    print(f"reproduce.py --quick: {seconds:.0f} s")
    assert report["mode"] == "quick"
    steps = report["steps"]
    assert set(steps) == set(reproduce.STEP_BY_NAME)
    for name, step in steps.items():
        definition = reproduce.STEP_BY_NAME[name]
        if definition.full_only:
            assert step["status"] == "skipped" and "--only " + name in step["command"], name
        elif definition.needs_shared and step["status"] == "skipped":
            assert not (REPO.parent / "shared" / "data" / "real-hand-poses").is_dir(), name
        elif name == "kinect-mkv" and step["status"] == "skipped":
            assert "Azure Kinect SDK" in step["reason"]
        else:
            assert step["status"] == "ok", f"{name}: {step.get('reason')}"
            assert step["sizes"] == {k: q for k, (_, q) in definition.sizes.items()}, name   # the quick sizes
    rows = {r["id"]: r for r in report["figures"]}
    assert set(rows) == {f.id for f in reproduce.FIGURES}
    for fig in reproduce.FIGURES:
        row = rows[fig.id]
        if steps[fig.step]["status"] == "skipped":
            assert row["status"] == "skipped", fig.id
        else:
            assert row["status"] == "produced" or (fig.kind == "no_object" and row["status"] == "ok"), \
                f"{fig.id}: {row['status']} {row['detail']} (value {row['reproduced']!r})"
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "figures:" in proc.stdout and "published" in proc.stdout      # the table was printed


def test_a_cpu_specific_ratio_is_compared_only_on_its_vendors_cpus(monkeypatch):
    """Ratios between kernels that differ by CPU (engines, 2D vs 3D convolutions) carry the vendor they
    were measured on: judged there, reported as measured elsewhere, never silently passed."""
    fig = reproduce.Figure("t.ratio", "backends", "k", "x", 2.0, "ratio", 0.3, cpu="AuthenticAMD")
    monkeypatch.setattr(reproduce, "cpu_vendor", lambda: "AuthenticAMD")
    assert reproduce.judge(fig, 2.1, False)[0] == "ok"
    assert reproduce.judge(fig, 5.8, False)[0] == "off"
    monkeypatch.setattr(reproduce, "cpu_vendor", lambda: "GenuineIntel")
    status, detail = reproduce.judge(fig, 5.8, False)
    assert status == "measured" and "AuthenticAMD" in detail and "GenuineIntel" in detail
    assert reproduce.judge(fig, float("nan"), False)[0] == "out-of-range"


WARM_DRIVER = r"""
import json, os, sys, tempfile, threading
sys.path.insert(0, sys.argv[1])
from warm import Warm
warm = Warm()
kept = tempfile.TemporaryDirectory()          # the parent's: a child's exit must not remove it
script = os.path.join(kept.name, "child.py")
with open(script, "w") as f:
    f.write(sys.argv[2])
env = dict(os.environ, WARM_TEST="from-the-request")
out = {"available": warm.available, "reason": warm.reason, "runs": {}}
for case in ("ok", "code", "message", "raise", "atexit"):
    for how in ("fork", "subprocess"):
        argv = [sys.executable, script, case, "two words"]
        if how == "fork":
            code, stdout = warm.run(argv, kept.name, env, capture=True)
        else:
            import subprocess
            proc = subprocess.run(argv, cwd=kept.name, env=env, capture_output=True, text=True)
            code, stdout = proc.returncode, proc.stdout
        out["runs"][f"{case}/{how}"] = [code, stdout]
out["kept"] = os.path.isdir(kept.name)
threading.Thread(target=threading.Event().wait, args=(5,), daemon=True).start()
out["with_a_thread"] = warm.run([sys.executable, script, "ok"], kept.name, env, capture=True)
print(json.dumps(out))
"""

WARM_CHILD = r"""
import atexit, os, sys
case = sys.argv[1]
print("argv", sys.argv[1:], "cwd", os.path.basename(os.getcwd()) == os.path.basename(os.path.dirname(__file__)),
      "env", os.environ.get("WARM_TEST"), "path0", sys.path[0] == os.path.dirname(os.path.abspath(__file__)),
      "main", __name__)
if case == "code":
    sys.exit(3)
if case == "message":
    sys.exit("error: a message")
if case == "raise":
    raise ValueError("boom")
if case == "atexit":
    atexit.register(lambda: print("own exit function ran", flush=True))
"""


@pytest.mark.slow
def test_a_warm_fork_runs_a_command_as_its_subprocess_would(tmp_path):
    """benchmarks/warm.py (the quick reproduction's start): a command run as a fork gives the same standard output
    and exit status as the same command as a subprocess (exit codes, sys.exit with a message, an exception, its own
    atexit functions), sees the request's environment and folder, leaves the parent's temporary folder alone, and
    is refused (None: run it as a subprocess) once the parent has a thread."""
    proc = subprocess.run([sys.executable, "-c", WARM_DRIVER, str(REPO / "benchmarks"), WARM_CHILD],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["available"], out["reason"]
    for case, code in (("ok", 0), ("code", 3), ("message", 1), ("raise", 1), ("atexit", 0)):
        forked, plain = out["runs"][f"{case}/fork"], out["runs"][f"{case}/subprocess"]
        assert forked == plain and forked[0] == code, (case, forked, plain)
        assert "['" + case + "', 'two words'] cwd True env from-the-request path0 True main __main__" in forked[1]
    assert "own exit function ran" in out["runs"]["atexit/fork"][1]
    assert "ValueError: boom" in proc.stderr and "error: a message" in proc.stderr
    assert out["kept"]
    assert out["with_a_thread"] is None
