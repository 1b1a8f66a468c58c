"""The `handpose-live` command. Each command parses options and hands over to one module.

Imports of heavy modules happen inside the commands so `--help` stays fast.
"""
from __future__ import annotations

import dataclasses
import inspect
import os
import sys
import typing
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from ..errors import UserError
from ..training.args import DetectorTrainArgs, TrainArgs
from .run import RunOptions


class _Commands(TyperGroup):
    """The command group, with flags shown bare in `--help` (`--json`, not `--json <bool>`): when
    typer draws help with Rich it labels every option with its type, flags included, as if they
    took a value. An empty metavar leaves flags bare; options with a value keep their type."""

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _bare_flags(command, ctx)
        return command

    def format_help(self, ctx, formatter) -> None:
        _bare_flags(self, ctx)
        super().format_help(ctx, formatter)

    def format_commands(self, ctx, formatter) -> None:
        """Each command's first sentence whole, wrapped, rather than cut to one line with '...'."""
        rows = [(name, command.get_short_help_str(limit=1000)) for name in self.list_commands(ctx)
                if (command := self.get_command(ctx, name)) is not None and not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _bare_flags(command, ctx) -> None:
    for param in command.get_params(ctx):      # includes the --help option
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


# Help as plain text (rich_markup_mode=None): one line per option as wide as the terminal allows (COLUMNS or
# the terminal's width, up to 160), so option names are never cut and the text is not squeezed into the
# last column of a boxed table; and help texts are shown verbatim ("[x, y, z]" or "[host:]port" are not
# taken for Rich markup and dropped).
app = typer.Typer(cls=_Commands, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, context_settings={"max_content_width": 160},
                  help="Real-time 3D hand and body pose from depth cameras (V2V-PoseNet).")


def register(name: str, options_cls, handler) -> None:
    """Add command `name` whose options are the fields of `options_cls` (each declared once, with
    its default, help and flags, by `options.option`); the command calls `handler(options)`."""
    hints = typing.get_type_hints(options_cls)
    params = []
    for f in dataclasses.fields(options_cls):
        flags = f.metadata.get("flags") or ("--" + f.name.replace("_", "-"),)
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = ...
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[f.name],
                                        default=typer.Option(default, *flags, help=f.metadata.get("help", ""))))

    def command(**values) -> None:
        handler(options_cls(**values))

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = handler.__doc__
    command.__name__ = name.replace("-", "_")
    app.command(name)(command)


def _run(options) -> None:
    """Estimate pose live from a camera, a recording or the synthetic camera."""
    from .run import run_app
    run_app(options)


def _train(options) -> None:
    """Train a V2V model with the paper's recipe (also under `torchrun` for DDP)."""
    from ..training.trainer import train
    train(options)


@app.command()
def doctor() -> None:
    """Check what this machine can run: torch, ONNX Runtime providers, RealSense, Open3D, OpenCV."""
    from .doctor import run_doctor
    raise typer.Exit(run_doctor())


