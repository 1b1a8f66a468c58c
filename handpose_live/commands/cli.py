"""The `handpose-live` command. Each command parses options and hands over to one module.

Imports of heavy modules happen inside the commands so `--help` stays fast.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=False, pretty_exceptions_enable=False,
                  help="Real-time 3D hand and body pose from depth cameras (V2V-PoseNet).")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def doctor() -> None:
    """Check what this machine can run: torch, ONNX Runtime providers, RealSense, Open3D, OpenCV."""
    from .doctor import run_doctor
    raise typer.Exit(run_doctor())


@app.command("export-onnx")
def export_onnx(
    checkpoint: Path = typer.Argument(..., help="training checkpoint (ours or the public PyTorch port's)"),
    out: Path = typer.Option(..., "--out", help="ONNX file to write"),
    arch: Optional[str] = typer.Option(None, help="architecture of a port checkpoint (inferred when omitted)"),
    skeleton: Optional[str] = typer.Option(None, help="skeleton name for a port checkpoint (e.g. msra21, nyu14)"),
    cube_mm: Optional[float] = typer.Option(None, "--cube-mm", help="cube edge for a port checkpoint (default 250 hand, 2000 body)"),
    source_y_up: bool = typer.Option(False, "--source-y-up", help="port checkpoint was trained on y-up data (NYU, MSRA, ITOP)"),
    source_xyz: bool = typer.Option(True, "--source-xyz/--source-zyx", help="port checkpoint grids are indexed [x, y, z]"),
    with_heatmaps: bool = typer.Option(False, "--with-heatmaps", help="also output the raw heatmaps"),
    opset: int = typer.Option(17, help="ONNX opset"),
    min_confidence: Optional[float] = typer.Option(
        None, "--min-confidence", help="store the model's 'no hand' gate (mean heatmap peak), measured on held-out data"),
) -> None:
    """Turn a checkpoint into the self-describing ONNX model that `run` uses, and verify it."""
    from ..training.export import export_checkpoint
    export_checkpoint(checkpoint, out, arch=arch, skeleton=skeleton, cube_mm=cube_mm, source_y_up=source_y_up,
                      source_xyz=source_xyz, with_heatmaps=with_heatmaps, opset=opset, min_confidence=min_confidence)


@app.command()
def run(
    camera: str = typer.Option("auto", help="auto (a RealSense if connected, else synthetic) | realsense | synthetic | kinect"),
    input: Optional[Path] = typer.Option(None, "--input", help="recording to replay (.bag, .db3, .mkv)"),
    model: Optional[Path] = typer.Option(None, help="ONNX model (default: the shipped model for --target)"),
    target: str = typer.Option("hand", help="hand | body"),
    frames: int = typer.Option(0, help="stop after N frames (0 = until the source ends or Ctrl-C)"),
    output: Optional[Path] = typer.Option(None, help="write one record per frame (.jsonl or .csv)"),
    viewer: str = typer.Option("auto", help="auto | open3d | opencv | none (auto: open3d with a display, else none)"),
    screenshot: Optional[Path] = typer.Option(None, help="save the last viewer image to this PNG (works headless)"),
    save_video: Optional[Path] = typer.Option(None, "--save-video", help="write the 2D overlay to an .mp4"),
    udp: Optional[str] = typer.Option(None, help="stream each frame's JSON record to host:port"),
    realtime: Optional[bool] = typer.Option(None, "--realtime/--no-realtime",
                                            help="files: play at recorded speed (default: every frame, fast)"),
    loop: bool = typer.Option(False, "--loop", help="replay the file endlessly"),
    serial: Optional[str] = typer.Option(None, help="RealSense serial number"),
    width: int = typer.Option(640), height: int = typer.Option(480), fps: int = typer.Option(30),
    seed: int = typer.Option(0, help="synthetic camera seed"),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    threads: Optional[int] = typer.Option(None, help="CPU inference threads"),
    backend: str = typer.Option("onnxruntime", help="onnxruntime | openvino (CPU; pip install openvino)"),
    smoothing: bool = typer.Option(False, "--smoothing/--no-smoothing", help="One-Euro filter on the joints"),
    min_confidence: Optional[float] = typer.Option(None, "--min-confidence", help="mean peak below which no hand is reported"),
    quiet: bool = typer.Option(False, "--quiet", help="no status line or summary"),
) -> None:
    """Estimate pose live from a camera, a recording or the synthetic camera."""
    from .run import RunOptions, run_app
    run_app(RunOptions(camera=camera, input_path=input, model_path=model, target=target, frames=frames, output=output,
                       viewer=viewer, screenshot=screenshot, save_video=save_video, udp=udp, realtime=realtime,
                       loop=loop, serial=serial, width=width, height=height, fps=fps, seed=seed, device=device,
                       threads=threads, backend=backend, smoothing=smoothing, min_confidence=min_confidence, quiet=quiet))


@app.command()
def record(
    camera: str = typer.Option("synthetic", help="synthetic | realsense"),
    frames: int = typer.Option(300, help="number of frames"),
    out: Path = typer.Option(..., "--out", help=".db3 or .bag file to write"),
    width: int = typer.Option(640, help="depth image width in pixels"),
    height: int = typer.Option(480, help="depth image height in pixels"),
    fps: int = typer.Option(30, help="frame rate stored in the recording"),
    seed: int = typer.Option(0, help="random seed of the synthetic camera"),
) -> None:
    """Write a RealSense recording (.db3 or .bag) that pyrealsense2 plays back."""
    from ..capture.record import record_cli
    record_cli(camera=camera, frames=frames, out=out, width=width, height=height, fps=fps, seed=seed)


@app.command()
def synth(
    target: str = typer.Option("hand", help="hand | body"),
    count: int = typer.Option(20000, help="number of frames"),
    out: Path = typer.Option(..., "--out", help="dataset folder"),
    camera: str = typer.Option("d435-640x480", help="camera preset from calib/ or a JSON file"),
    seed: int = typer.Option(0, help="random seed (train and test sets: use different seeds)"),
    preview: Optional[Path] = typer.Option(None, help="contact sheet PNG of some frames"),
    append: bool = typer.Option(False, help="add to / resume an existing dataset"),
) -> None:
    """Render a synthetic depth dataset with exact ground truth."""
    from ..synth.generate import synth_cli
    synth_cli(target=target, count=count, out=out, camera=camera, seed=seed, preview=preview, append=append)


@app.command()
def train(
    dataset: str = typer.Option(..., help="nyu | icvl | msra | hands2017 | itop | synthetic"),
    data_root: Path = typer.Option(..., "--data-root", help="dataset folder"),
    out: Path = typer.Option(..., "--out", help="run folder (checkpoints, metrics.csv, curves.png, model.onnx)"),
    arch: str = typer.Option("v2v-lite", help="v2v-full | v2v-lite"),
    epochs: int = typer.Option(10, min=1),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    lr: float = typer.Option(2.5e-4, help="learning rate (paper: RMSProp 2.5e-4)"),
    optimizer: str = typer.Option("rmsprop", help="rmsprop | adam"),
    device: str = typer.Option("cpu", help="cpu | cuda"),
    workers: int = typer.Option(1, min=0, help="data loader worker processes"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out"),
    seed: int = typer.Option(0),
    val_fraction: float = typer.Option(0.05, "--val-fraction", help="share of training frames held out for validation"),
    val_root: Optional[Path] = typer.Option(None, "--val-root", help="separate validation set (same dataset type)"),
    centers: Optional[Path] = typer.Option(None, "--centers", help="per-frame reference points file (x y z or invalid)"),
    checkpoint_minutes: float = typer.Option(10.0, "--checkpoint-minutes", help="also checkpoint mid-epoch this often"),
    max_steps_per_epoch: int = typer.Option(0, "--max-steps-per-epoch", help="cap steps per epoch (0 = all)"),
    augment: bool = typer.Option(True, "--augment/--no-augment", help="paper augmentation: scale, rotation, shift"),
    export: bool = typer.Option(True, "--export/--no-export", help="export model.onnx from the best checkpoint at the end"),
    schedule: str = typer.Option("none", help="learning-rate schedule: none (paper) | cosine"),
    init_from: Optional[Path] = typer.Option(None, "--init-from",
                                             help="start from this checkpoint's weights (fine-tune; new optimizer and schedule)"),
) -> None:
    """Train a V2V model with the paper's recipe (also under `torchrun` for DDP)."""
    from ..training.trainer import TrainArgs, train as run_training
    run_training(TrainArgs(dataset=dataset, data_root=str(data_root), out=str(out), arch=arch, epochs=epochs,
                           batch_size=batch_size, lr=lr, optimizer=optimizer, device=device, workers=workers,
                           resume=resume, seed=seed, val_fraction=val_fraction,
                           val_root=str(val_root) if val_root else None, centers=str(centers) if centers else None,
                           checkpoint_minutes=checkpoint_minutes, max_steps_per_epoch=max_steps_per_epoch,
                           augment=augment, export=export, schedule=schedule,
                           init_from=str(init_from) if init_from else None))


