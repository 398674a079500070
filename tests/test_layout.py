"""The floors of README's "Layout", read from the imports of every module (ast, nothing imported).

core/ imports none of ours; toolkit/ (below the CLI) imports neither export/ nor runtime/; nothing
but toolkit/cli imports toolkit.cli; the CLI registers each command group explicitly (no
``__import__`` loop); a method is one file (no method names listed outside toolkit/methods/).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"core": "hushframe.core", "toolkit": "hushframe.toolkit", "export": "hushframe.export",
            "runtime": "hushframe.runtime"}


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


def test_cli_registers_every_command_module_explicitly():
    from hushframe.toolkit.cli import main

    cli_files = {p.stem for p in (ROOT / "toolkit" / "cli").glob("*_cmd*.py")}
    registered = {g.__name__.rsplit(".", 1)[-1] for g in main.GROUPS}
    assert cli_files <= registered, cli_files - registered
    assert {"hushframe.export.cli", "hushframe.runtime.cli"} <= {g.__name__ for g in main.GROUPS}


def test_a_method_is_one_file():
    """Method names appear only in their own file under toolkit/methods/ (and in recipes/*.toml)."""
    from hushframe.toolkit.methods.registry import load_methods

    methods = load_methods()
    assert {"atbsn", "aprrd", "bnn-lan", "amsnet"} <= set(methods)
    for name in ("aprrd", "bnn-lan", "amsnet"):
        hits = []
        for p in list((ROOT / "toolkit").rglob("*.py")):
            text = p.read_text(encoding="utf-8")
            if f'"{name}"' in text or f"'{name}'" in text:
                hits.append(str(p.relative_to(ROOT)))
        assert hits == [f"toolkit/methods/{name.replace('-', '_')}.py"], (name, hits)
