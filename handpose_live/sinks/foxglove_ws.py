"""`--foxglove [host:]port`: the live stream for Foxglove (Open connection -> Foxglove WebSocket ->
ws://127.0.0.1:8765), served by `foxglove-sdk` over the Foxglove WebSocket protocol (subprotocol
`foxglove.sdk.v1`), on the channels of the MCAP file: the JSON record and the skeleton (`foxglove_scene.py`).

As the `--ws` server (`websocket.py`): loopback unless a host is named; never in the pipeline's way (the SDK
sends from its own threads, `write` only encodes and hands over, and encodes nothing while no client is
subscribed); a slow client loses its oldest messages (`BACKLOG` per client) rather than backing the stream up;
clients may not publish, call services or set parameters (no capability is offered); errors inside `write`
are counted, never raised. The SDK has no cap on clients nor an origin check: Foxglove's app connects from its
own origin, so the loopback default is what keeps other machines out.
"""
from __future__ import annotations

from ..errors import UserError
from ..types import DepthFrame, PoseResult
from . import foxglove_scene as scene
from .base import Sink
from .files import record_json
from .udp import LOOPBACK, parse_server_address

DEFAULT_HOST = LOOPBACK
DEFAULT_PORT = 8765
BACKLOG = 16          # messages queued per client before the oldest are dropped (about a quarter second)


def parse_foxglove_address(address: str) -> tuple[str, int]:
    """`--foxglove`: 'port' or 'host:port' -> (host, port), 127.0.0.1 unless a host is named."""
    return parse_server_address(address, "Foxglove")


class FoxgloveServer(Sink):
    """Serves the live stream on `host:port` (port 0: a free one, see `port`) from construction to `close`."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, backlog: int = BACKLOG) -> None:
        import foxglove

        self.host = host
        self.published = 0      # frames handed to the SDK while a client was subscribed
        self.errors = 0         # failures inside `write` (counted, never raised)
        self._bones: list = []
        self._context = foxglove.Context()     # our own channels and server, apart from any other SDK user
        self._record = self._skeleton = None
        try:
            self._server = foxglove.start_server(name="handpose-live", host=host, port=int(port), context=self._context,
                                                 message_backlog_size=int(backlog), capabilities=[])
        except (RuntimeError, OverflowError, ValueError) as exc:
            why = str(exc).replace("FoxgloveError: ", "")
            raise UserError(f"cannot serve Foxglove on {host}:{port}: {why}") from None
        self.port = int(self._server.port)
        self._closed = False

    @classmethod
    def from_address(cls, address: str) -> FoxgloveServer:
        host, port = parse_foxglove_address(address)
        return cls(host, port)

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"ws://{f'[{shown}]' if ':' in shown else shown}:{self.port}"

    def announce(self) -> str:
        return f"Foxglove: open connection -> Foxglove WebSocket -> {self.url}"

    def _open_channels(self, header: dict | None) -> None:
        import foxglove
        from foxglove.channels import SceneUpdateChannel

        schema = foxglove.Schema(name=scene.RECORD_SCHEMA_NAME, encoding="jsonschema", data=scene.record_schema())
        self._record = foxglove.Channel(scene.RECORD_TOPIC, schema=schema, message_encoding="json", context=self._context,
                                        metadata=scene.header_metadata(header))
        self._skeleton = SceneUpdateChannel(scene.SKELETON_TOPIC, context=self._context)

    def begin(self, header: dict) -> None:
        self._bones = [tuple(b) for b in header.get("bones") or []]
        if self._record is None and not self._closed:
            self._open_channels(header)

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        """Hand the frame to the SDK and return; nothing is encoded for a channel nobody subscribed to."""
        if self._closed:
            return
        try:
            if self._record is None:
                self._open_channels(None)
            sent = False
            if self._record.has_sinks():
                self._record.log(record_json(result).encode("utf-8"))
                sent = True
            if self._skeleton.has_sinks():
                self._skeleton.log(scene.scene_update(result, self._bones, scene.time_ns(result.timestamp_ms)))
                sent = True
            self.published += int(sent)
        except Exception:           # an unserialisable value, a server going away: counted, never raised
            self.errors += 1

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        for channel in (self._record, self._skeleton):
            if channel is not None:
                channel.close()
        self._server.stop()
