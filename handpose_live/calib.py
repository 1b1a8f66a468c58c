"""Intrinsics files: one JSON format, looked up by preset name or path."""
from __future__ import annotations

from pathlib import Path

from .errors import UserError
from .fileio import read_json
from .resources import calib_dir
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