@app.command("eval")
def evaluate(
    dataset: str = typer.Option(..., "--dataset", help="nyu | icvl | msra (files); with --model also hands2017, itop, synthetic"),
    predictions: Optional[list[Path]] = typer.Option(
        None, "--predictions", help="prediction file, one line per frame of J x (u v d); repeat to compare methods"),
    ground_truth: Optional[Path] = typer.Option(
        None, "--ground-truth", help="ground truth of the test set in the same u v d format (needed with --predictions)"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="write the success-rate curve to this PNG"),
    as_json: bool = typer.Option(False, "--json", help="print the figures as JSON, one line per predictions file"),
    label: Optional[list[str]] = typer.Option(
        None, "--label", help="method name per --predictions, in order (default: file name)"),
    model: Optional[Path] = typer.Option(None, "--model", help="ONNX model to evaluate on --data-root"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="dataset folder for --model"),
    split: str = typer.Option("test", help="dataset split for --model"),
    out: Optional[Path] = typer.Option(None, "--out", help="with --model: write its predictions (standard u v d format)"),
    limit: int = typer.Option(0, help="with --model: evaluate only the first N frames (0 = all)"),
) -> None:
    """Evaluate prediction files, or a model on a dataset split, with the standard protocol."""
    from .evaluate import eval_cli
    eval_cli(dataset, list(predictions or []), ground_truth=ground_truth, plot=plot, as_json=as_json,
             labels=list(label or []), model=model, data_root=data_root, split=split, out=out, limit=limit)


