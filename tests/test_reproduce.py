"""benchmarks/reproduce.py: its registry covers every measured number in the documents, and its
--quick mode (the same steps and code as the full run, small sizes) produces every figure."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import reproduce  # noqa: E402

# A number, possibly a range or list ("5-7", "20 / 40", "10 / 20 / 40"), followed by a unit.
UNIT_NUMBER = re.compile(r"(?<![\w.^])\d[\d,]*(?:\.\d+)?(?:\s*[-/]\s*\d[\d,]*(?:\.\d+)?)*\s*"
                         r"(?:mm|ms|fps|frames/s|%|x|MB|GMAC|min|minutes|hours|s)(?![\w/])")


def normalise(text: str) -> str:
    """Whitespace runs as one space, without markdown bold: how quotes are matched."""
    return " ".join(text.replace("**", "").split())


def _read(file: str) -> str | None:
    path = (REPO / file).resolve()
    return normalise(path.read_text()) if path.is_file() else None


def _quotes() -> dict[str, list[str]]:
    quotes: dict[str, list[str]] = {}
    for fig in reproduce.FIGURES:
        for w in fig.where:
            quotes.setdefault(w.file, []).append(w.quote)
    for file, quote, _ in reproduce.NOT_REGENERATED:
        quotes.setdefault(file, []).append(quote)
    return quotes


def test_registry_is_consistent():
    ids = [f.id for f in reproduce.FIGURES]
    assert len(ids) == len(set(ids)), "figure ids must be unique"
    for fig in reproduce.FIGURES:
        assert fig.step in reproduce.STEP_BY_NAME, fig.id
        assert fig.unit in reproduce.RANGES, fig.id
        assert fig.kind in ("exact", "accuracy", "ratio", "measured", "at_most", "at_least", "no_object"), fig.id
        if fig.kind in ("exact", "accuracy", "ratio", "at_most", "at_least"):
            assert fig.tol is not None and fig.published is not None, fig.id
        for w in fig.where:
            assert w.text is None or normalise(w.text) in normalise(w.quote), f"{fig.id}: {w.text!r} not in its quote"
    assert {f.step for f in reproduce.FIGURES} == set(reproduce.STEP_BY_NAME), "every step measures a figure"


def test_every_quote_is_in_its_document():
    """A quote no longer found means the document changed: update the registry with it."""
    for file, quotes in _quotes().items():
        text = _read(file)
        if text is None:
            assert file.startswith("../shared/"), f"{file} does not exist"
            continue
        missing = [q for q in quotes if normalise(q) not in text]
        assert not missing, f"{file}: quotes not found (document changed?): {missing}"


def test_every_number_with_a_unit_is_registered_or_explained():
    """Each number followed by a unit in the documents lies inside a registered figure's quote or
    a NOT_REGENERATED quote (configuration, target, estimate, training run)."""
    quotes = _quotes()
    unexplained = []
    for file in reproduce.DOCUMENTS:
        text = _read(file)
        assert text is not None, file
        spans = [(m.start(), m.start() + len(q)) for q in map(normalise, quotes.get(file, []))
                 for m in re.finditer(re.escape(q), text)]
        for m in UNIT_NUMBER.finditer(text):
            if not any(a <= m.start() and m.end() <= b for a, b in spans):
                unexplained.append(f"{file}: '{m.group(0)}' in ...{text[max(0, m.start() - 50):m.end() + 20]}...")
    assert not unexplained, ("numbers with units neither registered in benchmarks/reproduce.py FIGURES nor listed "
                             "in NOT_REGENERATED:\n" + "\n".join(unexplained))


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
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    shared = REPO.parent / "shared" / "data"
    cmd = [sys.executable, str(REPO / "benchmarks" / "reproduce.py"), "--quick", "--out", str(out)]
    if (shared / "real-hand-poses").is_dir():
        cmd += ["--shared", str(shared)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=REPO)
    report_path = out / "reproduce.json"
    assert report_path.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads(report_path.read_text()), time.monotonic() - t0


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
    fig = reproduce.F("t.ratio", "backends", "k", "x", 2.0, "ratio", 0.3, cpu="AuthenticAMD")
    monkeypatch.setattr(reproduce, "cpu_vendor", lambda: "AuthenticAMD")
    assert reproduce.judge(fig, 2.1, False)[0] == "ok"
    assert reproduce.judge(fig, 5.8, False)[0] == "off"
    monkeypatch.setattr(reproduce, "cpu_vendor", lambda: "GenuineIntel")
    status, detail = reproduce.judge(fig, 5.8, False)
    assert status == "measured" and "AuthenticAMD" in detail and "GenuineIntel" in detail
    assert reproduce.judge(fig, float("nan"), False)[0] == "out-of-range"
