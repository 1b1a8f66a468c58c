"""Parameters of the centre search: those every target shares, and each search's own.

`CentreConfig.for_target` builds a target's full set from its profile (`targets.py`), scaled to
the model's cube: the subclass of the search that the profile's `centre_search` names
(`SEARCH_CONFIGS`: `HandSearchConfig`, `BodySearchConfig`). docs/centre-search.md describes what
each one tunes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...targets import Target, get_target


@dataclass(frozen=True)
class CentreConfig:
    """What every search and the tracking use; build one with `for_target`."""

    target: str = "hand"                # the target profile's name (`targets.py`)
    cube_mm: float = 250.0
    depth_range_mm: tuple[float, float] = (150.0, 1000.0)
    min_points: int = 150               # valid full-resolution pixels a plausible subject has
    segment_stride_px: int = 4          # subsampling of the search image
    point_step_px: int = 2              # subsampling of back-projected points
    track_min_confidence: float = 0.3   # mean joint confidence below which a subject is not tracked
    shift_radii: tuple[float, ...] = (0.5, 0.45, 0.4, 0.35, 0.3)   # mean-shift radii / cube_mm
    surface_offset_mm: float = 10.0     # the camera sees the front surface; joints lie inside

    @property
    def profile(self) -> Target:
        return get_target(self.target)

    def shift_radii_mm(self) -> list[float]:
        """The mean shift's sphere radii that refine a detected subject."""
        return [r * self.cube_mm for r in self.shift_radii]

    def track_radii_mm(self) -> list[float]:
        """The mean shift's sphere radii that refine a tracked subject: by default the detection's,
        so that switching between tracking and detection does not make the cube jump."""
        return self.shift_radii_mm()

    @classmethod
    def for_target(cls, target: str = "hand", cube_mm: float | None = None) -> CentreConfig:
        """Defaults from the target profile, scaled to the model's cube: the parameters of the
        search its `centre_search` names (`SEARCH_CONFIGS`)."""
        profile = get_target(target)
        cube = profile.cube_mm if cube_mm is None else float(cube_mm)
        return SEARCH_CONFIGS[profile.centre_search].defaults(profile, cube)

    @classmethod
    def defaults(cls, profile: Target, cube_mm: float) -> CentreConfig:
        """This search's parameters for a target profile and cube (subclasses add their own)."""
        return cls(**_from_profile(profile, cube_mm))


@dataclass(frozen=True)
class HandSearchConfig(CentreConfig):
    """The hand search's parameters: the depth band of the nearest blob and the hand's length."""

    band_mm: float = 150.0              # depth band behind the nearest surface
    hand_length_mm: float = 200.0       # blob length kept from the hand's extreme end

    @classmethod
    def defaults(cls, profile: Target, cube_mm: float) -> HandSearchConfig:
        return cls(**_from_profile(profile, cube_mm), band_mm=0.6 * cube_mm, hand_length_mm=0.8 * cube_mm,
                   surface_offset_mm=0.04 * cube_mm)


@dataclass(frozen=True)
class BodySearchConfig(CentreConfig):
    """The body search's parameters: room planes, clustering, and a single tracking step."""

    cluster_cell_mm: float = 100.0      # grid cell of the Euclidean clustering
    max_planes: int = 3                 # room planes (floor, walls) removed before the search
    plane_tol_ratio: float = 0.04       # plane inlier distance, as a fraction of depth
    track_radius_mm: float = 75.0       # a tracked body's centre: one centre-of-mass step within this

    def track_radii_mm(self) -> list[float]:
        """One centre-of-mass step within `track_radius_mm`, not the detection's shrinking mean shift."""
        return [self.track_radius_mm]

    @classmethod
    def defaults(cls, profile: Target, cube_mm: float) -> BodySearchConfig:
        # Every 4th pixel is enough for the centre of mass of a 2 m cube (docs/centre-search.md).
        return cls(**_from_profile(profile, cube_mm), point_step_px=4, shift_radii=(0.5, 0.5, 0.5),
                   surface_offset_mm=0.0, track_radius_mm=0.3 * cube_mm)


# Each search's parameters, by the target profile's `centre_search` (its algorithm: estimator.SEARCHES).
SEARCH_CONFIGS: dict[str, type[CentreConfig]] = {"hand": HandSearchConfig, "body": BodySearchConfig}


def _from_profile(profile: Target, cube_mm: float) -> dict[str, Any]:
    """The parameters every search takes from the target profile."""
    return {"target": profile.name, "cube_mm": cube_mm, "depth_range_mm": profile.depth_range_mm,
            "min_points": profile.min_points}
