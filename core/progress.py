"""``Progress``: one progress display for every long job (training steps, streamed frames, fine-tuning).

    bar = Progress("teacher", total=1000, start=step)         # a rich bar on a terminal
    bar.update(step + 1, loss=0.0123)                          # plain: "teacher 17/1000, 2.31 it/s, loss 0.0123"
    bar.note("checkpoint saved")
    bar.close()                                                # or: with Progress(...) as bar:

Styles: ``auto`` (a bar when ``file`` is a terminal, plain lines otherwise), ``bar``, ``plain``
(a line on the first update, then at most one every ``every`` seconds, and on the last), ``none``.
The rate is (done - start) / seconds since the display was made, in ``unit`` (``it/s``, ``fps``).
Plain lines start with ``noun`` (default: the label), e.g. ``frames 12/40, 3.10 fps, dropped 0``:
scripts read them.
rich is imported only when a bar is drawn, so the torch-free runtime and headless runs never load it.
"""

from __future__ import annotations

import sys
import time

STYLES = ("auto", "bar", "plain", "none")


class Progress:
    def __init__(self, label: str, total: int | None = None, *, start: int = 0, style: str = "auto",
                 unit: str = "it/s", every: float = 10.0, file=None, transient: bool = False, noun: str | None = None):
        if style not in STYLES:
            raise ValueError(f"progress style must be one of {', '.join(STYLES)}, not {style!r}")
        self.file = file if file is not None else sys.stderr
        if style == "auto":
            isatty = getattr(self.file, "isatty", None)
            style = "bar" if isatty is not None and isatty() else "plain"
        self.label, self.total, self.start, self.unit, self.every = label, total, int(start), unit, float(every)
        self.style = style
        self.noun = noun or label
        self.t0 = time.perf_counter()
        self._last = None
        self._bar = None
        if style == "bar":
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                     console=Console(file=self.file), transient=transient)
            self._task = self._bar.add_task(label, total=total, completed=start, info="")
            self._bar.start()

    @property
    def enabled(self) -> bool:
        return self.style != "none"

    def rate(self, done: int) -> float:
        return (done - self.start) / max(time.perf_counter() - self.t0, 1e-9)

    def _info(self, done: int, fields: dict, sep: str = "  ") -> str:
        parts = [f"{self.rate(done):.2f} {self.unit}"]
        parts += [f"{k.replace('_', ' ')} {v:.4f}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
                  for k, v in fields.items()]
        return sep.join(parts)

    def update(self, done: int, **fields) -> None:
        """``done`` units finished so far; ``fields`` are shown as "name value" after the rate."""
        if self.style == "none":
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=done, info=self._info(done, fields))
            return
        now = time.perf_counter()
        if self._last is None or now - self._last >= self.every or done == self.total:
            self._last = now
            tot = f"/{self.total}" if self.total else ""
            print(f"{self.noun} {done}{tot}, {self._info(done, fields, ', ')}", file=self.file, flush=True)

    def note(self, text: str) -> None:
        """A line above the bar (or a plain line)."""
        if self.style == "none":
            return
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            print(text, file=self.file, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
