"""Intrinsics files: one JSON format, looked up by preset name or path; and the check that depth
read with them looks like depth (a wrong `depth_scale_m` otherwise fails silently: nothing found)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import UserError
from .fileio import read_json
from .resources import calib_dir
from .targets import Target
from .types import Intrinsics

_FIELDS = ("fx", "fy", "cx", "cy", "width", "height")


def presets() -> list[str]:
    return sorted(p.stem for p in calib_dir().glob("*.json"))


def load_intrinsics(name_or_path: str | Path) -> Intrinsics:
    """Load `calib/<name>.json` or any JSON file with fx, fy, cx, cy, width, height."""
    path = Path(name_or_path)
    if not path.suffix:
        path = calib_dir() / f"{name_or_path}.json"
        if not path.is_file():
            raise UserError(f"unknown camera preset '{name_or_path}' (known: {', '.join(presets())})")
    data = read_json(path, "intrinsics file")
    if not isinstance(data, dict):
        raise UserError(f"intrinsics file {path} is not a JSON object with fx, fy, cx, cy, width, height")
    missing = [f for f in _FIELDS if f not in data]
    if missing:
        raise UserError(f"intrinsics file {path} lacks {', '.join(missing)}")
    try:
        return Intrinsics(
            fx=float(data["fx"]), fy=float(data["fy"]), cx=float(data["cx"]), cy=float(data["cy"]),
            width=int(data["width"]), height=int(data["height"]),
            depth_scale_m=float(data.get("depth_scale_m", 0.001)),
            distortion=tuple(float(c) for c in data.get("distortion", (0.0,) * 5)),
            name=str(data.get("name", path.stem)),
        )
    except (TypeError, ValueError) as exc:
        raise UserError(f"intrinsics file {path} has a malformed value: {exc}") from None


# A scene's median depth beyond these is no camera's (mm): a depth scale too small, or too large.
PLAUSIBLE_MEDIAN_MM = (100.0, 10_000.0)
# depth_scale_m values of real files: millimetres, RealSense SR3xx (1/8 mm), Orbbec Gemini (0.1 mm), float metres
COMMON_SCALES = {0.001: "millimetres", 0.000125: "1/8 mm, RealSense SR300/SR305", 0.0001: "0.1 mm", 1.0: "metres"}


def implausible_depth(depth_mm: np.ndarray, intrinsics: Intrinsics, target: Target) -> str | None:
    """Why this frame's depth (already in mm through `intrinsics.depth_scale_m`) looks read with the wrong
    scale, with the likely fix; None when it looks plausible or holds too few measurements to judge.
    Implausible: a median valid depth under 100 mm or over 10 m; nearer than the target's depth range
    (`target.depth_range_mm`: most of the view closer than any subject is looked for); or beyond twice its
    far end with fewer than `target.min_points` pixels inside it (a wall 1.5 m behind no hand yet is a
    scene; 1/8 mm read as mm is not)."""
    depth = np.asarray(depth_mm, dtype=np.float64)
    valid = depth[np.isfinite(depth) & (depth > 0)]
    if valid.size < _enough(depth.size):
        return None
    median = float(np.median(valid))
    lo, hi = target.depth_range_mm
    in_range = int(np.count_nonzero((valid >= lo) & (valid <= hi)))
    near, far = max(PLAUSIBLE_MEDIAN_MM[0], lo), PLAUSIBLE_MEDIAN_MM[1]
    if near <= median <= far and not (median > 2 * hi and in_range < target.min_points):
        return None
    raw_median = median / (intrinsics.depth_scale_m * 1000.0)
    fits = [scale for scale in COMMON_SCALES
            if scale != intrinsics.depth_scale_m and near <= raw_median * scale * 1000.0 <= min(far, 4 * hi)]
    hint = (f"; with depth_scale_m {fits[0]:g} ({COMMON_SCALES[fits[0]]}) it would be "
            f"{raw_median * fits[0] * 1000.0:,.0f} mm" if fits else "")
    return (f"the depth looks implausible for {intrinsics.name or 'these intrinsics'} (depth_scale_m "
            f"{intrinsics.depth_scale_m:g}): median {median:,.0f} mm, {target.plural} are looked for at "
            f"{lo:,.0f}-{hi:,.0f} mm{hint}. If the files are in another unit, pass --intrinsics a calib JSON file "
            f"with the right depth_scale_m (metres per unit)")


EMPTY_FRAMES = 3     # this many first frames with too little depth to judge (`no_depth`) get a warning


def _enough(pixels: int) -> int:
    """Valid measurements a frame needs to be judged: 1 % of its pixels, at least 100."""
    return max(100, pixels // 100)


def no_depth(depth_mm: np.ndarray) -> bool:
    """The frame holds too little valid depth for `implausible_depth` to judge (a blank or non-depth image)."""
    depth = np.asarray(depth_mm)
    return int(np.count_nonzero(np.isfinite(depth) & (depth > 0))) < _enough(depth.size)


def no_depth_warning(intrinsics: Intrinsics) -> str:
    """What the first `EMPTY_FRAMES` frames with (almost) no depth are told, with the likely fix."""
    return (f"the first {EMPTY_FRAMES} frames hold almost no depth (under 1 % of their pixels measured), so no "
            f"subject can be found: are these depth images (16-bit PNG, .npy or .npz, 0 where unmeasured) in the units "
            f"of {intrinsics.name or 'these intrinsics'} (depth_scale_m {intrinsics.depth_scale_m:g})?")
