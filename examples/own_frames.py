"""Your own depth frames (any source): a NumPy array in mm and the camera's intrinsics.

    python examples/own_frames.py DEPTH.png [preset]    # a 16-bit PNG; preset as in calib/ (default d435)
"""
import sys

import cv2

from handpose_live import Tracker
from handpose_live.calib import load_intrinsics

intrinsics = load_intrinsics(sys.argv[2] if len(sys.argv) > 2 else "d435")
raw = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED)
depth_mm = raw.astype("float32") * intrinsics.depth_scale_m * 1000.0
tracker = Tracker.from_model("models/v2v-lite-hand.onnx")
result = tracker.process(depth_mm, intrinsics)
for hand in result.hands:
    print(hand.id, hand.handedness, hand.score, hand.joints_mm["index_tip"], hand.joints_px["index_tip"])
if not result.hands:
    print("no hand found")
