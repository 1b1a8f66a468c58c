"""handpose-live: real-time 3D hand and body pose from depth cameras with V2V-PoseNet.

`from handpose_live import Tracker` is the Python API (`tracker.py`); it is imported on first
use, so `import handpose_live` (and the command line's `--help`) stays light.
"""
__version__ = "0.1.0"
__all__ = ["Tracker", "TrackerOptions", "__version__"]


def __getattr__(name: str):
    if name in ("Tracker", "TrackerOptions"):
        from . import tracker
        return getattr(tracker, name)
    raise AttributeError(f"module 'handpose_live' has no attribute {name!r}")
