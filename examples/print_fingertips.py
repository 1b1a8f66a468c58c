"""Print each hand's fingertips (camera mm, x right, y down, z forward) as they come.

    python examples/print_fingertips.py [frames]      # a RealSense/Kinect/Orbbec if connected, else the synthetic camera
"""
import sys

from handpose_live import Tracker

TIPS = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip")

frames = int(sys.argv[1]) if len(sys.argv) > 1 else 0          # 0: until Ctrl-C
with Tracker(camera="auto", frames=frames, smoothing=True) as tracker:
    for result in tracker:
        for hand in result.hands:
            tips = "  ".join(f"{name.split('_')[0]} ({x:.0f}, {y:.0f}, {z:.0f})" for name in TIPS
                             for x, y, z in [hand.joints_mm[name]])
            print(f"frame {result.frame_index} hand {hand.id} ({hand.handedness}): {tips}")
