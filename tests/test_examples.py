"""Every script in examples/ runs as its docstring says (a few frames of the synthetic camera, which
`camera="auto"` falls back to here), from any folder (each runs in a temporary one, not the repository),
and prints numbers rounded for people."""
import csv
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose_live.capture.synthetic import SyntheticCamera

pytestmark = pytest.mark.slow      # each example runs as a script in its own process

ROOT = Path(__file__).resolve().parents[1]


UNROUNDED = re.compile(r"\d\.\d{4,}")      # 0.97 or 123.4 is for people; 0.9713462 or 123.4567 is not


def run(script: str, *args, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not UNROUNDED.search(proc.stdout), proc.stdout[:2000]
    return proc.stdout


def test_print_fingertips(tmp_path):
    out = run("print_fingertips.py", 6, cwd=tmp_path)
    assert "index" in out and "hand 0" in out


def test_pinch_to_click_osc_runs(tmp_path):
    run("pinch_to_click_osc.py", "127.0.0.1:9", 6, cwd=tmp_path)


def test_save_session_csv(tmp_path):
    out = tmp_path / "s.csv"
    run("save_session_csv.py", out, 6, cwd=tmp_path)
    rows = list(csv.DictReader(out.open()))
    assert rows and {"handedness", "pinch", "wrist_z_mm"} <= set(rows[0]) and 200 < float(rows[0]["wrist_z_mm"]) < 1200


def test_body_joints(tmp_path):
    out = run("body_joints.py", 4, cwd=tmp_path)
    assert out.startswith("joints: head, neck") and "person" in out


@pytest.mark.parametrize("preset", ["d435"])
def test_own_frames(tmp_path, preset):
    frame = next(iter(SyntheticCamera(seed=4, frames=1).frames()))
    png = tmp_path / "depth.png"
    cv2.imwrite(str(png), np.clip(frame.depth_mm, 0, 65535).astype(np.uint16))
    out = run("own_frames.py", png, preset, cwd=tmp_path)     # not the repository: the model is found through the package
    assert "right" in out or "left" in out
    assert re.search(r"index tip at x -?\d+ y -?\d+ z \d+ mm", out), out