@app.command("export-onnx")
def export_onnx(
    checkpoint: Path = typer.Argument(..., help="training checkpoint (ours or the public PyTorch port's); with --int8 "
                                                "or --fp16 also an fp32 model file (.onnx)"),
    out: Path = typer.Option(..., "--out", help="ONNX file to write"),
    arch: Optional[str] = typer.Option(None, help="architecture of a port checkpoint (inferred when omitted)"),
    skeleton: Optional[str] = typer.Option(None, help="skeleton name for a port checkpoint (e.g. msra21, nyu14)"),
    cube_mm: Optional[float] = typer.Option(None, "--cube-mm",
                                            help="cube edge for a port checkpoint (default: the target's, 250 hand, 2000 body)"),
    source_y_up: bool = typer.Option(False, "--source-y-up", help="port checkpoint was trained on y-up data (NYU, MSRA, ITOP)"),
    source_xyz: bool = typer.Option(True, "--source-xyz/--source-zyx", help="port checkpoint grids are indexed [x, y, z]"),
    with_heatmaps: bool = typer.Option(False, "--with-heatmaps", help="also output the raw heatmaps"),
    opset: int = typer.Option(17, help="ONNX opset"),
    min_confidence: Optional[float] = typer.Option(
        None, "--min-confidence", help="store the model's 'no hand' gate (mean heatmap peak), measured on held-out data"),
    int8: bool = typer.Option(False, "--int8", help="write an int8 model (uint8 activations, int8 weights) for CPUs with "
                                                    "int8 dot products; needs --calibration"),
    fp16: bool = typer.Option(False, "--fp16", help="write an fp16 model (GPUs: tensor cores); decoding stays fp32"),
    calibration: Optional[Path] = typer.Option(
        None, "--calibration", help="with --int8: labelled dataset folder (e.g. from `handpose-live synth`) whose frames "
                                    "set the activation ranges; use training data, not the test set. With --fp16: "
                                    "frames of the parity check (default: rendered by the synthetic world)"),
    calibration_dataset: str = typer.Option("synthetic", "--calibration-dataset",
                                            help="loader of the --calibration folder (synthetic, nyu, msra, icvl, ...)"),
    calibration_frames: int = typer.Option(96, "--calibration-frames", help="with --int8: frames used to calibrate "
                                                                                "(--fp16: to check parity)"),
) -> None:
    """Turn a checkpoint into the self-describing ONNX model that `run` uses, and verify it."""
    from ..training.export import export_cli
    export_cli(checkpoint, out, arch=arch, skeleton=skeleton, cube_mm=cube_mm, source_y_up=source_y_up,
               source_xyz=source_xyz, with_heatmaps=with_heatmaps, opset=opset, min_confidence=min_confidence,
               int8=int8, fp16=fp16, calibration=calibration, calibration_dataset=calibration_dataset,
               calibration_frames=calibration_frames)


register("run", RunOptions, _run)
register("train", TrainArgs, _train)


def _train_detector(options) -> None:
    """Train the hand detector on whole synthetic scenes and export it as ONNX."""
    from ..training.detector import train_detector
    train_detector(options)


register("train-detector", DetectorTrainArgs, _train_detector)


@app.command()
def record(
    camera: str = typer.Option("synthetic", help="synthetic | realsense | kinect | orbbec | auto"),
    frames: int = typer.Option(300, help="number of frames"),
    out: Path = typer.Option(..., "--out", help=".db3 or .bag (RealSense), .mkv (Azure Kinect) file to write"),
    width: int = typer.Option(640, help="depth image width in pixels (.mkv: picks the Kinect depth mode, "
                                        "640x480 = NFOV unbinned 640x576)"),
    height: int = typer.Option(480, help="depth image height in pixels"),
    fps: int = typer.Option(30, help="frame rate stored in the recording"),
    seed: int = typer.Option(0, help="random seed of the synthetic camera"),
    target: str = typer.Option("hand", help="hand | body: what the synthetic camera films (a hand, or a person "
                                            "for `run --target body`)"),
) -> None:
    """Write a recording that the camera's own SDK plays back: RealSense .db3/.bag, Azure Kinect .mkv."""
    from ..capture.record import record_cli
    record_cli(camera=camera, frames=frames, out=out, width=width, height=height, fps=fps, seed=seed, target=target)


@app.command()
def synth(
    target: str = typer.Option("hand", help="hand | body"),
    count: int = typer.Option(20000, help="number of frames"),
    out: Path = typer.Option(..., "--out", help="dataset folder"),
    camera: str = typer.Option("d435-640x480", help="camera preset from calib/ or a JSON file"),
    seed: int = typer.Option(0, help="random seed (train and test sets: use different seeds)"),
    preview: Optional[Path] = typer.Option(None, help="contact sheet PNG of some frames"),
    append: bool = typer.Option(False, help="add to / resume an existing dataset"),
    world: str = typer.Option("crowded", help="crowded (the person, the other hand, clutter, three sensor kinds) | "
                              "classic (what the first shipped models were tested on)"),
) -> None:
    """Render a synthetic depth dataset with exact ground truth."""
    from ..synth.generate import synth_cli
    synth_cli(target=target, count=count, out=out, camera=camera, seed=seed, preview=preview, append=append, world=world)


