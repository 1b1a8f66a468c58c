"""Save one session to a CSV of your own layout: time, hand id, side, pinch and the wrist position.

    python examples/save_session_csv.py session.csv [frames]

(`handpose-live run --output session.csv` writes every joint; this shows the API underneath.)
"""
import csv
import sys

from handpose_live import Tracker

out = sys.argv[1] if len(sys.argv) > 1 else "session.csv"
frames = int(sys.argv[2]) if len(sys.argv) > 2 else 300
with Tracker(camera="auto", frames=frames) as tracker, open(out, "w", newline="") as f:
    rows = csv.writer(f)
    rows.writerow(["timestamp_ms", "id", "handedness", "pinch", "grab", "wrist_x_mm", "wrist_y_mm", "wrist_z_mm"])
    for result in tracker:
        for hand in result.hands:
            rows.writerow([round(result.timestamp_ms, 1), hand.id, hand.handedness, round(hand.pinch, 3),
                           round(hand.grab, 3), *hand.joints_mm["wrist"].round(1)])
print(f"wrote {out}")
