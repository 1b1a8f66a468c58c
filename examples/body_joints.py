"""Track people (--target body, the ITOP 15-joint skeleton) and print where their hands are.

    python examples/body_joints.py [frames]
"""
import sys

from handpose_live import Tracker

frames = int(sys.argv[1]) if len(sys.argv) > 1 else 0
with Tracker(camera="auto", target="body", frames=frames) as tracker:
    print("joints:", ", ".join(tracker.joint_names))
    for result in tracker:
        for person in result.people:
            head, right, left = ("({:.0f}, {:.0f}, {:.0f})".format(*person.joints_mm[name])
                                 for name in ("head", "right_hand", "left_hand"))
            print(f"frame {result.frame_index} person {person.id}: head {head} right hand {right} left hand {left}")
