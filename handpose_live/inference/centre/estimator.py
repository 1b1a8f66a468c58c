"""The centre estimator: tracks a subject from its previous joints, or proposes new ones.

It holds no state between frames. Detection runs the target's search (`SEARCHES`, picked by the
profile's `centre_search`) or, for targets whose profile allows it, the learned detector's
candidates; every estimate ends at the configured surface offset (docs/centre-search.md).
"""
from __future__ import annotations

from dataclasses import fields

import numpy as np

from ...types import DepthFrame
from ..detector import Detector
from .body import BodySearch
from .config import SEARCH_CONFIGS, CentreConfig
from .geometry import CentreEstimate, clear_cube, depth_image, search_image, with_surface_offset
from .hand import HandSearch
from .learned import learned_candidates
from .search import CentreSearch
from .tracking import confident, track_centre

# The geometric search for new subjects, by the target profile's `centre_search` (its parameters: SEARCH_CONFIGS).
SEARCHES: dict[str, type[CentreSearch]] = {"hand": HandSearch, "body": BodySearch}


class CentreEstimator:
    """Computes the cube centres of one frame for the target of `config` (default: hands); a
    learned `detector` replaces the geometric search where the target profile allows one."""

    def __init__(self, config: CentreConfig | None = None, detector: Detector | None = None):
        config = config or CentreConfig.for_target("hand")
        profile = config.profile
        config_type = SEARCH_CONFIGS[profile.centre_search]
        if not isinstance(config, config_type):   # a plain CentreConfig: the search's own parameters at their defaults
            config = config_type(**{f.name: getattr(config, f.name) for f in fields(config)})
        self.config = config
        self.search = SEARCHES[profile.centre_search](config)
        self.detector = detector if profile.learned_detector else None

    def estimate(self, frame: DepthFrame, previous_joints_mm: np.ndarray | None = None,
                 previous_confidence: np.ndarray | None = None) -> CentreEstimate | None:
        """One subject: tracked from the previous joints when they are confident, else detected."""
        estimate = None
        if previous_joints_mm is not None:
            estimate = self.track(frame, previous_joints_mm, previous_confidence)
        if estimate is None:
            found = self.detect(frame, limit=1)
            estimate = found[0] if found else None
        return estimate

    def track(self, frame: DepthFrame, previous_joints_mm: np.ndarray,
              previous_confidence: np.ndarray | None = None, others_mm: list[np.ndarray] | None = None
              ) -> CentreEstimate | None:
        """The subject of the previous joints in this frame, or None when it is lost; `others_mm`:
        the other tracked subjects' previous centres, whose points this one must not pull in."""
        depth = depth_image(frame)
        if depth is None or not confident(previous_joints_mm, previous_confidence, self.config.track_min_confidence):
            return None
        joints = np.asarray(previous_joints_mm, np.float64)
        estimate = track_centre(depth, frame.intrinsics, joints, self.config, others_mm)
        return None if estimate is None else with_surface_offset(estimate, self.config.surface_offset_mm)

    def detect(self, frame: DepthFrame, limit: int = 1, exclude_mm: list[np.ndarray] | None = None
               ) -> list[CentreEstimate]:
        """Up to `limit` candidates, best first (the search's order: nearest hands, largest people),
        none inside the cubes around the centres in `exclude_mm` (subjects already tracked)."""
        depth = depth_image(frame)
        if depth is None or limit < 1:
            return []
        if self.detector is not None:
            found = learned_candidates(self.detector, depth, frame.intrinsics, self.config, limit, exclude_mm or [])
        else:
            image = search_image(depth, self.config)
            if image is None:
                return []
            small, in_range = image
            for centre in exclude_mm or []:
                clear_cube(in_range, small, frame.intrinsics, np.asarray(centre, np.float64), self.config)
            found = self.search.detect(depth, frame.intrinsics, small, in_range, limit)
        return [with_surface_offset(e, self.config.surface_offset_mm) for e in found]
