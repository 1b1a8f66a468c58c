"""One open right hand for the sink, viewer and WebSocket tests: a fixed record, no model needed."""
import numpy as np

from handpose_live.types import Intrinsics

INTR = Intrinsics(fx=385.0, fy=385.0, cx=319.5, cy=239.5, width=640, height=480, name="test-d435")
# An open right hand facing the camera, fingers up (y down), about 55 cm away (hand21 order).
HAND_MM = np.array([
    [0, 60, 560],
    [-25, 40, 555], [-45, 20, 550], [-60, 0, 545], [-72, -15, 540],
    [-22, -10, 555], [-25, -40, 552], [-27, -60, 550], [-28, -78, 548],
    [-5, -13, 555], [-5, -47, 552], [-5, -70, 550], [-5, -90, 548],
    [12, -10, 555], [14, -42, 552], [15, -63, 550], [16, -80, 548],
    [28, -4, 556], [33, -28, 553], [36, -44, 551], [38, -58, 549],
], dtype=np.float64)
