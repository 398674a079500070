"""A temporal model through the runtime: one state per stream, its resets, whole-sequence parity and a
lossless FFV1 round trip (tiny random temporal student, real ONNX Runtime / OpenVINO / PyAV)."""

from __future__ import annotations

import numpy as np
import pytest

from hushframe.runtime import testing as T

pytest.importorskip("cv2", reason="temporal models align their state with OpenCV (pip install opencv-python-headless)")


@pytest.fixture(scope="module")
def temporal(tmp_path_factory):
    pytest.importorskip("torch")
    from hushframe.toolkit.weights import save_model

    d = tmp_path_factory.mktemp("temporal")
    m = T.tiny_temporal(seed=0)
    save_model(m, d / "t.safetensors")
    T.export_onnx(m, d / "t.onnx")
    return d


def moving(n=6, h=48, w=80, seed=1):
    return T.smooth_frames(n, h, w, seed=seed, noise=6.0)


def test_onnx_graph_carries_the_state_as_inputs_and_outputs(temporal):
    import onnx

    g = onnx.load(str(temporal / "t.onnx")).graph
    assert [i.name for i in g.input] == ["input", "state_in"]
    assert [o.name for o in g.output] == ["output", "state_out"]
    meta = {p.key: p.value for p in onnx.load(str(temporal / "t.onnx")).metadata_props}
    assert meta["model_kind"] == "temporal" and meta["state_channels"] == "4"


def test_state_is_carried_and_reset(temporal):
    from hushframe import Denoiser

    frames = moving()
    with Denoiser(temporal / "t.onnx", threads=1) as d:
        assert d.temporal
        seq = list(d.run(frames))
        assert d.resets == {"start": 1}
        alone = [d.run([f]).__next__() for f in frames]            # each frame a new stream
        # the first frame of a stream has no history; later frames use it
        np.testing.assert_array_equal(seq[0], alone[0])
        assert any(not np.array_equal(a, b) for a, b in zip(seq[1:], alone[1:]))
        # the same stream again gives the same outputs (reset clears everything)
        assert all(np.array_equal(a, b) for a, b in zip(d.run(frames), seq))
        d.reset()
        d(frames[0])
        d(np.ascontiguousarray(frames[1][:40, :72]))              # a new size: the caps changed
        rng = np.random.default_rng(9)
        d(rng.integers(0, 256, (40, 72, 3), dtype=np.uint8))    # unrelated content: a scene cut
        assert d.resets["caps"] == 1 and d.resets["cut"] == 1


def test_session_resets_on_seek_gap_and_discontinuity(temporal):
    from hushframe.runtime.options import RunOptions
    from hushframe.runtime.temporal import TemporalSession

    frames = moving(8)
    with RunOptions(threads=1).open(temporal / "t.onnx") as be:
        s = TemporalSession(be)
        for i in (0, 1, 2, 5, 6, 3, 4):           # 2 -> 5: frames dropped; 6 -> 3: a seek back
            s(frames[i], index=i)
        s(frames[5], index=5, discontinuity=True)
        assert s.resets == {"start": 1, "dropped": 1, "seek": 1, "discontinuity": 1}


