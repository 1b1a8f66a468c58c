"""`--output take.mcap`: the run as an MCAP file that Foxglove opens, schemas inside (see `foxglove_scene.py`).

Per frame: the JSON record on `/handpose/record`, the skeleton as a `foxglove.SceneUpdate` on
`/handpose/skeleton` and, with `depth=True`, the depth image as a `foxglove.RawImage` on `/handpose/depth`;
log and publish times are the frame's timestamp. The stream header goes into the record channel's metadata
and an MCAP metadata record named `handpose-live`.

Like the other record files (`files.py`) the file is the user's data growing as the run goes: written under
its final name in small zstd chunks (`CHUNK_SIZE`), each handed to the OS as soon as it is full, then the
summary and footer and an fsync on close. A killed run leaves every completed chunk readable
(`mcap recover` rewrites such a file whole); a failed write is a one-line `UserError`.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from ..errors import UserError
from ..fileio import describe_os_error
from ..types import DepthFrame, PoseResult
from . import foxglove_scene as scene
from .base import Sink
from .files import _fsync, open_stream, record_json

CHUNK_SIZE = 64 * 1024     # bytes of messages per chunk: about ten frames of records and skeletons without depth


class McapWriter(Sink):
    """Writes `path` (.mcap); `depth` adds the depth images (about 0.3 MB per 640x480 frame, compressed)."""

    def __init__(self, path, depth: bool = False, chunk_size: int = CHUNK_SIZE) -> None:
        from mcap.writer import CompressionType, Writer

        self.path, self.depth = Path(path), bool(depth)
        self.frames = 0
        self._bones: list = []
        self._channels: dict[str, int] = {}
        self._closed = False
        self._file = io.BufferedWriter(open_stream(self.path), buffer_size=chunk_size)
        self._writer = Writer(self._file, chunk_size=int(chunk_size), compression=CompressionType.ZSTD)
        self._guard(lambda: self._writer.start(profile="", library="handpose-live"))

    def _guard(self, step) -> None:
        """Run one step of writing; an OSError (full disk, a file-size limit) becomes a one-line UserError."""
        if self._closed:
            raise ValueError(f"McapWriter for {self.path} is closed")
        try:
            step()
        except OSError as exc:
            self._closed = True
            with contextlib.suppress(OSError):
                self._file.close()
            raise UserError(f"cannot write {self.path}: {describe_os_error(exc)} ({self.frames} frames written "
                            "before are kept; `mcap recover` makes the file whole)") from None

    def _register(self, header: dict | None) -> None:
        from foxglove.messages import RawImage, SceneUpdate

        def schema(name, encoding, data):
            return self._writer.register_schema(name=name, encoding=encoding, data=data)

        record_id = schema(scene.RECORD_SCHEMA_NAME, "jsonschema", scene.record_schema())
        self._channels[scene.RECORD_TOPIC] = self._writer.register_channel(
            scene.RECORD_TOPIC, "json", record_id, scene.header_metadata(header))
        kinds = [(scene.SKELETON_TOPIC, SceneUpdate)] + ([(scene.DEPTH_TOPIC, RawImage)] if self.depth else [])
        for topic, kind in kinds:
            s = kind.get_schema()
            self._channels[topic] = self._writer.register_channel(topic, s.encoding, schema(s.name, s.encoding, bytes(s.data)))

    def begin(self, header: dict) -> None:
        self._bones = [tuple(b) for b in header.get("bones") or []]
        text = json.dumps(header, allow_nan=False, default=str)

        def step():
            self._writer.add_metadata("handpose-live", {"header": text})
            if not self._channels:
                self._register(header)
        self._guard(step)

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        ns = scene.time_ns(result.timestamp_ms)
        messages = [(scene.RECORD_TOPIC, record_json(result).encode("utf-8")),
                    (scene.SKELETON_TOPIC, scene.scene_update(result, self._bones, ns).encode())]
        if self.depth and frame is not None:
            messages.append((scene.DEPTH_TOPIC, scene.depth_image(frame, ns).encode()))

        def step():
            if not self._channels:
                self._register(None)
            for topic, data in messages:
                self._writer.add_message(channel_id=self._channels[topic], log_time=ns, publish_time=ns,
                                         sequence=int(result.frame_index) & 0xFFFFFFFF, data=data)
            self._file.flush()              # a chunk the writer just completed goes to the OS now
        self._guard(step)
        self.frames += 1

    def close(self) -> None:
        if self._closed:
            return

        def step():
            if not self._channels:
                self._register(None)        # a run with no frame still leaves a file that says what it would hold
            self._writer.finish()
            self._file.flush()
            _fsync(self._file)
        try:
            self._guard(step)
        finally:
            self._closed = True
            with contextlib.suppress(OSError):
                self._file.close()
