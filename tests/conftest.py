import compileall
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
# OpenMP threads (PyTorch's) that wait by sleeping, not spinning: with tests running side by side (`-n 2`) the
# cores are shared, and a spinning team burnt about half the CPU of a 2-thread training step measured on a busy
# machine (twice the time). Results do not change (the same threads, the same arithmetic). Set before anything
# loads PyTorch (libgomp reads it once); the commands that tests start inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# The longest tests, longest first: run before the rest, so that under pytest-xdist (`-n 2`, README) the
# other worker works through the many short tests meanwhile and none of these is left running alone at
# the end. None of them shares a module-scoped fixture with a test left behind (that would set it up twice).
FIRST = (
    "tests/test_reproduce.py::test_quick_mode_produces_every_figure",     # the quick reproduction: minutes
    "tests/test_faults.py::test_memory_stays_flat_over_a_long_run",       # 2,000 frames of `run`
    "tests/test_train.py::test_overfit_tiny_set",
    "tests/test_train_cli.py::",       # training processes (DDP; kill -9 and resume), one module fixture: the whole file
)


def pytest_sessionstart(session):
    """The package's bytecode, written once: hundreds of tests start `handpose-live` in a process of its own,
    and where PYTHONDONTWRITEBYTECODE is set (as on these machines) each would compile the package again.
    __pycache__ is git-ignored; a stale file is never used (Python checks it against its source)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        compileall.compile_dir(str(REPO / "handpose_live"), quiet=2)


def pytest_collection_modifyitems(session, config, items):
    """Moves the FIRST tests to the front, in that order; the others keep theirs. The same on every
    xdist worker (they must collect the same order)."""
    def rank(item) -> int:
        return next((i for i, prefix in enumerate(FIRST) if item.nodeid.startswith(prefix)), len(FIRST))
    items.sort(key=rank)      # stable: the order within each rank is kept


@pytest.fixture(scope="session")
def progress(pytestconfig):
    """`progress(line)`: a line on the terminal now, while pytest captures the test's output, so a step of a
    long test (the quick reproduction, several minutes) shows as it happens, without `-s`."""
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    worker = os.environ.get("PYTEST_XDIST_WORKER")   # under pytest-xdist (-n): a worker's terminal output is not shown

    def say(line: str) -> None:
        if worker:       # its stderr is the terminal's: write there, prefixed like xdist's own lines
            if capture is None:
                print(f"[{worker}] {line}" if line else "", file=sys.__stderr__, flush=True)
                return
            with capture.global_and_fixture_disabled():
                print(f"[{worker}] {line}" if line else "", file=sys.stderr, flush=True)
            return
        if reporter is None:
            return
        if capture is None:
            reporter.write_line(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
    return say


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="module")
def xvfb_display():
    """A private X server (Xvfb), as `xvfb-run -a` gives, for the tests that open real windows."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        pytest.skip("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    server.wait(10)
