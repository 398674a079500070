"""Parity as four steps, each checked on its own: run (a model over items), compare (two runs ->
per-item metrics), gate (comparison + thresholds -> verdict), report (JSON / Markdown); and
``run_parity`` as their composition. Real ONNX Runtime on tiny exported models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hushframe.runtime import testing as T
from hushframe.runtime.options import RunOptions
from hushframe.runtime.parity import (Item, Items, Output, ParityError, ParityThresholds, RunResults, compare, gate,
                                      pair_items, report, run, run_parity, save_outputs, saved_outputs, video_items,
                                      write_report)

ORT = RunOptions(backend="onnxruntime", threads=1)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("parity_steps")
    T.export_onnx(T.tiny_student(seed=0, width=4), d / "a.onnx")
    T.export_onnx(T.tiny_student(seed=1, width=4), d / "b.onnx")
    T.write_pairs(d / "pairs", n=3, h=40, w=56)
    T.write_clip(d / "clip.mkv", T.smooth_frames(5, 32, 48, seed=4), fps=10, codec="ffv1", audio=False)
    return d


def _fixed(items: Items, image_of) -> RunResults:
    """A run without an engine (to check compare/gate apart from any model)."""
    return RunResults("fixed", "", None, items.mode, (Output(it, image_of(it)) for it in items))


def test_items_are_reiterable_and_named(assets):
    items = pair_items(assets / "pairs", every=2)
    assert items.mode == "pairs" and items.count == 2
    first, again = list(items), list(items)
    assert [i.name for i in first] == [i.name for i in again] == ["img00", "img02"]
    assert first[0].clean is not None and first[0].noisy.dtype == np.uint8
    v = list(video_items(assets / "clip.mkv", every=2, max_frames=2))
    assert [i.name for i in v] == ["frame_000000", "frame_000002"] and v[0].clean is None


def test_run_yields_one_output_per_item_and_closes_its_engine(assets):
    items = pair_items(assets / "pairs")
    res = run(assets / "a.onnx", items, ORT)
    assert res.engine == "onnxruntime" and res.mode == "pairs" and "onnxruntime on" in res.backend
    outs = list(res)
    assert [o.item.name for o in outs] == ["img00", "img01", "img02"]
    assert all(o.image.shape == o.item.noisy.shape and o.image.dtype == np.uint8 for o in outs)


def test_saved_outputs_round_trip(assets, tmp_path):
    items = pair_items(assets / "pairs")
    written = [o.image for o in save_outputs(run(assets / "a.onnx", items, ORT), tmp_path / "ref")]
    back = [o.image for o in saved_outputs(tmp_path / "ref", items)]
    assert all(np.array_equal(a, b) for a, b in zip(written, back)) and len(back) == 3
    with pytest.raises(ParityError, match="reference output folder does not exist"):
        saved_outputs(tmp_path / "nope", items)


def test_compare_and_gate_without_a_model(assets):
    items = pair_items(assets / "pairs")
    same = compare(_fixed(items, lambda it: it.noisy), _fixed(items, lambda it: it.noisy))
    assert same.mode == "pairs" and same.summary["count"] == 3 and same.summary["psnr_drop"] == 0
    assert same.summary["output_psnr"] == float("inf")
    assert gate(same).passed

    # the artifact returns its input, the reference halves the noise: every image drops -> the gate fails, naming why
    worse = compare(_fixed(items, lambda it: it.noisy), _fixed(items, lambda it: np.clip(
        it.noisy.astype(int) // 2 + it.clean // 2, 0, 255).astype(np.uint8)))
    rows = {r["name"]: r for r in worse.rows}
    assert set(rows) == {"img00", "img01", "img02"} and all(r["psnr_drop"] > 0 for r in rows.values())
    v = gate(worse, ParityThresholds(max_drop=0.1, max_image_drop=0.3))
    assert not v.passed and v.failures[0].startswith("PSNR drop") and v.failures[1].startswith("worst image")
    assert gate(worse, ParityThresholds(max_drop=None, max_image_drop=None)).passed

    # runs over different items are refused
    other = pair_items(assets / "pairs", every=2)
    with pytest.raises(ParityError, match="the runs differ in items"):
        compare(_fixed(items, lambda it: it.noisy), _fixed(other, lambda it: it.noisy))


def test_gate_thresholds_per_mode():
    th = ParityThresholds(max_drop=0.1, max_image_drop=0.3, min_output_psnr=None)
    assert th.for_mode("pairs") is th
    v = th.for_mode("video")
    assert (v.max_drop, v.max_image_drop, v.min_output_psnr) == (None, None, 40.0)


def test_report_json_and_markdown(assets, tmp_path):
    items = video_items(assets / "clip.mkv", max_frames=3)
    cmp = compare(run(assets / "a.onnx", items, ORT), run(assets / "b.onnx", items, ORT))
    verdict = gate(cmp, ParityThresholds(min_output_psnr=200.0))
    res = report(cmp, verdict, seconds=1.234)
    assert res.mode == "video" and not res.passed and res.seconds == 1.23 and res.summary["count"] == 3
    assert res.reference.endswith("b.onnx (onnxruntime)") and res.thresholds["min_output_psnr"] == 200.0
    write_report(res, tmp_path / "r.json", tmp_path / "r.md")
    assert json.loads((tmp_path / "r.json").read_text())["failures"] == verdict.failures
    assert "Result: **FAIL**" in (tmp_path / "r.md").read_text()


def test_run_parity_is_the_composition(assets, tmp_path):
    items = pair_items(assets / "pairs")
    steps = report(*(lambda c: (c, gate(c)))(compare(run(assets / "b.onnx", items, ORT),
                                                     run(assets / "a.onnx", items, ORT))))
    whole = run_parity(assets / "b.onnx", items, reference=assets / "a.onnx", options=ORT,
                       reference_options=ORT, json_path=tmp_path / "p.json")
    short = run_parity(assets / "b.onnx", pairs=assets / "pairs", reference=assets / "a.onnx",
                       backend="onnxruntime", threads=1, reference_backend="onnxruntime")   # keyword shorthands
    for r in (whole, short):
        assert r.images == steps.images and r.summary == steps.summary and r.passed == steps.passed
    assert json.loads((tmp_path / "p.json").read_text())["summary"]["count"] == 3
    with pytest.raises(TypeError, match="unexpected keyword"):
        run_parity(assets / "b.onnx", items, reference=assets / "a.onnx", max_dorp=1)
    with pytest.raises(ParityError, match="either a paired set"):
        run_parity(assets / "b.onnx", reference=assets / "a.onnx")
    assert isinstance(items, Items) and isinstance(next(iter(items)), Item)
