"""The house rule, kept true: imports inside iqa_cli point only down the
layers (files → pairing → decode/align → metrics → scoring → runner → gate →
reports → commands), and no module imports itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "iqa_cli"

#: layer of each top-level part of the package, lowest first; a module may
#: import modules of its own layer or of a lower one
LAYERS: list[tuple[str, ...]] = [
    ("_version", "status", "errors", "spelling", "setting_values", "priority", "metrics.registry", "metrics.protocols.table"),
    ("formatting", "atomic"),
    ("settings", "results"),
    ("pairing",),
    ("io",),
    ("metrics",),
    ("losses",),
    ("scoring",),
    ("video_scoring", "video_pairs"),
    ("runner",),
    ("engines",),
    ("gate",),
    ("report",),
    ("review",),
    ("commands", "pytest_plugin"),
    ("__init__", "__main__"),
]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> int:
    best, depth = None, -1
    for i, names in enumerate(LAYERS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and n.count(".") > depth:
                best, depth = i, n.count(".")
    assert best is not None, f"iqa_cli.{module} belongs to no layer: add it to LAYERS"
    return best


def _imports(path: Path, mod: str | None = None) -> set[str]:
    """iqa_cli modules imported anywhere in the file (function bodies included)."""
    mod = mod or _module_name(path)
    package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    if mod == "__init__":
        package = []
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else list(package)
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("iqa_cli"):
                target = node.module[len("iqa_cli") :].lstrip(".")
            else:
                continue
            names = [target] if node.module else []
            names += [f"{target}.{a.name}" if target else a.name for a in node.names]
            for n in names:  # `from . import x` may name a module or an attribute
                if (PKG / (n.replace(".", "/") + ".py")).exists() or (PKG / n.replace(".", "/")).is_dir():
                    found.add(n)
                    break
            else:
                found.add(target)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("iqa_cli."):
                    found.add(a.name[len("iqa_cli.") :])
    found.discard(mod)
    found.discard("")
    return found


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PKG.rglob("*.py")}


def test_imports_only_point_down():
    upward = []
    for mod, deps in sorted(_graph().items()):
        for dep in sorted(deps):
            if _layer(dep) > _layer(mod):
                upward.append(f"iqa_cli.{mod} imports iqa_cli.{dep} (layer {_layer(dep)} > {_layer(mod)})")
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    graph = _graph()
    nodes = set(graph) | {d for ds in graph.values() for d in ds}
    # a package's __init__ is imported with any of its modules; edges to it count too
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        for d in sorted(graph.get(n, ())):
            if state.get(d) == 1:
                cycles.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d, stack + [d])
        state[n] = 2

    for n in sorted(nodes):
        if n not in state:
            visit(n, [n])
    assert not cycles, "\n".join(cycles)


def test_the_walker_sees_an_upward_import(tmp_path):
    """The check can fail: a lazy import from the metric layer up to the runner is found."""
    fake = tmp_path / "fake.py"
    fake.write_text("from . import _cpu\n\ndef f():\n    from ..runner import run\n    import iqa_cli.gate.rows\n")
    deps = _imports(fake, "metrics.fake")
    assert deps == {"metrics._cpu", "runner", "gate.rows"}
    assert sorted(d for d in deps if _layer(d) > _layer("metrics.fake")) == ["gate.rows", "runner"]
