"""Inference sessions for an exported model, one interface per backend.

- `onnxruntime` (default): CUDA with IO binding when it really loads, else CPU.
- `openvino` (optional, `pip install openvino`): OpenVINO's CPU plugin on the same ONNX file.

The model file carries its own configuration (`modelfile.py`); a file without it is refused,
since we could not know its grid, cube or skeleton, and so is one whose metadata disagrees
with its graph. Every session implements `Session`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import UserError
from ..options import check_device
from .modelfile import INPUT, ModelInfo, check_graph, parse_metadata, read_model_info

__all__ = ["BACKENDS", "ModelInfo", "Session", "check_backend", "open_session", "read_model_info"]


class Session(Protocol):
    """What every backend offers the predictor: the model's own description and one batched call."""

    info: ModelInfo
    provider: str          # the engine/provider that really runs the graph
    on_gpu: bool           # voxels may stay on the GPU (CUDA IO binding)

    def describe(self) -> str: ...

    def run(self, voxels) -> tuple[np.ndarray, np.ndarray]:
        """voxels [N,1,S,S,S] (torch tensor or NumPy) -> (joints_vox [N,J,3], confidence [N,J]) NumPy."""
        ...


BACKENDS = ("onnxruntime", "openvino")


def _default_threads(threads: int | None) -> int:
    return threads or min(os.cpu_count() or 1, 4)


def _as_array(voxels) -> np.ndarray:
    arr = voxels.detach().cpu().numpy() if hasattr(voxels, "detach") else voxels
    return np.ascontiguousarray(arr, dtype=np.float32)


