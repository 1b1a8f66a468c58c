"""Fault injection: what a user sees when things go wrong, tested as the user meets it.

Real signals to a real `handpose-live` process, a real ENOSPC (an output linked to /dev/full),
a real file-size limit (RLIMIT_FSIZE: a partial write, then EFBIG), real permission bits (as
root, the command runs without the capabilities that let root ignore them), a truncated shard.

One test per case. The first line of each docstring reads "case -> expected";
`benchmarks/reliability.py` runs this file and turns those lines, plus what each test reports
through `observe(...)`, into the table of docs/reliability.md. Adding a case is writing a test.
"""
from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow       # each case runs the real command as a user would: `pytest -m "not slow"` skips them
RUN_TIMEOUT_S = 120


@pytest.fixture(autouse=True)
def _case(request, record_property):
    """Hands the docstring's "case -> expected" line to the junit report."""
    doc = (request.function.__doc__ or "").strip().splitlines()
    record_property("case", doc[0] if doc else request.node.name)


@pytest.fixture
def observe(record_property):
    """`observe("what happened")`: shown in the report's observed column."""
    return lambda text: record_property("observed", str(text))


def command(*args) -> list[str]:
    return [sys.executable, "-m", "handpose_live", *map(str, args)]


def default_sigint() -> None:
    """Started from a shell job, we may have inherited SIGINT ignored; Python would then never
    turn it into KeyboardInterrupt. A user's terminal delivers it: restore that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli(*args, timeout=RUN_TIMEOUT_S, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout, **kw)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The single `error: ...` line of stderr (the summary may come before it)."""
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


def records(path: Path) -> tuple[list[dict], bool]:
    """Every complete JSONL frame record of `path` (not the stream header on the first line), and
    whether a cut last line was skipped."""
    lines = path.read_bytes().split(b"\n")
    tail, lines = lines[-1], lines[:-1]       # after the last newline: empty, or a line cut short
    parsed = [json.loads(line) for line in lines]
    assert not parsed or "frame" not in parsed[0], "the first line is the stream header"
    return parsed[1:], bool(tail)


def summary_counts(stderr: str) -> tuple[int, int, int, float]:
    m = re.search(r"(\d+) frames processed \((\d+) in, (\d+) dropped\), ([\d.]+) fps", stderr)
    assert m, stderr[-2000:]
    return int(m[1]), int(m[2]), int(m[3]), float(m[4])


