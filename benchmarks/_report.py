"""Shared by the benchmark scripts: the provenance header and BENCHMARKS.md sections.

Each script owns one section, delimited by HTML comments, and rewrites only that one,
so scripts can run in any order and in separate sessions. Every section starts with
``provenance(...)``: the command (with its commit), the machine and the versions.
Scripts import only this module and small shared ones (``_int8.py``), never each other.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
SHARED = Path(os.environ.get("HUSHFRAME_SHARED", ROOT.parent / "shared"))  # read-only data, never committed
HEADER = "# Benchmarks\n\nEvery figure below was written by a script under `benchmarks/`; each section names its command, machine and versions. Ratios come from one run.\n"


def machine() -> str:
    from hushframe.runtime.bench import cpu_name

    cpu = cpu_name()
    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs{gpu}, {platform.system()} {platform.release()}"


def versions(*names: str) -> str:
    out = [f"python {platform.python_version()}"]
    for n in names:
        try:
            out.append(f"{n} {metadata.version(n)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(out)


def command_line() -> str:
    import shlex

    return "python " + shlex.join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])  # pastes back into a shell


def write_section(name: str, title: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace (or append) the section called ``name`` in BENCHMARKS.md."""
    text = path.read_text() if path.exists() else HEADER
    block = f"<!-- section:{name} -->\n## {title}\n\n{body.strip()}\n<!-- /section:{name} -->"
    pat = re.compile(rf"<!-- section:{re.escape(name)} -->.*?<!-- /section:{re.escape(name)} -->", re.S)
    text = pat.sub(lambda _: block, text) if pat.search(text) else text.rstrip() + "\n\n" + block + "\n"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def git_rev() -> str:
    """HEAD's short hash, with ``+changes`` when tracked files other than the benchmark records and
    Markdown prose differ from it: the figures then came from code no commit holds."""
    try:
        rev = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True).strip()
        changed = subprocess.check_output(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, text=True)
    except Exception:
        return "unknown"
    records = ("BENCHMARKS.md", "RELIABILITY.md", "benchmarks/results/")
    # prose (README files, notes) does not move a figure; a run often overlaps with writing it up
    code = [ln[3:] for ln in changed.splitlines() if not ln[3:].startswith(records) and not ln[3:].endswith(".md")]
    return rev + ("+changes" if code else "")


def provenance(*packages: str, command: str | None = None, commit: str | None = None, note: str = "",
               machine_note: str = "") -> list[str]:
    """The three lines a section starts with: ``Command: `...` (commit ...)``, ``Machine: ...``,
    ``Versions: python ..., <packages>``; ``note`` / ``machine_note`` extend the first two."""
    return [f"Command: `{command or command_line()}` (commit {commit or git_rev()})" + (f"; {note}" if note else ""),
            f"Machine: {machine()}" + (f"; {machine_note}" if machine_note else ""),
            f"Versions: {versions(*packages)}"]


def provenance_text(*packages: str, sep: str = "\n", **kw) -> str:
    """``provenance`` as one block of text (``sep`` between its lines)."""
    return sep.join(provenance(*packages, **kw))
