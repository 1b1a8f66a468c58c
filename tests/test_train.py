import csv
import os

import pytest
import torch
from tinyhands import TinyHands

from handpose_live.errors import UserError
from handpose_live.geometry import voxel_to_norm
from handpose_live.heatmaps import decode_heatmaps
from handpose_live.inference.runtime import read_model_info
from handpose_live.modeling.v2v import V2VConfig, build_model
from handpose_live.training.checkpoint import load_checkpoint
from handpose_live.training.trainer import Collate, TrainArgs, train
from handpose_live.voxelize import Augmentation


def _batch(config, augment, n=4, seed=0):
    ds = TinyHands(n, seed)
    return Collate(config, ds.cube_mm, augment, seed)([(0, ds[i]) for i in range(n)]), ds


def test_augmentation_keeps_targets_on_the_points():
    """Decoding the augmented target, then undoing the augmentation, gives back the joints."""
    config = V2VConfig("v2v-lite", 21, 64, 32, 32)
    (voxels, targets, joints_vox, centres), ds = _batch(config, augment=True)
    dec, _ = decode_heatmaps(targets)
    assert (dec - joints_vox).abs().max() < 0.05
    g = torch.Generator().manual_seed(hash((0, 0, 0)) & 0x7FFFFFFF)
    aug = Augmentation.sample(4, g)
    norm = voxel_to_norm(dec, config.output_grid) - (aug.shift_vox / config.input_grid)[:, None, :]
    norm = norm / aug.scale[:, None, None]
    c, s = torch.cos(-aug.angle_rad), torch.sin(-aug.angle_rad)
    x, y, z = norm.unbind(-1)
    back = torch.stack([c[:, None] * x - s[:, None] * y, s[:, None] * x + c[:, None] * y, z], -1) * ds.cube_mm
    truth = torch.stack([torch.from_numpy(ds[i].joints_mm) for i in range(4)]) - centres[:, None, :]
    assert (back - truth).norm(dim=-1).max() < 1.0  # mm
    # and the joints sit on occupied voxels of the augmented grid (the hand moved with them)
    occupied = voxels.sum(dim=(1, 2, 3, 4))
    assert (occupied > 200).all()


@pytest.mark.slow
# lite: 4.6 mm at 80 steps; full: 70 -> 31.3 mm at 15 steps (18.2 mm at 40, 2.7x the time)
@pytest.mark.parametrize("arch,steps,limit_mm", [("v2v-lite", 80, 12.0), ("v2v-full", 15, 36.0)])
def test_overfit_tiny_set(arch, steps, limit_mm):
    """Targets, loss and decoding agree: a small model drives the error on 4 hands down."""
    torch.manual_seed(0)
    config = V2VConfig(arch, 21, 32, 16, 32)
    (voxels, targets, joints_vox, _), ds = _batch(config, augment=False)
    model = build_model(config)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    voxel_mm = ds.cube_mm / config.output_grid

    def error_mm():
        model.eval()
        with torch.no_grad():
            dec, _ = decode_heatmaps(model(voxels))
        model.train()
        return float((dec - joints_vox).norm(dim=-1).mean() * voxel_mm)

    before = error_mm()
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(model(voxels), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = error_mm()
    assert after < limit_mm < before


@pytest.mark.slow
def test_train_resume_and_export(tmp_path):
    ds = TinyHands(12)
    args = TrainArgs(dataset="tiny", data_root="memory", out=str(tmp_path / "run"), arch="v2v-lite", epochs=1,
                     batch_size=4, lr=1e-3, optimizer="adam", workers=0, val_fraction=0.25, export=False)
    train(args, dataset=ds, log=lambda *_: None)
    ck = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ck["epoch"] == 1 and ck["step_in_epoch"] == 0 and ck["config"]["arch"] == "v2v-lite"
    with pytest.raises(UserError, match="already holds a run"):
        train(args, dataset=ds, log=lambda *_: None)
    args.epochs, args.resume, args.export = 2, True, True
    metrics = train(args, dataset=ds, log=lambda *_: None)
    ck = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ck["epoch"] == 2 and ck["global_step"] == 2 * 3
    assert len(ck["history"]) == 2 and "val_mean_mm" in metrics
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    assert [float(r["epoch_progress"]) for r in rows if r["val_mean_mm"]] == [1.0, 2.0]
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000
    mask = os.umask(0)
    os.umask(mask)
    for name in ("curves.png", "metrics.csv", "last.pt", "model.onnx"):   # shareable like any new file (not 0600)
        assert (tmp_path / "run" / name).stat().st_mode & 0o777 == 0o666 & ~mask, name
    info = read_model_info(tmp_path / "run" / "model.onnx")
    assert info.arch == "v2v-lite" and info.skeleton == "hand21" and "tiny" in info.training_data
    args.arch = "v2v-full"
    with pytest.raises(UserError, match="holds a v2v-lite model"):
        train(args, dataset=ds, log=lambda *_: None)


def test_full_disk_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    import errno

    from handpose_live.training import checkpoint

    path = tmp_path / "last.pt"
    checkpoint.save_checkpoint(path, {"epoch": 1, "weights": torch.ones(3)})

    def full_disk(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    with pytest.raises(UserError, match="(?i)no space left on device; nothing was replaced"):
        checkpoint.save_checkpoint(path, {"epoch": 2, "weights": torch.zeros(3)})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


@pytest.mark.slow
def test_init_from_starts_from_the_weights_with_a_fresh_schedule(tmp_path):
    ds = TinyHands(8)
    base = TrainArgs(dataset="tiny", data_root="memory", out=str(tmp_path / "a"), arch="v2v-lite", epochs=1,
                     batch_size=4, lr=1e-3, optimizer="adam", workers=0, val_fraction=0.25, export=False)
    train(base, dataset=ds, log=lambda *_: None)
    first = load_checkpoint(tmp_path / "a" / "last.pt")
    messages = []
    tuned = TrainArgs(**{**base.__dict__, "out": str(tmp_path / "b"), "lr": 0.0, "init_from": str(tmp_path / "a" / "last.pt")})
    train(tuned, dataset=ds, log=messages.append)
    second = load_checkpoint(tmp_path / "b" / "last.pt")
    assert any("initialised from" in m for m in messages)
    assert second["global_step"] == 2 and second["epoch"] == 1  # a new run, counted from zero
    conv = "output_layer.weight"  # lr 0: the weights are exactly the ones it started from
    assert torch.equal(first["model_state_dict"][conv], second["model_state_dict"][conv])
    wrong = TrainArgs(**{**tuned.__dict__, "out": str(tmp_path / "c"), "arch": "v2v-full"})
    with pytest.raises(UserError, match="--init-from: .* holds a v2v-lite model"):
        train(wrong, dataset=ds, log=lambda *_: None)


def test_device_defaults_to_auto_as_run_does():
    """`train --device` and `run --device` share a default: auto (cuda when PyTorch sees a GPU, else cpu)."""
    from handpose_live.tracker import TrackerOptions
    from handpose_live.training.args import check_args

    args = TrainArgs(dataset="tiny", data_root="memory", out="unused")
    assert args.device == TrackerOptions.device == "auto"
    check_args(args)
    args.device = "gpu"
    with pytest.raises(UserError, match=r"unknown device 'gpu' \(auto, cpu, cuda\)"):
        check_args(args)
