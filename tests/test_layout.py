"""The package's shape: imports between keisei's layers only point down (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import keisei

PACKAGE = Path(keisei.__file__).parent
# Lower layers first; a module may import its own layer and the layers before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "keisei",
        "keisei.errors",
        "keisei.files",
        "keisei.process",
        "keisei.config",
        "keisei.presets",
    ),
    ("keisei.game",),
    ("keisei.rl", "keisei.distributed"),
    ("keisei.search",),
    ("keisei.training",),
    ("keisei.evaluation",),
    ("keisei.watch",),
    ("keisei.bench",),
    ("keisei.cli",),
    ("keisei.__main__",),
)


def layer_of(module: str) -> int:
    best = -1, -1  # (prefix length, layer)
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = len(prefix), index
    assert best[1] >= 0, f"{module} is in no layer"
    return best[1]


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def keisei_imports(path: Path) -> list[tuple[str, bool]]:
    """(imported keisei module, whether the import is inside a function) for one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            nested.update(id(n) for n in ast.walk(node) if n is not node)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keisei"):
            names = [node.module] if node.module != "keisei" else []
            names += [f"{node.module}.{a.name}" for a in node.names if node.module == "keisei"]
            out += [(n, id(node) in nested) for n in names]
        elif isinstance(node, ast.Import):
            out += [(a.name, id(node) in nested) for a in node.names if a.name.startswith("keisei")]
    return out


def test_every_module_is_in_a_layer_and_imports_only_downwards() -> None:
    mods = modules()
    assert "keisei.training.trainer" in mods and "keisei.cli.main" in mods
    upward = []
    for name, path in mods.items():
        for target, _ in keisei_imports(path):
            if target == "keisei.__version__":
                continue
            if layer_of(target) > layer_of(name):
                upward.append(f"{name} imports {target}")
    assert upward == []


def test_no_function_local_imports_of_keisei() -> None:
    local = [
        f"{name} imports {target} inside a function"
        for name, path in modules().items()
        for target, nested in keisei_imports(path)
        if nested
    ]
    assert local == []
