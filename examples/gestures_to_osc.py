"""Gestures to actions: each gesture event becomes an OSC message (slides, an avatar, a robot hand).

    python examples/gestures_to_osc.py [host:port] [frames] [camera]
    # defaults: 127.0.0.1:9000, until Ctrl-C, the synthetic camera ("auto": a RealSense/Kinect/Orbbec if connected)

ACTIONS maps each event to an OSC address and its arguments: swipe left / right turn the slides,
up / down change the volume, a fist closes the robot hand and ending it opens it again, an open palm
stops the robot, thumbs up and victory are avatar emotes, pointing drives a pointer from the index tip,
and a tap clicks where the tip was. Edit ACTIONS for your own receiver (TouchDesigner, Max/MSP, Unity,
a ROS bridge, a slide deck's OSC plug-in). Swipes are named as the person facing the camera sees
them (`swipe_left`: towards their left); the events: handpose_live/gestures.py.
"""
import sys

from pythonosc.udp_client import SimpleUDPClient

from handpose_live import Tracker

ACTIONS = {     # (event type, gesture) -> (OSC address, arguments)
    ("swipe_left", "swipe_left"): ("/slides/next", []),
    ("swipe_right", "swipe_right"): ("/slides/previous", []),
    ("swipe_up", "swipe_up"): ("/volume/up", []),
    ("swipe_down", "swipe_down"): ("/volume/down", []),
    ("gesture_start", "fist"): ("/robot/grip", [1.0]),
    ("gesture_end", "fist"): ("/robot/grip", [0.0]),
    ("gesture_start", "open_palm"): ("/robot/stop", [1]),
    ("gesture_end", "open_palm"): ("/robot/stop", [0]),
    ("gesture_start", "thumbs_up"): ("/avatar/emote", ["thumbs_up"]),
    ("gesture_start", "victory"): ("/avatar/emote", ["victory"]),
    ("gesture_start", "point"): ("/pointer/visible", [1]),
    ("gesture_end", "point"): ("/pointer/visible", [0]),
    ("tap", "tap"): ("/pointer/click", []),           # + the tip's x y z (mm), below
}

target = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9000"
host, _, port = target.rpartition(":")
frames = int(sys.argv[2]) if len(sys.argv) > 2 else 0
camera = sys.argv[3] if len(sys.argv) > 3 else "synthetic"
client = SimpleUDPClient(host, int(port))
pointing: set[int] = set()
with Tracker(camera=camera, frames=frames) as tracker:
    for result in tracker:
        for event in result.gestures:     # e.g. {"type": "gesture_start", "id": 3, "gesture": "fist"}
            action = ACTIONS.get((event["type"], event.get("gesture")))
            if event.get("gesture") == "point":
                (pointing.add if event["type"] == "gesture_start" else pointing.discard)(event["id"])
            if action is None:            # pinch_start / pinch_end and what ACTIONS leaves out
                continue
            address, args = action
            args = args + [round(v) for v in event.get("position_mm", [])]
            client.send_message(address, args)
            print(f"frame {result.frame_index} hand {event['id']}: {event['type']} {event.get('gesture', '')} "
                  f"-> {address} {' '.join(map(str, args))}".rstrip())
        for hand in result.hands:
            if hand.id in pointing:       # the pointer follows the index tip (camera mm, x right, y down)
                x, y, z = (float(v) for v in hand.joints_mm["index_tip"])
                client.send_message("/pointer/position", [x, y, z])
