"""What each kind of subject means, in one place: hands and bodies (and, later, more).

Everything that differs between targets and is not learned lives here: the cube the network
sees, the skeleton it predicts, the depth range a subject is looked for in, the shipped model,
and the word used for one tracked subject in records and summaries. The
centre estimator, the synthetic world, export, `resources.default_model` and `run` read it from
here instead of keeping their own tables.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import UserError


@dataclass(frozen=True)
class Target:
    name: str                              # "hand" | "body"
    subject: str                           # one tracked subject: "hand" | "person"
    skeleton: str                          # skeleton of the shipped model and of the synthetic world
    cube_mm: float                         # V2V cube edge around the reference point
    depth_range_mm: tuple[float, float]    # where the centre estimator looks for a subject
    min_points: int                        # valid full-resolution pixels a plausible subject has
    shipped_model: str                     # file name under models/
    recentre_fraction: float               # re-run the model around its own joints when they sit this far
                                           # (x cube edge) from the cube centre it was given ...
    recentre_passes: int                   # ... at most this many times (benchmarks/live_quality.py; hands: 2,
                                           # the second runs only after a large jump, docs/results.md)
    extra_confidence: float                # mean heatmap peak a new subject needs while another is tracked
    track_centre: str                      # next cube of a tracked subject (inference/pipeline.py): "predicted"
                                           # (the model's reference point + its last motion) or "points"


TARGETS: dict[str, Target] = {
    "hand": Target("hand", "hand", "hand21", 250.0, (150.0, 1000.0), 150, "v2v-lite-hand.onnx", 0.03, 2, 0.5,
                   "predicted"),
    "body": Target("body", "person", "itop15", 2000.0, (500.0, 5000.0), 1500, "v2v-lite-body.onnx", 0.15, 1, 0.55,
                   "points"),
}


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise UserError(f"unknown target '{name}' ({', '.join(TARGETS)})") from None
