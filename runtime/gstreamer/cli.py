"""``hushframe gstreamer``: the plugin folder for GST_PLUGIN_PATH, and a check that GStreamer loads it."""

from __future__ import annotations

import os
import shutil
import subprocess

import typer

app = typer.Typer()  # this module's commands; toolkit/cli/main.py registers them

EXAMPLE = ("GST_PLUGIN_PATH=$(hushframe gstreamer --plugin-path) gst-launch-1.0 videotestsrc num-buffers=12 ! "
           "video/x-raw,format=NV12,width=320,height=192 ! hushframe model=student.xml ! videoconvert ! "
           "y4menc ! filesink location=out.y4m")


def inspect_element(folder) -> tuple[bool, str]:
    """(True, '') when ``gst-inspect-1.0 hushframe`` finds the element with GST_PLUGIN_PATH=folder."""
    exe = shutil.which("gst-inspect-1.0")
    if exe is None:
        return False, ("gst-inspect-1.0 not found: install GStreamer (Debian: gstreamer1.0-tools "
                       "gstreamer1.0-plugins-base gstreamer1.0-plugins-good python3-gst-1.0 "
                       "gstreamer1.0-python3-plugin-loader)")
    from .plugin import gst_env

    env = gst_env(GST_PLUGIN_PATH=str(folder))
    r = subprocess.run([exe, "hushframe"], env=env, capture_output=True, text=True, timeout=120)
    if r.returncode == 0:
        return True, ""
    why = [ln for ln in (r.stderr + r.stdout).splitlines() if ln.startswith("hushframe:")]
    if why:
        return False, why[0]
    b = subprocess.run([exe, "-b"], env=env, capture_output=True, text=True, timeout=120)
    if "libgstpython" in b.stdout:
        # a failed load (e.g. PyGObject missing at the time) is remembered in the registry cache for good
        reg = os.environ.get("GST_REGISTRY") or "~/.cache/gstreamer-1.0/registry.*.bin"
        return False, (f"GStreamer blacklisted its Python plugin loader after an earlier failure; delete its "
                       f"registry cache ({reg}) and retry")
    return False, ("GStreamer does not list the element: is its Python plugin loader installed "
                   "(Debian: gstreamer1.0-python3-plugin-loader python3-gst-1.0)?")


@app.command("gstreamer", rich_help_panel="Runtime")
def gstreamer_cmd(
    plugin_path: bool = typer.Option(False, "--plugin-path", help="Print only the folder for GST_PLUGIN_PATH."),
):
    """The `hushframe` GStreamer element: where it is, and whether GStreamer loads it.

    Example:

      GST_PLUGIN_PATH=$(hushframe gstreamer --plugin-path) gst-inspect-1.0 hushframe

      GST_PLUGIN_PATH=$(hushframe gstreamer --plugin-path) gst-launch-1.0 videotestsrc num-buffers=12 !
      video/x-raw,format=NV12,width=320,height=192 ! hushframe model=student.xml ! videoconvert !
      y4menc ! filesink location=out.y4m
    """
    from .plugin import plugin_path as folder_for_env

    folder = folder_for_env()
    if plugin_path:
        typer.echo(str(folder))
        return
    typer.echo(f"plugin folder: {folder}")
    ok, why = inspect_element(folder)
    typer.echo("gst-inspect-1.0 hushframe: OK" if ok else f"gst-inspect-1.0 hushframe: not found ({why})")
    typer.echo(f"\n{EXAMPLE}")
    if not ok:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    """Add this module's commands to the `hushframe` app (called by toolkit/cli/main.py)."""
    root.add_typer(app)
