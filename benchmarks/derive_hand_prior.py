"""Derive the packaged hand-pose prior `handpose_live/synth/hand_prior.npz` from the NYU test labels.

The synthetic hand generator (`synth/hand.py`) draws most global orientations and finger curls
from real hands. This script measures them once on NYU's test ground truth
(`nyu_test_groundtruth_label.txt`: one line per frame, 14 joints x (u, v, d)) so the package
ships the result and never reads the label file itself.

Per frame (exactly what `NyuPrior` computed from the label file up to generator synth-1):
  * joints to camera mm with NYU's Kinect intrinsics (fx 588.03, fy 587.07, cx 320, cy 240),
    keeping v downwards (the generator's y-down camera);
  * the hand-local frame of `synth/hand.py`: y = from the wrist (mean of joints 11 and 12) to
    joint 13, x = joint 11 -> joint 12 (towards the thumb) made orthogonal to y, z = x cross y;
    the rotation hand-local -> camera has these axes as columns;
  * curls in [0, 1]: bend angle between (mid - joint 13) and (tip - mid) over 125 degrees for
    index, middle, ring, pinky ((tip, mid) = (6, 7), (4, 5), (2, 3), (0, 1)); thumb: angle between
    (9 - 10) and (8 - 9) over 80 degrees; clipped to [0, 1]. Order: thumb, index, middle, ring, pinky.

The npz (np.savez_compressed, written to a temporary file beside it, then os.replace) holds
    quaternions  float32 [N, 4]  the rotations as unit quaternions (w, x, y, z), w >= 0
    curls        float32 [N, 5]
    provenance   str [K]          "key=value": format, source, source_sha256, frames,
                                   derivation, script, content_sha256
`content_sha256` (`hand.prior_content_sha256` of the two arrays) is the prior's identity: the
loader checks it, and datasets record it in index.json. Rerunning on the same labels leaves an
up-to-date file untouched (npz bytes carry zip timestamps; the content hash does not).

Usage: .venv/bin/python benchmarks/derive_hand_prior.py [LABELS] [--out PATH]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handpose_live.synth.hand import PRIOR_FILE, PRIOR_FORMAT, load_hand_prior, prior_content_sha256  # noqa: E402

DEFAULT_LABELS = REPO.parent / "shared" / "data" / "real-hand-poses" / "nyu_test_groundtruth_label.txt"
DEFAULT_OUT = REPO / "handpose_live" / "synth" / PRIOR_FILE
SCRIPT = "benchmarks/derive_hand_prior.py"
DERIVATION = ("NYU test labels (u, v, d) -> camera mm (fx 588.03, fy 587.07, cx 320, cy 240, v down); "
              "rotation columns: x = j11->j12 orthogonalised to y, y = mean(j11, j12)->j13, z = x cross y; "
              "curls (thumb, index, middle, ring, pinky) = bend angle / 125 deg (fingers: (mid - j13, tip - mid), "
              "(tip, mid) = (6, 7), (4, 5), (2, 3), (0, 1)) or / 80 deg (thumb: (j9 - j10, j8 - j9)), clipped to [0, 1]; "
              "stored as float32 unit quaternions (w, x, y, z), w >= 0, and float32 curls")


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-9)
    return np.arccos(np.clip(cos, -1, 1))


def derive_prior(uvd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotations [N, 3, 3] (hand-local -> camera) and curls [N, 5], float64, from NYU labels [N, 14, 3]."""
    uvd = np.asarray(uvd, np.float64).reshape(-1, 14, 3)
    d = uvd[..., 2]
    p = np.stack([(uvd[..., 0] - 320) * d / 588.03, (uvd[..., 1] - 240) * d / 587.07, d], -1)
    wrist = 0.5 * (p[:, 11] + p[:, 12])
    y = p[:, 13] - wrist
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    x = p[:, 12] - p[:, 11]                      # joint 12 is on the thumb side
    x -= (x * y).sum(1, keepdims=True) * y
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    z = np.cross(x, y)
    rotations = np.stack([x, y, z], axis=2)      # columns: local axes in camera space
    curls = []
    for tip, mid in ((6, 7), (4, 5), (2, 3), (0, 1)):
        curls.append(_angle(p[:, mid] - p[:, 13], p[:, tip] - p[:, mid]) / np.deg2rad(125))
    thumb = _angle(p[:, 9] - p[:, 10], p[:, 8] - p[:, 9]) / np.deg2rad(80)
    return rotations, np.clip(np.stack([thumb] + curls, 1), 0, 1)


def read_labels(path: Path) -> np.ndarray:
    labels = np.loadtxt(path, dtype=np.float64)
    if labels.ndim != 2 or labels.shape[1] != 14 * 3:
        raise SystemExit(f"{path}: expected one line of 14 x (u, v, d) = 42 numbers per frame, got shape {labels.shape}")
    return labels.reshape(-1, 14, 3)


def matrices_to_quaternions(rotations: np.ndarray) -> np.ndarray:
    """Unit quaternions (w, x, y, z) with w >= 0 of proper rotation matrices [N, 3, 3]."""
    from scipy.spatial.transform import Rotation
    xyzw = Rotation.from_matrix(rotations).as_quat()
    q = np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build(labels_path: Path) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The npz arrays, and the float64 derivation they round."""
    rotations, curls = derive_prior(read_labels(labels_path))
    if np.abs(np.linalg.det(rotations) - 1).max() > 1e-9:
        raise SystemExit("derived rotations are not proper rotations")
    q32 = matrices_to_quaternions(rotations).astype(np.float32)
    c32 = curls.astype(np.float32)
    content = prior_content_sha256(q32, c32)
    provenance = [f"format={PRIOR_FORMAT}", f"source={labels_path.name}", f"source_sha256={sha256_file(labels_path)}",
                  f"frames={len(q32)}", f"derivation={DERIVATION}", f"script={SCRIPT}", f"content_sha256={content}"]
    return {"quaternions": q32, "curls": c32, "provenance": np.array(provenance)}, (rotations, curls)


def write_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("labels", type=Path, nargs="?", default=DEFAULT_LABELS, help="nyu_test_groundtruth_label.txt")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    if not args.labels.is_file():
        raise SystemExit(f"label file not found: {args.labels}")
    arrays, (rotations, curls) = build(args.labels)
    wanted = [str(s) for s in arrays["provenance"]]
    if args.out.is_file():
        try:
            old = load_hand_prior(args.out)
        except Exception:        # a broken or outdated file is simply replaced
            old = None
        if old is not None and [f"{k}={v}" for k, v in old.provenance.items()] == wanted:
            print(f"{args.out}: up to date ({len(old)} frames, content sha256 {old.sha256[:16]}...)")
            return
    write_atomic(args.out, arrays)
    prior = load_hand_prior(args.out)        # what the generator will see
    d_rot = np.abs(prior.rotations - rotations).max()
    d_curl = np.abs(prior.curls - curls).max()
    print(f"{args.out}: {len(prior)} frames, {args.out.stat().st_size / 1024:.0f} KiB, content sha256 {prior.sha256}")
    print(f"float32 rounding: max |rotation - derived| {d_rot:.2e}, max |curl - derived| {d_curl:.2e}")


if __name__ == "__main__":
    main()
