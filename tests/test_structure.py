"""The shape of the code (docs/architecture.md): no import circle, readers below the cleaning
layer, small files, and torch only in the deep-learning modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "soilco2"
MAX_LINES = 450
# modules that import torch at import time; everything else must import (and run S3) without it
TORCH_MODULES = {"soilco2.models.lstm", "soilco2.models.mlp", "soilco2.models.pastfuture", "soilco2.training"}


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = f.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every soilco2 module ``path`` imports, at top level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("soilco2"):
            if node.module in known:
                found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(f, set(mods)) - {m} for m, f in mods.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_known_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_in_src():
    assert find_cycles(import_graph()) == []


# Layers from the bottom up (docs/architecture.md); a module imports only from its own layer or
# below. The three scales sit side by side and never import one another.
LAYERS = [
    (
        "soilco2",
        "soilco2.errors",
        "soilco2.accounting",
        "soilco2.progress",
        "soilco2.paths",
        "soilco2.files",
        "soilco2.config",
        "soilco2.metrics",
        "soilco2.climate",
        "soilco2.dask_plugins",
        "soilco2.parallel",
    ),
    ("soilco2.sources",),
    ("soilco2.prep",),
    ("soilco2.models", "soilco2.training"),
    ("soilco2.report",),
    ("soilco2.daily", "soilco2.subdaily", "soilco2.global_"),
    ("soilco2.commands", "soilco2.cli"),
]
SCALES = LAYERS[5]


def _owner(mod: str, prefixes) -> str | None:
    """The longest prefix in ``prefixes`` that names ``mod`` or a package above it."""
    hits = [p for p in prefixes if mod == p or mod.startswith(p + ".")]
    return max(hits, key=len) if hits else None


def _rank(mod: str) -> int:
    every = [p for layer in LAYERS for p in layer]
    owner = _owner(mod, every)
    assert owner is not None, f"{mod} is in no layer of LAYERS"
    return next(i for i, layer in enumerate(LAYERS) if owner in layer)


def test_every_module_has_a_layer_and_imports_only_downwards():
    upward = []
    for mod, deps in import_graph().items():
        upward += [f"{mod} -> {d}" for d in deps if _rank(d) > _rank(mod)]
    assert upward == []


def test_the_scales_do_not_import_one_another():
    crossing = []
    for mod, deps in import_graph().items():
        own = _owner(mod, SCALES)
        crossing += [f"{mod} -> {d}" for d in deps if own and _owner(d, SCALES) not in (None, own)]
    assert crossing == []


def test_readers_import_nothing_from_prep_or_above():
    for mod, deps in import_graph().items():
        if mod.startswith("soilco2.sources"):
            assert not [d for d in deps if _rank(d) > _rank("soilco2.sources")], mod


def test_folders_stay_small_and_a_shared_prefix_is_a_package():
    """No folder holds more than 15 modules; no five modules in one folder share a name prefix up
    to the first underscore (such a prefix wants to be a package)."""
    crowded, prefixed = {}, {}
    for folder in [PACKAGE, *(d for d in PACKAGE.rglob("*") if d.is_dir() and (d / "__init__.py").exists())]:
        names = [f.stem for f in folder.glob("*.py") if f.stem != "__init__"]
        if len(names) > 15:
            crowded[str(folder.relative_to(SRC))] = len(names)
        counts: dict[str, int] = {}
        for n in names:
            counts[n.split("_")[0]] = counts.get(n.split("_")[0], 0) + 1
        prefixed.update({f"{folder.relative_to(SRC)}/{k}_*": c for k, c in counts.items() if c >= 5})
    assert crowded == {} and prefixed == {}


def test_no_source_file_over_the_limit():
    long = {
        str(f.relative_to(SRC)): n
        for f in PACKAGE.rglob("*.py")
        if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_only_deep_learning_modules_import_torch_at_import_time():
    offenders = []
    for mod, f in _modules().items():
        tree = ast.parse(f.read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in top if isinstance(n, ast.ImportFrom) and n.module]
        if any(n.split(".")[0] == "torch" for n in names) and mod not in TORCH_MODULES:
            offenders.append(mod)
    assert offenders == []


BLOCK_TORCH = """
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'torch':
            raise ModuleNotFoundError("No module named 'torch'", name='torch')
sys.meta_path.insert(0, Block())
import soilco2
skip = set(sys.argv[1].split(','))
for m in pkgutil.walk_packages(soilco2.__path__, 'soilco2.'):
    if m.name not in skip:
        importlib.import_module(m.name)
assert 'torch' not in sys.modules
from soilco2.cli import main
main(sys.argv[2:])
"""


def test_non_dl_modules_and_cli_work_without_torch(tmp_path):
    """Every module but the torch ones imports with torch blocked; a DL command then says which
    extra to install, in one line with exit 2."""
    skip = ",".join(sorted(TORCH_MODULES))
    ok = subprocess.run([sys.executable, "-c", BLOCK_TORCH, skip, "--help"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    cfg = Path(__file__).resolve().parents[1] / "configs" / "daily_tiny.yaml"
    res = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH, skip, "daily", "train", str(cfg), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2, res.stderr
    assert "needs PyTorch" in res.stderr and "soilco2[dl]" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing was created
