"""Training as a user runs it: from synthetic shards on disk, under torchrun (2 CPU processes,
gloo), and killed with SIGKILL mid-epoch then resumed."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handpose_live.calib import load_intrinsics
from handpose_live.training.checkpoint import load_checkpoint
from handpose_live.synth.generate import generate_dataset

ENV = dict(os.environ, OMP_NUM_THREADS="1")
TRAIN = ["--dataset", "synthetic", "--arch", "v2v-lite", "--batch-size", "2", "--workers", "0",
         "--optimizer", "adam", "--lr", "1e-3", "--no-export"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "hand"
    generate_dataset(root, "hand", 16, load_intrinsics("d435-640x480"), seed=7, progress=False, shard_size=8)
    return root


def test_ddp_two_cpu_processes(tmp_path, shards):
    # `python -m torch.distributed.run` is what the `torchrun` script runs
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533", "-m", "handpose_live",
                           "train", "--data-root", str(shards), "--out", str(tmp_path / "ddp"), "--epochs", "1",
                           "--val-fraction", "0.25", *TRAIN], capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ck = load_checkpoint(tmp_path / "ddp" / "last.pt")
    # 12 training frames over 2 ranks, batch 2 -> 3 steps per rank (counted once, on rank 0)
    assert ck["epoch"] == 1 and ck["global_step"] == 3
    assert (tmp_path / "ddp" / "metrics.csv").read_text().count("\n") >= 2


def test_kill_9_then_resume(tmp_path, shards):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "handpose_live", "train", "--data-root", str(shards), "--out", str(out),
           "--epochs", "2", "--val-fraction", "0", "--checkpoint-minutes", "0", *TRAIN]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 240
    killed_at = None
    while time.time() < deadline and proc.poll() is None:
        if (out / "last.pt").exists():
            try:
                ck = load_checkpoint(out / "last.pt")
            except Exception:
                ck = {}
            if ck.get("epoch") == 0 and ck.get("step_in_epoch", 0) >= 2:
                os.kill(proc.pid, signal.SIGKILL)
                killed_at = ck["step_in_epoch"]
                break
        time.sleep(0.05)
    proc.wait()
    assert killed_at is not None, "training ended before it could be killed mid-epoch"
    ck = load_checkpoint(out / "last.pt")            # never left half-written
    assert ck["epoch"] == 0 and ck["step_in_epoch"] >= killed_at
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming" in done.stdout
    ck = load_checkpoint(out / "last.pt")
    assert ck["epoch"] == 2 and ck["global_step"] == 2 * 8   # 16 frames / batch 2, each batch exactly once
    assert not list(out.glob("*.tmp"))
