"""Every script in examples/ runs as its docstring says (a few frames of the synthetic camera, which
`camera="auto"` falls back to here)."""
import csv
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose_live.capture.synthetic import SyntheticCamera

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_print_fingertips():
    out = run("print_fingertips.py", 6)
    assert "index" in out and "hand 0" in out


def test_pinch_to_click_osc_runs():
    run("pinch_to_click_osc.py", "127.0.0.1:9", 6)


def test_save_session_csv(tmp_path):
    out = tmp_path / "s.csv"
    run("save_session_csv.py", out, 6)
    rows = list(csv.DictReader(out.open()))
    assert rows and {"handedness", "pinch", "wrist_z_mm"} <= set(rows[0]) and 200 < float(rows[0]["wrist_z_mm"]) < 1200


def test_body_joints():
    out = run("body_joints.py", 4)
    assert out.startswith("joints: head, neck") and "person" in out


@pytest.mark.parametrize("preset", ["d435"])
def test_own_frames(tmp_path, preset):
    frame = next(iter(SyntheticCamera(seed=4, frames=1).frames()))
    png = tmp_path / "depth.png"
    cv2.imwrite(str(png), np.clip(frame.depth_mm, 0, 65535).astype(np.uint16))
    out = run("own_frames.py", png, preset)
    assert "right" in out or "left" in out
