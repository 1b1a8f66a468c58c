"""A tiny in-memory hand dataset for trainer tests: stick hands made of points along the bones."""
import numpy as np

from handpose_live.data.base import PoseDataset, Sample
from handpose_live.skeletons import HAND21


def stick_hand(rng: np.random.Generator, centre_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """21 joints around `centre_mm` and ~2,000 surface-ish points along the bones."""
    joints = np.zeros((21, 3))
    joints[0] = centre_mm + [0, 60, 10]
    angle = rng.uniform(-0.6, 0.6)
    for f in range(5):
        base_dir = np.array([np.sin(angle + (f - 2) * 0.3), -np.cos(angle + (f - 2) * 0.3), 0.0])
        curl = rng.uniform(0, 0.8)
        pos = joints[0] + base_dir * 55
        for k in range(4):
            idx = 1 + 4 * f + k
            joints[idx] = pos
            d = base_dir * np.cos(curl * k) + np.array([0, 0, -np.sin(curl * k)])
            pos = pos + d * (25 - 3 * k)
    points = []
    for a, b in HAND21.bones:
        t = rng.uniform(0, 1, size=(100, 1))
        points.append(joints[a] + t * (joints[b] - joints[a]) + rng.normal(0, 3, size=(100, 3)))
    return joints.astype(np.float32), np.concatenate(points).astype(np.float32)


class TinyHands(PoseDataset):
    skeleton_name = "hand21"
    cube_mm = 250.0

    def __init__(self, n: int = 8, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.items = []
        for i in range(n):
            centre = np.array([rng.uniform(-50, 50), rng.uniform(-50, 50), rng.uniform(400, 600)], np.float32)
            joints, points = stick_hand(rng, centre)
            self.items.append(Sample(points, joints, joints.mean(axis=0).astype(np.float32), f"tiny{i}"))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]
