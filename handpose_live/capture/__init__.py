"""Depth sources: RealSense and Kinect cameras and recordings, the synthetic camera."""
from .base import FrameSource
from .sources import open_source

__all__ = ["FrameSource", "open_source"]