@app.command("eval")
def evaluate(
    dataset: str = typer.Option(..., "--dataset", help="nyu | icvl | msra (files); with --model also hands2017, itop, synthetic"),
    predictions: Optional[list[Path]] = typer.Option(
        None, "--predictions", help="prediction file, one line per frame of J x (u v d); repeat to compare methods"),
    ground_truth: Optional[Path] = typer.Option(
        None, "--ground-truth", help="ground truth of the test set in the same u v d format (needed with --predictions)"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="write the success-rate curve to this file (.png, .pdf or .svg)"),
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
    precision: Optional[list[str]] = typer.Option(
        None, "--precision", help="shipped model: auto | fp32 | int8, as `run --precision`; repeat to compare "
                                  "(e.g. --precision fp32 --precision int8)"),
    camera: str = typer.Option("synthetic", help="synthetic | realsense (ignored with --input)"),
    input: Optional[Path] = typer.Option(None, "--input", help="recording to replay (.db3, .bag, .mkv) or depth images "
                                                               "(folder, glob, .png, .npy)"),
    intrinsics: Optional[str] = typer.Option(None, "--intrinsics", help="depth images: camera preset or calib JSON file"),
    depth_encoding: str = typer.Option("auto", "--depth-encoding", help="depth images: auto | raw | nyu-rgb"),
    frames: int = typer.Option(300, help="frames to time"),
    threads: Optional[list[int]] = typer.Option(None, "--threads", help="CPU threads; repeat to compare"),
    backend: Optional[list[str]] = typer.Option(None, "--backend",
                                                help="onnxruntime | openvino; repeat to compare (default onnxruntime)"),
    device: str = typer.Option("cpu", help="cpu | cuda | auto"),
    target: str = typer.Option("hand", help="hand | body"),
    as_json: bool = typer.Option(False, "--json", help="print the figures as JSON"),
    soak: int = typer.Option(0, help="also replay this many frames and check RSS stays flat"),
    viewer: Optional[list[str]] = typer.Option(
        None, "--viewer", help="none | opencv | open3d; repeat: also run the whole app (live source, pipeline, viewer) "
                               "with each, next to the pipeline alone"),
    subjects: Optional[list[int]] = typer.Option(
        None, "--subjects", help="also time N subjects per frame through the network as one batch; repeat "
                                 "(e.g. --subjects 1 --subjects 2 --subjects 4), ratios to one subject in one run, "
                                 "for each --model"),
) -> None:
    """Measure per-stage latency, fps, CPU and memory of the real pipeline (and of the whole app with --viewer)."""
    from .bench import bench_cli
    bench_cli(list(model or []), camera, input, frames, list(threads or []), device, as_json, target, soak,
              backends=list(backend or []), viewers=list(viewer or []), intrinsics=intrinsics,
              depth_encoding=depth_encoding, subjects=list(subjects or []), precisions=list(precision or []))


def _private_runtime_dir() -> None:
    """Headless machines often have no XDG_RUNTIME_DIR; the GUI libraries' window-system probe then
    prints `error: XDG_RUNTIME_DIR is invalid...` on stderr, which reads like our own failure.
    Give them a private one (mode 0700, per user) so nothing but our own lines reach the user."""
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and os.path.isdir(current) and os.access(current, os.W_OK):
        return
    import tempfile

    path = os.path.join(tempfile.gettempdir(), f"handpose-live-runtime-{os.getuid()}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        if os.stat(path).st_uid == os.getuid():
            os.chmod(path, 0o700)
            os.environ["XDG_RUNTIME_DIR"] = path
    except OSError:
        pass  # only cosmetics are at stake


def main() -> None:
    import signal

    _private_runtime_dir()

    def stop_like_ctrl_c(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    # `kill`, `docker stop`, systemd: end the command as Ctrl-C does (finally blocks run, files are
    # closed, `run` prints its summary), exit 130, instead of dying mid-write.
    signal.signal(signal.SIGTERM, stop_like_ctrl_c)
    try:   # typer vendors its own click since 0.2x; older ones raise the installed click's errors
        from typer._click import exceptions as click_errors
    except ImportError:
        from click import exceptions as click_errors
    ClickException = click_errors.ClickException
    NoArgsIsHelpError = getattr(click_errors, "NoArgsIsHelpError", ())     # click >= 8.2

    try:
        # Not standalone: click's own usage errors ("Invalid value for '--frames'", an unknown option)
        # reach us and become our one line, instead of click's four-line usage block.
        code = app(standalone_mode=False)   # typer turns a KeyboardInterrupt in a command into exit 130
        sys.exit(code if isinstance(code, int) else 0)
    except NoArgsIsHelpError as exc:        # the bare command: its help, as click would print it
        exc.show()
        sys.exit(2)
    except ClickException as exc:
        typer.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(2)
    except typer.Abort:                     # end of input at a prompt
        typer.echo("interrupted", err=True)
        sys.exit(130)
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
