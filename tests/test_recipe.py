"""benchmarks/recipe.py: a model card's recipe run as written in a clean clone, resumably, then scored."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import recipe  # noqa: E402

pytestmark = pytest.mark.slow      # a model card's recipe in a clone


def card(path: Path, commands: str) -> Path:
    path.write_text(f"# a card\n\nSome text.\n\n```bash\n{commands}```\n\n## More\n")
    return path


def run(card_path: Path, workdir: Path, rc: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "recipe.py"), str(card_path), "--workdir", str(workdir)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == rc, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def test_commands_are_the_cards_lines_and_interrupted_ones_continue(tmp_path):
    c = card(tmp_path / "x-hand.md", "# stage 1\nhandpose-live synth --target hand \\\n    --count 5 --out data/a\n"
                                     "handpose-live train --out runs/r --epochs 1\n")
    assert recipe.card_commands(c) == ["handpose-live synth --target hand --count 5 --out data/a",
                                       "handpose-live train --out runs/r --epochs 1"]
    synth, train = (cmd.split() for cmd in recipe.card_commands(c))
    assert recipe.resumed(train, tmp_path) == train and recipe.resumed(synth, tmp_path) == synth
    (tmp_path / "runs" / "r").mkdir(parents=True)
    (tmp_path / "runs" / "r" / "last.pt").write_bytes(b"x")
    (tmp_path / "data" / "a").mkdir(parents=True)
    (tmp_path / "data" / "a" / "index.json").write_text("{}")
    assert recipe.resumed(train, tmp_path) == train + ["--resume"]
    assert recipe.resumed(synth, tmp_path) == synth + ["--append"]


def test_a_recipe_runs_in_a_clone_continues_after_a_failure_and_is_scored(tmp_path):
    work = tmp_path / "clone"
    good = ("handpose-live synth --target hand --world classic --count 6 --seed 2000 --out data/synth-hand-test\n"
            "handpose-live synth --target hand --world crowded --count 4 --seed 2000 --out data/crowd-hand-test\n"
            "handpose-live export-onnx models/v2v-lite-hand.onnx --fp16 --out models/made.onnx\n")
    broken = good.replace("--count 4", "--count 0")
    p = run(card(tmp_path / "mini-hand.md", broken), work, rc=1)
    assert "run this script again" in p.stderr
    state = json.loads((work / recipe.STATE).read_text())
    assert [d["command"].split()[-1] for d in state["done"]] == ["data/synth-hand-test"]
    assert (work / ".git").is_dir()
    p = run(card(tmp_path / "mini-hand.md", good), work)
    assert "[done] 1/3" in p.stdout and "[todo] 2/3" in p.stdout
    assert p.stdout.count("\n== ") == 2                 # the first command is not run again
    report = json.loads((work / recipe.REPORT).read_text())
    assert report["model"].endswith("models/made.onnx") and len(report["minutes"]) == 3
    classic, crowded = report["sets"]["classic"], report["sets"]["crowded"]
    assert classic["figure"] == "hand.test.mean_mm" and classic["published"] == 9.44 and 0 < classic["reproduced"] < 60
    assert crowded["test_set"] == "crowd-hand-test" and 0 < crowded["reproduced"] < 80
