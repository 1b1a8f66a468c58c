"""`run --save-video`: the 2D overlay of every processed frame as an H.264 .mp4 that browsers play.

Why PyAV and not cv2.VideoWriter: OpenCV's wheels encode MPEG-4 Part 2 (mp4v) only, which
browsers do not play, and at a fixed frame rate, so a run that processed frames unevenly (a
live camera drops frames while the model works) came out too fast or too slow. PyAV's wheels
bundle FFmpeg with libx264: each frame gets its presentation time from its own timestamp
(variable frame rate), so the video plays at the speed the scene happened, and it holds every
frame the pipeline processed.

The video is a whole artefact, like a screenshot: it is encoded into a hidden temp file beside
the target and renamed onto it on close (`fileio.atomic_path`), with the index at the front
(faststart) so it starts playing before it is fully downloaded. An mp4 is only playable once
its index is written, so a video cut by SIGKILL could never be more than a broken file: it
leaves just the temp file (`fileio.remove_temporaries` cleans it), never a half file under the
final name. Ctrl-C and SIGTERM close it normally, with the frames processed so far. A write that
fails (a full disk, the file-size limit) ends the run with one line: the records stay (streamed,
`sinks/files.py`), the partial video is removed (without its index it would not play).
"""
from __future__ import annotations

import contextlib
import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..fileio import atomic_path, describe_os_error
from ..skeletons import Skeleton
from ..types import DepthFrame, PoseResult
from .base import Sink
from .files import check_writable_target
from .overlay import Overlay

TIME_BASE = Fraction(1, 90000)   # the usual video clock: fine enough for any frame timestamp in ms
ENCODERS = ("libx264", "h264")   # libx264 ships in PyAV's wheels; `h264` is FFmpeg's default H.264 encoder
# The encoder runs in the pipeline's loop: `ultrafast` took 14 ms per 640x480 frame against 32 ms for
# `veryfast` (2 shared cores), for a 1.5x bigger file. Quality (crf) is the same.
ENCODER_OPTIONS = {"preset": "ultrafast", "crf": "23"}


def h264_encoder(av) -> str | None:
    """The first H.264 encoder of ENCODERS that this PyAV has (None: none)."""
    for name in ENCODERS:
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:   # av's UnknownCodecError and friends
            continue
    return None


class VideoWriterSink(Sink):
    """Writes the overlay of each frame as H.264 (yuv420p) in an .mp4, timed by the frames' timestamps.

    The size is taken from the first frame (odd sizes are padded by one black pixel: yuv420p
    needs even ones); `fps` is only the nominal rate, which sets the last frame's duration and
    times frames without a usable timestamp.
    """

    def __init__(self, path, fps: float, skeleton: Skeleton) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".mp4":
            raise UserError(f"unsupported video file {self.path}: use a .mp4 name")
        if not (math.isfinite(fps) and fps > 0):
            raise UserError(f"video fps must be positive (got {fps})")
        try:
            import av
        except ImportError:
            raise UserError("--save-video needs PyAV: pip install av") from None
        self._av = av
        encoder = h264_encoder(av)
        if encoder is None:
            raise UserError("cannot write an H.264 video: the installed PyAV has no H.264 encoder (pip install av)")
        self.encoder = encoder
        self.fps = float(fps)
        self.skeleton = skeleton
        self._overlay = Overlay(skeleton)     # the view follows the subjects, as in the viewer
        check_writable_target(self.path)
        self.frames_written = 0
        self._files = contextlib.ExitStack()
        self._temp: Path | None = None
        self._container = None
        self._stream = None
        self._size: tuple[int, int] | None = None    # encoded (width, height), even
        self._first_ms: float | None = None
        self._last_pts = -1
        self._closed = False
        self._failed = False             # a write failed: close() removes the partial video

    def _open(self, width: int, height: int) -> None:
        self._temp = self._files.enter_context(atomic_path(self.path))
        try:
            container = self._av.open(str(self._temp), "w", format="mp4", options={"movflags": "+faststart"})
        except OSError as exc:
            raise UserError(f"cannot write video {self.path}: {describe_os_error(exc)}") from None
        stream = container.add_stream(self.encoder, rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE
        if self.encoder == "libx264":
            stream.options = dict(ENCODER_OPTIONS)
        self._container, self._stream = container, stream
        self._size = (stream.width, stream.height)

    def _pts(self, frame: DepthFrame) -> int:
        """The frame's time since the first frame, in TIME_BASE ticks; always increasing."""
        stamp = float(frame.timestamp_ms) if frame.timestamp_ms is not None else math.nan
        if math.isfinite(stamp):
            if self._first_ms is None:
                self._first_ms = stamp
            pts = round((stamp - self._first_ms) / 1000.0 / TIME_BASE)
        else:
            pts = self._last_pts + round(1.0 / self.fps / TIME_BASE)
        pts = max(pts, self._last_pts + 1)
        self._last_pts = pts
        return pts

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        if self._closed:
            raise ValueError(f"VideoWriterSink for {self.path} is closed")
        image = self._overlay.render(frame, result)
        if self._container is None:
            self._open(image.shape[1], image.shape[0])
        assert self._size is not None and self._stream is not None
        width, height = self._size
        if image.shape[:2] != (height, width):
            canvas = np.zeros((height, width, 3), np.uint8)    # pad (odd sizes) or crop (a changed size)
            h, w = min(height, image.shape[0]), min(width, image.shape[1])
            canvas[:h, :w] = image[:h, :w]
            image = canvas
        video_frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        video_frame.pts, video_frame.time_base = self._pts(frame), TIME_BASE
        self._encode(video_frame)
        self.frames_written += 1

    def _encode(self, video_frame) -> None:
        try:
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
        except OSError as exc:   # a full disk, a file size limit
            self._failed = True
            raise UserError(f"cannot write video {self.path}: {describe_os_error(exc)}") from None

    def close(self) -> None:
        """Flush the encoder, write the index, fsync, and rename the video onto its name.
        After a failure nothing is renamed and the temp file is removed."""
        if self._closed:
            return
        self._closed = True
        if self._container is None:
            return                       # no frame: no video (and nothing under the final name)
        if self._failed:
            # After a failed write FFmpeg's muxer is in an error state: no flush, no trailer (more
            # calls into it are what can crash the process); close it and remove the temp file.
            with contextlib.suppress(Exception):
                self._container.close()
            with contextlib.suppress(BaseException):
                self._files.__exit__(UserError, UserError("video write failed"), None)
            return
        with self._files:                # renames the temp file on success, removes it on an exception
            try:
                self._encode(None)
            finally:
                try:
                    self._container.close()
                except OSError as exc:
                    raise UserError(f"cannot write video {self.path}: {describe_os_error(exc)}") from None
            assert self._temp is not None
            _fsync_file(self._temp)


def _fsync_file(path: Path) -> None:
    """What the muxer wrote, on disk before the rename (it has no fsync of its own)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {describe_os_error(exc)}") from None
    finally:
        os.close(fd)
