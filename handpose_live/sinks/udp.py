"""Stream each frame's record as one UDP datagram (game engines, robots, other processes).

UDP because a live consumer wants the newest pose, not a backlog: a missing or slow
receiver must never stall or stop the pipeline, so send errors are counted, not raised.
"""
from __future__ import annotations

import json
import math
import socket
import time

from ..errors import UserError
from ..types import DepthFrame, PoseResult
from .base import Sink
from .files import record_json

LOOPBACK = "127.0.0.1"


def parse_server_address(address: str, what: str) -> tuple[str, int]:
    """A server's '[host:]port' ('[ipv6]:port') -> (host, port); the host defaults to the loopback, so a
    server is reachable from other machines only when a host is named (`--ws`, `--foxglove`)."""
    text = str(address).strip()
    if text.isdigit():
        port = int(text)
        if not 1 <= port <= 65535:
            raise UserError(f"bad {what} address '{address}': port must be 1-65535")
        return LOOPBACK, port
    return parse_host_port(text, what=what)


def parse_host_port(address: str, what: str = "UDP") -> tuple[str, int]:
    """'host:port' or '[ipv6]:port' -> (host, port); `what` names the address in errors (UDP, OSC, WebSocket)."""
    text = str(address).strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise UserError(f"bad {what} address '{address}': expected host:port, e.g. 127.0.0.1:9000")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise UserError(f"bad {what} address '{address}': write IPv6 hosts as [addr]:port")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise UserError(f"bad {what} address '{address}': port must be 1-65535")
    return host, port


class UdpSender(Sink):
    """Sends `PoseResult.to_record()` as UTF-8 JSON, one datagram per frame.

    The stream header (joint names, bones, intrinsics: a datagram with a "schema" key, no
    "frame") goes first and again every `HEADER_EVERY_S` seconds, so a receiver started late
    learns the names too.
    """

    HEADER_EVERY_S = 2.0

    def __init__(self, address: str) -> None:
        host, port = parse_host_port(address)
        try:
            family, kind, proto, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except (socket.gaierror, UnicodeError) as exc:
            raise UserError(f"bad UDP address '{address}': cannot resolve host '{host}' ({exc})") from None
        self.address = sockaddr
        self.sent = 0
        self.dropped = 0
        self._sock = socket.socket(family, kind, proto)
        self._header: bytes | None = None
        self._header_sent_s = -math.inf

    def begin(self, header: dict) -> None:
        self._header = json.dumps(header).encode("utf-8")

    def _send(self, payload: bytes) -> None:
        try:
            self._sock.sendto(payload, self.address)
            self.sent += 1
        except OSError:
            self.dropped += 1   # a vanished receiver never stops the pipeline; counted, not raised

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        now = time.monotonic()
        if self._header is not None and now - self._header_sent_s >= self.HEADER_EVERY_S:
            self._header_sent_s = now
            self._send(self._header)
        self._send(record_json(result).encode("utf-8"))

    def close(self) -> None:
        self._sock.close()