_ALLOCATOR_TUNED = False


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of handing it back to the OS at once.

    Every frame allocates a few temporaries of about 1 MB (a 640x480 float image, the voxelizer's
    index planes, the centre estimator's masks). glibc serves blocks over 128 KB with mmap and
    unmaps them on free (or trims the heap top), so each frame page-faults all of them in again:
    measured on the body path, the voxelize stage took 13.7 ms p50 instead of 6.5 ms and the whole
    frame 24.5 instead of 15.9 ms (`bench --target body`, int8, 2 cores). Raising the mmap and trim
    thresholds keeps those pages mapped (a few tens of MB of heap stay with the process). Linux/glibc
    only, once per process; elsewhere a no-op. Returns whether the settings took."""
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return True
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 32 * 2**20) == 1 and libc.mallopt(m_trim_threshold, 256 * 2**20) == 1
    except (OSError, AttributeError):
        return False
    _ALLOCATOR_TUNED = bool(ok)
    return _ALLOCATOR_TUNED


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise UserError(f"unknown backend '{backend}' ({', '.join(BACKENDS)})")
    return backend


def open_session(path: Path, backend: str = "onnxruntime", device: str = "auto",
                 threads: int | None = None) -> Session:
    """The session for `backend`, its model file checked against its own graph before any frame."""
    if threads is not None and threads < 1:
        raise UserError(f"--threads must be at least 1, got {threads}")
    if check_backend(backend) == "openvino":
        return OpenVINOSession(path, device=device, threads=threads)
    return OnnxRuntimeSession(path, device=device, threads=threads)


class OnnxRuntimeSession:
    """ONNX Runtime: runs `voxels -> joints_vox, confidence` and says which provider it really uses."""

    def __init__(self, path: Path, device: str = "auto", threads: int | None = None):
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise UserError(f"model not found: {path}")
        check_device(device)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # ORT logs a CUDA load failure as an error line; we report it ourselves
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        threads = _default_threads(threads)
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.set_denormal_as_zero", "1")
        # Worker threads sleep between runs instead of spinning: a spinning pool holds ~0.85 of a
        # core between frames, which the capture thread and the viewer need (dropped frames went
        # from 8.9 % to ~1 % in a 10-minute Open3D session), and on both CPUs measured it was no slower.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        want_cuda = device in ("auto", "cuda") and "CUDAExecutionProvider" in ort.get_available_providers()
        providers = (["CUDAExecutionProvider"] if want_cuda else []) + ["CPUExecutionProvider"]
        ort.set_default_logger_severity(4)  # a missing CUDA library is reported by `describe`, not as a log line
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/InvalidProtobuf types
            raise UserError(f"{path} could not be loaded by ONNX Runtime: {str(exc).splitlines()[0][:200]}") from None
        self.info = parse_metadata(self.session.get_modelmeta().custom_metadata_map, path)
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        if INPUT not in inputs:
            raise UserError(f"{path} is inconsistent: no '{INPUT}' input")
        check_graph(self.info, path, inputs[INPUT], {o.name: o.shape for o in self.session.get_outputs()})
        self.provider = self.session.get_providers()[0]
        self.on_gpu = self.provider == "CUDAExecutionProvider"
        if device == "cuda" and not self.on_gpu:
            raise UserError("CUDA was requested but ONNX Runtime's CUDA provider did not load (see `handpose-live doctor`)")
        self.threads = threads
        self._outputs = ["joints_vox", "confidence"]

    def describe(self) -> str:
        where = "CUDA (IO binding, tensors stay on the GPU)" if self.on_gpu else f"CPU, {self.threads} threads"
        return f"ONNX Runtime {where}: {self.info.arch}, {self.info.num_joints} joints ({self.info.skeleton})"

    def run(self, voxels) -> tuple[np.ndarray, np.ndarray]:
        """voxels: a torch tensor [N,1,S,S,S] (CPU or CUDA) or a NumPy array -> (joints_vox, confidence) NumPy."""
        if self.on_gpu and hasattr(voxels, "is_cuda") and voxels.is_cuda:
            return self._run_cuda(voxels)
        joints, conf = self.session.run(self._outputs, {"voxels": _as_array(voxels)})
        return joints, conf

    def _run_cuda(self, voxels):
        """Bind the CUDA voxel tensor directly; only the small joint outputs come back to the host."""
        import torch

        voxels = voxels.contiguous().float()
        n, j = voxels.shape[0], self.info.num_joints
        joints = torch.empty(n, j, 3, device=voxels.device)
        conf = torch.empty(n, j, device=voxels.device)
        binding = self.session.io_binding()
        dev = voxels.device.index or 0
        binding.bind_input("voxels", "cuda", dev, np.float32, tuple(voxels.shape), voxels.data_ptr())
        binding.bind_output("joints_vox", "cuda", dev, np.float32, tuple(joints.shape), joints.data_ptr())
        binding.bind_output("confidence", "cuda", dev, np.float32, tuple(conf.shape), conf.data_ptr())
        self.session.run_with_iobinding(binding)
        return joints.cpu().numpy(), conf.cpu().numpy()


class OpenVINOSession:
    """OpenVINO's CPU plugin on the same ONNX file: another engine for the same graph, chosen by measurement."""

    def __init__(self, path: Path, device: str = "auto", threads: int | None = None):
        try:
            import openvino as ov
        except ImportError:
            raise UserError("the openvino backend needs the openvino package: pip install openvino") from None
        if device == "cuda":
            raise UserError("the openvino backend runs on the CPU; use --backend onnxruntime for CUDA")
        self.info = read_model_info(Path(path))
        self.threads = _default_threads(threads)
        try:
            compiled = ov.Core().compile_model(str(path), "CPU", {
                "INFERENCE_NUM_THREADS": self.threads, "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_PRECISION_HINT": "f32"})  # no silent bf16: results must match the ONNX Runtime path
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses with multi-line text
            raise UserError(f"{path} could not be compiled by OpenVINO: {str(exc).splitlines()[0][:200]}") from None
        self._request = compiled.create_infer_request()
        self._joints, self._conf = compiled.output("joints_vox"), compiled.output("confidence")
        self.provider, self.on_gpu, self._version = "OpenVINO CPU", False, ov.__version__.split("-")[0]

    def describe(self) -> str:
        return (f"OpenVINO {self._version} CPU, {self.threads} threads: {self.info.arch}, "
                f"{self.info.num_joints} joints ({self.info.skeleton})")

    def run(self, voxels) -> tuple[np.ndarray, np.ndarray]:
        out = self._request.infer({"voxels": _as_array(voxels)})
        return np.array(out[self._joints]), np.array(out[self._conf])  # copies: the request reuses its buffers
