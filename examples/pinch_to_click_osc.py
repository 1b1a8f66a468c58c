"""Pinch to click: send an OSC message on every pinch start/end, and the index tip while pinching.

    python examples/pinch_to_click_osc.py [host:port] [frames]       # default 127.0.0.1:9000

TouchDesigner, Max/MSP, Unity or Unreal listen with their OSC input; `handpose-live run --osc`
sends the whole skeleton instead (addresses in the README).
"""
import sys

from pythonosc.udp_client import SimpleUDPClient

from handpose_live import Tracker

host, _, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9000").rpartition(":")
frames = int(sys.argv[2]) if len(sys.argv) > 2 else 0
client = SimpleUDPClient(host, int(port))
pinching: set[int] = set()
with Tracker(camera="auto", frames=frames, smoothing=True) as tracker:
    for result in tracker:
        for event in result.gestures:                     # {"type": "pinch_start" | "pinch_end", "id": n}
            client.send_message(f"/click/{event['type']}", event["id"])
            (pinching.add if event["type"] == "pinch_start" else pinching.discard)(event["id"])
            print(result.frame_index, event)
        for hand in result.hands:
            if hand.id in pinching:
                x, y, z = (float(v) for v in hand.joints_mm["index_tip"])
                client.send_message(f"/click/{hand.id}/drag", [x, y, z])
