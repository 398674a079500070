"""The floors of README's "Layout", read from the imports of every module (ast, nothing imported).

core/ imports none of ours, and of the rest only the standard library and numpy at module level
(Pillow, rich, tifffile, scipy inside functions; never torch or an engine); runtime/ and export/
import only core/ and each other, never toolkit/ (torch networks reach them through core/models.py);
toolkit/ (below the CLI) imports neither export/ nor runtime/; nothing but toolkit/cli imports
toolkit.cli; the CLI registers each command group explicitly (no ``__import__`` loop); a method is
one file (no method names listed outside toolkit/methods/).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"core": "hushframe.core", "toolkit": "hushframe.toolkit", "export": "hushframe.export",
            "runtime": "hushframe.runtime", "api": "hushframe"}
SUBPACKAGES = {"core", "toolkit", "export", "runtime", "recipes"}


def _modules():
    for folder, pkg in PACKAGES.items():
        for p in sorted((ROOT / folder).rglob("*.py")):
            rel = p.relative_to(ROOT / folder).with_suffix("")
            parts = [] if rel.name == "__init__" and len(rel.parts) == 1 else list(rel.parts)
            if parts and parts[-1] == "__init__":
                parts = parts[:-1]
            yield p, ".".join([pkg, *parts]), p.name == "__init__.py"


def _imports(path: Path, module: str, is_pkg: bool) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            out |= {f"{name}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            out.add("__import__")
    return out


def _top_level_imports(path: Path) -> set[str]:
    """Imports run when the module is imported (module body, not inside functions or classes' methods)."""
    out = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            out.add(node.module or "")
    return out


CORE_LAZY = {"PIL", "rich", "tifffile", "scipy", "cv2"}   # base-install or optional (cv2: the video extras), imported where used
NEVER_IN_CORE = {"torch", "onnx", "onnxruntime", "openvino", "av", "tensorrt", "nncf", "typer"}


def test_core_is_numpy_only():
    bad = []
    for path, mod, is_pkg in _modules():
        if not mod.startswith("hushframe.core"):
            continue
        where = str(path.relative_to(ROOT))
        for name in _top_level_imports(path):
            root = name.split(".")[0]
            if root not in sys.stdlib_module_names and root not in ("numpy", "hushframe", "__future__"):
                bad.append(f"{where}: {name} at import time")
        for name in _imports(path, mod, is_pkg):
            if name.split(".")[0] in NEVER_IN_CORE:
                bad.append(f"{where}: {name}")
            elif name.split(".")[0] not in sys.stdlib_module_names | CORE_LAZY | {"numpy", "hushframe", "__future__"}:
                bad.append(f"{where}: {name} (not a base-install dependency)")
    assert not bad, "core/ must stay numpy-only:\n" + "\n".join(sorted(bad))


def test_runtime_and_export_stand_on_core_only():
    """runtime/ and export/ import core/ and each other, never toolkit/ (lazy imports included)."""
    bad = []
    for path, mod, is_pkg in _modules():
        if not mod.startswith(("hushframe.runtime", "hushframe.export")):
            continue
        for name in _imports(path, mod, is_pkg):
            if name.startswith("hushframe") and not name.startswith(("hushframe.core", "hushframe.runtime",
                                                                       "hushframe.export")):
                bad.append(f"{path.relative_to(ROOT)}: {name}")
    assert not bad, "runtime/export importing above core:\n" + "\n".join(sorted(bad))


def test_floors_import_only_downwards():
    bad = []
    for path, mod, is_pkg in _modules():
        imps = {i for i in _imports(path, mod, is_pkg) if i.startswith("hushframe") or i == "__import__"}
        where = str(path.relative_to(ROOT))
        if mod.startswith("hushframe.core"):
            bad += [f"{where}: {i}" for i in imps if not i.startswith("hushframe.core")]
        if not mod.startswith("hushframe.toolkit.cli"):
            bad += [f"{where}: {i}" for i in imps if i.startswith("hushframe.toolkit.cli")]
        if mod.startswith("hushframe.toolkit") and not mod.startswith("hushframe.toolkit.cli"):
            bad += [f"{where}: {i}" for i in imps if i.startswith(("hushframe.export", "hushframe.runtime"))]
        if "__import__" in imps:
            bad.append(f"{where}: __import__")
    assert not bad, "imports against the floors:\n" + "\n".join(sorted(bad))


def test_the_api_package_is_the_top_and_torch_free():
    """api/ (the package ``hushframe``: ``from hushframe import Denoiser``) imports only core/ and runtime/;
    nothing below imports from it (its names are re-exports of the runtime's, made lazily)."""
    bad = []
    for path, mod, is_pkg in _modules():
        where = str(path.relative_to(ROOT))
        for name in _imports(path, mod, is_pkg):
            parts = name.split(".")
            if mod == "hushframe" or mod.startswith("hushframe.") and path.parent == ROOT / "api":
                if parts[0] == "hushframe" and len(parts) > 1 and parts[1] not in ("core", "runtime"):
                    bad.append(f"{where}: {name}")
            elif parts[0] == "hushframe" and (len(parts) == 1 or parts[1] not in SUBPACKAGES):
                bad.append(f"{where}: {name}")
    assert not bad, "imports of the api package from below, or from it above the runtime:\n" + "\n".join(sorted(bad))


def test_cli_registers_every_command_module_explicitly():
    from hushframe.toolkit.cli import main

    cli_files = {p.stem for p in (ROOT / "toolkit" / "cli").glob("*_cmd*.py")}
    registered = {g.__name__.rsplit(".", 1)[-1] for g in main.GROUPS}
    assert cli_files <= registered, cli_files - registered
    assert {"hushframe.export.cli", "hushframe.runtime.cli"} <= {g.__name__ for g in main.GROUPS}


def test_a_method_is_one_file():
    """Method names appear only in their own file under toolkit/methods/ (and in recipes/*.toml).

    toolkit/models/ is not searched: a network may carry its method's name (``amsnet``), and the
    networks live there (lazy-import cycles otherwise, see the test below)."""
    from hushframe.toolkit.methods.registry import load_methods

    methods = load_methods()
    assert {"atbsn", "aprrd", "bnn-lan", "amsnet"} <= set(methods)
    for name in ("aprrd", "bnn-lan", "amsnet"):
        hits = []
        for p in list((ROOT / "toolkit").rglob("*.py")):
            if p.is_relative_to(ROOT / "toolkit" / "models"):
                continue
            text = p.read_text(encoding="utf-8")
            if f'"{name}"' in text or f"'{name}'" in text:
                hits.append(str(p.relative_to(ROOT)))
        assert hits == [f"toolkit/methods/{name.replace('-', '_')}.py"], (name, hits)


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of ours it imports, at the top or inside a function alike.

    ``from X import a`` is an import of ``X.a`` when that is a module, else of ``X`` (its __init__).
    """
    mods = {mod: (path, is_pkg) for path, mod, is_pkg in _modules()}
    graph = {}
    for mod, (path, is_pkg) in mods.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    name = ".".join(base + ([node.module] if node.module else []))
                else:
                    name = node.module or ""
                edges |= {f"{name}.{a.name}" if f"{name}.{a.name}" in mods else name for a in node.names}
        graph[mod] = {e for e in edges if e in mods and e != mod}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_no_import_cycles_lazy_imports_included():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles (function-level imports count):\n" + "\n".join(" <-> ".join(c) for c in cycles)


def _private_imports(folder: str) -> list[str]:
    """``from .x import _y`` and ``x._y`` between the modules of one package folder."""
    pkg = PACKAGES[folder]
    bad = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(pkg)):
                bad += [f"{path.relative_to(ROOT)}: from {'.' * node.level}{node.module or ''} import {a.name}"
                        for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if node.level:  # `from . import qdq`: qdq is a sibling module
                    modules |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                modules |= {a.asname for a in node.names if a.name.startswith(pkg) and a.asname}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append(f"{path.relative_to(ROOT)}: {node.value.id}.{node.attr}")
    return bad


def test_export_modules_use_each_other_through_public_names():
    """The quantizer is a public graph-helper module (export/graph.py) plus its steps; none reaches
    into another's privates (issue 27, item 13: qdq.py's privates were imported by dither.py and gptq.py)."""
    bad = _private_imports("export")
    assert not bad, "private names used across export/ modules:\n" + "\n".join(bad)
