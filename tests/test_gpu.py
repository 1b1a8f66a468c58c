"""The CUDA path against the CPU path (runs only where a CUDA GPU and ONNX Runtime's CUDA provider
load; `benchmarks/gpu_check.sh` runs it on a GPU machine). Never needed for the CPU test run."""
import numpy as np
import pytest
import torch

from handpose_live.capture.synthetic import SyntheticCamera
from handpose_live.inference.predictor import Predictor
from handpose_live.resources import default_model
from handpose_live.voxelize import voxelize_depth


def _cuda_ready() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return torch.cuda.is_available() and "CUDAExecutionProvider" in ort.get_available_providers()


pytestmark = pytest.mark.skipif(not _cuda_ready(), reason="no CUDA GPU with ONNX Runtime's CUDA provider here")


@pytest.fixture(scope="module")
def frames():
    return list(SyntheticCamera(seed=5, frames=12).frames())


def test_voxelizer_on_cuda_matches_cpu(frames):
    for f in frames:
        centre = f.ground_truth_centre_mm
        cpu = voxelize_depth(torch.as_tensor(f.depth_mm), f.intrinsics, centre, 250.0, 64)
        gpu = voxelize_depth(torch.as_tensor(f.depth_mm).cuda(), f.intrinsics, centre, 250.0, 64).cpu()
        assert (cpu != gpu).sum() <= 4          # float rounding may move a boundary point by one voxel


@pytest.mark.parametrize("target", ["hand", "body"])
def test_cuda_session_with_io_binding_matches_cpu(target):
    frames = list(SyntheticCamera(seed=6, frames=6, target=target).frames())
    cpu = Predictor(default_model(target), device="cpu")
    gpu = Predictor(default_model(target), device="cuda")
    assert gpu.session.on_gpu
    for f in frames:
        centres = np.stack([f.ground_truth_centre_mm, f.ground_truth_centre_mm + 20.0])
        j_cpu, c_cpu, _ = cpu.predict_centres(f.depth_mm, f.intrinsics, centres)
        j_gpu, c_gpu, _ = gpu.predict_centres(f.depth_mm, f.intrinsics, centres)
        voxel_mm = cpu.cube_mm / cpu.info.output_grid
        assert np.abs(j_cpu - j_gpu).max() <= voxel_mm and np.abs(c_cpu - c_gpu).max() < 0.02


@pytest.mark.parametrize("target", ["hand", "body"])
def test_fp16_model_on_cuda_matches_fp32_on_cpu(target, tmp_path):
    """`export-onnx --fp16` run by the CUDA provider (fp16 arithmetic there) against the fp32 file on
    the CPU: joints within one output voxel, confidences close."""
    from handpose_live.commands.export import ExportOptions, export

    half = tmp_path / f"{target}-fp16.onnx"
    export(ExportOptions(checkpoint=default_model(target), out=half, fp16=True), log=lambda *_: None)
    frames = list(SyntheticCamera(seed=7, frames=6, target=target).frames())
    cpu = Predictor(default_model(target), device="cpu")
    gpu = Predictor(half, device="cuda")
    assert gpu.session.on_gpu
    voxel_mm = cpu.cube_mm / cpu.info.output_grid
    for f in frames:
        centres = f.ground_truth_centre_mm[None]
        j_cpu, c_cpu, _ = cpu.predict_centres(f.depth_mm, f.intrinsics, centres)
        j_gpu, c_gpu, _ = gpu.predict_centres(f.depth_mm, f.intrinsics, centres)
        assert np.linalg.norm(j_cpu - j_gpu, axis=-1).max() <= voxel_mm and np.abs(c_cpu - c_gpu).max() < 0.05
