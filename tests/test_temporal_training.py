"""Training a temporal student from noisy video only (toolkit/training/temporal.py), tiny and fast."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("cv2")

from hushframe.runtime import testing as T  # noqa: E402


def test_targets_are_the_future_frames_moved_onto_the_frame():
    from hushframe.toolkit.data.video_clips import Clip
    from hushframe.toolkit.training.temporal import FUTURE, prepare

    rng = np.random.default_rng(0)
    still = T.smooth_frames(1, 64, 80, seed=2, noise=0)[0].astype(np.float32)
    frames = [np.clip(still + rng.normal(0, 6, still.shape), 0, 255).round().astype(np.uint8) for _ in range(5)]
    (s,) = prepare([Clip("static", frames)])
    assert s.mask[:-1].mean() > 0.9 and not s.mask[-1].any()      # the last frame has no future
    assert FUTURE >= 2
    inner = (slice(8, -8), slice(8, -8))
    m = s.mask[0][inner]
    err = (s.target[0].astype(np.float32) * 255 - still)[inner][m]
    single = (frames[1].astype(np.float32) - still)[inner][m]
    # unbiased (the clean scene on average) and less noisy than one future frame (two are averaged; DIS's
    # sub-pixel flows on noise interpolate a little more away)
    assert abs(err.mean()) < 0.5 and np.sqrt((err ** 2).mean()) < 0.8 * np.sqrt((single ** 2).mean())


def test_training_learns_resumes_and_refuses_other_settings(tmp_path):
    from hushframe.toolkit.data.video_clips import Clip
    from hushframe.toolkit.training.temporal import TemporalConfig, prepare, train_temporal
    from hushframe.toolkit.weights import load_model

    seqs = prepare([Clip("c", T.smooth_frames(8, 48, 64, seed=3, noise=10))])
    cfg = TemporalConfig(width=8, gate_width=8, steps=4, minutes=None, batch=2, crop=32, unroll=2, burn_in=2,
                         checkpoint_every=2)
    out, summary = train_temporal(seqs, tmp_path, cfg, progress_style="none")
    assert summary["steps"] == 4 and summary["stopped_by"] == "steps"
    m = load_model(out)
    assert m.temporal and m.config["width"] == 8
    man = json.loads((tmp_path / "temporal-student.safetensors.manifest.json").read_text())
    assert man["settings"]["model_kind"] == "temporal"
    cfg.steps = 6
    with pytest.raises(ValueError, match="other settings"):
        train_temporal(seqs, tmp_path, cfg, resume=True, progress_style="none")
    cfg.steps = 4
    out, summary = train_temporal(seqs, tmp_path, cfg, resume=True, progress_style="none")
    assert summary["steps"] == 4       # already done: resumed at its end
    assert len((tmp_path / "temporal-log.csv").read_text().splitlines()) == 5


def test_adapt_temporal_end_to_end(tmp_path):
    """`hushframe adapt clip.mkv --temporal` -> export -> stream: the user's whole video workflow, tiny."""
    from typer.testing import CliRunner

    from hushframe.toolkit.cli.main import app

    clip = T.write_clip(tmp_path / "cam.mkv", T.smooth_frames(10, 64, 96, seed=4, noise=10), codec="ffv1", audio=False)
    run = tmp_path / "run"
    r = CliRunner().invoke(app, ["adapt", str(clip), "--temporal", "-o", str(run), "--distill-steps", "2",
                                 "--batch", "2", "--crop", "32"])
    assert r.exit_code == 0, r.output
    assert (run / "temporal-student.safetensors").exists() and "trained 2 steps" in r.output
    r = CliRunner().invoke(app, ["adapt", str(clip), "--temporal", "-o", str(run)])
    assert r.exit_code != 0 and "exists" in r.output                  # no silent overwrite
    r = CliRunner().invoke(app, ["export", str(run / "temporal-student.safetensors"), "-o", str(run / "t.onnx")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["stream", str(clip), "-m", str(run / "t.onnx"), "-o", str(run / "out.mkv"),
                                 "--codec", "ffv1"])
    assert r.exit_code == 0, r.output
    assert "state resets: start 1" in r.output
    frames, _, _ = T.read_clip(run / "out.mkv")
    assert len(frames) == 10


def test_teacher_labels_blend_into_the_targets_and_fill_the_gaps():
    """Route (c): (1 - w) N2N + w label where N2N has a target, the label where it has none."""
    from hushframe.toolkit.data.video_clips import Clip
    from hushframe.toolkit.training.temporal import blend_labels, prepare

    (s,) = prepare([Clip("c", T.smooth_frames(4, 32, 48, seed=5, noise=8))])
    n2n, had = s.target.astype(np.float32), s.mask.copy()
    assert not had[-1].any()
    labels = [np.full((32, 48, 3), 100, np.uint8) for _ in range(4)]
    blend_labels([s], labels, 0.25)
    assert s.mask.all()
    got = s.target.astype(np.float32)
    want = np.where(had[..., None], 0.75 * n2n + 0.25 * 100 / 255, 100 / 255)
    np.testing.assert_allclose(got, want, atol=2e-3)
    with pytest.raises(ValueError, match="teacher-weight"):
        blend_labels([s], labels, 0.0)
    (s2,) = prepare([Clip("c", T.smooth_frames(4, 32, 48, seed=5, noise=8))])
    blend_labels([s2], (lab for lab in labels), 0.25)          # labels made one at a time: the same targets
    np.testing.assert_array_equal(s2.target, s.target)
    with pytest.raises(ValueError, match="3 labels for 4 frames"):
        blend_labels([prepare([Clip("c", T.smooth_frames(4, 32, 48, seed=5, noise=8))])[0]], labels[:3], 0.25)


def test_adapt_temporal_with_a_frame_teacher(tmp_path):
    """`adapt --temporal --teacher ffmpeg:...` labels each frame once (cached, resumable) and records the route;
    a teacher that would run on every crop is refused in one line."""
    pytest.importorskip("av")
    from typer.testing import CliRunner

    from hushframe.toolkit.cli.main import app

    clip = T.write_clip(tmp_path / "cam.mkv", T.smooth_frames(8, 48, 64, seed=6, noise=10), codec="ffv1", audio=False)
    run = tmp_path / "run"
    r = CliRunner().invoke(app, ["adapt", str(clip), "--temporal", "-o", str(run), "--distill-steps", "2",
                                 "--batch", "2", "--crop", "32", "--teacher", "ffmpeg:gblur=sigma=1",
                                 "--teacher-weight", "0.4"])
    assert r.exit_code == 0, r.output
    assert "0.6 x frame-to-frame + 0.4 x ffmpeg:gblur=sigma=1" in r.output
    report = json.loads((run / "temporal-report.json").read_text())
    assert "blended with ffmpeg:gblur=sigma=1" in report["route"]
    assert len(list((run / "labels").glob("*/*.png"))) == 8
    # resuming with another weight: one line naming the checkpoint and what differs, exit 2
    import contextlib
    import io

    from hushframe.toolkit.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["adapt", str(clip), "--temporal", "-o", str(run), "--distill-steps", "2", "--batch", "2",
                   "--crop", "32", "--teacher", "ffmpeg:gblur=sigma=1", "--resume"])
    last = err.getvalue().strip().splitlines()[-1]
    assert rc == 2 and last.startswith("hushframe: error: ") and "teacher_weight 0.4 -> 0.5" in last, err.getvalue()
    r = CliRunner().invoke(app, ["adapt", str(clip), "--temporal", "-o", str(tmp_path / "r2"),
                                 "--teacher", "student:" + str(tmp_path / "nope.safetensors")])
    assert r.exit_code != 0


