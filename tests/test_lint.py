"""The linter (ruff, whole repo) and the type checker (mypy, the inference path and the shared
core listed in pyproject.toml) run with the tests, so CI runs them on every change."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (it is in the [test] extra: pip install -e .[test])")
    return path


def test_ruff():
    proc = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-1000:]


@pytest.mark.slow
def test_mypy():
    """Incremental, its cache in .cache/ (git-ignored): about 9 s on a 2-core machine the first time (torch's own
    modules are not followed: pyproject.toml), a few seconds after; mypy re-checks whatever changed since."""
    proc = subprocess.run([_tool("mypy"), "--cache-dir", str(REPO / ".cache" / "mypy")], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-1000:]
