"""The command line as a user types it: help that shows every option whole, body recordings that
replay, `--frames` on a long recording, the saved video, no third-party noise on a headless
machine, and an install without setuptools warnings."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow      # the real command in its own process, as a user runs it

REPO = Path(__file__).resolve().parents[1]
SIZE = ("--width", "320", "--height", "240")   # small recordings: quick to write and replay


def cli(*args, env=None, check_rc: int | None = 0, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "handpose_live", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def headline(stderr: str) -> str:
    """The summary's first line: 'N frames processed (I in, D dropped), F fps over the whole run, <subject> found in K'."""
    lines = [line for line in stderr.splitlines() if "frames processed" in line]
    assert len(lines) == 1, stderr
    return lines[0]


# ---- help ------------------------------------------------------------------------------------

def _commands():
    from typer.main import get_command

    from handpose_live.commands.cli import app
    group = get_command(app)
    return group, list(group.commands)


def _check_help(name: str, text: str, columns: int, command) -> None:
    assert "<bool>" not in text and "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= columns, text
    if not name:
        assert "..." not in text.split("Commands:")[1], text          # each command's summary whole
    for param in command.params:
        for flag in [*param.opts, *param.secondary_opts]:
            if flag.startswith("-"):
                assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), f"{name}: {flag} cut\n{text}"


def test_help_shows_every_option_whole_and_flags_bare():
    """Every command's help at 80 columns (the width click's test runner forces) and, as typed in
    a 100-column terminal, run/train/bench: option names whole, flags without `<bool>`, lines
    that use (and keep to) the width, help texts verbatim (brackets are not taken for markup)."""
    from typer.testing import CliRunner

    from handpose_live.commands.cli import app
    group, names = _commands()
    assert {"run", "train", "bench", "record"} <= set(names)
    for name in ["", *names]:
        res = CliRunner().invoke(app, [*([name] if name else []), "--help"])
        assert res.exit_code == 0, res.output
        _check_help(name, res.stdout, 80, group.commands[name] if name else group)
    env = {**os.environ, "COLUMNS": "100"}
    for name in ("", "run", "train", "bench"):
        text = cli(*([name] if name else []), "--help", env=env).stdout
        _check_help(name, text, 100, group.commands[name] if name else group)
        if name == "train":
            assert max(len(line) for line in text.splitlines()) > 80              # the width is used
            assert re.search(r"--resume +continue the run", text)                 # a flag: no metavar
            assert re.search(r"--epochs <int> ", text)                            # typed elsewhere
    assert "indexed [x, y, z]" in CliRunner().invoke(app, ["export-onnx", "--help"]).stdout
    run_help = CliRunner().invoke(app, ["run", "--help"]).stdout
    assert re.search(r"--output <path>\.\.\. ", run_help) and "list[" not in run_help    # repeatable, said so


def test_output_repeats_and_one_file_is_named_once(tmp_path):
    """`run --output a.jsonl --output a.bvh` writes both (click kept only the last, silently); the same file
    twice, or --mcap-depth without an .mcap among them, is one line; the Python API still takes one path."""
    from handpose_live.commands.run import RunOptions
    from handpose_live.errors import UserError

    assert RunOptions(output=tmp_path / "a.jsonl").output == [tmp_path / "a.jsonl"]
    assert RunOptions(output=[tmp_path / "a.jsonl", "b.mcap"], mcap_depth=True).output[1] == Path("b.mcap")
    with pytest.raises(UserError, match="given twice"):
        RunOptions(output=[tmp_path / "a.jsonl", tmp_path / "x" / ".." / "a.jsonl"])
    with pytest.raises(UserError, match="applies to --output FILE.mcap"):
        RunOptions(output=[tmp_path / "a.jsonl"], mcap_depth=True)
    # both files of one run: tests/test_bvh.py::test_blender_imports_the_take_with_its_bones_frames_and_joints


# ---- record --target body, replayed by run --target body -----------------------------------

def test_body_recording_replays_as_a_body_run(tmp_path):
    """`record --target body` films a person; `run --target body` replays it and says what it
    tracked ('person found'); the records carry no hand fields; the headline stays one line in a
    narrow terminal."""
    rec = tmp_path / "body.db3"
    proc = cli("record", "--camera", "synthetic", "--target", "body", "--frames", 12, *SIZE, "--out", rec)
    assert proc.stdout.startswith(f"wrote {rec}: 12 depth frames 320x240") and proc.stderr == ""
    out = tmp_path / "body.jsonl"
    proc = cli("run", "--target", "body", "--input", rec, "--viewer", "none", "--output", out,
               env={**os.environ, "COLUMNS": "60"})
    line = headline(proc.stderr)
    assert line.startswith("12 frames processed (12 in, 0 dropped)") and "person found in" in line
    text = out.read_text()
    assert "hand_found" not in text and '"hands"' not in text
    records = [json.loads(r) for r in text.splitlines()]
    frames = [r for r in records if "frame" in r]                  # a stream header may come first
    assert len(frames) == 12
    assert sum(bool(r.get("people")) for r in frames) >= 10        # the person is found
    assert int(line.rsplit(" ", 1)[1]) >= 10
    proc = cli("record", "--target", "paw", "--frames", 3, "--out", tmp_path / "x.db3", check_rc=2)
    assert proc.stderr == "error: unknown target 'paw' (hand, body)\n" and not (tmp_path / "x.db3").exists()


# ---- --frames N on a longer recording, and the video of it ----------------------------------

