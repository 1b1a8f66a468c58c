import os
import subprocess
import sys

import pytest

from handpose_live import __version__


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "handpose_live", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_every_command():
    out = _cli("--help").stdout
    for command in ("run", "record", "train", "eval", "export-onnx", "bench", "synth", "doctor"):
        assert command in out
    assert __version__


@pytest.mark.slow
def test_doctor_reports_what_run_needs():
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "-m", "handpose_live", "doctor"], capture_output=True, text=True,
                          timeout=120, env=env)   # a headless machine without a runtime dir
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stderr.lower(), proc.stderr   # no third-party noise that reads like a failure
    for component in ("Python", "PyTorch", "ONNX Runtime", "RealSense", "Open3D", "OpenCV", "PyAV"):
        assert component in proc.stdout
    assert "actually loads: " in proc.stdout and "CPU" in proc.stdout
    assert "minimum for `handpose-live run`: present" in proc.stdout


@pytest.mark.slow
def test_unknown_camera_and_bad_numbers_are_one_line():
    proc = _cli("synth", "--count", "0", "--out", "/tmp/never-written")
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    proc = _cli("synth", "--count", "5", "--camera", "no-such-camera", "--out", "/tmp/never-written")
    assert proc.returncode == 2 and "unknown camera preset" in proc.stderr


def test_bench_takes_runs_source_and_model_options():
    """bench's source and model options are run's fields (help, flags, defaults), repeatable where
    bench compares; only the camera and device defaults differ, each saying why in its help."""
    from dataclasses import fields

    from handpose_live.commands.bench import BenchOptions
    from handpose_live.tracker import TrackerOptions

    run = {f.name: f for f in fields(TrackerOptions)}
    bench = {f.name: f for f in fields(BenchOptions)}
    for name in ("input", "intrinsics", "depth_encoding", "target"):
        assert bench[name].metadata == run[name].metadata and bench[name].default == run[name].default
    for name in ("model", "precision", "threads", "backend"):
        assert bench[name].metadata["help"].startswith(run[name].metadata["help"] + "; repeat to compare")
    for name, default in (("camera", "synthetic"), ("device", "cpu")):
        assert bench[name].default == default != run[name].default
        assert bench[name].metadata["help"].startswith(run[name].metadata["help"] + "; bench's default: ")
