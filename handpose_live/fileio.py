"""Writing whole artefacts so that a crash, a kill or a full disk never leaves half a file.

Every artefact that must be whole (checkpoints, models, plots, JSON reports, dataset shards,
recordings, screenshots) goes through `atomic_path`/`atomic_write`: the bytes go to a hidden
temp file beside the target (same filesystem, so the rename is atomic), are flushed and
fsynced, get the permissions of any new file (mkstemp-style files would be 0600), and are then
renamed over the target; the folder is fsynced so the rename itself survives a power cut. On
any OSError (disk full, permissions) the temp file is removed, the previous version of the
target is untouched, and the caller gets a one-line `UserError`.
A target that is a symlink is written through: the link stays, the file it points to changes.
Streams that grow as they go (records, video) are not artefacts; see `sinks/files.py`.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import resource
import secrets
import stat
from pathlib import Path
from typing import IO, Callable, Iterator

from .errors import UserError

_TEMP_RE = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp(\.[A-Za-z0-9]+)?$")


def describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    if exc.errno == errno.EFBIG:
        return "no space left: file too large for the file-size limit (ulimit -f)"
    return exc.strerror or str(exc)


def short_write_reason(path: Path | str) -> str:
    """Why a file came out shorter than what was written to it, for writers that swallow their write
    errors (librealsense's recorder logs them and goes on): the file-size limit, a full disk, or neither."""
    path = Path(path)
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    with contextlib.suppress(OSError):
        if soft != resource.RLIM_INFINITY and path.stat().st_size + (8 << 20) > soft:
            return describe_os_error(OSError(errno.EFBIG, "File too large"))
        st = os.statvfs(path.parent)
        if st.f_bavail * st.f_frsize < (64 << 20):
            return describe_os_error(OSError(errno.ENOSPC, "No space left on device"))
    return "some writes failed (disk full or removed?)"


def check_regular_file(path: Path | str, what: str = "file") -> Path:
    """`path` is an existing regular file, or a one-line UserError. A FIFO or a device would block the
    read (Ctrl-C cannot interrupt a blocked open) or never end; a folder is not a file."""
    path = Path(path)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise UserError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {describe_os_error(exc)}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else \
            "a device or socket"
        raise UserError(f"{what} {path} is {kind}, not a regular file")
    return path


def fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _shareable(path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def is_temporary(path: Path) -> bool:
    """A leftover of an interrupted `atomic_path` (safe to delete)."""
    return bool(_TEMP_RE.match(Path(path).name))


def remove_temporaries(folder: Path) -> int:
    """Delete what interrupted atomic writes left in `folder`; returns how many."""
    removed = 0
    for p in Path(folder).iterdir() if Path(folder).is_dir() else ():
        if p.is_file() and is_temporary(p):
            with contextlib.suppress(OSError):
                p.unlink()
                removed += 1
    return removed


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a fresh temp path beside `path` (same suffix, for tools that pick a format by it);
    on success it is renamed over `path`, on failure removed."""
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {path.parent}: {describe_os_error(exc)}") from None
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        yield tmp
        _shareable(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        raise UserError(f"could not write {path}: {describe_os_error(exc)}; nothing was replaced") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def atomic_write(path: Path | str, write: Callable[[IO], object], mode: str = "wb") -> None:
    """Call `write(file)` on a temp file beside `path`, fsync it and rename it over `path`."""
    with atomic_path(path) as tmp:
        with open(tmp, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write(path, lambda f: f.write(text), mode="w")


def read_text(path: Path | str, what: str = "file") -> str:
    """A whole text input file; missing or unreadable (permissions, a folder, an I/O error) is one line.
    Bytes that are not UTF-8 are replaced, so a parser names the bad line instead of failing here."""
    path = check_regular_file(path, what)
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            return fh.read()
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {describe_os_error(exc)}") from None


def read_json(path: Path | str, what: str = "file"):
    """A JSON input file (a settings or index file the user may have edited), or one line saying why not."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{what} {path} is not valid JSON: {exc}") from None


IMAGE_FORMATS = (".png", ".jpg", ".jpeg")      # screenshots, contact sheets (OpenCV, Open3D)
FIGURE_FORMATS = (".png", ".pdf", ".svg")       # matplotlib plots


def check_format(path: Path | str, formats: tuple[str, ...], what: str) -> Path:
    """A file we will write in the format its suffix names; checked before the work that makes it
    (a whole run, render or evaluation), not after."""
    path = Path(path)
    if path.suffix.lower() not in formats:
        raise UserError(f"{what} must be a {', '.join(formats)} file, got '{path.name}'")
    return path


def save_figure(fig, path: Path | str, **kwargs) -> None:
    """A matplotlib figure in the format its suffix names, atomically."""
    fmt = check_format(path, FIGURE_FORMATS, "a plot").suffix.lower()[1:]
    atomic_write(path, lambda f: fig.savefig(f, format=fmt, **kwargs))
