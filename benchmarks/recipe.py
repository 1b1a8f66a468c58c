"""Run a model card's training recipe, as written, in a clean clone, resumably; then score the result.

The recipe is the card's ```bash block (models/v2v-lite-hand.md: about 4.5 h on a 2-core CPU;
models/v2v-lite-body.md: about 2 h). This script runs exactly those commands, one after the
other, in a folder holding a clean clone of this repository at HEAD (made on the first call),
with `python -m handpose_live` so the clone's own code runs. Hours of work must survive a
stopped session, so every call continues where the last one stopped:

- a command that finished is recorded in `recipe-state.json` (with its text; a card edited since
  starts again from the first changed command) and is not run again;
- an interrupted `train` continues with `--resume` (the trainer's exact resume), an interrupted
  `synth` with `--append` (frames depend on (seed, index) alone); `export-onnx` writes atomically.

When every command has run, the model the recipe wrote (the last `export-onnx --out`) is scored
with `handpose-live eval` on the recipe's classic and crowded test sets (`data/synth-<t>-test`,
`data/crowd-<t>-test`) and compared with the figures its card publishes (registered in
benchmarks/reproduce.py): `recipe-report.json` in the folder.

Usage: .venv/bin/python benchmarks/recipe.py models/v2v-lite-body.md --workdir ../recipe-body
       [--dry-run]                  # print the commands and what is done
Run the folder somewhere without a `../shared` beside it to check that nothing needs it.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handpose_live.fileio import atomic_write_text  # noqa: E402

STATE, REPORT, LOG = "recipe-state.json", "recipe-report.json", "recipe.log"
# What each card publishes for its final model on the held-out sets: (reproduce.py figure id, eval key, scale)
PUBLISHED = {
    "hand": {"classic": ("hand.test.mean_mm", "mean_error_mm", 1.0),
             "crowded": ("hand.crowded.mean_mm", "mean_error_mm", 1.0)},
    "body": {"classic": ("body.test.map_pct", "map_10cm", 100.0),
             "crowded": ("body.crowded.map_pct", "map_10cm", 100.0)},
}


def card_commands(card: Path) -> list[str]:
    """The card's ```bash block: one command per line (continuations joined), comments dropped."""
    m = re.search(r"```bash\n(.*?)```", card.read_text(), re.S)
    if not m:
        raise SystemExit(f"error: {card} has no ```bash recipe block")
    lines = m.group(1).replace("\\\n", " ").splitlines()
    return [" ".join(line.split()) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def resumed(argv: list[str], workdir: Path) -> list[str]:
    """The command to run again after an interruption: train --resume, synth --append."""
    def value(flag: str) -> Path | None:
        return workdir / argv[argv.index(flag) + 1] if flag in argv else None
    if argv[1] == "train" and (out := value("--out")) is not None and (out / "last.pt").is_file():
        return argv + ["--resume"]
    if argv[1] == "synth" and "--append" not in argv and (out := value("--out")) is not None and out.is_dir() \
            and any(out.iterdir()):
        return argv + ["--append"]
    return argv


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("card", type=Path, help="models/v2v-lite-hand.md or models/v2v-lite-body.md")
    ap.add_argument("--workdir", type=Path, required=True, help="folder of the clean clone (made on the first call)")
    ap.add_argument("--dry-run", action="store_true", help="print the commands and what is done, run nothing")
    args = ap.parse_args(argv)
    card = (REPO / args.card) if not args.card.is_absolute() else args.card
    if not card.is_file():
        raise SystemExit(f"error: no model card at {args.card}")
    target = "hand" if "hand" in card.stem else "body"
    commands = card_commands(card)
    workdir = args.workdir.resolve()
    state_path = workdir / STATE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {"done": [], "clone": None}
    done = 0
    while done < len(state["done"]) and done < len(commands) and state["done"][done]["command"] == commands[done]:
        done += 1
    for cmd in commands:
        if shlex.split(cmd)[0] != "handpose-live":
            raise SystemExit(f"error: the recipe's line {cmd!r} is not a handpose-live command")
    exports = [argv for argv in map(shlex.split, commands) if argv[1] == "export-onnx" and "--out" in argv]
    if not exports:
        raise SystemExit(f"error: {card.name}'s recipe writes no model (no `export-onnx --out`); nothing to score")
    model_path = workdir / exports[-1][exports[-1].index("--out") + 1]
    for i, cmd in enumerate(commands):
        print(f"[{'done' if i < done else 'todo'}] {i + 1}/{len(commands)} {cmd}")
    if args.dry_run:
        return 0
    if not (workdir / ".git").is_dir():
        workdir.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", str(REPO), str(workdir)], check=True)
        state["clone"] = subprocess.run(["git", "-C", str(workdir), "rev-parse", "HEAD"], capture_output=True,
                                        text=True, check=True).stdout.strip()
    state["done"] = state["done"][:done]
    log = (workdir / LOG).open("a")
    for i in range(done, len(commands)):
        run = resumed(shlex.split(commands[i]), workdir)
        print(f"\n== {i + 1}/{len(commands)}: {' '.join(run)}", flush=True)
        log.write(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(run)}\n")
        log.flush()
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-m", "handpose_live", *run[1:]], cwd=workdir)
        if proc.returncode:
            raise SystemExit(f"error: exit {proc.returncode} from {' '.join(run)}; run this script again to continue")
        state["done"].append({"command": commands[i], "minutes": round((time.time() - t0) / 60, 1)})
        atomic_write_text(state_path, json.dumps(state, indent=1))
    from reproduce import FIGURES  # the published figures, one registry
    published = {f.id: f.published for f in FIGURES}
    report = {"card": card.name, "clone": state["clone"], "model": str(model_path), "minutes": state["done"], "sets": {}}
    for world, prefix in (("classic", "synth"), ("crowded", "crowd")):
        figure, key, scale = PUBLISHED[target][world]
        test = workdir / "data" / f"{prefix}-{target}-test"
        out = subprocess.run([sys.executable, "-m", "handpose_live", "eval", "--model", str(model_path), "--dataset",
                              "synthetic", "--data-root", str(test), "--json"], cwd=workdir, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"error: eval on {test} failed: {out.stderr.strip()[-300:]}")
        value = json.loads(out.stdout.strip().splitlines()[-1])[key] * scale
        report["sets"][world] = {"test_set": test.name, "figure": figure, "reproduced": value, "published": published[figure]}
        print(f"{world}: {figure} reproduced {value:.2f}, published {published[figure]}")
    atomic_write_text(workdir / REPORT, json.dumps(report, indent=1))
    print(f"report: {workdir / REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
