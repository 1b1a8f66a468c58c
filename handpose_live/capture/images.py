"""Depth images as a recording: a folder, a glob pattern or one file of 16-bit PNGs, `.npy` arrays
or NYU RGB-packed PNGs, replayed in natural order (frame2 before frame10) on one clock.

Images carry no calibration, so the camera's intrinsics come from `--intrinsics` (a preset of
`calib/` or a JSON file): `width`/`height` must match every image, and `depth_scale_m` gives
the raw unit (0.000125 for a camera that stores 1/8 mm). Encodings:

- `raw`: depth mm = value * depth_scale_m * 1000, for a single-channel image or array. Integer
  and float arrays follow the same rule (a float `.npy` in metres goes with `depth_scale_m` 1.0,
  as the `itop` preset has); NaN, infinite and negative values are no measurement (0).
- `nyu-rgb`: depth mm = G * 256 + B (8-bit three-channel, red unused), as the NYU Hand Pose
  dataset stores it; `depth_scale_m` is not used. 0, and values of `NYU_FAR_MM` and beyond (the
  far constant written where the sensor measured nothing), are no measurement.
- `auto`: an 8-bit three-channel image is `nyu-rgb`; a 16-bit single-channel PNG or any
  single-channel `.npy` is `raw`; an 8-bit single-channel image is refused (a picture, not
  depth; name `--depth-encoding raw` to take it as raw units anyway).
"""
from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import UserError
from ..fileio import describe_os_error
from ..types import DepthFrame, Intrinsics
from .base import RecordingSource

IMAGE_SUFFIXES = (".png", ".npy")
ENCODINGS = ("auto", "raw", "nyu-rgb")
NYU_FAR_MM = 1990   # NYU: no measurement is stored as a far constant near 2,000 mm; hands are far nearer
_GLOB_CHARS = frozenset("*?[")


def is_image_input(path: str | Path) -> bool:
    """Whether `--input` names depth images (a folder that is no ROS 2 bag, a glob pattern, a .png or .npy file)."""
    text = str(path)
    p = Path(text)
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return True
    try:
        if p.is_dir():
            return not (p / "metadata.yaml").is_file()      # a ROS 2 bag folder is a recording (capture/ros.py)
        return not p.exists() and any(c in _GLOB_CHARS for c in text)
    except OSError:      # a folder on the way that may not be read: the reader says so, in one line
        return False


def natural_key(path: Path) -> list:
    """Sort key in which the numbers in a name count by value: frame2 < frame10 (then by text)."""
    parts = re.split(r"(\d+)", str(path))
    return [int(t) if i % 2 else t.lower() for i, t in enumerate(parts)] + [str(path)]


def list_images(spec: str | Path) -> list[Path]:
    """The image files `spec` names, in natural order; a one-line UserError when there are none."""
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        files = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            recordings = sorted(p.name for p in path.iterdir() if p.suffix.lower() in (".bag", ".db3", ".mcap", ".mkv"))
            hint = f" (it holds recordings: pass one, e.g. --input {path / recordings[0]})" if recordings else ""
            raise UserError(f"no depth images (.png, .npy) in folder {path}{hint}")
    elif path.exists():
        if not path.is_file():
            raise UserError(f"{path} is neither a folder nor a depth image file")
        files = [path]
    elif any(c in _GLOB_CHARS for c in text):
        files = [Path(p) for p in glob.glob(text) if Path(p).is_file()]
        if not files:
            raise UserError(f"no files match {text}")
        unknown = sorted({p.suffix or p.name for p in files if p.suffix.lower() not in IMAGE_SUFFIXES})
        if unknown:
            raise UserError(f"{text} matches files that are not depth images ({', '.join(unknown)}); "
                            "expected .png or .npy")
    else:
        raise UserError(f"depth image not found: {path}")
    return sorted(files, key=natural_key)


def _read_array(path: Path) -> np.ndarray:
    """The file's pixels as stored (PNG through OpenCV, unchanged bit depth; .npy through NumPy)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {describe_os_error(exc)}") from None
    if path.suffix.lower() == ".npy":
        import io
        try:
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise UserError(f"{path} is not a readable .npy array: {' '.join(str(exc).split())}") from None
        if not isinstance(array, np.ndarray):
            raise UserError(f"{path} holds several arrays (.npz?); expected one depth array")
        return array
    import cv2
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if image is None:
        raise UserError(f"{path} is not a readable image (empty, truncated or not a PNG)")
    return image


def _shape(array: np.ndarray) -> str:
    channels = "" if array.ndim == 2 else f", {array.shape[2]} channels"
    return f"{array.dtype}{channels}"


def decide_encoding(array: np.ndarray, encoding: str, path: Path) -> str:
    """`raw` or `nyu-rgb` for this array, or a UserError saying why it is not depth."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or min(array.shape[:2]) == 0:
        raise UserError(f"{path} is not a depth image (array of shape {array.shape})")
    if array.dtype.kind not in "uif":
        raise UserError(f"{path} is not a depth image (values of type {array.dtype})")
    three_8bit = array.ndim == 3 and array.shape[2] in (3, 4) and array.dtype == np.uint8
    if encoding == "nyu-rgb":
        if not three_8bit:
            raise UserError(f"{path} is not an NYU RGB-packed depth image ({_shape(array)}; expected 8-bit, 3 channels)")
        return "nyu-rgb"
    if encoding == "raw":
        if array.ndim != 2:
            hint = " (NYU RGB-packed depth: --depth-encoding nyu-rgb)" if three_8bit else ""
            raise UserError(f"{path} has {array.shape[2]} channels; raw depth has one{hint}")
        return "raw"
    if three_8bit:
        return "nyu-rgb"
    if array.ndim != 2:
        raise UserError(f"{path} is not a depth image ({_shape(array)})")
    if array.dtype == np.uint8 or array.dtype == np.int8:
        raise UserError(f"{path} is an 8-bit single-channel image, not depth (depth is a 16-bit PNG, a .npy "
                        "array or an NYU RGB PNG; --depth-encoding raw takes it as raw units anyway)")
    return "raw"


