"""Command options written once: a dataclass field carries its default, its help and its flags.

Every command's options are one dataclass (`RunOptions`, `BenchOptions`, `TrainArgs`, ...): what
the code passes around, and what the command line is built from (`commands/cli.py: register`),
so an option is declared in exactly one place. A command that takes another's option takes its
field (`reuse`, `repeated`): `bench` times what `run` runs with `run`'s own source and model
options. This module imports nothing heavy (no typer), so training and inference code can
declare options without depending on the command line.
"""
from __future__ import annotations

import dataclasses
from typing import Any


def option(default: Any = dataclasses.MISSING, help: str = "", *flags: str) -> Any:
    """A dataclass field that is also a command-line option (`flags` default to --field-name)."""
    meta = {"help": help, "flags": flags}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=meta)
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def argument(default: Any = dataclasses.MISSING, help: str = "") -> Any:
    """A dataclass field that is a positional command-line argument (`export-onnx CHECKPOINT`)."""
    return dataclasses.field(default=default, metadata={"help": help, "flags": (), "argument": True})


def _declared(options_cls: type, name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(options_cls) if f.name == name)


def reuse(options_cls: type, name: str, default: Any = dataclasses.MISSING, why: str = "") -> Any:
    """Option `name` of another command (a field of `options_cls`) taken as it is: its help, flags
    and default. A different `default` is this command's one override, and `why` (then required)
    ends its help, so the reason is read where the difference is."""
    f = _declared(options_cls, name)
    if default is dataclasses.MISSING:
        factory = f.default_factory
        default = factory() if callable(factory) else f.default
        help = f.metadata["help"]
    else:
        if not why:
            raise ValueError(f"a different default for --{name.replace('_', '-')} needs its reason")
        help = f"{f.metadata['help']}; {why}"
    return option(default, help, *f.metadata["flags"])


def repeated(options_cls: type, name: str, example: str = "") -> Any:
    """Option `name` of another command made repeatable (a list, empty unless given, meaning that
    command's default): `bench --threads 1 --threads 4` compares what `run --threads` sets."""
    f = _declared(options_cls, name)
    help = f"{f.metadata['help']}; repeat to compare" + (f", e.g. {example}" if example else "")
    if f.default not in (None, False, dataclasses.MISSING):
        help += f" (default: {f.default})"
    return option([], help, *f.metadata["flags"])


def check_minimums(*checks: tuple[str, float, float]) -> None:
    """Each check is (flag, value, lowest allowed value); the first value below its bound is the
    one-line error, before the command opens or writes anything. Seeds are checked here too:
    numpy's generators take only non-negative seeds."""
    from .errors import UserError

    for name, value, low in checks:
        if value < low:
            raise UserError(f"{name} must be at least {low}, got {value}")


DEVICES = ("auto", "cpu", "cuda")     # --device of run, bench and train: auto = cuda when it really loads, else cpu


def check_device(device: str) -> None:
    """A device outside `DEVICES` is the one-line error."""
    from .errors import UserError

    if device not in DEVICES:
        raise UserError(f"unknown device '{device}' ({', '.join(DEVICES)})")