def test_a_repeated_frame_gets_the_last_output_and_leaves_the_state(temporal):
    """A duplicate (frame-rate conversion, a stalled source) is not a new noisy look at the scene: averaged
    in, its noise would count twice. The session gives the last output again and the state moves on
    only with new frames: the stream with duplicates equals the stream without them."""
    from hushframe.runtime.options import RunOptions
    from hushframe.runtime.temporal import TemporalSession

    frames = moving(5)
    with RunOptions(threads=1).open(temporal / "t.onnx") as be:
        plain = TemporalSession(be)
        want = [plain(f, index=i) for i, f in enumerate(frames)]
        s = TemporalSession(be)
        got, k = [], 0
        for i, f in enumerate(frames):
            for _ in range(1 + (i % 2)):              # every other frame twice
                buf = f.copy()                         # the source's own buffer each time
                got.append((i, s(buf, index=k)))
                buf[:] = 0                             # a source reusing its buffer must not change the record
                k += 1
        assert s.repeats == 2 and s.resets == {"start": 1}
        for i, y in got:
            np.testing.assert_array_equal(y, want[i])


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_sequence_parity_against_the_pytorch_reference(temporal, tmp_path, backend):
    if backend == "openvino":
        pytest.importorskip("openvino")
    from hushframe.runtime.parity import ParityError, run_parity

    clip = T.write_clip(tmp_path / "clip.mkv", moving(8), codec="ffv1", audio=False)
    res = run_parity(temporal / "t.onnx", video=clip, max_frames=8, reference=temporal / "t.safetensors",
                     backend=backend, threads=1, min_output_psnr=50.0)
    assert res.passed, res.to_markdown()
    with pytest.raises(ParityError, match="consecutive frames"):
        run_parity(temporal / "t.onnx", video=clip, every=2, reference=temporal / "t.safetensors", threads=1)
    if backend == "onnxruntime":      # with a lookahead both sides run it: the whole delayed sequence compared
        from hushframe import Denoiser
        from hushframe.runtime.parity import run, video_items

        res = run_parity(temporal / "t.onnx", video=clip, max_frames=8, reference=temporal / "t.safetensors",
                         backend=backend, threads=1, min_output_psnr=50.0, lookahead=2)
        assert res.passed, res.to_markdown()
        outs = [o.image for o in run(temporal / "t.onnx", video_items(clip, max_frames=8), threads=1, lookahead=2)]
        with Denoiser(temporal / "t.onnx", threads=1, lookahead=2) as d:
            assert all(np.array_equal(a, b) for a, b in zip(outs, d.run(moving(8))))  # FFV1: lossless
        assert len(outs) == 8


def test_stream_lossless_round_trip_equals_the_api(temporal, tmp_path):
    """FFV1 in, FFV1 out: the written frames are exactly the Denoiser's, the state carried in order."""
    from hushframe import Denoiser
    from hushframe.runtime.stream import stream_video

    frames = moving(7, 56, 88)
    clip = T.write_clip(tmp_path / "in.mkv", frames, codec="ffv1", audio=False)
    decoded, _, _ = T.read_clip(clip)
    assert all(np.array_equal(a, b) for a, b in zip(decoded, frames))         # lossless in
    st = stream_video(clip, temporal / "t.onnx", tmp_path / "out.mkv", codec="ffv1", threads=1)
    assert st.resets == {"start": 1} and st.frames_out == 7
    got, _, _ = T.read_clip(tmp_path / "out.mkv")
    with Denoiser(temporal / "t.onnx", threads=1) as d:
        want = list(d.run(frames))
    assert len(got) == 7
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_stream_with_lookahead_writes_every_frame_as_the_api(temporal, tmp_path):
    """`stream --lookahead 2`: outputs leave the pipeline two frames late and the last two at the end of the
    file; the FFV1 output equals Denoiser(lookahead=2).run, frame for frame, and differs from the causal run."""
    from hushframe import Denoiser
    from hushframe.runtime.errors import ShapeError
    from hushframe.runtime.stream import stream_video

    rng = np.random.default_rng(5)
    scene = T.smooth_frames(1, 48, 80, seed=6, noise=0.0)[0].astype(np.float32)
    still = [np.clip(scene + rng.normal(0, 6, scene.shape), 0, 255).round().astype(np.uint8) for _ in range(6)]
    clip = T.write_clip(tmp_path / "in.mkv", still, codec="ffv1", audio=False)
    st = stream_video(clip, temporal / "t.onnx", tmp_path / "out.mkv", codec="ffv1", threads=1, lookahead=2)
    assert st.frames_out == 6
    got, _, _ = T.read_clip(tmp_path / "out.mkv")
    with Denoiser(temporal / "t.onnx", threads=1, lookahead=2) as d:
        want = list(d.run(still))
    with Denoiser(temporal / "t.onnx", threads=1) as d:
        causal = list(d.run(still))
    assert len(got) == 6
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert not np.array_equal(got[0], causal[0])
    T.export_onnx(T.tiny_student(seed=0), tmp_path / "s.onnx")
    with pytest.raises(ShapeError, match="lookahead"):                        # a per-frame model: refused
        stream_video(clip, tmp_path / "s.onnx", tmp_path / "out2.mkv", codec="ffv1", threads=1, lookahead=1)


