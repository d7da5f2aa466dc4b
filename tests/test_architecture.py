"""The shape of the library: no import circle (lazy imports inside functions included), so the next
feature cannot bring one back unnoticed."""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

PACKAGE = "hf_trainer"


def module_name(path: Path, top: Path) -> str:
    parts = list(path.relative_to(top).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = REPO_ROOT / PACKAGE) -> dict[str, set[str]]:
    """Module -> the library modules it imports anywhere in its body (top level or inside a function).
    `from package import name` counts as an import of the submodule `name` when there is one. A
    package's __init__ counts through its own imports only (a face that hands names on, as
    farm-studio reads it), not as an import of every module inside the package."""
    files = {module_name(p, root.parent): p for p in root.rglob("*.py")}
    packages = {name for name, p in files.items() if p.name == "__init__.py"}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        here = name if name in packages else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                    for alias in node.names
                ]
            else:
                continue
            graph[name].update(t for t in targets if t in files and t != name)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_library_has_no_import_circle_lazy_imports_included():
    graph = import_graph()
    assert (
        "hf_trainer.members.registry" in graph["hf_trainer.serving.inference"] | graph["hf_trainer.members"]
    )
    assert circles(graph) == []


def test_the_circle_finder_sees_a_lazy_circle(tmp_path):
    package = tmp_path / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from .a import g\n")
    (package / "c.py").write_text("from .a import b\n")
    graph = import_graph(package)
    assert graph["hf_trainer.c"] == {"hf_trainer.a"} and circles(graph) == [["hf_trainer.a", "hf_trainer.b"]]


def test_ensemble_json_code_reaches_no_member_code():
    graph = import_graph()
    reached, todo = set(), ["hf_trainer.selection.ensemble"]
    while todo:  # everything ensemble.py imports, directly or through other modules
        for module in graph[todo.pop()] - reached:
            reached.add(module)
            todo.append(module)
    assert "hf_trainer.selection.weight_search" in reached and not {
        m for m in reached if m.startswith("hf_trainer.members")
    }


# The subpackages from the ground up: each may import those before it, never one after it.
LAYERS = (
    "utils",
    "data",
    "metrics",
    "training",
    "selection",
    "members",
    "serving",
    "evaluation",
    "hub",
    "pipeline",
)


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs where a subpackage imports one above it in LAYERS."""
    return sorted(
        (source, target)
        for source, targets in graph.items()
        for target in targets
        if layer(source) and layer(target) and LAYERS.index(layer(target)) > LAYERS.index(layer(source))
    )


def test_every_module_lives_in_a_subpackage_and_imports():
    import importlib

    graph = import_graph()
    loose = sorted(m for m in graph if m != PACKAGE and layer(m) is None)
    assert loose == [], f"modules outside the subpackages {LAYERS}: {loose}"
    assert {layer(m) for m in graph if m != PACKAGE} == set(LAYERS)
    for module in sorted(graph):
        if not module.endswith("__main__"):
            importlib.import_module(module)


def test_the_subpackage_arrows_run_one_way():
    assert upward_imports(import_graph()) == []


def test_the_layer_check_sees_an_import_running_up(tmp_path):
    package = tmp_path / PACKAGE
    for sub in ("data", "serving"):
        (package / sub).mkdir(parents=True)
        (package / sub / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "data" / "reading.py").write_text("def f():\n    from ..serving.app import g\n")
    (package / "serving" / "app.py").write_text("from ..data import reading\n")
    assert upward_imports(import_graph(package)) == [("hf_trainer.data.reading", "hf_trainer.serving.app")]


def test_each_subpackage_says_its_job():
    for sub in LAYERS:
        doc = ast.get_docstring(
            ast.parse((REPO_ROOT / PACKAGE / sub / "__init__.py").read_text(encoding="utf-8"))
        )
        assert doc and 1 <= len(doc.splitlines()) <= 2, sub


def test_the_independent_spelling_games_never_reach_training():
    graph = import_graph()
    outside = "hf_trainer.evaluation.outside_games"
    assert outside in graph["hf_trainer.evaluation.robustness"]
    for start in (
        "hf_trainer.data.preparation",
        "hf_trainer.training.fine_tune",
        "hf_trainer.members.char_ngram",
    ):
        reached, todo = set(), [start]
        while todo:
            for module in graph[todo.pop()] - reached:
                reached.add(module)
                todo.append(module)
        assert outside not in reached, start


def test_no_class_over_130_lines_and_no_function_over_80():
    too_long = []
    for path in sorted((REPO_ROOT / PACKAGE).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            limit = 130 if isinstance(node, ast.ClassDef) else 80
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                if node.end_lineno - node.lineno + 1 > limit:
                    too_long.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name}")
    assert too_long == []
