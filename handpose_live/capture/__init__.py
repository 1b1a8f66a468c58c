"""Depth sources: RealSense, Azure Kinect and Orbbec cameras, their recordings, depth-image folders, the synthetic camera."""
from .base import FrameSource
from .sources import open_source

__all__ = ["FrameSource", "open_source"]
