"""Issue 6.1: fuzzing every loader that reads a file a user (or an attacker) can hand us.

Inputs are valid seed files mutated by hypothesis (bit flips, magic integers, truncation,
deletions, insertions, splices between seeds) so the parsers are exercised past their
magic bytes. Every case must end in success or one of our documented user errors whose
first line names the file; anything else (a traceback type, a hang, a memory blow-up) fails.
1,000 derandomized cases per loader, loaders called in-process; a few CLI runs confirm that
no traceback reaches the user.
"""

from __future__ import annotations

import collections
import json
import os
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_cli
from reliability_report import record

pytest_plugins = ["reliability_report"]

N_CASES = int(os.environ.get("HUSHFRAME_FUZZ_CASES", "1000"))
FUZZ = settings(max_examples=N_CASES, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
MAX_CASE_S = 10.0             # a case slower than this counts as a hang
MAX_RSS_GROWTH = 1536 << 20   # peak RSS growth over a whole fuzz run
FUZZ_MAX_PIXELS = 16_000_000  # image fuzz runs with a 16 MP limit (the default 200 MP is tested in hostile)

OPS = "flip set int32 truncate delete insert splice dup".split()
MAGIC = [b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00", b"\x00\x01\x00\x00", b"\x80\x00\x00\x00",
         b"\xff\xff", b"\x00\x00", b"9999999999", b"-1", b"1e400", b"NaN", b"\"\"", b"[]", b"{}", b"null"]


def user_errors() -> tuple[type, ...]:
    from hushframe.toolkit.cli.errors import USER_ERRORS

    return USER_ERRORS


@st.composite
def mutated(draw, seeds: dict[str, bytes]):
    """(seed name, mutated bytes): 1-4 mutations, positions biased to the first 64 bytes (headers)."""
    names = sorted(seeds)
    name = draw(st.sampled_from(names))
    data = bytearray(seeds[name])
    for _ in range(draw(st.integers(1, 4))):
        n = len(data)
        op = draw(st.sampled_from(OPS))
        if n == 0:
            data += draw(st.binary(min_size=1, max_size=32))
            continue
        i = draw(st.one_of(st.integers(0, min(n, 64) - 1), st.integers(0, n - 1)))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.sampled_from([0, 1, 0x20, 0x7F, 0x80, 0xFF]))
        elif op == "int32":
            m = draw(st.sampled_from(MAGIC))
            data[i:i + len(m)] = m
        elif op == "truncate":
            del data[i:]
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 64))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=32))
        elif op == "splice":
            other = seeds[draw(st.sampled_from(names))]
            j = draw(st.integers(0, len(other) - 1))
            data[i:i + draw(st.integers(1, 256))] = other[j:j + draw(st.integers(1, 256))]
        elif op == "dup":
            data[i:i] = data[i:i + draw(st.integers(1, 256))]
    return name, bytes(data)


class Tally:
    """Outcome counts, slowest case and RSS growth of one fuzz run."""

    def __init__(self):
        self.counts: collections.Counter = collections.Counter()
        self.cases = 0
        self.slowest = 0.0
        self.rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def run(self, label: str, fn, path: Path):
        t = time.perf_counter()
        try:
            fn()
            out = "ok"
        except user_errors() as e:
            first = str(e).splitlines()[0] if str(e) else ""
            assert str(path) in first or path.name in first or str(path.parent) in first, \
                f"{type(e).__name__} does not name the file: {first!r}"
            out = type(e).__name__
        dt = time.perf_counter() - t
        assert dt < MAX_CASE_S, f"{label}: one case took {dt:.1f} s (hang?)"
        self.slowest = max(self.slowest, dt)
        self.counts[f"{label}: {out}"] += 1
        return out

    def finish(self, min_cases: int = N_CASES) -> str:
        growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.rss0
        assert self.cases >= min_cases, f"only {self.cases} cases ran"
        assert growth < MAX_RSS_GROWTH, f"peak RSS grew by {growth / 2**20:.0f} MiB"
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        return (f"{parts}; no other outcome; every case < {MAX_CASE_S:.0f} s; "
                f"peak RSS growth < {MAX_RSS_GROWTH >> 20} MiB")


