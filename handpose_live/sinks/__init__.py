"""Consumers of (DepthFrame, PoseResult): files, UDP, OSC, WebSocket, and viewers.

Viewers import OpenCV / Open3D, so import them from their own modules when needed; the same goes
for the WebSocket server (`sinks.websocket.WebSocketServer`), which starts a thread and a server.
"""
from .base import Sink, close_all
from .files import CsvWriter, JsonlWriter, open_output, record_json
from .osc import OscSender
from .udp import UdpSender

__all__ = ["Sink", "close_all", "JsonlWriter", "CsvWriter", "open_output", "record_json", "UdpSender",
           "OscSender"]
