"""The folder to put in ``GST_PLUGIN_PATH`` so that GStreamer finds the ``hushframe`` element.

GStreamer's Python plugin loader (libgstpython) embeds the *system* Python (Debian: 3.11 from
/usr/lib) and imports every ``*.py`` in ``<each GST_PLUGIN_PATH entry>/python/``. That
interpreter knows nothing of the virtual environment hushframe was pip-installed into, so
the folder holds one small generated file naming this environment's site-packages: it adds
them in front of the system's (``site.addsitedir``, so editable installs' .pth hooks work
too), checks the Python version matches, and imports element.py.

When the environment is *activated* (its python3 first on PATH), the embedded interpreter
adopts it instead (Python finds pyvenv.cfg beside the python3 it finds on PATH) and then lacks
the system's PyGObject (``gi``), so the loader fails before reading any plugin. For that case a
one-line ``hushframe-gstreamer-gi.pth`` in this environment's site-packages appends the system
folder holding ``gi``, and only when the process is not a Python executable (gst-launch-1.0,
gst-inspect-1.0, gst-plugin-scanner): an ordinary ``python`` of the environment never sees it.

The folder lives in the environment (``<sys.prefix>/lib/hushframe-gstreamer``), or in
``~/.cache/hushframe/gstreamer/`` when the environment is read-only. It is (re)written only
when its content would change, atomically.
"""

from __future__ import annotations

import hashlib
import os
import site
import sys
from pathlib import Path

STUB_NAME = "hushframe_gst.py"   # not "hushframe.py": the plugin folder goes first on sys.path

STUB = '''\
# Written by `hushframe gstreamer --plugin-path` for the Python environment {prefix}.
# GStreamer's Python plugin loader imports this file; it registers the `hushframe` element.
import site
import sys

PYTHON = {version!r}
SITE_DIRS = {site_dirs!r}


def _use_environment():
    if tuple(sys.version_info[:2]) != PYTHON:
        sys.stderr.write("hushframe: GStreamer's Python plugin loader runs Python %d.%d, but hushframe is "
                         "installed for Python %d.%d in {prefix}; install hushframe into a Python %d.%d "
                         "environment to use the element\\n" % (sys.version_info[:2] + PYTHON + sys.version_info[:2]))
        return False
    before = list(sys.path)
    for d in SITE_DIRS:
        site.addsitedir(d)
    added = [p for p in sys.path if p not in before]
    sys.path[:] = added + before  # this environment's packages before the system's
    return True


if _use_environment():
    try:
        from hushframe.runtime.gstreamer.element import FACTORY as __gstelementfactory__  # noqa: F401
    except Exception as e:  # noqa: BLE001 - one line instead of a traceback in every gst-launch
        sys.stderr.write("hushframe: the GStreamer element cannot load (%s: %s)\\n" % (e.__class__.__name__, e))
'''


def site_dirs() -> list[str]:
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if Path(d).is_dir()]


def stub_text() -> str:
    return STUB.format(prefix=sys.prefix, version=tuple(sys.version_info[:2]), site_dirs=site_dirs())


GI_PTH = "hushframe-gstreamer-gi.pth"
GI_PTH_LINE = ("import os, sys; p = {gi_dir!r}; "
               "os.path.basename(os.path.realpath('/proc/self/exe')).startswith('python') or "
               "p in sys.path or not os.path.isdir(p) or sys.path.append(p)\n")


def system_gi_dir() -> str | None:
    """The system folder holding PyGObject for this Python version (where GStreamer's loader finds ``gi``)."""
    v = f"python3.{sys.version_info[1]}"
    for d in ("/usr/lib/python3/dist-packages", f"/usr/lib/{v}/site-packages", f"/usr/lib64/{v}/site-packages",
              f"/usr/local/lib/{v}/dist-packages", f"/usr/local/lib/{v}/site-packages"):
        if any(Path(d, "gi").glob(f"_gi.cpython-3{sys.version_info[1]}*.so")):
            return d
    return None


def ensure_gi_pth() -> Path | None:
    """Write the .pth that lets an activated environment embedded in GStreamer import the system's gi."""
    from hushframe.core.atomic import write_text_atomic

    gi_dir = system_gi_dir()
    sp = next((Path(d) for d in site.getsitepackages() if Path(d).is_dir()), None)
    if gi_dir is None or sp is None or sys.prefix == sys.base_prefix:
        return None   # no system PyGObject to point at, or not a virtual environment
    pth = sp / GI_PTH
    line = GI_PTH_LINE.format(gi_dir=gi_dir)
    try:
        if not (pth.is_file() and pth.read_text() == line):
            write_text_atomic(pth, line)
    except OSError:
        return None   # a read-only environment: the element still works with the environment not activated
    return pth


def _candidates() -> list[Path]:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(sys.prefix.encode()).hexdigest()[:12]
    return [Path(sys.prefix) / "lib" / "hushframe-gstreamer", cache / "hushframe" / "gstreamer" / key]


def gst_env(**extra) -> dict:
    """The environment for a GStreamer process started from this Python (tests, `hushframe gstreamer`).

    GStreamer's Python loader embeds the system's libpython, which takes its prefix from the first
    ``python3`` on PATH. A Python run through pyenv (or another non-venv install) puts its own bin
    folder first, so the embedded interpreter would adopt that install's standard library and
    fail to initialise; from a shell the element loads. Drop that folder (the stub adds this
    environment's site-packages itself).
    """
    env = dict(os.environ, **extra)
    own = str(Path(sys.prefix) / "bin")
    if sys.prefix == sys.base_prefix and not sys.prefix.startswith("/usr"):
        env["PATH"] = os.pathsep.join(d for d in env.get("PATH", "").split(os.pathsep) if d != own)
    return env


def plugin_path() -> Path:
    """The folder for GST_PLUGIN_PATH, written (or refreshed) for the running environment."""
    from hushframe.core.atomic import write_text_atomic

    text = stub_text()
    ensure_gi_pth()
    errors = []
    for folder in _candidates():
        stub = folder / "python" / STUB_NAME
        try:
            if stub.is_file() and stub.read_text() == text:
                return folder
            stub.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(stub, text)
            return folder
        except OSError as e:
            errors.append(f"{folder}: {e.strerror or e}")
    raise OSError("cannot write the GStreamer plugin folder (" + "; ".join(errors) + ")")