@app.command()
def bench(
    model: Optional[list[Path]] = typer.Option(None, "--model", help="ONNX model(s); repeat to compare (default: shipped)"),
    camera: str = typer.Option("synthetic", help="synthetic | realsense (ignored with --input)"),
    input: Optional[Path] = typer.Option(None, "--input", help="recording to replay (.db3, .bag)"),
    frames: int = typer.Option(300, help="frames to time"),
    threads: Optional[list[int]] = typer.Option(None, "--threads", help="CPU threads; repeat to compare"),
    backend: Optional[list[str]] = typer.Option(None, "--backend",
                                                help="onnxruntime | openvino; repeat to compare (default onnxruntime)"),
    device: str = typer.Option("cpu", help="cpu | cuda | auto"),
    target: str = typer.Option("hand", help="hand | body"),
    as_json: bool = typer.Option(False, "--json", help="print the figures as JSON"),
    soak: int = typer.Option(0, help="also replay this many frames and check RSS stays flat"),
) -> None:
    """Measure per-stage latency, fps, CPU and memory of the real pipeline."""
    from .bench import bench_cli
    bench_cli(list(model or []), camera, input, frames, list(threads or []), device, as_json, target, soak,
              backends=list(backend or []))


def main() -> None:
    try:
        app()
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug of ours: still one line, with a way to get the details
        if os.environ.get("HANDPOSE_LIVE_DEBUG"):
            raise
        typer.echo(f"error: internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                   "(set HANDPOSE_LIVE_DEBUG=1 for the traceback and please report it)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