# ------------------------------------------------------------------ seeds
@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    from PIL import Image

    from hushframe.runtime.testing import export_onnx, smooth_frames, tiny_student, write_clip
    from hushframe.core.images import write_image

    d = tmp_path_factory.mktemp("seeds")
    f = smooth_frames(4, 24, 40, seed=3)
    img = {}
    for ext in ("png", "jpg", "tif", "bmp", "webp"):
        write_image(d / f"a.{ext}", f[0])
        img[ext] = (d / f"a.{ext}").read_bytes()
    Image.fromarray((f[1][:, :, 0].astype(np.uint16) * 257)).save(d / "g16.png")
    img["png16"] = (d / "g16.png").read_bytes()
    Image.fromarray(f[2]).convert("P").save(d / "p.png")
    img["pal"] = (d / "p.png").read_bytes()
    vid = {}
    write_clip(d / "a.mkv", f, codec="ffv1", audio=False, pix_fmt="bgr0")
    write_clip(d / "a.mp4", f, audio=True)
    write_clip(d / "a.avi", f, codec="mjpeg", audio=False)
    for n in ("a.mkv", "a.mp4", "a.avi"):
        vid[n.split(".")[1]] = (d / n).read_bytes()
    onnx_path = export_onnx(tiny_student(width=4), d / "m.onnx")
    return {"dir": d, "image": img, "video": vid, "onnx": onnx_path}


def _dest(tmp: Path, name: str) -> Path:
    return tmp / f"case.{name}"


# ------------------------------------------------------------------ images
@pytest.mark.timeout(300)
def test_fuzz_image_reader(seeds, tmp_path):
    from hushframe.core.images import read_image

    tally = Tally()
    ext_of = {"png16": "png", "pal": "png"}

    @FUZZ
    @given(case=mutated(seeds["image"]))
    def one(case):
        name, data = case
        p = tmp_path / f"case.{ext_of.get(name, name)}"
        p.write_bytes(data)
        tally.cases += 1

        def load():
            a = read_image(p, max_pixels=FUZZ_MAX_PIXELS)
            assert a.dtype == np.float32 and a.ndim == 3 and a.shape[2] == 3
            assert np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1

        tally.run("read_image", load, p)

    one()
    outcome = tally.finish()
    record("fuzz-image", inputs=f"{tally.cases} mutated files from 7 seeds (PNG 8-bit/16-bit/palette, JPEG, TIFF, "
                                f"BMP, WebP)", outcome=outcome,
           nothing_lost="n/a (read-only); decoded arrays are HxWx3 float32 in [0, 1]")


# ------------------------------------------------------------------ video
@pytest.mark.timeout(400)
def test_fuzz_video_readers(seeds, tmp_path):
    from hushframe.runtime.sources import open_source
    from hushframe.toolkit.data.video import read_video_frames

    tally = Tally()

    @FUZZ
    @given(case=mutated(seeds["video"]))
    def one(case):
        name, data = case
        p = tmp_path / f"case.{name}"
        p.write_bytes(data)
        tally.cases += 1
        tally.run("read_video_frames", lambda: read_video_frames(p, max_frames=8), p)

        def stream():
            with open_source(p) as src:
                for i, fr in enumerate(src):
                    assert fr.image.dtype == np.uint8 and fr.image.ndim == 3
                    if i > 16:
                        break

        tally.run("open_source", stream, p)

    one()
    outcome = tally.finish()
    record("fuzz-video", inputs=f"{tally.cases} mutated files from 3 seeds (FFV1/MKV, H.264+AAC/MP4, MJPEG/AVI), "
                                f"each through both readers", outcome=outcome,
           nothing_lost="n/a (read-only); corrupt packets are skipped and counted, not fatal")


# ------------------------------------------------------------------ checkpoints
@pytest.mark.timeout(400)
def test_fuzz_checkpoint_loaders(seeds, tmp_path):
    import torch

    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.training.checkpoint import find_latest, load_checkpoint, save_checkpoint
    from hushframe.toolkit.weights import load_model, read_foreign_checkpoint, save_model

    torch.manual_seed(0)
    model = create_model("student_c", width=4, levels=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.rand(1, 3, 16, 16)).mean().backward()
    opt.step()
    src = tmp_path / "src"
    src.mkdir()
    save_model(model, src / "w.safetensors")
    ck = save_checkpoint(src / "ckpt", 4, model, opt, {"stage": "teacher", "lr": 1e-3})
    torch.save(model.state_dict(), src / "zip.pth")
    torch.save({"state_dict": model.state_dict()}, src / "legacy.pth", _use_new_zipfile_serialization=False)
    files = {"weights": src / "w.safetensors", "model": ck / "model.safetensors", "optim": ck / "optim.safetensors",
             "state": ck / "state.json", "latest": src / "ckpt" / "latest.json", "zip-pth": src / "zip.pth",
             "legacy-pth": src / "legacy.pth"}
    seed_bytes = {k: v.read_bytes() for k, v in files.items()}
    tally = Tally()

    @FUZZ
    @given(case=mutated(seed_bytes))
    def one(case):
        name, data = case
        tally.cases += 1
        if name == "weights":
            p = tmp_path / "case.safetensors"
            p.write_bytes(data)
            tally.run("load_model", lambda: load_model(p), p)
        elif name.endswith("pth"):
            p = tmp_path / "case.pth"
            p.write_bytes(data)
            tally.run("read_foreign_checkpoint", lambda: read_foreign_checkpoint(p), p)
        else:
            root = tmp_path / "ckpt"
            shutil.rmtree(root, ignore_errors=True)
            shutil.copytree(src / "ckpt", root)
            target = root / files[name].relative_to(src / "ckpt")
            target.write_bytes(data)

            def resume():
                d = find_latest(root)
                if d is None:
                    return
                m = create_model("student_c", width=4, levels=2)
                o = torch.optim.Adam(m.parameters(), lr=1e-3)
                load_checkpoint(d, m, o)

            tally.run("find_latest+load_checkpoint", resume, root)

    rng_state = torch.get_rng_state()
    try:
        one()
    finally:
        torch.set_rng_state(rng_state)
    outcome = tally.finish()
    record("fuzz-checkpoint", inputs=f"{tally.cases} mutated files from 7 seeds (weights .safetensors; checkpoint "
                                     f"model/optim .safetensors, state.json, latest.json; zip and legacy .pth)",
           outcome=outcome, nothing_lost="n/a (read-only); a damaged checkpoint is skipped by `find_latest` or "
                                         "refused with one line, never half-loaded silently")


