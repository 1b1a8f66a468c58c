"""What a geometric search for new subjects is: one `detect` call on the search image.

A search takes the search image (the strided depth and its in-range mask, with the cubes of
subjects already tracked cleared) and proposes up to `limit` centres, best first. The estimator
picks one by the target profile's `centre_search` (`estimator.SEARCHES`), and builds it with that
search's parameters (`config.SEARCH_CONFIGS`); a new kind of search is an entry in each
(docs/centre-search.md).
"""
from __future__ import annotations

import numpy as np

from ...types import Intrinsics
from .config import CentreConfig
from .geometry import CentreEstimate


class CentreSearch:
    def __init__(self, config: CentreConfig):
        self.config = config

    def detect(self, depth: np.ndarray, intr: Intrinsics, small: np.ndarray, in_range: np.ndarray, limit: int
               ) -> list[CentreEstimate]:
        """Up to `limit` centres, best first, before the surface offset; `depth` is the full frame."""
        raise NotImplementedError
