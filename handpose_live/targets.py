"""What each kind of subject means, in one place: the target profile (hands, bodies, and later more).

Everything that differs between targets and is not learned lives in one `Target` record: the cube
and skeleton, where and how a subject is looked for, the words and record key used for it, how many
are tracked, what is added to each subject, how a model of it is scored and which synthetic scene
shows it. Code receives the profile (`get_target(name)`) and reads its fields; it does not compare
target names. Adding a target is one entry in `TARGETS` (docs/architecture.md, "Add a target").
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import UserError


@dataclass(frozen=True)
class Target:
    name: str                              # "hand" | "body": the --target value and the model files' target
    noun: str                              # one subject in messages: "hand" | "person"
    plural: str                            # several subjects in messages: "hands" | "people"
    record_key: str                        # the record's list of subjects (records.py, PoseResult)
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
    centre_search: str                     # geometric search for new subjects (inference/centre/: SEARCHES)
    detector_file: str                     # the learned detector shipped for it under models/ ("": none;
                                           # resources.default_detector): palms for hands, torsos for people
    default_subjects: int                  # subjects tracked at once by default (--max-hands / --max-people)
    max_subjects_option: str               # the command-line option that sets it
    hand_features: bool                    # per subject: handedness, pinch and grab (gestures.py)
    split_overlapping: bool                # overlapping cubes share out their points (voxelize.py: two people
                                           # side by side give two skeletons, not one between them)
    sure_detection: tuple[float, float] | None   # (detector probability, pose score): a learned candidate with
                                           # at least the first needs only the second (inference/pipeline.py,
                                           # gate_passes; benchmarks/real_rooms.py); None: the gate alone
    metric: str                            # how a model is scored: "mean_error_mm" | "map_10cm" (evaluation/)
    synthetic_scene: str                   # the synthetic world's subject: "hand" | "body" (synth/world.py)
    detect_every: int                      # while some are tracked, look for more every N frames (inference/
                                           # pipeline.py; people come and go in a room: every frame)

    @property
    def learned_detector(self) -> bool:
        """A learned detector exists for this target (whether or not this installation has it)."""
        return bool(self.detector_file)


TARGETS: dict[str, Target] = {
    "hand": Target("hand", "hand", "hands", "hands", "hand21", 250.0, (150.0, 1000.0), 150, "v2v-lite-hand.onnx",
                   0.03, 2, 0.5, "predicted", centre_search="hand", detector_file="hand-detector.onnx",
                   default_subjects=2, max_subjects_option="--max-hands", hand_features=True,
                   split_overlapping=False, sure_detection=None, metric="mean_error_mm", synthetic_scene="hand",
                   detect_every=3),
    "body": Target("body", "person", "people", "people", "itop15", 2000.0, (500.0, 5000.0), 1500,
                   "v2v-lite-body.onnx", 0.15, 1, 0.55, "points", centre_search="body",
                   detector_file="person-detector.onnx", default_subjects=6, max_subjects_option="--max-people",
                   hand_features=False, split_overlapping=True, sure_detection=(0.5, 0.36), metric="map_10cm",
                   synthetic_scene="body", detect_every=1),
}


def count_words(target: Target, count: int) -> str:
    """"no hand", "1 hand", "2 hands", "1 person", "3 people": the one way subjects are counted in text."""
    if count == 0:
        return f"no {target.noun}"
    return f"{count} {target.noun if count == 1 else target.plural}"


def target_for_key(record_key: str | None) -> Target | None:
    """The target whose records list their subjects under `record_key` (a stream header's `subjects_key`)."""
    return next((t for t in TARGETS.values() if t.record_key == record_key), None)


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise UserError(f"unknown target '{name}' ({', '.join(TARGETS)})") from None
