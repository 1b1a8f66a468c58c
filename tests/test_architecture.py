"""The architecture holds: the import graph of the package has no cycle, and the inference path
(what `run` and the Python API load) depends on no training, evaluation, command, dataset or
synthetic-world code. Lazy imports inside functions count: they are dependencies too."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "handpose_live"
INFERENCE_ROOTS = ["handpose_live.inference"]
NOT_FROM_INFERENCE = ("handpose_live.training", "handpose_live.evaluation", "handpose_live.commands",
                      "handpose_live.data", "handpose_live.synth", "handpose_live.sinks", "handpose_live.capture")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    root = ".".join(base + ([node.module] if node.module else []))
                else:
                    root = node.module or ""
                targets = [root] + [f"{root}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in modules:   # `from .x import y` where y is a name, not a module
                    t = t.rpartition(".")[0]
                if t and t != name and not name.startswith(t + "."):   # a package's own __init__ is not an edge
                    graph[name].add(t)
    return graph


def reachable(graph, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, ()))
    return seen


def test_no_import_cycles():
    graph = import_graph()
    cycles = sorted({tuple(sorted(reachable(graph, m) & {n for n in graph if m in reachable(graph, n)}))
                     for m in graph if any(m in reachable(graph, d) for d in graph[m])})
    assert not cycles, f"import cycles: {cycles}"


def test_inference_imports_no_training_or_app_code():
    graph = import_graph()
    for root in INFERENCE_ROOTS:
        for module in [m for m in graph if m == root or m.startswith(root + ".")]:
            bad = sorted(d for d in reachable(graph, module) if d.startswith(NOT_FROM_INFERENCE))
            assert not bad, f"{module} depends on {bad}"


CORE = {f"handpose_live.{m}" for m in ("types", "errors", "geometry", "targets", "skeletons", "voxelize", "heatmaps",
                                        "resources", "gestures", "records", "options")}


def test_inference_imports_only_the_core():
    """What a running tracker loads stays small: inference/ reaches outside itself only for the core
    modules docs/architecture.md lists (a new dependency is a decision, made there first)."""
    graph = import_graph()
    outside = {d for m, ds in graph.items() if m.startswith("handpose_live.inference") for d in ds
               if not d.startswith("handpose_live.inference")}
    assert outside <= CORE, f"inference/ imports {sorted(outside - CORE)}"


def test_the_graph_is_read_correctly():
    """The checker itself: it sees relative, absolute and lazy imports."""
    graph = import_graph()
    assert "handpose_live.inference.modelfile" in graph["handpose_live.training.export"]     # relative, two dots
    assert "handpose_live.evaluation.model_eval" in graph["handpose_live.commands.evaluate"]  # lazy, in a function
    assert "handpose_live.geometry" in reachable(graph, "handpose_live.inference.predictor")


def test_subpackages_do_not_depend_on_each_other_both_ways():
    """Layers: e.g. data/ reads synth/'s shard format, so synth/ must not import data/."""
    graph = import_graph()

    def layer(m: str) -> str:
        return ".".join(m.split(".")[:2])
    edges = {(layer(m), layer(d)) for m, ds in graph.items() for d in ds if layer(m) != layer(d)}
    mutual = sorted((a, b) for a, b in edges if (b, a) in edges and a < b)
    assert not mutual, f"subpackages importing each other: {mutual}"


def test_every_subpackage_ships_in_the_wheel():
    """pyproject.toml lists the packages explicitly: a new subpackage must be listed, or the wheel lacks it."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    present = {module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")}
    assert present <= listed, f"not in pyproject.toml's packages: {sorted(present - listed)}"


TARGET_WORDS = {"hand", "body", "hands", "people", "person", "persons"}


def target_name_comparisons() -> list[str]:
    """Comparisons of a target's name or word written as a literal (`x == "body"`, `t in ("hand", ...)`)
    outside the profile module: what a target means lives in `targets.py`, code reads the profile."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "targets.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            for side in [node.left, *node.comparators]:
                items = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                if any(isinstance(i, ast.Constant) and i.value in TARGET_WORDS for i in items):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)}")
                    break
    return found


def test_targets_are_read_from_the_profile():
    found = target_name_comparisons()
    assert len(found) <= 2, "compare the target profile's fields, not target names:\n" + "\n".join(found)


def test_the_checker_sees_target_comparisons(tmp_path, monkeypatch):
    (tmp_path / "m.py").write_text('x = 1 if t == "body" else 2\nok = kind == "mean"\ny = t in ("hand", "x")\n')
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path)
    assert len(target_name_comparisons()) == 2


def test_the_pipeline_is_built_in_one_place():
    """`PosePipeline(` is constructed only by `inference.pipeline.build_pipeline` (tests aside)."""
    roots = [PACKAGE, PACKAGE.parent / "benchmarks", PACKAGE.parent / "examples"]
    calls = [f"{p.relative_to(PACKAGE.parent)}:{n.lineno}"
             for root in roots for p in root.rglob("*.py") for n in ast.walk(ast.parse(p.read_text()))
             if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == "PosePipeline"]
    assert len(calls) == 1 and calls[0].startswith("handpose_live/inference/pipeline.py"), calls


def test_no_large_class_in_inference():
    """Small classes in what a running tracker loads: none over 150 lines."""
    for path in (PACKAGE / "inference").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                length = node.end_lineno - node.lineno + 1
                assert length <= 150, f"{path.relative_to(PACKAGE)}: class {node.name} is {length} lines"
