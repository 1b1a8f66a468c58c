"""`handpose-live doctor`: what this machine can run, checked for real (not just importable).

Camera SDKs are loaded and asked for their version and connected devices (each camera's `check`
in `capture/cameras.py`), because an importable package can still lack its native library (or,
for pyk4a, refuse to import next to NumPy 2).
"""
from __future__ import annotations

import os
import platform
import sys

from rich.console import Console
from rich.table import Table

from ..capture.cameras import CAMERAS


def _check(fn):
    try:
        return fn()
    except Exception as exc:  # any failure of an optional component is a finding, not a crash
        return False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"


def _torch():
    import torch
    cuda = torch.cuda.is_available()
    return True, f"{torch.__version__}, CUDA {'available: ' + torch.cuda.get_device_name(0) if cuda else 'not available'}"


def _onnxruntime():
    import onnxruntime as ort
    avail = ort.get_available_providers()
    loaded = ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in avail:
        loaded = _providers_that_load(ort)
    return True, f"{ort.__version__}; compiled in: {', '.join(p.replace('ExecutionProvider', '') for p in avail)}; " \
                 f"actually loads: {', '.join(p.replace('ExecutionProvider', '') for p in loaded)}"


def _providers_that_load(ort):
    """Create a tiny session with CUDA and see which provider it really got."""
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    ort.set_default_logger_severity(4)
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    onnx.checker.check_model(model)
    return sess.get_providers()


def _openvino():
    import openvino as ov
    return True, f"{ov.__version__.split('-')[0]}; devices: {', '.join(ov.Core().available_devices)} (--backend openvino)"


def _open3d():
    from ..open3d_import import load as load_open3d
    from ..sinks.open3d_viewer import open3d_window_available
    o3d = load_open3d()
    ok, how = open3d_window_available()
    return True, f"{o3d.__version__}; window: {how if ok else 'unavailable (' + how + ')'}"


def _opencv():
    import cv2
    gui = "display" if os.environ.get("DISPLAY") else "no display (headless: overlays to files only)"
    return True, f"{cv2.__version__}; {gui}"


def _pyav():
    import av

    from ..sinks.video import h264_encoder
    encoder = h264_encoder(av)
    if encoder is None:
        return False, f"{av.__version__}; no H.264 encoder (--save-video cannot write)"
    return True, f"{av.__version__}; H.264 encoder {encoder} (--save-video)"


def run_doctor() -> int:
    rows = [("Python", (sys.version_info >= (3, 10), f"{platform.python_version()} ({sys.executable})"), True)]
    rows.append(("PyTorch", _check(_torch), True))
    rows.append(("ONNX Runtime", _check(_onnxruntime), True))
    rows.append(("OpenVINO", _check(_openvino), False))
    rows += [(camera.label, _check(camera.check), False) for camera in CAMERAS.values() if camera.check is not None]
    rows.append(("Open3D", _check(_open3d), False))
    rows.append(("OpenCV", _check(_opencv), True))
    rows.append(("PyAV", _check(_pyav), False))
    table = Table(title="handpose-live doctor")
    table.add_column("component")
    table.add_column("status")
    table.add_column("details")
    for name, (ok, detail), required in rows:
        status = "[green]ok[/green]" if ok else ("[red]missing[/red]" if required else "[yellow]optional[/yellow]")
        table.add_row(name, status, detail)
    console = Console(width=max(Console().width, 110))
    console.print(table)
    minimum = all(ok for _, (ok, _), required in rows if required)
    console.print("minimum for `handpose-live run`: " + ("[green]present[/green]" if minimum else "[red]missing[/red]"))
    return 0 if minimum else 1
