"""Docstrings as ``--help`` text: prose paragraphs reflowed to the terminal's width.

Typer's "rich" markup keeps every line break of a command's docstring, so prose wrapped at 100
columns in the source came out ragged in an 80-column terminal (a long line wrapped, then a
three-word stub). Prose paragraphs are joined into one line here for Rich to wrap; paragraphs with
an indented line (examples, exit-code tables) or a bullet keep their lines as written.

Typer also runs ``inspect.cleandoc`` on the text after the summary line: that strips its first
line's indentation, and the rest's common indentation, so examples right after the summary, or
after a one-line paragraph such as "Examples:", lost their indent. An empty Rich markup span
opening such a line (not whitespace to ``cleandoc``; Rich renders it as nothing) keeps it. It used to
be a zero-width space: invisible on screen, but copied with the example, whose first word the shell
then did not find (issue 27). tests/test_newcomer.py renders every page and looks for invisible
characters.
"""

from __future__ import annotations

import inspect

import typer


INDENT_GUARD = "[dim][/dim]"  # Rich markup for nothing (the app uses rich_markup_mode="rich")


def dedent_docstring(raw: str) -> str:
    """``inspect.cleandoc``, except that the margin is the closing quotes' indentation where the
    docstring ends on its own line: cleandoc takes the smallest indentation of the lines after the
    first, which strips examples right under a one-line summary to the margin."""
    lines = raw.expandtabs().split("\n")
    if len(lines) < 2 or lines[-1].strip():
        return inspect.cleandoc(raw)
    margin = len(lines[-1])
    body = [lines[0].strip()] + [ln[margin:] if ln[:margin].isspace() else ln.strip() for ln in lines[1:]]
    return "\n".join(body).strip("\n")


def reflow(doc: str) -> str:
    summary, *rest = doc.strip("\n").split("\n\n")
    if not rest:
        return summary
    text = "\n\n".join(p if _keeps_lines(p) else " ".join(line.strip() for line in p.split("\n")) for p in rest)
    first, *lines = text.split("\n")
    if first[:1].isspace():  # cleandoc strips the first line's indentation outright
        first = INDENT_GUARD + first
    shown = [k for k, line in enumerate(lines) if line.strip()]
    if shown and all(lines[k][:1].isspace() for k in shown):  # ... and the rest's common indentation
        lines[shown[0]] = INDENT_GUARD + lines[shown[0]]
    return "\n".join([summary + "\n\n" + first] + lines)


def _keeps_lines(paragraph: str) -> bool:
    return any(line[:1].isspace() or line.startswith(("- ", "* ")) for line in paragraph.split("\n"))


def reflow_commands(app: typer.Typer) -> None:
    """Give every command under ``app`` (sub-groups included) its reflowed docstring as help."""
    for info in app.registered_commands:
        # an explicit help= string is written flush already: cleandoc would strip its examples' indent
        doc = info.help if isinstance(info.help, str) else dedent_docstring(info.callback.__doc__ or "")
        if doc:
            info.help = reflow(doc)
    for group in app.registered_groups:
        for holder in (group, group.typer_instance.info):
            if isinstance(holder.help, str):
                holder.help = reflow(holder.help)
        reflow_commands(group.typer_instance)
