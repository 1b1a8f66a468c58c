"""handpose-live: real-time 3D hand and body pose from depth cameras with V2V-PoseNet."""
__version__ = "0.1.0"