# ------------------------------------------------------------------ manifests
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                           max_leaves=6)
MANIFEST_KEYS = ["kind", "settings", "source", "format", "sha256", "settings.size_multiple", "settings.input_name",
                 "settings.output_name", "settings.precision", "settings.arch", "settings.model_kind",
                 "settings.profile", "settings.min_shape"]


@st.composite
def manifest_case(draw, seed_doc: dict, seed_bytes: bytes):
    if draw(st.booleans()):
        return draw(mutated({"manifest": seed_bytes}))[1]
    doc = json.loads(json.dumps(seed_doc))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(MANIFEST_KEYS))
        val = draw(JSON_VALUES)
        if "." in key:
            sec, k = key.split(".")
            if isinstance(doc.get(sec), dict):
                doc[sec][k] = val
        else:
            doc[key] = val
    if draw(st.integers(0, 9)) == 0:
        doc = draw(JSON_VALUES)
    return json.dumps(doc).encode()


@pytest.mark.timeout(300)
def test_fuzz_manifest_loaders(seeds, tmp_path):
    from hushframe.runtime.artifact import load_artifact
    from hushframe.runtime.backends.base import open_backend
    from hushframe.core.manifest import load_manifest_file, manifest_path

    art = tmp_path / "model.onnx"
    shutil.copy(seeds["onnx"], art)
    mp = manifest_path(art)
    seed_bytes = manifest_path(seeds["onnx"]).read_bytes()
    seed_doc = json.loads(seed_bytes)
    tally = Tally()

    @FUZZ
    @given(data=manifest_case(seed_doc, seed_bytes))
    def one(data):
        mp.write_bytes(data)
        tally.cases += 1
        tally.run("load_manifest_file", lambda: load_manifest_file(mp), mp)
        tally.run("load_artifact", lambda: load_artifact(art), art)
        if tally.cases % 10 == 0:   # the manifest steers the engine: open it too (every 10th case)
            tally.run("open_backend", lambda: open_backend(art, backend="onnxruntime", threads=1).close(), art)

    one()
    outcome = tally.finish()
    record("fuzz-manifest", inputs=f"{tally.cases} manifests: mutated bytes and generated JSON values in every "
                                   f"field (1 in 10 also opened in onnxruntime)", outcome=outcome,
           nothing_lost="n/a (read-only)")


