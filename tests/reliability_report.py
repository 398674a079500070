"""Collects the outcome of every reliability case and, when asked, rewrites RELIABILITY.md at the end.

Loaded by the ``tests/test_reliability_*.py`` modules (``pytest_plugins = ["reliability_report"]``).
A test calls :func:`record` with what it tried and what happened; a failing test marks its cases
FAIL. At session end the table is rendered from ``CASES`` (fixed order) and written atomically,
only if its text changed. Cases that did not run in this session keep their previous row, so
``pytest -k ...`` never wipes the rest of the table. Outcomes hold counts and coarse buckets,
never raw timings, so re-running the suite does not churn the file.

Writing is an explicit opt-in, so a plain test run leaves the clone clean:
``HUSHFRAME_RELIABILITY_MD=RELIABILITY.md python -m pytest -q tests/test_reliability_*.py tests/test_runtime_live.py``
regenerates the committed table (any other path writes elsewhere, e.g. for CI to diff).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOAK_JSON = ROOT / "benchmarks" / "results" / "reliability_soak.json"

F = "tests/test_reliability_fuzz.py::"
H = "tests/test_reliability_hostile.py::"
C = "tests/test_reliability_crash.py::"
S = "tests/test_reliability_stream.py::"
LIVE = "tests/test_runtime_live.py::"

# id -> (area, case, test(s) that prove it)
CASES: dict[str, tuple[str, str, str]] = {
    "fuzz-image": ("1 Fuzzing", "image reader (`read_image`: PNG, JPEG, TIFF, BMP, WebP)", F + "test_fuzz_image_reader"),
    "fuzz-video": ("1 Fuzzing", "video readers (`read_video_frames`, runtime `open_source` file decode)", F + "test_fuzz_video_readers"),
    "fuzz-checkpoint": ("1 Fuzzing", "checkpoint loaders (`load_model` safetensors, `find_latest` + `load_checkpoint`, `read_foreign_checkpoint` .pth)", F + "test_fuzz_checkpoint_loaders"),
    "fuzz-manifest": ("1 Fuzzing", "manifest loaders (`load_manifest_file`, runtime `load_artifact`)", F + "test_fuzz_manifest_loaders"),
    "fuzz-onnx": ("1 Fuzzing", "ONNX loaders (export `load_onnx_checked`, runtime `open_backend` onnxruntime)", F + "test_fuzz_onnx_loaders"),
    "fuzz-recipe": ("1 Fuzzing", "recipe loader (`load_recipe`: mutated bytes and generated TOML tables)", F + "test_fuzz_recipe_loader"),
    "fuzz-cli": ("1 Fuzzing", "CLI: corrupt files reach the user as one line, exit 2, no traceback", F + "test_cli_corrupt_inputs_one_line"),
    "hostile-pickle": ("2 Hostile files", "pickled checkpoint whose load would run code", H + "test_pickle_checkpoint_refused_code_not_run"),
    "hostile-onnx-external": ("2 Hostile files", "ONNX external data escaping the model folder (`../`, absolute, symlink)", H + "test_onnx_external_data_escape_refused"),
    "hostile-bomb": ("2 Hostile files", "image header declaring enormous dimensions (decompression bomb)", H + "test_decompression_bomb_refused_before_decoding"),
    "hostile-symlink": ("2 Hostile files", "output path is a symlink to a file outside the output folder", H + "test_symlinked_outputs_do_not_overwrite_target"),
    "crash-resume": ("3 Crash-resume", "training SIGKILLed at 10 seeded random moments (4 inside a checkpoint write)", C + "test_sigkill_training_resumes"),
    "crash-ckpt-disk-full": ("3 Crash-resume", "checkpoint write hits a file-size limit (RLIMIT_FSIZE)", C + "test_checkpoint_write_disk_full"),
    "stream-truncated": ("4 Stream faults", "truncated video file", S + "test_truncated_video"),
    "stream-corrupt": ("4 Stream faults", "corrupt packets in the middle of a video", S + "test_corrupt_packets_skipped_and_counted"),
    "stream-live-disconnect": ("4 Stream faults", "live RTSP source disconnects mid-stream (reconnect / give up)", LIVE + "test_rtsp_loopback_with_disconnect"),
    "stream-disk-full": ("4 Stream faults", "output disk fills up: /dev/full, file-size limit on video, image folder", S + "test_output_disk_full"),
    "memory-4k-tiling": ("5 Memory", "4K frames through tiling, resident memory after warm-up (CI: short run)", S + "test_memory_flat_4k_tiling"),
    "memory-soak": ("5 Memory", "4K tiling soak, 10,000 frames (by hand: benchmarks/reliability_soak.py)", "benchmarks/reliability_soak.py (not in CI)"),
    "load-latency": ("6 Load", "live source faster than the engine, latency mode", S + "test_load_latency_mode_bounded"),
    "load-file": ("6 Load", "file source faster than the engine, file (throughput) mode", S + "test_load_file_mode_bounded_memory"),
}

# Cases proven by other engineers' tests: recorded from their pass/skip/fail, with this fixed text on a pass.
EXTERNAL: dict[str, dict] = {
    "stream-live-disconnect": {
        "inputs": "`hushframe stream rtsp://127.0.0.1:PORT/live -I rtsp_flags=listen` fed by an ffmpeg push on "
                  "loopback; the push stops, a second push reconnects, then the source is gone for good "
                  "(--retries 2 --backoff 0.2); existing test, not duplicated",
        "outcome": "reconnects ≥ 1 (backoff), then `source lost ... gave up after 2 reconnection attempts`, one "
                   "line, exit 3, no traceback; frames_out + dropped = frames_in",
        "lost": "yes: the .mkv written so far is finalized and decodes, frame count = frames_out, timestamps "
                "monotonic across the gap",
    },
}

_results: dict[str, dict] = {}
_ran_tests: set[str] = set()


def record(case: str, *, inputs: str, outcome: str, nothing_lost: str) -> None:
    if case not in CASES:
        raise KeyError(f"unknown reliability case {case!r}; add it to CASES")
    _results[case] = {"inputs": _cell(inputs), "outcome": _cell(outcome), "lost": _cell(nothing_lost)}


def bucket_mib(nbytes: float, step: int = 4) -> str:
    """Coarse, stable rendering of a memory growth: '≤ 4 MiB', '≤ 8 MiB', ..."""
    mib = max(0.0, nbytes / 2**20)
    return f"≤ {max(step, int(math.ceil(mib / step)) * step)} MiB"


def bucket_ms(seconds: float, step: int = 100) -> str:
    ms = max(0.0, seconds * 1000)
    return f"≤ {max(step, int(math.ceil(ms / step)) * step)} ms"


def _cell(s: str) -> str:
    return " ".join(str(s).split()).replace("|", "\\|")


def pytest_runtest_logreport(report):
    nodeid = report.nodeid.split("[")[0]
    for cid, (_, _, test) in CASES.items():
        if test.split(" ")[0] == nodeid:
            _ran_tests.add(cid)
            if cid in EXTERNAL and report.when == "call" and report.passed:
                _results[cid] = dict(EXTERNAL[cid])
            elif cid in EXTERNAL and report.skipped:
                _results[cid] = {"inputs": EXTERNAL[cid]["inputs"], "outcome": "skipped in the last run "
                                 f"({_cell(skip_reason(report)[:120])})", "lost": "not established"}
            if report.failed:
                why = str(getattr(report, "longrepr", "") or "").strip().splitlines()
                last = next((ln for ln in why if ln.strip().startswith("E ")), why[-1] if why else "")
                prev = _results.get(cid, {})
                _results[cid] = {"inputs": prev.get("inputs", "(see test)"),
                                 "outcome": _cell(f"**FAIL** ({report.when}): {last.strip()[:200]}"),
                                 "lost": "not established"}


def skip_reason(report) -> str:
    """The reason a test gave to pytest.skip (longrepr is a (file, line, message) tuple for skips)."""
    lr = report.longrepr
    msg = lr[2] if isinstance(lr, tuple) and len(lr) == 3 else str(lr)
    return str(msg).removeprefix("Skipped: ").strip()


def _previous_rows(text: str) -> dict[str, str]:
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\| `([a-z0-9-]+)` \|", line)
        if m:
            rows[m.group(1)] = line
    return rows


def _soak_row() -> dict | None:
    try:
        d = json.loads(SOAK_JSON.read_text())
    except Exception:
        return None
    return {"inputs": _cell(f"by hand, once ({d.get('date')}, {d.get('host')}): {d['frames']} of "
                            f"{d.get('frames_requested')} requested {d['frame_size']} frames, tiles {d['tile']}, "
                            f"{d['backend']}; {d.get('note')}"),
            "outcome": _cell(f"RSS {d['rss_after_warmup_mib']} MiB after {d['warmup_frames']} warm-up frames, "
                             f"{d['rss_end_mib']} MiB at the end, max growth after warm-up "
                             f"{d['rss_growth_after_warmup_mib']} MiB; {d['fps']} fps"),
            "lost": _cell(f"dropped {d['dropped']} (file mode)")}


def _soak_section() -> list[str]:
    if not SOAK_JSON.exists():
        return ["No by-hand soak result recorded yet (run `python benchmarks/reliability_soak.py`)."]
    try:
        d = json.loads(SOAK_JSON.read_text())
    except Exception:
        return [f"{SOAK_JSON.relative_to(ROOT)} is unreadable."]
    keys = ["frames", "frame_size", "tile", "backend", "warmup_frames", "rss_start_mib", "rss_after_warmup_mib",
            "rss_end_mib", "rss_growth_after_warmup_mib", "rss_max_mib", "wall_s", "fps", "dropped", "date",
            "host", "note"]
    out = [f"From `{SOAK_JSON.relative_to(ROOT)}` (written by `benchmarks/reliability_soak.py`, run once by hand, not in CI):", ""]
    out += [f"- {k}: {d[k]}" for k in keys if k in d]
    return out


def render(previous: str = "") -> str:
    prev = _previous_rows(previous)
    lines = [
        "# Reliability",
        "",
        "Generated by the reliability tests through `tests/reliability_report.py`, on request:",
        "`HUSHFRAME_RELIABILITY_MD=RELIABILITY.md python -m pytest -q tests/test_reliability_*.py tests/test_runtime_live.py`;",
        "do not edit by hand. Each row names the test that proves it; rows of cases that did not run in",
        "the last session are kept from the previous file. Memory and latency are reported in coarse",
        "buckets so that a re-run does not churn this file.",
        "",
        "Documented errors: one line `hushframe: error: <file>: <problem>` on stderr, exit 2 (3 for a lost",
        "live source, 4 for an output that cannot be written); raised in-process as `ImageError`,",
        "`WeightsError`, `ManifestError`, `RecipeError`, `CheckpointError`, `ExportError`, `ArtifactError`,",
        "`SourceError`/`SourceLost`, `SinkError`, `OutputPathError` (all derive from `hushframe.core.errors.HushframeError`).",
        "",
        "| Case | Area | What | Inputs tried | Outcome | Nothing lost | Proven by |",
        "|---|---|---|---|---|---|---|",
    ]
    soak = _soak_row()
    if soak:
        _results.setdefault("memory-soak", soak)
    for cid, (area, what, test) in CASES.items():
        if cid in _results:
            r = _results[cid]
            lines.append(f"| `{cid}` | {area} | {_cell(what)} | {r['inputs']} | {r['outcome']} | {r['lost']} | `{test}` |")
        elif cid in prev:
            lines.append(prev[cid])
        else:
            lines.append(f"| `{cid}` | {area} | {_cell(what)} | not run yet | not run yet | - | `{test}` |")
    lines += ["", "## Memory soak (by hand)", ""] + _soak_section() + [""]
    return "\n".join(lines)


def pytest_sessionfinish(session, exitstatus):
    if not _results:
        return
    target = os.environ.get("HUSHFRAME_RELIABILITY_MD", "")
    if not target:
        return          # opt-in only: a plain `pytest` never rewrites a tracked file
    p = Path(target) if Path(target).is_absolute() else ROOT / target
    old = p.read_text(encoding="utf-8") if p.exists() else ""
    new = render(old)
    if new == old:
        return
    from hushframe.core.atomic import write_text_atomic

    write_text_atomic(p, new)
