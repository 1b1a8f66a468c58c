"""`handpose-live export-onnx`: checkpoint -> the self-describing fp32 ONNX model `run` uses
(`training/export.py`); with `--int8` / `--fp16`, a checkpoint or an fp32 model -> that variant
(`training/quantize.py`). torch is imported only when the command runs."""
from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import UserError
from ..options import argument, option

# Options that shape the network taken from a checkpoint: refused for an fp32 model file, which
# has been exported already.
OPSETS = (13, 20)      # the TorchScript exporter (dynamo=False) writes up to opset 20
CHECKPOINT_OPTIONS = ("arch", "skeleton", "cube_mm", "source_y_up", "source_xyz", "with_heatmaps", "opset",
                      "min_confidence")


@dataclass(kw_only=True)
class ExportOptions:
    """`handpose-live export-onnx` options (the command line is built from these fields)."""

    checkpoint: Path = argument(help="training checkpoint (ours or the public PyTorch port's); with --int8 or --fp16 "
                                     "also an fp32 model file (.onnx)")
    out: Path = option(help="ONNX file to write")
    arch: str | None = option(None, "architecture of a port checkpoint (inferred when omitted)")
    skeleton: str | None = option(None, "skeleton name for a port checkpoint (e.g. msra21, nyu14)")
    cube_mm: float | None = option(None, "cube edge for a port checkpoint (default: the target's, 250 hand, 2000 body)")
    source_y_up: bool = option(False, "port checkpoint was trained on y-up data (NYU, MSRA, ITOP)", "--source-y-up")
    source_xyz: bool = option(True, "port checkpoint grids are indexed [x, y, z]", "--source-xyz/--source-zyx")
    with_heatmaps: bool = option(False, "also output the raw heatmaps", "--with-heatmaps")
    opset: int = option(17, "ONNX opset")
    min_confidence: float | None = option(None, "store the model's 'no hand' gate (mean heatmap peak), measured on "
                                                "held-out data")
    int8: bool = option(False, "write an int8 model (uint8 activations, int8 weights) for CPUs with int8 dot products; "
                               "needs --calibration", "--int8")
    fp16: bool = option(False, "write an fp16 model (GPUs: tensor cores); decoding stays fp32", "--fp16")
    calibration: Path | None = option(None, "with --int8: labelled dataset folder (e.g. from `handpose-live synth`) "
                                            "whose frames set the activation ranges; use training data, not the test "
                                            "set. With --fp16: frames of the parity check (default: rendered by the "
                                            "synthetic world)")
    calibration_dataset: str = option("synthetic", "loader of the --calibration folder (synthetic, nyu, msra, icvl, ...)")
    calibration_frames: int = option(96, "with --int8: frames used to calibrate (--fp16: to check parity)")
    force: bool = option(False, "with --int8 / --fp16: write the model even when it fails the parity check against "
                                "fp32 (too many joints moved over one voxel); its figures are still printed", "--force")

    def __post_init__(self) -> None:
        """Checked before torch loads or a file is read."""
        self.checkpoint, self.out = Path(self.checkpoint), Path(self.out)
        if not OPSETS[0] <= self.opset <= OPSETS[1]:
            raise UserError(f"--opset must lie in {OPSETS[0]}..{OPSETS[1]}, got {self.opset}")
        if self.cube_mm is not None and not (math.isfinite(self.cube_mm) and self.cube_mm > 0):
            raise UserError(f"--cube-mm must be a positive number of millimetres, got {self.cube_mm}")
        if self.int8 and self.fp16:
            raise UserError("--int8 and --fp16 exclude each other: one file per precision")
        if not (self.int8 or self.fp16):
            if self.force:
                raise UserError("--force is only used with --int8 or --fp16 (writes a model that fails the parity check)")
            if self.calibration is not None:
                raise UserError("--calibration is only used with --int8 (or --fp16, for its parity check)")
            return
        if self.int8 and self.calibration is None:
            raise UserError("--int8 needs --calibration DIR: a labelled dataset folder (e.g. `handpose-live synth --out DIR`)")
        if not 1 <= self.calibration_frames <= 10000:
            raise UserError(f"--calibration-frames must lie in 1..10000, got {self.calibration_frames}")
        if self.out.suffix != ".onnx":
            raise UserError(f"output must end in .onnx: {self.out}")

    def checkpoint_options(self) -> dict:
        """The `export_checkpoint` keywords."""
        return {name: getattr(self, name) for name in CHECKPOINT_OPTIONS}

    def given_checkpoint_options(self) -> list[str]:
        """The flags of the checkpoint options set to something other than their default."""
        defaults = {f.name: f.default for f in fields(self)}
        return ["--" + name.replace("_", "-") for name in CHECKPOINT_OPTIONS if getattr(self, name) != defaults[name]]


def export(opts: ExportOptions, log=print) -> dict:
    """Turn a checkpoint into the self-describing ONNX model that `run` uses, and verify it."""
    checkpoint, out = opts.checkpoint, opts.out
    if not (opts.int8 or opts.fp16) and checkpoint.suffix == ".onnx":     # the cheap checks before torch loads
        raise UserError(f"{checkpoint} is already a model file; export-onnx takes a checkpoint "
                        "(or, with --int8 / --fp16, converts an fp32 model)")
    if opts.int8 or opts.fp16:
        if opts.calibration is not None and not opts.calibration.is_dir():
            raise UserError(f"--calibration {opts.calibration}: no such folder")
        if not checkpoint.is_file():
            raise UserError(f"{checkpoint}: no such file")
        if checkpoint.suffix == ".onnx":
            if given := opts.given_checkpoint_options():
                raise UserError(f"{', '.join(given)}: set when a checkpoint is exported; {checkpoint.name} is a "
                                "model file already")
            from ..inference.modelfile import read_model_info
            from ..training.quantize import check_not_quantised
            check_not_quantised(checkpoint, read_model_info(checkpoint).raw)
    from ..training.export import PARITY_FRAMES, export_checkpoint, parity_frames

    if not (opts.int8 or opts.fp16):
        return export_checkpoint(checkpoint, out, log=log, **opts.checkpoint_options())
    from ..training.quantize import calibration_grids, half_model, quantize_model

    precision = "int8" if opts.int8 else "fp16"
    with tempfile.TemporaryDirectory() as tmp:
        if checkpoint.suffix == ".onnx":
            fp32 = checkpoint
        else:    # an fp32 model made on the way, in a temporary folder: the log says so, not its passing path
            fp32 = Path(tmp) / (out.stem.replace(precision, "fp32") + ".onnx")
            export_checkpoint(checkpoint, fp32, log=lambda msg: log(str(msg).replace(
                f"wrote {fp32}", f"exported {checkpoint.name} to fp32 first (not kept)")), **opts.checkpoint_options())
        if opts.calibration is None:     # fp16: parity frames from the synthetic world of the model's target
            calibration, dataset = parity_frames(fp32, Path(tmp) / "parity", PARITY_FRAMES), "synthetic"
            count, source = PARITY_FRAMES, f"synthetic world, {PARITY_FRAMES} frames (seed 0)"
        else:
            calibration, dataset, count = opts.calibration, opts.calibration_dataset, opts.calibration_frames
            source = f"{dataset}: {calibration.name}"
        grids = calibration_grids(fp32, calibration, dataset, count=count)
        if opts.int8:
            return quantize_model(fp32, out, grids, calibration=source, log=log, force=opts.force)
        return half_model(fp32, out, grids, parity_data=source, log=log, force=opts.force)
