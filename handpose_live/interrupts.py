"""Ctrl-C and SIGTERM end a command between frames, not in the middle of one.

`install()` (the CLI calls it on the main thread) makes SIGINT and SIGTERM raise
`KeyboardInterrupt` as usual, with "SIGTERM" as its argument for the latter (`kill`, `docker stop`,
systemd end a command as Ctrl-C does: finally blocks run, files are closed, `run` prints its
summary, exit 130). Inside `held()` the interrupt waits for the block to end: `Tracker.run` holds
it while a frame's record goes to the outputs and into the run's counts, so the summary always
counts exactly the records written. A second signal while held interrupts at once, so a sink that
hangs can still be stopped. Without `install()` (the Python API) `held()` changes nothing.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_held = 0                    # depth of held() blocks on the main thread
_pending: str | None = None  # the signal that arrived while held


def _interrupt(name: str) -> KeyboardInterrupt:
    return KeyboardInterrupt(name) if name == "SIGTERM" else KeyboardInterrupt()


def _on_signal(signum, frame) -> None:
    global _pending
    name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
    if _held and _pending is None:
        _pending = name
        return
    raise _interrupt(name)


def install() -> None:
    """SIGINT and SIGTERM as deferrable interrupts (main thread only, as Python requires). A SIGINT
    the process was started ignoring (`nohup`, a background job of a script) stays ignored."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


@contextmanager
def held() -> Iterator[None]:
    """Delay an interrupt that arrives inside the block to its end (main thread; elsewhere a no-op)."""
    global _held, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _held += 1
    try:
        yield
    except BaseException:
        _held -= 1
        if not _held:
            _pending = None      # the block's own error (or a second signal) ends the command already
        raise
    _held -= 1
    if not _held and _pending is not None:
        name, _pending = _pending, None
        raise _interrupt(name)
