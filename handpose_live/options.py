"""Command options written once: a dataclass field carries its default, its help and its flags.

The options dataclasses (`RunOptions`, `TrainArgs`, ...) are what the code passes around; the
command line is built from them (`commands/cli.py: register`), so an option is declared in
exactly one place. This module imports nothing heavy (no typer), so training and inference
code can declare options without depending on the command line.
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


def check_minimums(*checks: tuple[str, float, float]) -> None:
    """Each check is (flag, value, lowest allowed value); the first value below its bound is the
    one-line error, before the command opens or writes anything. Seeds are checked here too:
    numpy's generators take only non-negative seeds."""
    from .errors import UserError

    for name, value, low in checks:
        if value < low:
            raise UserError(f"{name} must be at least {low}, got {value}")
