"""The `handpose-live` command: each command is an options dataclass (every option declared once,
as a field) and a handler in its own module of `commands/`, joined by `register`.

Imports of heavy modules happen inside the handlers so `--help` stays fast.
"""
from __future__ import annotations

import dataclasses
import inspect
import os
import sys
import typing

import typer
from typer.core import TyperGroup

from ..errors import UserError
from ..training.args import DetectorTrainArgs, TrainArgs, check_args
from .bench import BenchOptions, bench_cli
from .evaluate import EvalOptions, evaluate
from .export import ExportOptions, export
from .record import RecordOptions, record
from .run import RunOptions
from .synth import SynthOptions, synth


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
    its default, help and flags, by `options.option` / `options.argument`); the command calls
    `handler(options)` and its help is the handler's docstring."""
    hints = typing.get_type_hints(options_cls)
    params = []
    for f in dataclasses.fields(options_cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = ...
        if f.metadata.get("argument"):
            declared = typer.Argument(default, help=f.metadata.get("help", ""))
        else:
            flags = f.metadata.get("flags") or ("--" + f.name.replace("_", "-"),)
            hint = hints[f.name]
            repeatable = typing.get_origin(hint) is list       # <path>..., not <list[Path]>
            metavar = f"<{typing.get_args(hint)[0].__name__.lower()}>..." if repeatable else None
            declared = typer.Option(default, *flags, help=f.metadata.get("help", ""), metavar=metavar)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[f.name],
                                        default=declared))

    def command(**values) -> None:
        handler(options_cls(**values))

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = handler.__doc__
    command.__name__ = name.replace("-", "_")
    app.command(name)(command)


def _run(options: RunOptions) -> None:
    """Estimate pose live from a camera, a recording or the synthetic camera."""
    from .run import run_app
    run_app(options)


def _train(options: TrainArgs) -> None:
    """Train a V2V model with the paper's recipe (also under `torchrun` for DDP)."""
    check_args(options)          # an option error in a fraction of a second, before torch loads
    from ..training.trainer import train
    train(options)


def _train_detector(options: DetectorTrainArgs) -> None:
    """Train the hand detector on whole synthetic scenes and export it as ONNX."""
    from ..training.detector import train_detector
    train_detector(options)


# The commands in the order `--help` lists them; each module keeps heavy imports inside its handler.
register("run", RunOptions, _run)
register("record", RecordOptions, record)
register("synth", SynthOptions, synth)
register("train", TrainArgs, _train)
register("train-detector", DetectorTrainArgs, _train_detector)
register("export-onnx", ExportOptions, export)
register("eval", EvalOptions, evaluate)
register("bench", BenchOptions, bench_cli)


@app.command()
def doctor() -> None:
    """Check what this machine can run: torch, ONNX Runtime providers, camera SDKs, Open3D, OpenCV."""
    from .doctor import run_doctor
    raise typer.Exit(run_doctor())


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
    from .. import interrupts

    _private_runtime_dir()
    # `kill`, `docker stop`, systemd: end the command as Ctrl-C does (finally blocks run, files are
    # closed, `run` prints its summary), exit 130, instead of dying mid-write; between frames.
    interrupts.install()
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
