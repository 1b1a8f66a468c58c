"""The packaged hand-pose prior (synth/hand_prior.npz): it matches the NYU labels it was derived
from, the generator reads it from the package alone (never ../shared), and a missing or
damaged file is an error rather than a silent switch to synergy-only sampling."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from handpose_live.calib import load_intrinsics
from handpose_live.errors import UserError
from handpose_live.synth import hand
from handpose_live.synth.generate import generate_dataset

REPO = Path(__file__).resolve().parents[1]
SYNTH = REPO / "handpose_live" / "synth"
LABELS = ("real-hand-poses", "nyu_test_groundtruth_label.txt")
INTR = load_intrinsics("d435-640x480")


def _derive_script():
    spec = importlib.util.spec_from_file_location("derive_hand_prior", REPO / "benchmarks" / "derive_hand_prior.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_packaged_prior_matches_the_nyu_labels(shared_data):
    labels = shared_data.joinpath(*LABELS)
    if not labels.is_file():
        pytest.skip(f"{labels} not found")
    script = _derive_script()
    rotations, curls = script.derive_prior(script.read_labels(labels))
    prior = hand.nyu_prior()
    assert len(prior) == len(rotations) == 8252
    assert np.abs(prior.rotations - rotations).max() < 1e-6      # float32 quaternions
    assert np.abs(prior.curls - curls).max() < 1e-6
    assert prior.provenance["source"] == labels.name
    assert prior.provenance["source_sha256"] == hashlib.sha256(labels.read_bytes()).hexdigest()
    assert prior.provenance["frames"] == str(len(prior))
    assert prior.provenance["script"] == "benchmarks/derive_hand_prior.py"


def test_packaged_prior_is_package_data_and_consistent():
    where = hand.packaged_prior_file()
    assert Path(str(where)) == SYNTH / hand.PRIOR_FILE
    prior = hand.nyu_prior()
    assert prior is hand.nyu_prior()                                  # read once
    assert prior.sha256 == prior.provenance["content_sha256"]
    assert prior.rotations.shape == (len(prior), 3, 3) and prior.curls.shape == (len(prior), 5)
    rtr = np.einsum("nij,nkj->nik", prior.rotations, prior.rotations)
    assert np.abs(rtr - np.eye(3)).max() < 1e-12 and np.all(np.linalg.det(prior.rotations) > 0.999)
    assert 0 <= prior.curls.min() and prior.curls.max() <= 1
    assert (SYNTH / hand.PRIOR_FILE).stat().st_size < 500_000


def test_no_synth_code_refers_to_shared_data():
    """`grep -r shared handpose_live/synth`, less the word in prose ("shared by ...")."""
    path_like = re.compile(r"""["'/\\]shared\b|\bshared["'/\\]|SHARED|real-hand-poses|nyu_test_groundtruth""")
    hits = [f"{p.name}:{n}: {line.strip()}" for p in sorted(SYNTH.rglob("*.py"))
            for n, line in enumerate(p.read_text().splitlines(), 1) if path_like.search(line)]
    assert hits == []


def test_generator_runs_from_a_copy_of_the_package_without_shared(tmp_path):
    """The package copied where no ../shared exists, every file open audited: the prior
    still loads (from the package) and a hand dataset is written; nothing under the shared
    data folder is opened."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "handpose_live", site / "handpose_live", ignore=shutil.ignore_patterns("__pycache__"))
    code = textwrap.dedent("""
        import json, os, sys
        forbidden = [os.path.realpath(sys.argv[1]), "real-hand-poses", "nyu_test_groundtruth"]
        touched = []
        def audit(event, args):
            if event in ("open", "os.listdir", "os.scandir", "os.stat") and args \
                    and isinstance(args[0], (str, bytes, os.PathLike)):
                p = os.fsdecode(args[0])
                if any(f in p or f in os.path.realpath(p) for f in forbidden):
                    touched.append(p)
        sys.addaudithook(audit)
        from handpose_live.synth import hand
        from handpose_live.synth.generate import generate_dataset
        from handpose_live.types import Intrinsics
        prior = hand.nyu_prior()
        index = generate_dataset(sys.argv[2], "hand", 2, Intrinsics(383.0, 383.0, 319.5, 239.5, 640, 480),
                                 seed=5, progress=False, shard_size=2)
        print(json.dumps({"hand_py": hand.__file__, "frames": len(prior), "sha256": prior.sha256,
                          "index_prior": index["hand_prior"], "count": index["count"], "touched": touched}))
    """)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", code, str(REPO.parent / "shared"), str(tmp_path / "ds")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(out["hand_py"]).resolve() == (site / "handpose_live" / "synth" / "hand.py").resolve()
    assert not (site.parent / "shared").exists() and not (site / "shared").exists()
    assert out["touched"] == []
    assert out["count"] == 2
    assert out["frames"] == len(hand.nyu_prior()) and out["sha256"] == hand.nyu_prior().sha256
    assert out["index_prior"]["sha256"] == hand.nyu_prior().sha256


def _one_line_user_error(call, match: str) -> str:
    with pytest.raises(UserError, match=match) as err:
        call()
    assert "\n" not in str(err.value)
    return str(err.value)


def test_missing_or_damaged_prior_is_an_error(tmp_path, monkeypatch):
    good = (SYNTH / hand.PRIOR_FILE).read_bytes()
    _one_line_user_error(lambda: hand.load_hand_prior(tmp_path / "absent.npz"), "missing")
    cases = {"garbage.npz": b"not a zip at all", "truncated.npz": good[: len(good) // 2]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        _one_line_user_error(lambda: hand.load_hand_prior(tmp_path / name), "corrupt")
    with np.load(SYNTH / hand.PRIOR_FILE) as z:
        arrays = {k: z[k] for k in z.files}
    tampered = dict(arrays, curls=arrays["curls"] * np.float32(0.5))          # stale content_sha256
    np.savez_compressed(tmp_path / "tampered.npz", **tampered)
    _one_line_user_error(lambda: hand.load_hand_prior(tmp_path / "tampered.npz"), "content_sha256")
    no_curls = {k: v for k, v in arrays.items() if k != "curls"}
    np.savez_compressed(tmp_path / "no_curls.npz", **no_curls)
    _one_line_user_error(lambda: hand.load_hand_prior(tmp_path / "no_curls.npz"), "corrupt")

    # The generator does not fall back to synergy-only sampling when the packaged file is gone.
    monkeypatch.setattr(hand, "packaged_prior_file", lambda: tmp_path / "absent.npz")
    hand.nyu_prior.cache_clear()
    try:
        message = _one_line_user_error(lambda: generate_dataset(tmp_path / "ds", "hand", 1, INTR, progress=False),
                                       "hand-pose prior .* is missing")
        assert "derive_hand_prior.py" in message
    finally:
        monkeypatch.undo()
        hand.nyu_prior.cache_clear()
    assert len(hand.nyu_prior()) == 8252
