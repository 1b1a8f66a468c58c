"""Consumers of (DepthFrame, PoseResult): files, UDP, and viewers.

Viewers import OpenCV / Open3D, so import them from their own modules when needed.
"""
from .base import Sink, close_all
from .files import CsvWriter, JsonlWriter, open_output, record_json
from .udp import UdpSender

__all__ = ["Sink", "close_all", "JsonlWriter", "CsvWriter", "open_output", "record_json", "UdpSender"]