def test_the_noise_calibration_measures_a_gamma_encoded_cameras_noise_from_its_video():
    """A still scene from a camera with linear-light shot + read noise, gamma-encoded as cameras write
    video: the calibration (no clean frame) recovers the encoded noise's fall with brightness, which the
    old linear model (rising with brightness) could not."""
    from hushframe.toolkit.data.video_clips import Clip
    from hushframe.toolkit.models.temporal import encoded_variance
    from hushframe.toolkit.training.noise_calibration import fit_encoded_noise
    from hushframe.toolkit.training.temporal import prepare

    rng = np.random.default_rng(0)
    h, w = 96, 128
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    b = 0.03 + 0.9 * xx
    linear = np.stack([b, b * (0.9 + 0.1 * yy), b], -1) ** 2.2
    frames = [np.clip(255 * np.clip(linear + rng.normal(size=linear.shape) * np.sqrt(1e-3 * linear + 1e-5), 0, 1)
                      ** (1 / 2.2), 0, 255).round().astype(np.uint8) for _ in range(6)]
    (s,) = prepare([Clip("c", frames)])
    fit = fit_encoded_noise(s.noise)
    at = np.array([0.2, 0.4, 0.6, 0.85])
    truth = encoded_variance(at, 1e-3, 1e-5, 2.2)     # the slope of x^(1/2.2) applied to the linear noise
    assert np.all(np.abs(encoded_variance(at, fit.shot, fit.read, fit.gamma) / truth - 1) < 0.25), fit
    assert encoded_variance(0.1, fit.shot, fit.read, fit.gamma) > 2 * encoded_variance(0.8, fit.shot, fit.read,
                                                                                          fit.gamma)
    with pytest.raises(ValueError, match="too few"):
        fit_encoded_noise(s.noise[:20])


def test_training_writes_the_calibrated_noise_model_into_the_student(tmp_path):
    from hushframe.toolkit.data.video_clips import Clip
    from hushframe.toolkit.training.temporal import TemporalConfig, prepare, train_temporal
    from hushframe.toolkit.weights import load_model

    seqs = prepare([Clip("c", T.smooth_frames(8, 48, 64, seed=3, noise=10))])
    cfg = TemporalConfig(width=8, gate_width=8, steps=1, minutes=None, batch=2, crop=32, unroll=2, burn_in=1)
    out, summary = train_temporal(seqs, tmp_path, cfg, progress_style="none")
    cal = summary["noise_calibration"]
    m = load_model(out)
    assert m.noise_model == "encoded" and m.config["noise_model"] == "encoded"
    assert float(m.noise_gamma) == pytest.approx(cal["gamma"]) and float(m.noise_shot) == pytest.approx(cal["shot"])
    # smooth_frames adds flat noise of 10 levels: the calibration reads about that at mid grey
    assert 5 < np.sqrt(float(m.noise_variance(torch.tensor(0.5)))) * 255 < 14