def test_int8_keeps_the_state_float_and_stays_near_fp32(temporal, tmp_path):
    """`hushframe quantize` on a temporal graph: convs in int8, the running mean in float; the sequence
    through ONNX Runtime and the compiled OpenVINO IR stays within the parity bar of fp32."""
    pytest.importorskip("nncf")
    pytest.importorskip("openvino")
    import onnx
    from typer.testing import CliRunner

    from hushframe.runtime.parity import run_parity
    from hushframe.toolkit.cli.main import app

    clip = T.write_clip(tmp_path / "cam.mkv", moving(10, 64, 96, seed=7), codec="ffv1", audio=False)
    q = tmp_path / "t-int8.onnx"
    r = CliRunner().invoke(app, ["quantize", str(temporal / "t.onnx"), "-c", str(clip), "-o", str(q)])
    assert r.exit_code == 0, r.output
    g = onnx.load(str(q)).graph
    quantized = {n.input[0] for n in g.node if n.op_type == "DequantizeLinear"}
    assert any(n.op_type == "QuantizeLinear" for n in g.node)
    blend = [n for n in g.node if n.op_type in ("Div", "Concat")]
    assert blend and not any(i in quantized for n in blend for i in n.input)     # the state's arithmetic is float
    r = CliRunner().invoke(app, ["compile", "openvino", str(q), "-o", str(tmp_path / "t-int8.xml"), "--precision", "int8"])
    assert r.exit_code == 0, r.output
    for art in (q, tmp_path / "t-int8.xml"):
        res = run_parity(art, video=clip, max_frames=10, reference=temporal / "t.onnx", threads=1, min_output_psnr=40.0)
        assert res.passed, res.to_markdown()


def test_bench_times_a_stream_step(temporal):
    """`bench` on a temporal model times what a stream pays per frame: alignment plus the two-input graph."""
    from hushframe.runtime.bench import run_bench

    (row,) = run_bench(temporal / "t.onnx", sizes=("96x64",), iterations=3, min_seconds=0.0, threads=1)
    assert row["iterations"] >= 3 and row["latency_ms_p50"] > 0
    (row,) = run_bench(temporal / "t.onnx", sizes=("96x64",), iterations=3, min_seconds=0.0, threads=1, lookahead=2)
    assert row["lookahead"] == 2 and row["latency_ms_p50"] > 0
    from hushframe.runtime.bench import format_table

    assert "(+2 ahead)" in format_table([row])


