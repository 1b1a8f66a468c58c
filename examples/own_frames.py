"""Your own depth frames (any source): a NumPy array in mm and the camera's intrinsics.

    python examples/own_frames.py DEPTH.png [preset]    # a 16-bit PNG; preset as in calib/ (default d435)

Runs from any folder: the shipped hand model is found through the package (`handpose_live.resources`).
"""
import sys

import cv2

from handpose_live import Tracker
from handpose_live.calib import load_intrinsics
from handpose_live.resources import default_model

intrinsics = load_intrinsics(sys.argv[2] if len(sys.argv) > 2 else "d435")
raw = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED)
if raw is None:
    print(f"error: cannot read {sys.argv[1]} as an image", file=sys.stderr)
    sys.exit(2)
depth_mm = raw.astype("float32") * intrinsics.depth_scale_m * 1000.0
tracker = Tracker.from_model(default_model("hand"))
result = tracker.process(depth_mm, intrinsics)
for hand in result.hands:
    x, y, z = hand.joints_mm["index_tip"]
    u, v = hand.joints_px["index_tip"]
    print(f"hand {hand.id} {hand.handedness} (score {hand.score:.2f}): index tip at x {x:.0f} y {y:.0f} z {z:.0f} mm, "
          f"pixel ({u:.0f}, {v:.0f})")
if not result.hands:
    print("no hand found")
