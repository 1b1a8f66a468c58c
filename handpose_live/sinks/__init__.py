"""Consumers of (DepthFrame, PoseResult): files, UDP, and viewers.

Viewers import OpenCV / Open3D, so import them from their own modules when needed.
"""
from .base import Sink
from .files import CsvWriter, JsonlWriter, open_output, record_json
from .udp import UdpSender

__all__ = ["Sink", "JsonlWriter", "CsvWriter", "open_output", "record_json", "UdpSender"]
