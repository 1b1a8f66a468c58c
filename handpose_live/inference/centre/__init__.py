"""Online reference point (cube centre) for V2V-PoseNet, from the depth image alone.

The released V2V code read precomputed centres from files; a live system computes them per frame.
`CentreEstimator` tracks subjects from their previous joints and proposes new ones with the search
the target profile names (`SEARCHES`: the nearest hand, the largest people) or with the learned
hand detector. docs/centre-search.md describes the algorithms and why they are built this way.
"""
from .config import SEARCH_CONFIGS, BodySearchConfig, CentreConfig, HandSearchConfig
from .estimator import SEARCHES, CentreEstimator
from .geometry import CentreEstimate
from .search import CentreSearch

__all__ = ["SEARCH_CONFIGS", "SEARCHES", "BodySearchConfig", "CentreConfig", "CentreEstimate", "CentreEstimator", "CentreSearch",
           "HandSearchConfig"]