@pytest.fixture(scope="module")
def long_recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.db3"
    cli("record", "--camera", "synthetic", "--frames", 120, *SIZE, "--out", path)
    return path


def test_frames_stops_a_long_recording_at_once_with_the_loop_fps(tmp_path, long_recording):
    """`--frames 5` on a 120-frame recording: done as soon as 5 frames are processed (stopping
    playback early used to cost librealsense's 10 s pause timeout), and the fps is frames over the
    loop's time, not over the time the source took to stop. The video holds those 5 frames in
    H.264, each at its recorded time."""
    av = pytest.importorskip("av")
    video = tmp_path / "five.mp4"
    t0 = time.perf_counter()
    proc = cli("run", "--input", long_recording, "--frames", 5, "--viewer", "none", "--save-video", video)
    elapsed = time.perf_counter() - t0
    line = headline(proc.stderr)
    assert line.startswith("5 frames processed (")
    fps = float(re.search(r"([\d.]+) fps", line).group(1))
    assert elapsed < 9.0, f"{elapsed:.1f} s for 5 frames"
    assert fps > 2 * 5 / elapsed, line            # over the loop only (startup and stop excluded)
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * f.time_base) for f in container.decode(stream)]
        assert stream.codec_context.name == "h264"
    assert times == pytest.approx([i / 30 for i in range(5)], abs=2e-3)   # recorded at 30 fps


def test_bench_json_is_a_list_even_for_one_configuration(capsys):
    """One model, one thread count: still a list of one, the same shape as a comparison."""
    from handpose_live.commands.bench import BenchOptions, bench_cli
    from handpose_live.resources import default_model

    bench_cli(BenchOptions(model=[default_model("hand")], frames=3, threads=[1], as_json=True))
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert isinstance(out, list) and len(out) == 1 and out[0]["frames"] == 3 and "stages_ms" in out[0]


# ---- no third-party noise on a headless machine ---------------------------------------------

NOISE = re.compile(r"qt|qfont|font|xdg_runtime_dir|warning|error|glfw|traceback", re.IGNORECASE)


def _quiet_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("XDG_RUNTIME_DIR", "DISPLAY", "WAYLAND_DISPLAY", "QT_LOGGING_RULES")}
    return {**env, **extra}


def test_opencv_viewer_run_prints_only_our_lines(tmp_path, xvfb_display):
    """`run --viewer opencv` in an X server (Qt would warn about missing fonts) and without one,
    neither with a runtime dir: stdout and stderr hold only our own lines."""
    for env, extra in ((_quiet_env(DISPLAY=xvfb_display), ()), (_quiet_env(), ("--screenshot", tmp_path / "s.png"))):
        proc = cli("run", "--camera", "synthetic", "--frames", 8, "--viewer", "opencv", *extra, env=env)
        ours = [line for line in (proc.stdout + proc.stderr).splitlines()
                if not line.startswith(("source: ", "viewer: ", "mean joint error")) and "frames processed" not in line
                and not re.match(r"^[\s┏┃┡│└━┳╇┻┩┗┛┓┫┣─]", line)]
        assert ours == [], proc.stdout + proc.stderr
        assert not NOISE.search(proc.stdout + proc.stderr.replace("mean joint error", "")), proc.stderr
    assert (tmp_path / "s.png").is_file()


def test_doctor_in_an_x_server_prints_only_our_lines(xvfb_display):
    proc = cli("doctor", env=_quiet_env(DISPLAY=xvfb_display))
    assert proc.stderr == "", proc.stderr
    assert not re.search(r"qfont|xdg_runtime_dir|glfw", proc.stdout, re.IGNORECASE), proc.stdout


# ---- packaging -------------------------------------------------------------------------------

def test_pyproject_license_is_an_spdx_expression_setuptools_reads_without_warning():
    """`project.license` as a table made setuptools warn three times on every install; the SPDX
    string form needs setuptools >= 77, which [build-system] asks for."""
    import tomllib

    setuptools = pytest.importorskip("setuptools")
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert isinstance(pyproject["project"]["license"], str)
    requires = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    assert requires and int(re.search(r">=\s*(\d+)", requires[0]).group(1)) >= 77
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} here predates the SPDX form")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), REPO / "pyproject.toml")
    assert not [w for w in caught if "licen" in str(w.message).lower()], [str(w.message) for w in caught]
    assert dist.metadata.license_expression == pyproject["project"]["license"]


def test_a_bad_input_is_reported_before_the_model_loads(tmp_path):
    """`run` opens its source before the model: with both missing, the input is the one line (in well under
    a second here, where loading the model first took 2-4 s)."""
    proc = cli("run", "--input", tmp_path / "missing.bag", "--model", tmp_path / "missing.onnx", "--viewer", "none",
               check_rc=2)
    assert proc.stderr.strip().splitlines() == [f"error: recording not found: {tmp_path / 'missing.bag'}"]


def test_a_missing_input_is_said_missing_whatever_other_options_came_with_it(tmp_path):
    """`--input` naming no file and no folder: 'input not found', not the refusal of an option a recording would not
    take (a missing file with a recording's suffix is 'recording not found' or its own reader's error)."""
    from handpose_live.capture.sources import open_source
    from handpose_live.errors import UserError

    for path in (tmp_path / "nothing", tmp_path / "bag-folder"):
        for kw in ({}, {"intrinsics": "sr305"}, {"depth_encoding": "raw"}):
            with pytest.raises(UserError, match="input not found"):
                open_source(input_path=path, **kw)