def wait_for_records(path: Path, n: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= n + 1:     # the header, then n records
            return
        if proc.poll() is not None:
            pytest.fail(f"exited with {proc.returncode} before {n} records: {proc.communicate()[1][-2000:]}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"fewer than {n} records in {path} after {timeout} s")


def live_run(out: Path) -> subprocess.Popen:
    """`run` on the live synthetic camera (small frames: quick), records to `out`, until stopped."""
    return subprocess.Popen(command("run", "--camera", "synthetic", "--width", 160, "--height", 120,
                                    "--viewer", "none", "--output", out),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)


def stopped_by(sig: signal.Signals, tmp_path: Path, observe) -> None:
    out = tmp_path / "live.jsonl"
    proc = live_run(out)
    wait_for_records(out, 5, proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "error:" not in stderr
    processed, frames_in, dropped, fps = summary_counts(stderr)
    got, cut = records(out)
    assert not cut and len(got) == processed >= 5       # closed cleanly: every record, whole
    assert frames_in >= processed and frames_in > 0 and fps > 0
    assert [r["frame"] for r in got] == sorted(r["frame"] for r in got)
    observe(f"exit 130 after the summary: {processed} frames processed ({frames_in} in, {dropped} dropped), "
            f"{len(got)} records")


def test_ctrl_c_during_run(tmp_path, observe):
    """Ctrl-C (SIGINT) during `run --output` -> records closed, summary with the real counts, exit 130"""
    stopped_by(signal.SIGINT, tmp_path, observe)


def test_sigterm_during_run(tmp_path, observe):
    """SIGTERM during `run --output` -> as Ctrl-C: records closed, summary with the real counts, exit 130"""
    stopped_by(signal.SIGTERM, tmp_path, observe)


def test_sigkill_during_run(tmp_path, observe):
    """SIGKILL during `run --output` -> every record so far readable under its name, at most the last line cut"""
    out = tmp_path / "live.jsonl"
    proc = live_run(out)
    wait_for_records(out, 5, proc)
    proc.kill()
    proc.communicate(timeout=RUN_TIMEOUT_S)
    got, cut = records(out)
    assert len(got) >= 5 and all(r["frame"] >= 0 for r in got)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.jsonl"]    # no hidden temp file
    observe(f"{len(got)} records readable under live.jsonl" + (", last line cut" if cut else ""))


def test_disk_full_during_run(tmp_path, observe):
    """Disk full during `run --output` (linked to /dev/full) -> summary, `error: ... no space left on device`, exit 2"""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    out = tmp_path / "poses.jsonl"
    out.symlink_to("/dev/full")
    proc = cli("run", "--camera", "synthetic", "--width", 160, "--height", 120, "--frames", 5, "--no-realtime",
               "--viewer", "none", "--output", out)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_error_line(proc)
    assert "no space left on device" in line and str(out) in line
    summary_counts(proc.stderr)
    assert out.is_symlink()                          # written through the link, which stays
    observe(line)


def test_file_size_limit_during_run(tmp_path, observe):
    """File-size limit hit by `run --output` (RLIMIT_FSIZE) -> one line `error:`, exit 2, the records before kept"""
    out = tmp_path / "poses.jsonl"
    limit = 20_000           # about 10 records

    def limited():
        default_sigint()
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))   # Python ignores SIGXFSZ: EFBIG instead

    proc = subprocess.run(command("run", "--camera", "synthetic", "--width", 160, "--height", 120, "--frames", 200,
                                  "--no-realtime", "--viewer", "none", "--output", out),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, preexec_fn=limited)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_error_line(proc)
    assert str(out) in line
    processed = summary_counts(proc.stderr)[0]
    got, cut = records(out)
    assert out.stat().st_size == limit and len(got) >= 5
    assert len(got) == processed                    # every record but the one that did not fit
    assert [r["frame"] for r in got] == sorted(r["frame"] for r in got)
    observe(f"{line}; {len(got)} whole records kept" + (", last line cut" if cut else ""))


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """120 frames recorded by the command a user runs (small and at 60 fps: quick to record)."""
    out = tmp_path_factory.mktemp("rec") / "x.db3"
    proc = cli("record", "--camera", "synthetic", "--frames", 120, "--width", 320, "--height", 240, "--fps", 60,
               "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_stop_a_recording_early(tmp_path, recording, observe):
    """`run --input` a 120-frame recording, `--frames 10` -> exit 0 at once (no 10 s stall), fps not dragged down"""
    out = tmp_path / "o.jsonl"
    t0 = time.monotonic()
    proc = subprocess.Popen(command("run", "--input", recording, "--frames", 10, "--viewer", "none", "--output", out),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_records(out, 10, proc)                # records are flushed one by one: the 10th marks the stop
    t_last = time.monotonic()
    _, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    stop_s, wall_s = time.monotonic() - t_last, time.monotonic() - t0
    assert proc.returncode == 0, stderr[-2000:]
    processed, _, _, fps = summary_counts(stderr)
    assert processed == 10 and len(records(out)[0]) == 10
    assert stop_s < 2.0, f"{stop_s:.1f} s from the last record to exit"   # the librealsense stall alone was 10 s
    assert wall_s < 8.0, f"{wall_s:.1f} s in all"    # startup and model load included, on a busy machine
    assert fps > 5.0                               # the stall counted in the fps made it ~1
    observe(f"exit 0 {stop_s:.2f} s after the 10th record ({wall_s:.1f} s in all), {fps:.0f} fps reported")


def test_loop_keeps_the_clock_running(recording, observe):
    """`--loop` past the end of a recording -> timestamp_ms keeps increasing across passes"""
    from handpose_live.capture.realsense import RealSensePlayback

    with RealSensePlayback(recording, loop=True) as src:
        frames = src.frames()
        got = [next(frames) for _ in range(125)]
        frames.close()
    stamps = [f.timestamp_ms for f in got]
    steps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert min(steps) > 0, f"the clock went back at frame {steps.index(min(steps)) + 1}"
    assert [f.index for f in got] == list(range(125))
    observe(f"125 frames over 2 passes, {stamps[0]:.0f} to {stamps[-1]:.0f} ms, "
            f"steps {min(steps):.1f}-{max(steps):.1f} ms")


def _without_permission_override() -> None:
    """In the child, as root: drop the capabilities that let root ignore permission bits
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER) from the bounding set, so that after exec
    the command is a root that the mode bits of root-owned files apply to, as to their owner.
    (Switching to `nobody` instead would lose the interpreter if it lives under /root.)"""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for cap in (1, 2, 3):      # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            os._exit(70)


@pytest.fixture
def permission_bits():
    """subprocess arguments for a command that permission bits apply to (even when we are root)."""
    return {"preexec_fn": _without_permission_override} if os.geteuid() == 0 else {}


def test_output_folder_not_writable(tmp_path, permission_bits, observe):
    """`run --output` into a folder the user may not write -> one line `error: ... permission denied`, exit 2"""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    proc = cli("run", "--camera", "synthetic", "--frames", 3, "--viewer", "none", "--output", locked / "o.jsonl",
               **permission_bits)
    locked.chmod(0o755)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_error_line(proc)
    assert "permission denied" in line.lower() and "o.jsonl" in line
    observe(line)


def test_input_folder_not_readable(tmp_path, recording, permission_bits, observe):
    """`run --input` a recording in a folder the user may not read -> one line `error: ... permission denied`, exit 2"""
    locked = tmp_path / "locked"
    locked.mkdir()
    shutil.copy(recording, locked / "x.db3")
    locked.chmod(0o000)
    proc = cli("run", "--input", locked / "x.db3", "--viewer", "none", **permission_bits)
    locked.chmod(0o755)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_error_line(proc)
    assert "permission denied" in line.lower() and "x.db3" in line
    observe(line)


def test_truncated_training_shard(tmp_path, observe):
    """`train` on synthetic data with a truncated shard -> one line `error: cannot read shard ...`, exit 2 (not 1)"""
    from handpose_live.calib import load_intrinsics
    from handpose_live.synth.generate import generate_dataset

    data = tmp_path / "synth"
    generate_dataset(data, "hand", 2, load_intrinsics("d435-640x480").scaled(160, 120), seed=1, progress=False,
                     shard_size=1)
    shard = data / "shard-00001.npz"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    proc = cli("train", "--dataset", "synthetic", "--data-root", data, "--out", tmp_path / "run", "--epochs", 1,
               "--device", "cpu", "--workers", 0)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_error_line(proc)
    assert "shard-00001.npz" in line and "truncated or corrupt" in line
    observe(line)


def _model_with_metadata(tmp_path: Path, **changes) -> Path:
    """The shipped hand model with its metadata edited (the graph untouched)."""
    import onnx

    from handpose_live.inference.modelfile import METADATA_KEY
    from handpose_live.resources import default_model

    proto = onnx.load(str(default_model("hand")))
    for entry in proto.metadata_props:
        if entry.key == METADATA_KEY:
            meta = json.loads(entry.value)
            for key, value in changes.items():
                meta[key] = value(meta) if callable(value) else value
            entry.value = json.dumps(meta)      # NaN is written as NaN, as a careless exporter would
    path = tmp_path / "edited.onnx"
    onnx.save(proto, str(path))
    return path


@pytest.mark.parametrize("change,message", [
    ({"input_grid": 88}, "takes a 64x64x64 grid but the metadata says input_grid 88"),
    ({"joint_names": lambda m: m["joint_names"][:14]}, "outputs 21 joints but the metadata names 14"),
    ({"cube_mm": float("nan")}, "cube_mm must be a positive number"),
    ({"cube_mm": 0}, "cube_mm must be a positive number"),
    ({"output_grid": -32}, "output_grid must be a positive integer"),
], ids=["grid-88-on-64", "14-names-21-outputs", "cube-nan", "cube-0", "output-grid-negative"])
def test_model_inconsistent_with_its_graph(tmp_path, change, message, observe):
    """A model whose metadata disagrees with its network (grid, joints, cube, output grid) -> refused before the first frame: one line, exit 2, nothing written"""
    model = _model_with_metadata(tmp_path, **change)
    out = tmp_path / "poses.jsonl"
    proc = cli("run", "--camera", "synthetic", "--frames", "5", "--viewer", "none", "--model", model, "--output", out)
    line = one_error_line(proc)
    assert proc.returncode == 2 and message in line, line
    assert not out.exists() and "frames processed" not in proc.stderr
    observe(f"{list(change)[0]}: `{line}`; no output file")


@pytest.mark.parametrize("option,value,message", [
    ("--width", "7", "--width must be at least 16"),
    ("--threads", "-1", "--threads must be at least 1"),
    ("--udp", "", "--udp must be host:port"),
    ("--min-confidence", "nan", "--min-confidence must lie in [0, 1)"),
    ("--fps", "0", "--fps must be at least 1"),
], ids=["width-7", "threads-minus-1", "udp-empty", "min-confidence-nan", "fps-0"])
def test_numeric_options_are_validated(tmp_path, option, value, message, observe):
    """Out-of-range numeric or address options of `run` -> one line, exit 2, before anything opens"""
    proc = cli("run", "--camera", "synthetic", "--frames", "3", "--viewer", "none", option, value)
    line = one_error_line(proc)
    assert proc.returncode == 2 and message in line, line
    observe(f"`{option} {value!r}`: `{line}`")


@pytest.mark.parametrize("option,value,message", [
    ("--batch-size", "0", "--batch-size must be at least 1"),
    ("--lr", "nan", "--lr must be a non-negative number"),
    ("--val-fraction", "1.5", "--val-fraction must lie in [0, 1)"),
], ids=["batch-0", "lr-nan", "val-fraction-1.5"])
def test_training_options_are_validated(tmp_path, option, value, message, observe):
    """Out-of-range numeric options of `train` -> one line, exit 2, before any data is read"""
    proc = cli("train", "--dataset", "synthetic", "--data-root", tmp_path / "none", "--out", tmp_path / "run",
               option, value)
    line = one_error_line(proc)
    assert proc.returncode == 2 and message in line, line
    assert not (tmp_path / "run").exists()
    observe(f"`{option} {value}`: `{line}`")


REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args,message", [
    (["run", "--frames", "abc"], "Invalid value for '--frames'"),
    (["run", "--no-such-option"], "No such option: --no-such-option"),
    (["run", "--viewer", "none", "--frames", "2", "--seed", "-1"], "--seed must be at least 0, got -1"),
    (["synth", "--count", "5", "--seed", "-1", "--out", "{tmp}/out"], "--seed must be at least 0"),
    (["synth", "--count", "5", "--out", "{tmp}/out", "--preview", "{tmp}/sheet.txt"], "--preview must be a .png, .jpg, .jpeg file"),
    (["run", "--viewer", "none", "--frames", "2", "--screenshot", "{tmp}/out.gif"], "--screenshot must be a .png, .jpg, .jpeg file"),
    (["record", "--seed", "-3", "--frames", "2", "--out", "{tmp}/out.db3"], "--seed must be at least 0"),
    (["train-detector", "--seed", "-1", "--data", "{tmp}/out"], "--seed must be at least 0"),
    (["bench", "--model", "models/v2v-lite-body.onnx", "--frames", "2"], "is a body model but --target is hand"),
    (["bench", "--frames", "2", "--soak", "-5"], "--soak must be at least 0"),
    (["eval", "--dataset", "nyu", "--predictions", "{tmp}/p.txt", "--ground-truth", "{tmp}/p.txt", "--plot",
      "{tmp}/curve.jpg"], "--plot must be a .png, .pdf, .svg file"),
    (["export-onnx", "models/v2v-lite-hand.onnx", "--fp16", "--min-confidence", "0.3", "--out", "{tmp}/out.onnx"],
     "--min-confidence: set when a checkpoint is exported"),
    (["export-onnx", "{tmp}/p.txt", "--opset", "99", "--out", "{tmp}/out.onnx"], "--opset must lie in 13..20"),
], ids=["frames-abc", "unknown-option", "run-seed", "synth-seed", "synth-preview-txt", "run-screenshot-gif", "record-seed",
        "detector-seed", "bench-body-model-on-hands", "bench-soak", "eval-plot-jpg", "export-fp16-option-ignored",
        "export-opset-99"])
def test_bad_command_line_is_one_line(tmp_path, args, message, observe):
    """A malformed or contradictory command line (bad value, unknown option, negative seed, a plot or preview format, a model for the other target) -> one line, exit 2, nothing written"""
    (tmp_path / "p.txt").write_text("1 2 3\n")
    proc = cli(*[a.format(tmp=tmp_path) for a in args], cwd=REPO)
    line = one_error_line(proc)
    assert proc.returncode == 2 and message in line, line
    assert "Usage:" not in proc.stderr and not list(tmp_path.glob("out*")), proc.stderr
    observe(f"`{' '.join(args).replace('{tmp}/', '')}`: `{line}`")


def test_input_file_not_readable(tmp_path, permission_bits, observe):
    """`synth --camera` an intrinsics file the user may not read -> one line `error: ... permission denied`, exit 2, nothing written"""
    intr = tmp_path / "cam.json"
    intr.write_text(json.dumps({"fx": 475.0, "fy": 475.0, "cx": 320.0, "cy": 240.0, "width": 640, "height": 480}))
    intr.chmod(0o000)
    proc = cli("synth", "--camera", intr, "--count", 2, "--out", tmp_path / "out", **permission_bits)
    intr.chmod(0o644)
    line = one_error_line(proc)
    assert proc.returncode == 2 and "permission denied" in line.lower() and "cam.json" in line, line
    assert not (tmp_path / "out").exists()
    observe(line)


# ---- issue 30: recordings, outputs, checkpoints, shards, long runs ----------------------------------

def _limited(limit: int):
    """preexec_fn: a file-size limit (RLIMIT_FSIZE; Python ignores SIGXFSZ, so writes get EFBIG)."""
    def apply():
        default_sigint()
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _damage(src: Path, dst: Path, seed: int, patches: int = 10, size: int = 2048) -> Path:
    """`src` with `patches` random 2 KB stretches overwritten by random bytes (a bad disk, a cut transfer)."""
    import random

    data = bytearray(src.read_bytes())
    rng = random.Random(seed)
    for _ in range(patches):
        at = rng.randrange(0, len(data) - size)
        data[at:at + size] = rng.randbytes(size)
    dst.write_bytes(bytes(data))
    return dst


def _no_hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_record_file_size_limit(tmp_path, observe):
    """`record --frames 30 --out r.db3` under a file-size limit (ulimit -f) -> the true count, `error: ... no space left`, exit 2; the frames stored stay readable"""
    from handpose_live.capture.realsense import listed_depth_frames

    out = tmp_path / "r.db3"
    proc = subprocess.run(command("record", "--frames", 30, "--out", out), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, preexec_fn=_limited(3000 * 1024))
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_error_line(proc)
    m = re.search(r"only (\d+) of 30 depth frames reached the disk", line)
    assert m and "no space left" in line and "wrote" not in proc.stdout, line
    stored = int(m[1])
    assert 0 < stored < 30 and listed_depth_frames(out) == stored
    played = cli("run", "--input", out, "--viewer", "none", "--output", tmp_path / "p.jsonl")
    assert played.returncode == 0 and "warning" not in played.stderr, played.stderr[-2000:]
    assert len(records(tmp_path / "p.jsonl")[0]) == stored
    assert _no_hidden_files(tmp_path) == []
    observe(f"{line}; `run --input` plays those {stored}")


@pytest.mark.parametrize("limit", [60_000, 400_000], ids=["limit-60k", "limit-400k"])
def test_save_video_disk_full(tmp_path, limit, observe):
    """`run --save-video` onto a full disk (file-size limit) -> one line, exit 2; the records kept, the partial video removed (docs: sinks/video.py)"""
    out, video = tmp_path / "o.jsonl", tmp_path / "v.mp4"
    proc = subprocess.run(command("run", "--camera", "synthetic", "--frames", 60, "--no-realtime", "--viewer", "none",
                                  "--output", out, "--save-video", video),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, preexec_fn=_limited(limit))
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_error_line(proc)
    assert "v.mp4" in line and "no space left" in line, line
    got, _ = records(out)
    assert len(got) >= 1 and not video.exists() and _no_hidden_files(tmp_path) == []
    observe(f"{line}; {len(got)} records kept, no video, no temp file")


@pytest.fixture(scope="module")
def kinect_recording(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mkv") / "k.mkv"
    proc = cli("record", "--camera", "synthetic", "--frames", 3, "--out", out)
    if proc.returncode != 0:
        pytest.skip(f"cannot record .mkv here: {proc.stderr.strip()[-300:]}")
    return out


@pytest.mark.parametrize("keep", [20, 60, 100], ids=["20-bytes", "60-bytes", "100-bytes"])
def test_truncated_mkv(tmp_path, kinect_recording, keep, observe):
    """An Azure Kinect `.mkv` cut to its first 20-100 bytes as `--input` -> one line, exit 2 (libk4arecord aborts: it is opened in a child process first)"""
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(kinect_recording.read_bytes()[:keep])
    proc = cli("run", "--input", cut, "--viewer", "none")
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_error_line(proc)
    assert "cut.mkv" in line and "truncated or corrupt" in line, line
    observe(f"{keep} bytes: {line}")


@pytest.fixture(scope="module")
def small_recordings(tmp_path_factory) -> dict[str, Path]:
    """30 frames 320x240 as librealsense's .bag and .db3 (what the damage cases start from)."""
    folder = tmp_path_factory.mktemp("small")
    found = {}
    for suffix in (".bag", ".db3"):
        out = folder / f"x{suffix}"
        proc = cli("record", "--camera", "synthetic", "--frames", 30, "--width", 320, "--height", 240, "--out", out)
        assert proc.returncode == 0, proc.stderr[-2000:]
        found[suffix] = out
    return found


def _played_or_refused(proc: subprocess.CompletedProcess, out: Path) -> str:
    """A damaged recording's run: exit 2 with one line, or exit 0 with the damage said in a warning."""
    if proc.returncode == 2:
        return one_error_line(proc)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = len(records(out)[0]) if out.exists() else 0
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    if got < 30:
        assert any(re.search(rf"{30 - got} of 30 depth frames .* unreadable", w) for w in warnings), proc.stderr[-2000:]
        return f"{got} of 30 frames played; {warnings[0]}"
    return "all 30 frames played (the patches hit no frame)"


@pytest.mark.parametrize("seed", [4, 14, 17], ids=["seed-4", "seed-14", "seed-17"])
def test_damaged_bag(tmp_path, small_recordings, seed, observe):
    """A librealsense `.bag` with ten 2 KB random patches (librealsense hung on some, ignoring Ctrl-C) -> exit 2 within seconds, or the frames up to the damage and a warning"""
    bag = _damage(small_recordings[".bag"], tmp_path / "bad.bag", seed)
    out = tmp_path / "o.jsonl"
    t0 = time.monotonic()
    # the probe's limit at 4 s, not 10: librealsense spins until it on seed 14's damage (the same path, sooner)
    proc = cli("run", "--input", bag, "--viewer", "none", "--output", out, timeout=60,
               env={**os.environ, "HANDPOSE_LIVE_PROBE_TIMEOUT_S": "4"})
    took = time.monotonic() - t0
    observe(f"seed {seed}, {took:.0f} s: {_played_or_refused(proc, out)}")


def _children(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []


def test_ctrl_c_while_a_recording_opens(tmp_path, small_recordings, observe):
    """Ctrl-C while librealsense is stuck opening a damaged `.bag` -> the command ends at once (exit 130)"""
    bag = _damage(small_recordings[".bag"], tmp_path / "bad.bag", 14)
    proc = subprocess.Popen(command("run", "--input", bag, "--viewer", "none"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    time.sleep(4.0)                  # imports done; the probe of the file under way (or over, on other damage)
    if not _children(proc.pid):      # a busy machine (tests run in parallel): imports not done yet. Until the
        deadline = time.monotonic() + 60      # probe's process is there, a Ctrl-C would land in Python's imports
        while proc.poll() is None and not _children(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)              # the probe's own start-up, to librealsense's open
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    _, stderr = proc.communicate(timeout=30)
    took = time.monotonic() - t0
    assert proc.returncode in (130, 2), stderr[-2000:]
    assert took < 5.0 and "Traceback" not in stderr
    observe(f"exit {proc.returncode} {took:.1f} s after SIGINT")


@pytest.mark.parametrize("seed", [2, 4], ids=["seed-2", "seed-4"])
def test_damaged_db3(tmp_path, small_recordings, seed, observe):
    """A librealsense `.db3` with ten 2 KB random patches -> the damage reported (`warning: 28 of 30 depth frames ... unreadable`), and with `--strict` exit 2"""
    db3 = _damage(small_recordings[".db3"], tmp_path / "bad.db3", seed)
    out = tmp_path / "o.jsonl"
    proc = cli("run", "--input", db3, "--viewer", "none", "--output", out)
    said = _played_or_refused(proc, out)
    assert "unreadable" in said, said
    strict = cli("run", "--input", db3, "--viewer", "none", "--strict")
    line = one_error_line(strict)
    assert strict.returncode == 2 and "unreadable" in line and "--strict" in line, line
    observe(f"seed {seed}: {said}; --strict: `{line}`")


def test_two_runs_one_output(tmp_path, observe):
    """Two `run ... --output same.jsonl` at once -> the second refuses with one line (a lock); the first writes whole records"""
    out = tmp_path / "same.jsonl"
    first = live_run(out)
    wait_for_records(out, 3, first)
    second = cli("run", "--camera", "synthetic", "--frames", 5, "--viewer", "none", "--output", out)
    wait_for_records(out, 6, first)        # the first goes on writing, undisturbed
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=RUN_TIMEOUT_S)
    assert second.returncode == 2, second.stderr[-2000:]
    line = one_error_line(second)
    assert "same.jsonl" in line and "another process" in line, line
    processed = summary_counts(stderr)[0]
    got, cut = records(out)
    assert first.returncode == 130 and not cut and len(got) == processed
    assert [r["frame"] for r in got] == sorted(r["frame"] for r in got)
    observe(f"second: {line}; first: {len(got)} whole records")


def _checkpoint(path: Path) -> Path:
    import torch

    from handpose_live.training.checkpoint import save_checkpoint

    save_checkpoint(path, {"model": {"w": torch.linspace(-1, 1, 200_000)}, "epoch": 1})
    return path


def _flip_weight_bytes(path: Path) -> None:
    """Overwrite 8 bytes inside the largest stored tensor (the zip's CRC of it then fails)."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as z:
        entry = max(z.infolist(), key=lambda i: i.file_size)
    data = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[entry.header_offset + 26:entry.header_offset + 30])
    at = entry.header_offset + 30 + name_len + extra_len + 1000
    data[at:at + 8] = b"\x7f" * 8
    path.write_bytes(bytes(data))


def test_checkpoint_with_corrupted_weights(tmp_path, observe):
    """A checkpoint with corrupted weight bytes (zip CRC fails) -> `export-onnx` and `train --resume` refuse it, exit 2, naming the file"""
    ckpt = _checkpoint(tmp_path / "last.pt")
    _flip_weight_bytes(ckpt)
    export = cli("export-onnx", ckpt, "--out", tmp_path / "m.onnx")
    line = one_error_line(export)
    assert export.returncode == 2 and str(ckpt) in line and "CRC" in line, line
    assert not (tmp_path / "m.onnx").exists()
    data = _tiny_dataset(tmp_path / "synth")
    resume = cli("train", "--dataset", "synthetic", "--data-root", data, "--out", tmp_path, "--resume",
                 "--epochs", 1, "--device", "cpu", "--workers", 0)
    resume_line = one_error_line(resume)
    assert resume.returncode == 2 and str(ckpt) in resume_line and "CRC" in resume_line, resume_line
    observe(f"export-onnx: `{line}`; train --resume: `{resume_line}`")


def _tiny_dataset(data: Path) -> Path:
    """4 synthetic frames (160x120) in 2 shards: a training set that is quick to make and to train on."""
    from handpose_live.calib import load_intrinsics
    from handpose_live.synth.generate import generate_dataset

    generate_dataset(data, "hand", 4, load_intrinsics("d435-640x480").scaled(160, 120), seed=1, progress=False,
                     shard_size=2)
    return data


def test_train_file_size_limit(tmp_path, observe):
    """`train` meets a full disk (file-size limit) writing its checkpoint -> `error: ... no space left`, exit 2, no partial checkpoint"""
    data = _tiny_dataset(tmp_path / "synth")
    run = tmp_path / "run"
    proc = subprocess.run(command("train", "--dataset", "synthetic", "--data-root", data, "--out", run, "--epochs", 1,
                                  "--device", "cpu", "--workers", 0),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S * 2, preexec_fn=_limited(5_000_000))
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_error_line(proc)
    assert "no space left" in line and ".pt" in line and "internal error" not in line, line
    assert not list(run.glob("*.pt")) and _no_hidden_files(run) == []
    observe(line)


@pytest.mark.parametrize("key,value", [("centre_mm", float("nan")), ("joints_mm", float("nan")), ("joints_mm", float("inf"))],
                         ids=["centre-nan", "joints-nan", "joints-inf"])
def test_non_finite_labels_in_a_shard(tmp_path, key, value, observe):
    """NaN `centre_mm`, or NaN or inf joint labels, in a training shard -> the shard and frame named, exit 2"""
    import numpy as np

    data = _tiny_dataset(tmp_path / "synth")
    shard = data / "shard-00001.npz"
    arrays = dict(np.load(shard))
    arrays[key] = arrays[key].copy()
    arrays[key].reshape(len(arrays[key]), -1)[1, 2] = value
    np.savez_compressed(shard, **arrays)
    proc = cli("train", "--dataset", "synthetic", "--data-root", data, "--out", tmp_path / "run", "--epochs", 1,
               "--device", "cpu", "--workers", 0)
    line = one_error_line(proc)
    assert proc.returncode == 2 and "shard-00001.npz" in line and "frame 3" in line and key in line, line
    observe(line)


def test_fifo_as_input_or_output(tmp_path, observe):
    """A FIFO as `--input x.db3`, as `--output` with no reader, or as an intrinsics file -> one line, exit 2 (no blocked open)"""
    said = []
    for name, args in [("x.db3", ["run", "--input", "{p}", "--viewer", "none"]),
                       ("o.jsonl", ["run", "--camera", "synthetic", "--frames", "3", "--viewer", "none", "--output", "{p}"]),
                       ("cam.json", ["synth", "--camera", "{p}", "--count", "2", "--out", str(tmp_path / "out")])]:
        fifo = tmp_path / name
        os.mkfifo(fifo)
        proc = cli(*[a.format(p=fifo) for a in args], timeout=60)
        line = one_error_line(proc)
        assert proc.returncode == 2 and name in line and "FIFO" in line, line
        said.append(line)
    observe("; ".join(said))


def test_export_external_data_outside_its_folder(tmp_path, observe):
    """`export-onnx` of a model whose external weight data escapes its folder -> refused, one line, exit 2"""
    import onnx

    from handpose_live.resources import default_model

    folder = tmp_path / "m"
    folder.mkdir()
    model = folder / "model.onnx"
    onnx.save(onnx.load(str(default_model("hand"))), str(model), save_as_external_data=True,
              all_tensors_to_one_file=True, location="w.bin", size_threshold=1024)
    proto = onnx.load(str(model), load_external_data=False)
    for tensor in proto.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../w.bin"
    onnx.save(proto, str(model))
    (folder / "w.bin").rename(tmp_path / "w.bin")
    proc = cli("export-onnx", model, "--fp16", "--out", tmp_path / "half.onnx")
    line = one_error_line(proc)
    assert proc.returncode == 2 and "model.onnx" in line and "internal error" not in line, line
    observe(line)


@pytest.mark.parametrize("topics", ["%Depth%", "%Depth_0/info%"], ids=["no-depth-topics", "no-depth-info"])
def test_db3_without_depth_topics(tmp_path, small_recordings, topics, observe):
    """A `.db3` without its depth topics -> `... has no depth stream` (or not readable), exit 2, within seconds"""
    import sqlite3

    db3 = tmp_path / "nodepth.db3"
    shutil.copy(small_recordings[".db3"], db3)
    with sqlite3.connect(db3) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM topics WHERE name LIKE ?", (topics,))]
        marks = ",".join("?" * len(ids))
        db.execute(f"DELETE FROM messages WHERE topic_id IN ({marks})", ids)
        db.execute(f"DELETE FROM topics WHERE id IN ({marks})", ids)
    # librealsense spins until the probe's limit on the file without its depth info: 4 s, not 10, is the same path
    proc = cli("run", "--input", db3, "--viewer", "none", timeout=60, env={**os.environ, "HANDPOSE_LIVE_PROBE_TIMEOUT_S": "4"})
    line = one_error_line(proc)
    assert proc.returncode == 2 and "nodepth.db3" in line and "internal error" not in line, line
    observe(f"{topics} removed: {line}")


def test_memory_stays_flat_over_a_long_run(tmp_path, observe, progress):
    """`run --input FOLDER --loop --output` for 1,200 frames (60 synthetic 640x480 depth PNGs, replayed 20 times) -> no steady RSS growth after warm-up: each third of frames 500-1,200 grows, the least < 1 MB per 1,000 frames (the soak of the synthetic camera itself: `benchmarks/soak_run.py`, 10,000 frames)"""
    # Replayed images, not the synthetic camera: its rendering was two thirds of the time. Replayed, RSS stays flat
    # idle (plain +0.05 to +0.08, steady 0.00 to +0.02 in 3 runs) but under the suite's load an allocator step
    # read +2.8 plain (steady 0.00): only the steady growth is asserted. A 30 KB object kept per record reads
    # +23.4 steady (+27.6 plain); 6 KB per record +0.22 steady (+3.0 plain): the 10,000-frame soak is for those.
    import cv2
    import numpy as np

    from handpose_live.capture.synthetic import SyntheticCamera

    for frame in SyntheticCamera(seed=0, frames=60).frames():
        cv2.imwrite(str(tmp_path / f"{frame.index:04d}.png"), np.round(frame.depth_mm).astype(np.uint16))
    cmd = [sys.executable, str(REPO / "benchmarks" / "soak_run.py"), "--frames", "1200", "--from", "500", "--interval", "0.25",
           "--", "--input", str(tmp_path), "--intrinsics", "d435-640x480", "--loop"]
    t0 = time.monotonic()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO) as soak:
        while True:            # over a minute: say so as it goes
            try:
                stdout, stderr = soak.communicate(timeout=20)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() - t0 > 900:
                    soak.kill()
                    pytest.fail(f"soak_run.py still running after 900 s: {' '.join(cmd[1:])}")
                progress(f"    soak_run.py --frames 1200: running, {time.monotonic() - t0:.0f} s")
    proc = subprocess.CompletedProcess(cmd, soak.returncode, stdout, stderr)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r"steady growth \(the least of three thirds\): ([-+][\d.]+) MB per 1,000 frames", proc.stdout)
    assert m, proc.stdout
    assert float(m[1]) < 1.0, proc.stdout
    observe(proc.stdout.strip().splitlines()[-1])


def test_screenshot_disk_full(tmp_path, observe):
    """`run --screenshot` onto a full disk (file-size limit) -> `error: ... no space left`, exit 2 (not "unknown image type"), no partial image"""
    shot = tmp_path / "shot.png"
    proc = subprocess.run(command("run", "--camera", "synthetic", "--frames", 3, "--viewer", "none", "--screenshot", shot),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, preexec_fn=_limited(10_000))
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_error_line(proc)
    assert "no space left" in line and "shot.png" in line, line
    assert not shot.exists() and _no_hidden_files(tmp_path) == []
    observe(line)
