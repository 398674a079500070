"""Live sources for real: FFmpeg's lavfi test source through PyAV, Ctrl-C on a live run, and an
RTSP stream on loopback with a disconnect in the middle (Debian's ffmpeg pushes, our source
listens). Every test stops its own processes; loops are bounded; no timing assertions.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import default_sigint
from hushframe.runtime import testing as T

HF = [sys.executable, "-m", "hushframe.toolkit.cli.main"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("live_assets")
    return T.export_onnx(T.tiny_student(seed=0), d / "tiny.onnx")


def test_lavfi_live_source_latency_and_throughput_modes(model, tmp_path):
    from hushframe.runtime.sources import open_source
    from hushframe.runtime.stream import stream_video

    assert not open_source("lavfi:testsrc2=size=64x64:rate=50").live   # a filter graph is not a camera
    src = open_source("lavfi:testsrc2=size=64x64:rate=50", live=True)   # unpaced: faster than we infer
    assert src.live
    st = stream_video(src, model, tmp_path / "lat.mp4", backend="onnxruntime", max_frames=60)
    # --max-frames counts written frames, whatever latency mode dropped on the way
    assert st.frames_out == 60 and st.frames_out + st.dropped <= st.frames_in
    frames, pts, _ = T.read_clip(tmp_path / "lat.mp4")
    assert len(frames) == st.frames_out and all(b > a for a, b in zip(pts, pts[1:]))
    # throughput mode on the same live source: nothing dropped
    st = stream_video("lavfi:testsrc2=size=64x64:rate=50", model, None, backend="onnxruntime", mode="throughput",
                      max_frames=20)
    assert st.dropped == 0 and st.frames_out == 20


def _stop_live_run(model, out, sig) -> tuple[int, str]:
    """Record a live source until two progress lines, send ``sig``; returns (exit code, stderr)."""
    p = subprocess.Popen(HF + ["stream", "lavfi:testsrc2=size=64x64:rate=10,realtime", "-m", str(model), "-o", str(out),
                               "--live", "--backend", "onnxruntime", "--progress", "plain"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        seen = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and seen < 2:   # wait for a few written frames (bounded)
            line = p.stderr.readline()
            if not line:
                break
            seen += line.startswith("frames ")
        assert seen >= 2, "no progress from the live run"
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, err


def test_ctrl_c_leaves_a_playable_file(model, tmp_path):
    out = tmp_path / "live.mp4"
    code, err = _stop_live_run(model, out, signal.SIGINT)
    assert code == 130, err
    frames, pts, _ = T.read_clip(out)                 # the moov atom is there: it decodes
    assert len(frames) >= 2 and frames[0].shape == (64, 64, 3)


def test_sigterm_finalizes_like_ctrl_c(model, tmp_path):
    """docker stop / systemd send SIGTERM: the stream stops reading, finalizes the .mp4 (playable)
    and exits 143, instead of dying with the file's index unwritten."""
    out = tmp_path / "live.mp4"
    code, err = _stop_live_run(model, out, signal.SIGTERM)
    assert code == 143 and "terminated (output finalized)" in err, err
    frames, _, _ = T.read_clip(out)
    assert len(frames) >= 2 and frames[0].shape == (64, 64, 3)

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _push(url: str, seconds: float) -> subprocess.CompletedProcess | None:
    """ffmpeg pushes a lavfi clip over RTSP/TCP; retried while our listener is not up yet."""
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10",
           "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "5",
           "-f", "rtsp", "-rtsp_transport", "tcp", url]
    for _ in range(60):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
        if r.returncode == 0:
            return r
        time.sleep(0.25)
    return None


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg binary not installed (apt-get install ffmpeg)")
def test_rtsp_loopback_with_disconnect(model, tmp_path):
    port = _free_port()
    url = f"rtsp://127.0.0.1:{port}/live"
    out, stats = tmp_path / "rtsp.mkv", tmp_path / "stats.json"
    p = subprocess.Popen(HF + ["stream", url, "-I", "rtsp_flags=listen", "-m", str(model), "-o", str(out),
                               "--backend", "onnxruntime", "--retries", "2", "--backoff", "0.2", "--timeout", "4",
                               "--progress", "none", "--stats-json", str(stats)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _push(url, 2) is not None, "first push never connected"
        assert _push(url, 2) is not None, "reconnection push never connected"   # the source came back
        _, err = p.communicate(timeout=90)         # then it is gone for good: retries, then a clear error
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 3, err
    assert "source lost" in err and "Traceback" not in err
    s = json.loads(stats.read_text())
    assert s["reconnects"] >= 1 and s["frames_out"] >= 2 and s["frames_out"] + s["dropped"] == s["frames_in"]
    frames, pts, _ = T.read_clip(out)               # finalized and playable, clock monotonic across the gap
    assert len(frames) == s["frames_out"] and all(b > a for a, b in zip(pts, pts[1:]))
    assert np.asarray(frames).std() > 0
