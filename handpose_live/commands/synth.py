"""`handpose-live synth`: render a synthetic depth dataset (`synth/generate.py`), resumably."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..fileio import IMAGE_FORMATS, check_format
from ..options import check_minimums, option
from ..targets import TARGETS, get_target


@dataclass(kw_only=True)
class SynthOptions:
    """`handpose-live synth` options (the command line is built from these fields)."""

    target: str = option("hand", " | ".join(TARGETS))
    count: int = option(1000, "number of frames (the default: a quick set, minutes; a training set wants tens of "
                              "thousands, as in the README)")
    out: Path = option(help="dataset folder")
    camera: str = option("d435-640x480", "camera preset from calib/ or a JSON file")
    seed: int = option(0, "random seed (train and test sets: use different seeds)")
    preview: Path | None = option(None, "contact sheet PNG of some frames")
    append: bool = option(False, "add to / resume an existing dataset", "--append/--no-append")
    world: str = option("crowded", "crowded (the person, the other hand, clutter, three sensor kinds) | "
                                   "classic (what the first shipped models were tested on) | rooms (bodies: offices, desks, a "
                                   "camera high on a wall; people cut by the image border, among furniture)")

    def __post_init__(self) -> None:
        """Checked before the camera preset loads or anything is rendered."""
        from ..synth.generate import check_world

        get_target(self.target)
        check_world(self.world, self.target)
        check_minimums(("--count", self.count, 1), ("--seed", self.seed, 0))
        if self.preview is not None:
            check_format(self.preview, IMAGE_FORMATS, "--preview")


def synth(opts: SynthOptions) -> None:
    """Render a synthetic depth dataset with exact ground truth."""
    from ..calib import load_intrinsics
    from ..synth.generate import generate_dataset, write_preview

    index = generate_dataset(opts.out, opts.target, opts.count, load_intrinsics(opts.camera), seed=opts.seed,
                             append=opts.append, world=opts.world)
    fps = index.get("frames_per_s")
    if fps is None:
        print(f"{opts.out}: already holds {index['count']} frames, nothing to render")
    else:
        print(f"{opts.out}: {index['count']} {opts.target} frames ({index.get('world', 'classic')} world) "
              f"in {len(index['shards'])} shards, {fps:.1f} frames/s")
    if opts.preview is not None:
        write_preview(opts.out, opts.preview)
        print(f"preview: {opts.preview}")
