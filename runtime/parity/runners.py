"""Step 1 of a parity check: one model over the items -> its outputs (a *run*).

    res = run("student.xml", items, RunOptions(backend="openvino"))     # or an opened Backend
    for out in res: out.item.name, out.image                              # uint8 HxWx3 each

A run is produced as it is read (one image at a time, the engine open meanwhile), so two runs
compared side by side hold two images, not two sets. ``saved_outputs`` is a run read back from
PNGs written earlier (no engine: the torch-free reference), ``save_outputs`` writes a run's
images while passing them on. A temporal model runs a video's frames as one sequence (one state,
runtime/temporal.py), so the reference and the artifact each run the whole sequence and compare/
gate/report see the same :class:`Output`s; on a paired set each image is a sequence of one. With
``lookahead=L`` a temporal model's video frames run as ``Denoiser(..., lookahead=L)`` runs them (each
output final L frames later; the reference must run with the same L to be comparable).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import RuntimeUserError
from ..options import RunOptions
from .items import Item, Items


class ParityError(RuntimeUserError):
    pass


@dataclass
class Output:
    item: Item
    image: np.ndarray                  # uint8 HxWx3, the model's output for item.noisy


@dataclass
class RunResults:
    """One model's outputs over a set of items, read once, in item order."""

    label: str                         # what ran: the model's path, or the folder of saved outputs
    backend: str                       # the engine as it describes itself; "" for saved outputs
    engine: str | None                 # the backend's name (onnxruntime, openvino, ...); None: saved outputs
    mode: str                          # the items' mode: "pairs" | "video"
    outputs: Iterator[Output] = field(repr=False)

    def __iter__(self) -> Iterator[Output]:
        return self.outputs

    def close(self) -> None:
        """Stop early: release the engine of a run not read to its end."""
        close = getattr(self.outputs, "close", None)
        if close is not None:
            close()

    def describe(self) -> str:
        return self.label + (f" ({self.engine})" if self.engine else "")


def run(model, items: Items, options: RunOptions | None = None, *, lookahead: int = 0, **opts) -> RunResults:
    """``model`` (an artifact path, or an opened Backend, left open) over ``items`` with ``options``
    (``backend=``, ``tile=`` ... are shorthands). The engine opens now (its errors come at once) and
    closes when the run has been read to its end (or ``close()``d)."""
    from ..backends.base import Backend
    from ..temporal import check_lookahead, frame_function

    options = RunOptions.of(options, **opts)
    own = not isinstance(model, Backend)
    be = options.open(model) if own else model
    label = str(model) if own else str(be.artifact.path)
    try:
        check_lookahead(be, lookahead)
    except ValueError:
        if own:
            be.close()
        raise

    def consecutive(items):
        last = None
        for item in items:
            if be.info.temporal and items.mode == "video" and last is not None and item.index != last + 1:
                raise ParityError(f"{items.label}: a temporal model is compared on consecutive frames "
                                  f"(frame {item.index} follows {last}); use --every 1")
            last = item.index
            yield item

    def outputs():
        try:
            if lookahead and items.mode == "video":
                yield from _delayed(be, consecutive(items), lookahead, options.threads)
                return
            denoise = frame_function(be, overlap=options.overlap)
            for item in consecutive(items):
                yield Output(item, denoise(item.noisy, index=item.index, discontinuity=items.mode != "video"))
        finally:
            if own:
                be.close()

    return RunResults(label, be.info.describe(), be.info.backend, items.mode, outputs())


def _delayed(be, items, lookahead: int, threads) -> Iterator[Output]:
    """A video's frames through a temporal session with a lookahead: outputs as they become final."""
    from ..temporal import open_session

    session = open_session(be, threads=threads, lookahead=lookahead)
    try:
        for item in items:
            for it, y in session.push_image(item.noisy, tag=item, index=item.index):
                yield Output(it, y)
        for it, y in session.flush_images():
            yield Output(it, y)
    finally:
        session.close()


def saved_outputs(folder, items: Items) -> RunResults:
    """A run read back from ``<folder>/<name>.png`` (as written by :func:`save_outputs`)."""
    from hushframe.core.images import read_uint8

    folder = Path(folder)
    if not folder.is_dir():
        raise ParityError(f"{folder}: reference output folder does not exist")

    def outputs():
        for item in items:
            p = folder / f"{safe_name(item.name)}.png"
            if not p.exists():
                raise ParityError(f"{p}: reference output missing (make them with --save-reference-output)")
            yield Output(item, read_uint8(p))

    return RunResults(str(folder), "", None, items.mode, outputs())


def save_outputs(results: RunResults, folder) -> RunResults:
    """The same run, each image also written to ``<folder>/<name>.png`` as it passes."""
    from hushframe.core.images import write_image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def outputs():
        for out in results:
            write_image(folder / f"{safe_name(out.item.name)}.png", out.image)
            yield out

    return RunResults(results.label, results.backend, results.engine, results.mode, outputs())


def safe_name(name: str) -> str:
    """An item name as a file name (pairs found recursively carry '/')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "__", str(name))
