"""Training as a user runs it: from synthetic shards on disk, under torchrun (2 CPU processes,
gloo), and killed with SIGKILL mid-epoch then resumed."""
import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from handpose_live.calib import load_intrinsics
from handpose_live.synth.generate import generate_dataset
from handpose_live.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow      # training processes (DDP, kill -9 and resume)

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
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
                           "-m", "handpose_live",
                           "train", "--data-root", str(shards), "--out", str(tmp_path / "ddp"), "--epochs", "1",
                           "--val-fraction", "0.25", *TRAIN], capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ck = load_checkpoint(tmp_path / "ddp" / "last.pt")
    # 12 training frames over 2 ranks, batch 2 -> 3 steps per rank (counted once, on rank 0)
    assert ck["epoch"] == 1 and ck["global_step"] == 3
    assert (tmp_path / "ddp" / "metrics.csv").read_text().count("\n") >= 2


def _metrics_rows(out: Path) -> list[dict]:
    """metrics.csv without the wall-clock column (the only one allowed to differ between runs)."""
    with (out / "metrics.csv").open() as f:
        return [{k: v for k, v in row.items() if k != "elapsed_s"} for row in csv.DictReader(f)]


def test_kill_9_mid_epoch_then_resume_is_exact(tmp_path, shards, record_property):
    """SIGKILL of `train` mid-epoch (workers on), then --resume -> weights and metrics.csv identical to an uninterrupted run"""
    record_property("case", test_kill_9_mid_epoch_then_resume_is_exact.__doc__.strip())
    args = ["train", "--data-root", str(shards), "--epochs", "2", "--val-fraction", "0.25", "--seed", "3",
            "--checkpoint-minutes", "0", *TRAIN, "--workers", "1"]
    reference = subprocess.run([sys.executable, "-m", "handpose_live", *args, "--out", str(tmp_path / "ref")],
                               capture_output=True, text=True, env=ENV, timeout=300)
    assert reference.returncode == 0, reference.stderr[-3000:]

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "handpose_live", *args, "--out", str(out)]
    kill_after = random.Random(20261129).randint(1, 5)     # 12 training frames / batch 2 = 6 steps per epoch
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 240
    killed_at = None
    while time.time() < deadline and proc.poll() is None:
        if (out / "last.pt").exists():
            try:
                ck = load_checkpoint(out / "last.pt")
            except Exception:
                ck = {}
            if ck.get("epoch") == 0 and ck.get("step_in_epoch", 0) >= kill_after:
                os.kill(proc.pid, signal.SIGKILL)
                killed_at = ck["step_in_epoch"]
                break
        time.sleep(0.02)
    proc.wait()
    assert killed_at is not None, "training ended before it could be killed mid-epoch"
    ck = load_checkpoint(out / "last.pt")            # never left half-written
    assert ck["epoch"] == 0 and 0 < ck["step_in_epoch"] < 6
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming" in done.stdout
    ours, theirs = load_checkpoint(out / "last.pt"), load_checkpoint(tmp_path / "ref" / "last.pt")
    assert ours["epoch"] == 2 and ours["global_step"] == theirs["global_step"] == 2 * 6
    for name, tensor in theirs["model_state_dict"].items():
        assert torch.equal(ours["model_state_dict"][name], tensor), name
    assert ours["history"] == theirs["history"]
    assert _metrics_rows(out) == _metrics_rows(tmp_path / "ref")
    assert ours["elapsed_s"] >= ck["elapsed_s"]       # the clock continues, it does not restart
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]
    record_property("observed", f"killed after checkpoint step {killed_at} of 6 in epoch 1; {len(theirs['model_state_dict'])} "
                                f"tensors bit-identical; {len(_metrics_rows(out))} metrics.csv rows identical")