def decode_depth_mm(array: np.ndarray, encoding: str, depth_scale_m: float, path: Path) -> np.ndarray:
    """Float32 millimetres, 0 = no measurement, from a stored array in `encoding` (raw or nyu-rgb)."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if encoding == "nyu-rgb":
        # OpenCV gives BGR(A): channel 0 is blue (low byte), channel 1 green (high byte).
        blue, green = array[:, :, 0].astype(np.int32), array[:, :, 1].astype(np.int32)
        if array.ndim == 3 and np.array_equal(array[:, :, 0], array[:, :, 1]) and \
                np.array_equal(array[:, :, 1], array[:, :, 2]) and array.any():
            raise UserError(f"{path} is a grey picture stored as RGB (all channels equal), not NYU RGB-packed depth")
        mm = (green * 256 + blue).astype(np.float32)
        mm[mm >= NYU_FAR_MM] = 0.0
        return mm
    values = array.astype(np.float64) * (depth_scale_m * 1000.0)
    values[~np.isfinite(values) | (values < 0)] = 0.0
    return values.astype(np.float32)


def read_depth_image(path: str | Path, intrinsics: Intrinsics, encoding: str = "auto") -> tuple[np.ndarray, str]:
    """One file as (depth mm float32, the encoding used), checked against the intrinsics' size."""
    if encoding not in ENCODINGS:
        raise UserError(f"unknown depth encoding '{encoding}' (choose from {', '.join(ENCODINGS)})")
    path = Path(path)
    array = _read_array(path)
    used = decide_encoding(array, encoding, path)
    height, width = array.shape[:2]
    if (width, height) != (intrinsics.width, intrinsics.height):
        raise UserError(f"{path} is {width}x{height} but the intrinsics {intrinsics.name} are "
                        f"{intrinsics.width}x{intrinsics.height}")
    return decode_depth_mm(array, used, intrinsics.depth_scale_m, path), used


class ImageSequence(RecordingSource):
    """Depth images replayed as a recording at `fps` (timestamp = index / fps), pass after pass with `loop`.

    The first image is read when the source opens, so a wrong size, an unreadable file or a
    non-depth image is reported before the pipeline starts; a bad image later on ends the run
    with the same one-line error.
    """

    live = False

    def __init__(self, spec: str | Path, intrinsics: Intrinsics | None, encoding: str = "auto", fps: float = 30.0,
                 realtime: bool = False, loop: bool = False):
        if intrinsics is None:
            raise UserError("depth images need --intrinsics: a preset (e.g. sr305, d435, kinect-v2, nyu) or a "
                            "calib JSON file with fx, fy, cx, cy, width, height, depth_scale_m")
        if encoding not in ENCODINGS:
            raise UserError(f"unknown depth encoding '{encoding}' (choose from {', '.join(ENCODINGS)})")
        if not fps > 0:
            raise UserError(f"--fps must be positive for depth images, got {fps}")
        self.path = Path(spec)
        self.files = list_images(spec)
        self._intrinsics, self.encoding = intrinsics, encoding
        self.realtime, self.loop = bool(realtime), bool(loop)
        self._period_ms = 1000.0 / float(fps)
        self._open = True
        first, used = read_depth_image(self.files[0], intrinsics, encoding)
        self._first: np.ndarray | None = first
        count = len(self.files)
        self.name = (f"images:{spec} ({count} frame{'s' * (count != 1)}, {used}, "
                     f"{intrinsics.name or 'intrinsics'} {intrinsics.width}x{intrinsics.height})")

    @property
    def intrinsics(self) -> Intrinsics:
        return self._intrinsics

    def _one_pass(self, first_index: int) -> Iterator[DepthFrame]:
        for i, path in enumerate(self.files):
            if not self._open:
                return
            if i == 0 and self._first is not None:
                depth, self._first = self._first, None
            else:
                depth, _ = read_depth_image(path, self._intrinsics, self.encoding)
            yield DepthFrame(depth_mm=depth, intrinsics=self._intrinsics, timestamp_ms=i * self._period_ms,
                             index=first_index + i)

    def _is_open(self) -> bool:
        return self._open

    def _rewind(self) -> None:
        pass   # every pass reads the files again

    def close(self) -> None:
        self._open, self._first = False, None