# ------------------------------------------------------------------ ONNX
@pytest.mark.timeout(400)
def test_fuzz_onnx_loaders(seeds, tmp_path):
    from hushframe.export.contract import load_onnx_checked
    from hushframe.runtime.backends.base import open_backend

    seed = {"onnx": Path(seeds["onnx"]).read_bytes()}
    tally = Tally()

    @FUZZ
    @given(case=mutated(seed))
    def one(case):
        _, data = case
        p = tmp_path / "case.onnx"   # no manifest beside it: the graph's metadata drives the backend
        p.write_bytes(data)
        tally.cases += 1
        tally.run("load_onnx_checked", lambda: load_onnx_checked(p), p)

        def ort():
            with open_backend(p, backend="onnxruntime", threads=1) as be:
                m = be.info.size_multiple or 1
                be.infer(np.zeros((1, 3, m * max(1, 32 // m), m * max(1, 32 // m)), np.float32))

        tally.run("open_backend(onnxruntime)", ort, p)

    one()
    outcome = tally.finish()
    record("fuzz-onnx", inputs=f"{tally.cases} mutated ONNX files (seed: tiny student, opset 17) through both "
                               f"loaders", outcome=outcome, nothing_lost="n/a (read-only)")


# ------------------------------------------------------------------ recipes
TOML_SCALARS = st.one_of(st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True), st.booleans(),
                         st.text(max_size=10), st.lists(st.integers(-3, 12), max_size=4))


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == float("inf") else "-inf" if v == float("-inf") else repr(v))
    if isinstance(v, (int,)):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(v)


@st.composite
def recipe_text(draw, seed_texts: dict[str, bytes]):
    if draw(st.booleans()):
        return draw(mutated(seed_texts))[1]
    from hushframe.toolkit.recipes import SECTIONS, _load_method_sections

    _load_method_sections()
    lines = []
    top = draw(st.dictionaries(st.sampled_from(["name", "description", "method", "bogus"]), TOML_SCALARS | st.sampled_from(
        ["atbsn", "aprrd", "bnn-lan", "amsnet"]), max_size=3))
    lines += [f"{k} = {_toml_value(v)}" for k, v in top.items()]
    for sec in draw(st.lists(st.sampled_from(sorted(SECTIONS) + ["nope"]), max_size=3, unique=True)):
        lines.append(f"[{sec}]")
        keys = sorted(SECTIONS.get(sec, {"x": None})) + ["typo"]
        for k in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)):
            lines.append(f"{k} = {_toml_value(draw(TOML_SCALARS))}")
    return "\n".join(lines).encode()


@pytest.mark.timeout(300)
def test_fuzz_recipe_loader(tmp_path):
    from importlib import resources

    from hushframe.toolkit.recipes import load_recipe

    seed_texts = {p.name: p.read_bytes() for p in resources.files("hushframe.recipes").iterdir()
                  if p.name.endswith(".toml")}
    p = tmp_path / "case.toml"
    tally = Tally()

    @FUZZ
    @given(data=recipe_text(seed_texts))
    def one(data):
        p.write_bytes(data)
        tally.cases += 1
        tally.run("load_recipe", lambda: load_recipe(p), p)

    one()
    outcome = tally.finish()
    record("fuzz-recipe", inputs=f"{tally.cases} recipes: mutated bytes of the {len(seed_texts)} built-in recipes "
                                 f"and generated tables/keys/values (wrong types, NaN, huge ints, typos)",
           outcome=outcome, nothing_lost="n/a (read-only)")


# ------------------------------------------------------------------ CLI
@pytest.mark.timeout(300)
def test_cli_corrupt_inputs_one_line(seeds, tmp_path):
    """The in-process errors above reach the user as one line, exit 2, no traceback."""
    d = tmp_path
    (d / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}" + b"\0" * 40)
    onnx = Path(seeds["onnx"]).read_bytes()
    (d / "bad.onnx").write_bytes(onnx[: len(onnx) // 3])
    mp4 = seeds["video"]["mp4"]
    (d / "bad.mp4").write_bytes(b"\0" * 64 + mp4[64:200])
    (d / "bad.toml").write_bytes(b"[teacher]\nwidth = 'wide'\n")
    (d / "imgs").mkdir()
    (d / "imgs" / "x.png").write_bytes(seeds["image"]["png"][:50])
    cases = [
        ("info", d / "bad.safetensors"),
        ("stream", d / "bad.mp4", "--model", seeds["onnx"], "-o", d / "o.mp4"),
        ("quantize", d / "bad.onnx", "--precision", "fp16", "-o", d / "q.onnx"),
        ("train", d / "imgs", "-o", d / "run", "--recipe", d / "bad.toml"),
    ]
    lines = []
    for args in cases:
        p = run_cli(*args, check=False, timeout=120)
        err = p.stderr.strip().splitlines()
        assert "Traceback" not in p.stderr, f"{args}: {p.stderr}"
        assert p.returncode == 2, f"{args}: exit {p.returncode}: {p.stderr}"
        assert len(err) == 1 and err[0].startswith("hushframe: error: "), f"{args}: {p.stderr}"
        lines.append(f"`{args[0]}`")
    assert not any((d / n).exists() for n in ("o.mp4", "q.onnx", "run/teacher.safetensors"))
    record("fuzz-cli", inputs=f"{len(cases)} CLI runs on corrupt inputs: " + ", ".join(lines) + " (corrupt safetensors, MP4, ONNX, "
                                  "recipe; `import-weights` and `stream` on hostile files: see 2 Hostile files)",
           outcome="each: exit 2, exactly one stderr line `hushframe: error: <file>: ...`, no traceback",
           nothing_lost="no output file created")
