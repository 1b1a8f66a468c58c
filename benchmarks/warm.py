"""Python commands started as forks of a process that has already imported the heavy libraries.

A step of reproduce.py is a Python process (`python -m handpose_live ...`, `python benchmarks/x.py ...`) whose
start is mostly importing PyTorch, Open3D, OpenCV and SciPy; in `--quick`, where each then works only a few
seconds, that is a large part of the whole (docs/design-notes.md, `benchmarks/warm.py`).
`Warm` imports them once, in a process that has run nothing else, and starts each command as a fork of it: the
same program with the same command line, environment, working folder, standard streams and exit status as its
subprocess, the modules already in memory.

What a fork inherits is what makes this safe or not, so the parent holds no thread when it forks: OpenBLAS's
pool is kept from starting while NumPy loads (`OPENBLAS_NUM_THREADS=1` for the import only, so each child's
NumPy calls run in one thread), ONNX Runtime (which starts a thread on import) is left to the children, and
`Warm` refuses to start, falling back to plain subprocesses, when any other thread is alive. No PyTorch
operation runs in the parent, so there is no OpenMP pool to inherit. Memory and speed figures of a fork may
differ from a fresh process's (shared pages, one BLAS thread): reproduce.py uses it only for `--quick`, whose
values are checked to be produced and in range, not compared.
"""
from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import runpy
import sys
import traceback
import weakref
from pathlib import Path

MODULES = ("numpy", "torch", "scipy.ndimage", "cv2", "open3d")


def _forget_the_parents_exit_work() -> None:
    """In a fork: what the parent registered to run at its exit (atexit functions; `weakref.finalize`rs such as
    a `tempfile.TemporaryDirectory`'s cleanup, which would delete the parent's folder) is not the child's."""
    atexit._clear()
    for finalizer in list(getattr(weakref.finalize, "_registry", {})):
        finalizer.atexit = False
    weakref.finalize._registered_with_atexit = False      # the child's own finalizers register again


def _threads() -> int:
    with contextlib.suppress(OSError):
        return len(os.listdir("/proc/self/task"))
    return 0      # not Linux: unknown, and `available` says no


class Warm:
    """Imports `MODULES` once; `run` starts a Python command as a fork of this process (None: not possible here)."""

    def __init__(self) -> None:
        self.reason = ""
        if not hasattr(os, "fork") or _threads() != 1:
            self.reason = "needs fork() and a process with one thread (Linux)"
            return
        saved = os.environ.get("OPENBLAS_NUM_THREADS")
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        try:
            for name in MODULES:
                importlib.import_module(name)
        except ImportError as exc:
            self.reason = f"could not import {exc.name}"
        finally:
            if saved is None:
                del os.environ["OPENBLAS_NUM_THREADS"]
            else:
                os.environ["OPENBLAS_NUM_THREADS"] = saved
        if not self.reason and _threads() != 1:
            self.reason = f"importing {', '.join(MODULES)} started threads"

    @property
    def available(self) -> bool:
        return not self.reason

    def run(self, argv: list[str], cwd: Path, env: dict, capture: bool) -> tuple[int, str] | None:
        """Run `argv` ([sys.executable, '-m', module, ...] or [sys.executable, script.py, ...]) as a fork: its exit
        status (negative: killed by that signal) and, if `capture`, its standard output (else sent to stderr).
        None when `argv` is not such a command or a thread has started since: run it as a subprocess."""
        if not self.available or len(argv) < 2 or argv[0] != sys.executable or _threads() != 1:
            return None
        if argv[1] == "-m" and len(argv) > 2:
            module, script, args = argv[2], None, argv[3:]
        elif argv[1].endswith(".py"):
            module, script, args = None, argv[1], argv[2:]
        else:
            return None
        read_end, write_end = os.pipe() if capture else (-1, -1)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:      # the child: becomes the command, never returns
            code = 1
            try:
                _forget_the_parents_exit_work()
                if capture:
                    os.close(read_end)
                    os.dup2(write_end, 1)
                    os.close(write_end)
                else:
                    os.dup2(2, 1)
                os.chdir(cwd)
                os.environ.clear()
                os.environ.update(env)
                if module is not None:
                    sys.argv = [module, *args]
                    sys.path[0] = str(Path(cwd).resolve())
                    runpy.run_module(module, run_name="__main__", alter_sys=True)
                else:
                    assert script is not None
                    path = (Path(cwd) / script).resolve()
                    sys.argv = [str(script), *args]
                    sys.path[0] = str(path.parent)
                    runpy.run_path(str(path), run_name="__main__")
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if exc.code is not None and not isinstance(exc.code, int):
                    print(exc.code, file=sys.stderr)
            except BaseException:      # as the interpreter would: the traceback, exit 1
                traceback.print_exc()
            finally:
                with contextlib.suppress(BaseException):
                    atexit._run_exitfuncs()
                with contextlib.suppress(BaseException):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        chunks = []
        if capture:
            os.close(write_end)
            with os.fdopen(read_end, "rb") as pipe:
                chunks = list(iter(lambda: pipe.read(65536), b""))
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace")
