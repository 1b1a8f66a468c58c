"""Stream each frame's record as one UDP datagram (game engines, robots, other processes).

UDP because a live consumer wants the newest pose, not a backlog: a missing or slow
receiver must never stall or stop the pipeline, so send errors are counted, not raised.
"""
from __future__ import annotations

import socket

from ..errors import UserError
from ..types import DepthFrame, PoseResult
from .base import Sink
from .files import record_json


def parse_host_port(address: str) -> tuple[str, int]:
    """'host:port' or '[ipv6]:port' -> (host, port)."""
    text = str(address).strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise UserError(f"bad UDP address '{address}': expected host:port, e.g. 127.0.0.1:9000")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise UserError(f"bad UDP address '{address}': write IPv6 hosts as [addr]:port")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise UserError(f"bad UDP address '{address}': port must be 1-65535")
    return host, port


class UdpSender(Sink):
    """Sends `PoseResult.to_record()` as UTF-8 JSON, one datagram per frame."""

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

    def write(self, frame: DepthFrame, result: PoseResult) -> None:
        payload = record_json(result).encode("utf-8")
        try:
            self._sock.sendto(payload, self.address)
            self.sent += 1
        except OSError:
            self.dropped += 1   # a vanished receiver never stops the pipeline; counted, not raised

    def close(self) -> None:
        self._sock.close()
