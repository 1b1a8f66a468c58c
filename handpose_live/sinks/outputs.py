"""The outputs of a run, declared once: `OutputOptions` (the `run` options that are outputs) and
`open_outputs`, which turns them into sinks for `Tracker.run(outputs=...)`.

Every sink is created before the first frame, so a bad path or address fails before any work;
the record file comes last because opening it truncates an existing file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..fileio import IMAGE_FORMATS, check_format
from ..options import option
from .base import Sink, Viewer, close_all, display_available

VIEWERS = ("auto", "open3d", "opencv", "none")


@dataclass
class OutputOptions:
    """Where results go: a record file, the network, a video, a viewer window or screenshot."""

    output: list[Path] = option([], "write one record per frame (.jsonl or .csv; .mcap: records and skeletons "
                                    "for Foxglove and robotics tools; .bvh: each subject's skeleton as a "
                                    "motion-capture take for Blender and animation tools); repeat for several "
                                    "files, e.g. --output take.jsonl --output take.bvh")
    mcap_depth: bool = option(False, "--output FILE.mcap: add the depth images (foxglove.RawImage, 16UC1 mm)",
                              "--mcap-depth")
    viewer: str = option("auto", "auto | open3d | opencv | none (auto: open3d with a display, else none)")
    screenshot: Path | None = option(None, "save the last viewer image to this PNG or JPEG (works headless)")
    save_video: Path | None = option(None, "write the 2D overlay to an .mp4")
    udp: str | None = option(None, "stream each frame's JSON record to host:port")
    osc: str | None = option(None, "send each frame as OSC messages to host:port (TouchDesigner, Max, Unity, Unreal)")
    ws: str | None = option(None, "serve a live page and WebSocket stream on [host:]port (host: 127.0.0.1 unless named)")
    foxglove: str | None = option(None, "serve the live stream to Foxglove on [host:]port (Foxglove WebSocket "
                                        "protocol; host: 127.0.0.1 unless named)")

    def __post_init__(self) -> None:
        """Formats and addresses are checked before anything opens (after the parent's checks)."""
        parent = getattr(super(), "__post_init__", None)
        if parent is not None:
            parent()
        if self.viewer not in VIEWERS:
            raise UserError(f"unknown viewer '{self.viewer}' ({', '.join(VIEWERS)})")
        if self.screenshot is not None:
            check_format(self.screenshot, IMAGE_FORMATS, "--screenshot")
        if self.udp is not None:
            host, sep, port = self.udp.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise UserError(f"--udp must be host:port, got {self.udp!r}")
        if self.osc is not None:
            from .udp import parse_host_port
            parse_host_port(self.osc, what="OSC")
        if self.ws is not None:
            from .websocket import parse_ws_address
            parse_ws_address(self.ws)
        if self.foxglove is not None:
            from .foxglove_ws import parse_foxglove_address
            parse_foxglove_address(self.foxglove)
        if isinstance(self.output, (str, Path)):      # the Python API: one path as it is
            self.output = [self.output]
        self.output = [Path(p) for p in self.output]
        resolved = [p.expanduser().resolve() for p in self.output]
        for i, path in enumerate(self.output):
            if resolved[i] in resolved[:i]:
                raise UserError(f"--output {path} is given twice")
        if self.mcap_depth and not any(p.suffix.lower() == ".mcap" for p in self.output):
            raise UserError("--mcap-depth applies to --output FILE.mcap")


def choose_viewer(name: str) -> str:
    """"auto" is Open3D with a display, else none."""
    if name not in VIEWERS:
        raise UserError(f"unknown viewer '{name}' ({', '.join(VIEWERS)})")
    if name != "auto":
        return name
    return "open3d" if display_available() else "none"


def open_outputs(opts: OutputOptions, skeleton, num_joints: int, fps: float) -> list[Sink]:
    """Every requested sink, opened now (on a failure those already opened are closed).

    A viewer that draws (Open3D, always; OpenCV with a display) runs on its own thread
    (`ViewerThread`): the loop hands it each result and never waits for drawing. The OpenCV
    viewer without a display draws nothing until its screenshot at the end, so it stays in the loop.
    The record files are written first in each frame, in the order given.
    """
    sinks: list[Sink] = []
    try:
        if opts.udp:
            from .udp import UdpSender
            sinks.append(UdpSender(opts.udp))
        if opts.osc:
            from .osc import OscSender
            sinks.append(OscSender(opts.osc))
        if opts.ws:
            from .websocket import WebSocketServer
            sinks.append(WebSocketServer.from_address(opts.ws))
        if opts.foxglove:
            from .foxglove_ws import FoxgloveServer
            sinks.append(FoxgloveServer.from_address(opts.foxglove))
        if opts.save_video is not None:
            from .video import VideoWriterSink
            sinks.append(VideoWriterSink(opts.save_video, fps, skeleton))
        viewer = _open_viewer(opts, skeleton)
        if viewer is not None:
            sinks.append(viewer)
        sinks[:0] = [record_output(path, num_joints, opts.mcap_depth, fps) for path in opts.output]
    except BaseException:
        close_all(sinks)
        raise
    return sinks


def _open_viewer(opts: OutputOptions, skeleton) -> Viewer | Sink | None:
    kind = choose_viewer(opts.viewer)
    if kind == "none" and opts.screenshot is not None:
        kind = "opencv-headless"
    if kind == "opencv" and not display_available():
        kind = "opencv-headless"
    if kind == "open3d":
        from .open3d_viewer import Open3DViewer
        from .viewer_thread import ViewerThread
        return ViewerThread(lambda: Open3DViewer(skeleton, screenshot_path=opts.screenshot), "open3d")
    if kind == "opencv":
        from .opencv_viewer import OpenCvViewer
        from .viewer_thread import ViewerThread
        return ViewerThread(lambda: OpenCvViewer(skeleton, window=True, screenshot_path=opts.screenshot), "opencv")
    if kind == "opencv-headless":
        from .opencv_viewer import OpenCvViewer
        return OpenCvViewer(skeleton, window=False, screenshot_path=opts.screenshot)
    return None


def as_sink(output: Sink | str | Path, num_joints: int) -> Sink:
    """An output given to `Tracker.run`: a sink as it is, a path as a record file (.jsonl, .csv, .mcap, .bvh)."""
    if isinstance(output, Sink):
        return output
    if isinstance(output, (str, Path)):
        return record_output(Path(output), num_joints)
    raise UserError(f"an output is a sink or a .jsonl, .csv, .mcap or .bvh path, not {type(output).__name__}")


def record_output(path, num_joints: int, mcap_depth: bool = False, fps: float = 30.0) -> Sink:
    """The record writer for `path`'s suffix: .jsonl, .csv (sinks/files.py), .mcap (sinks/mcap_writer.py) or
    .bvh (sinks/bvh.py; `fps`: the source's nominal rate, until its timestamps tell)."""
    if Path(path).suffix.lower() == ".mcap":
        from .mcap_writer import McapWriter
        return McapWriter(path, depth=mcap_depth)
    if Path(path).suffix.lower() == ".bvh":
        from .bvh import BvhWriter
        return BvhWriter(path, fps)
    from .files import open_output
    return open_output(path, num_joints)
