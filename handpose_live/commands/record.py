"""`handpose-live record`: take N frames from a camera and write them as a recording its SDK plays back.

Which file types exist, which camera writes each and how is the camera registry's
(`capture/cameras.py`); the writers are `capture/record.py`.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator

from ..capture import cameras
from ..errors import UserError
from ..options import check_minimums, option, reuse
from ..targets import TARGETS, get_target
from ..tracker import TrackerOptions
from ..types import DepthFrame


@dataclass(kw_only=True)
class RecordOptions:
    """`handpose-live record` options (the command line is built from these fields)."""

    camera: str = reuse(TrackerOptions, "camera", "synthetic", "record's default: recordings made without a camera")
    frames: int = option(300, "number of frames")
    out: Path = option(help=f"{cameras.recordings_by_camera_text()} file to write")
    width: int = option(640, "depth image width in pixels (.mkv: picks the Kinect depth mode, "
                             "640x480 = NFOV unbinned 640x576)")
    height: int = option(480, "depth image height in pixels")
    fps: int = option(30, "frame rate stored in the recording")
    seed: int = option(0, "random seed of the synthetic camera")
    target: str = option("hand", f"{' | '.join(TARGETS)}: what the synthetic camera films (a hand, or a person "
                                 "for `run --target body`)")

    def __post_init__(self) -> None:
        """Checked before the camera opens or anything is written."""
        get_target(self.target)
        check_minimums(("--frames", self.frames, 1), ("--width", self.width, 16), ("--height", self.height, 16),
                       ("--fps", self.fps, 1), ("--seed", self.seed, 0))


def writable_recording(out: Path) -> cameras.Recording:
    """The recording type of `out` (by its suffix; one that some camera writes), once `out` lies in
    a folder that exists and can be written."""
    found = cameras.recording_type(out, writable=True)
    if found is None:
        raise UserError(f"{out}: cannot record '{out.suffix}' files (use {cameras.recordings_by_camera_text()})")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.exists():
        raise UserError(f"cannot write {out}: folder {folder} does not exist")
    if not folder.is_dir():
        raise UserError(f"cannot write {out}: {folder} is not a folder")
    if out.is_dir():
        raise UserError(f"cannot write {out}: it is a folder")
    if not os.access(folder, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise UserError(f"cannot write {out}: permission denied")
    return found[1]


def record(opts: RecordOptions) -> int:
    """Write a camera's frames as a recording that its own SDK plays back (the --out file type picks which)."""
    from rich.progress import Progress

    from ..capture import sources

    out = Path(opts.out)
    kind = writable_recording(out)
    write = kind.write
    assert write is not None            # a writable type
    if kind.prepare is not None:        # e.g. .mkv: the source films through a Kinect calibration, stored with it
        source, extra = kind.prepare(opts.camera, cameras.CameraRequest(
            width=opts.width, height=opts.height, fps=opts.fps, seed=opts.seed, frames=opts.frames, target=opts.target))
    else:
        source, extra = sources.open_source(opts.camera, None, opts.target, width=opts.width, height=opts.height,
                                            fps=opts.fps, seed=opts.seed, frames=opts.frames), {}
    with source:
        intr = source.intrinsics
        # Not on a terminal (a pipe, a log) the bar would only leave an empty line behind.
        with Progress(transient=True, disable=not sys.stdout.isatty()) as progress:
            task = progress.add_task(f"recording {source.name}", total=opts.frames)

            def counted() -> Iterator[DepthFrame]:
                for frame in islice(source.frames(), opts.frames):
                    yield frame
                    progress.advance(task)

            try:
                written = write(out, counted(), intr, fps=opts.fps, **extra)
            except (OSError, RuntimeError) as exc:  # pyrealsense2 reports I/O failures as RuntimeError
                raise UserError(f"cannot write {out}: {getattr(exc, 'strerror', None) or exc}") from None
    size_mb = out.stat().st_size / 1e6
    print(f"wrote {out}: {written} depth frames {intr.width}x{intr.height} @ {opts.fps} fps from {source.name} "
          f"({size_mb:.1f} MB)")
    return written