def test_lookahead_uses_later_frames_only_where_still_and_keeps_every_frame(temporal):
    """lookahead=L: one output per frame, in order, L frames late (flushed at the end); each output is the
    causal one blended towards the next frames' where the flow is exactly zero and the model kept its
    history; a reset finalises what is pending, so nothing leaks across a cut."""
    from hushframe import Denoiser
    from hushframe.runtime.options import RunOptions
    from hushframe.runtime.temporal import TemporalSession

    rng = np.random.default_rng(3)
    scene = T.smooth_frames(1, 48, 80, seed=4, noise=0.0)[0].astype(np.float32)
    still = [np.clip(scene + rng.normal(0, 6, scene.shape), 0, 255).round().astype(np.uint8) for _ in range(6)]
    with Denoiser(temporal / "t.onnx", threads=1) as d:
        causal = list(d.run(still))
    with Denoiser(temporal / "t.onnx", threads=1, lookahead=2) as d:
        ahead = list(d.run(still))
        with pytest.raises(ValueError, match="late"):
            d(still[0])
    assert len(ahead) == len(still)
    np.testing.assert_array_equal(ahead[-1], causal[-1])        # the last frame has nothing ahead of it
    assert not np.array_equal(ahead[0], causal[0])               # the first one has two more frames
    with Denoiser(temporal / "t.onnx", threads=1, lookahead=0) as d:
        assert all(np.array_equal(a, b) for a, b in zip(d.run(still), causal))

    frames = moving()
    with RunOptions(threads=1).open(temporal / "t.onnx") as be:
        s = TemporalSession(be, lookahead=1)
        from hushframe.runtime.frames import to_batch

        x = [to_batch([f], be.info.size_multiple, be.info.min_hw) for f in frames]
        assert s.push(x[0], frames[0], tag=0) == []
        ready = s.push(x[1], frames[1], tag=1)
        assert [t for t, _ in ready] == [0]
        cut = rng.integers(0, 256, frames[2].shape, dtype=np.uint8)     # a scene cut: frame 1 is final at once
        ready = s.push(to_batch([cut], be.info.size_multiple, be.info.min_hw), cut, tag=2)
        assert [t for t, _ in ready] == [1] and s.resets["cut"] == 1
        assert [t for t, _ in s.flush()] == [2] and s.flush() == []
        with pytest.raises(ValueError, match="lookahead"):
            TemporalSession(be, lookahead=-1)
        with pytest.raises(ValueError, match="push"):
            s.step(x[0], frames[0])


def test_lookahead_weight_is_the_history_kept_where_the_flow_is_zero():
    from hushframe.runtime.temporal import _kept_where_still

    before = np.array([[[[0.0, 1.0, 4.0, 4.0]]]], np.float32)
    after = np.array([[[[1.0, 2.0, 5.0, 3.0]]]], np.float32)
    flow = np.zeros((1, 3, 2), np.float32)
    flow[0, 2, 0] = 0.5                                        # the third pixel moves
    w = _kept_where_still(before, after, flow)                 # padded by one column (the edge's flow)
    np.testing.assert_allclose(w[0, 0, 0], [0.0, 1.0, 0.0, 0.0])
    w = _kept_where_still(before, after, np.zeros((1, 4, 2), np.float32))
    np.testing.assert_allclose(w[0, 0, 0], [0.0, 1.0, 1.0, 0.5])


def test_lookahead_blend_is_the_recursion_in_row_blocks_on_threads(temporal):
    """The blend runs in blocks of rows on the session's threads; it is still z_s = w z_{s+1} + (1 - w) y_s,
    back from the last frame, and a frame with no still link to the one before ends the chain there."""
    from hushframe.runtime.options import RunOptions
    from hushframe.runtime.temporal import BLEND_ROWS, TemporalSession

    rng = np.random.default_rng(5)
    h = 2 * BLEND_ROWS + 7                                   # three blocks, the last one short
    ys = [rng.random((1, 3, h, 24), dtype=np.float32) for _ in range(4)]
    ws = [None] + [rng.random((1, 1, h, 24), dtype=np.float32) for _ in range(3)]

    def recursion(ys, ws):
        z = ys[-1]
        for j in range(len(ys) - 1, 0, -1):
            z = ws[j] * z + (1 - ws[j]) * ys[j - 1]
        return z

    with RunOptions(threads=2).open(temporal / "t.onnx") as be:
        for links, used in ((ws, 4), (ws[:2] + [None] + ws[3:], 2)):
            s = TemporalSession(be, threads=2, lookahead=3)
            s._pending.extend([[f"frame {i}"], y, w] for i, (y, w) in enumerate(zip(ys, links)))
            [(tag, z)] = s._emit_first()
            assert tag == "frame 0"
            np.testing.assert_allclose(z, recursion(ys[:used], links[:used]), rtol=1e-5, atol=1e-6)
            s.close()
