"""Distillation from any teacher (issue 12): specs, FFmpeg through PyAV, label caches, paired crops."""

import json

import numpy as np
import pytest

from hushframe.toolkit.recipes import load_recipe
from hushframe.toolkit.teachers import TeacherSpecError, build_teacher, parse_teacher
from hushframe.toolkit.teachers.labels import load_labels, write_labels


def _smooth_noisy(h=64, w=64, seed=0, sigma=12.0):
    """A smooth colour image plus Gaussian noise: (noisy, clean) uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    clean = np.stack([120 + 80 * np.sin(4 * xx), 100 + 60 * yy, 160 - 70 * xx * yy], -1)
    noisy = clean + rng.normal(0, sigma, clean.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8), np.clip(clean, 0, 255).astype(np.uint8)


def test_ensemble_specs_parse_with_weights():
    s = parse_teacher("0.6*ffmpeg:nlmeans=s=3 + 0.4*ffmpeg:dctdnoiz=sigma=4")
    assert [(t.kind, t.arg, t.weight) for t in s.terms] == [("ffmpeg", "nlmeans=s=3", 0.6), ("ffmpeg", "dctdnoiz=sigma=4", 0.4)]
    assert s.text == "0.6*ffmpeg:nlmeans=s=3+0.4*ffmpeg:dctdnoiz=sigma=4"
    even = parse_teacher("ffmpeg:nlmeans=s=3+ffmpeg:fftdnoiz=sigma=2+bm3d")
    assert [t.weight for t in even.terms] == pytest.approx([1 / 3] * 3)
    assert parse_teacher("bm3d:sigma=5").terms[0].arg == "sigma=5"
    # '+' inside a filter's options is not a term separator
    assert len(parse_teacher("ffmpeg:scale=flags=+accurate_rnd").terms) == 1


@pytest.mark.parametrize("bad, why", [
    ("0.6*ffmpeg:nlmeans=s=3+0.5*ffmpeg:dctdnoiz=sigma=4", "sum to 1.1"),
    ("0.6*ffmpeg:nlmeans=s=3+ffmpeg:dctdnoiz=sigma=4", "every term"),
    ("-0.5*ffmpeg:a+1.5*ffmpeg:b", "positive"),
    ("ffmpeg:", "needs a filtergraph"),
    ("gauss:3", "unknown teacher"),
    ("bm3d:radius=2", "sigma=S"),
    ("student:/no/such.safetensors", "no such weights file"),
    ("labels:/no/such/dir", "no such labels folder"),
    ("0.5*ffmpeg:a+0.5*ffmpeg:a", "appears twice"),
])
def test_bad_specs_give_one_clear_error(bad, why):
    with pytest.raises(TeacherSpecError, match=why) as e:
        parse_teacher(bad)
    assert "\n" not in str(e.value) and repr(bad) in str(e.value)


def test_ffmpeg_teacher_runs_a_real_libavfilter_on_a_64px_image():
    pytest.importorskip("av")
    noisy, clean = _smooth_noisy()
    t = build_teacher(parse_teacher("ffmpeg:nlmeans=s=10").terms[0])
    t.check()
    out = t.label_image(noisy)
    assert out.shape == noisy.shape and out.dtype == np.uint8
    err = lambda a: np.abs(a.astype(float) - clean).mean()  # noqa: E731
    assert err(out) < 0.7 * err(noisy)  # it denoises
    with pytest.raises(TeacherSpecError, match="no filter"):
        build_teacher(parse_teacher("ffmpeg:nosuchfilter=1").terms[0]).check()
    with pytest.raises(TeacherSpecError, match="changed the frame size"):
        build_teacher(parse_teacher("ffmpeg:scale=32:32").terms[0]).check()


class _Interrupted(Exception):
    pass


def test_label_cache_resumes_after_an_interruption(tmp_path):
    pytest.importorskip("av")
    imgs = [_smooth_noisy(48, 40, seed=s)[0] for s in range(3)]
    real = build_teacher(parse_teacher("ffmpeg:fftdnoiz=sigma=8").terms[0])
    calls = []

    class Killed:  # the real teacher, "killed" after its first image
        spec = real.spec

        def check(self):
            real.check()

        def label_image(self, img):
            if calls:
                raise _Interrupted
            calls.append(1)
            return real.label_image(img)

    with pytest.raises(_Interrupted):
        write_labels(imgs, Killed(), tmp_path / "lab", log=lambda m: None)
    assert len(json.loads((tmp_path / "lab" / "labels.json").read_text())["items"]) == 1
    seen = []

    class Counting:
        spec = real.spec

        def check(self):
            pass

        def label_image(self, img):
            seen.append(1)
            return real.label_image(img)

    doc = write_labels(imgs, Counting(), tmp_path / "lab", log=lambda m: None)
    assert len(seen) == 2 and len(doc["items"]) == 3
    spec, labs = load_labels(imgs[::-1], tmp_path / "lab")  # any order
    assert spec == "ffmpeg:fftdnoiz=sigma=8"
    assert all(np.array_equal(a, real.label_image(b)) for a, b in zip(labs, imgs[::-1]))
    # Another teacher's labels are never mixed into the folder.
    with pytest.raises(TeacherSpecError, match="holds labels of teacher"):
        write_labels(imgs, build_teacher(parse_teacher("ffmpeg:nlmeans").terms[0]), tmp_path / "lab")
    # A decoder that differs by a rounding step still finds its label (thumbnail match), with a note.
    off = imgs[0].copy(); off[::7, ::5] ^= 1
    notes = []
    _, (lab,) = load_labels([off], tmp_path / "lab", warn=notes.append)
    assert lab.shape == off.shape and "thumbnail" in notes[0]
    with pytest.raises(TeacherSpecError, match="no label for 1 of 1"):
        load_labels([255 - imgs[0]], tmp_path / "lab")


def test_paired_crops_share_the_crop_and_the_flip():
    from hushframe.toolkit.data.datasets import CropDataset
    from hushframe.toolkit.data.paired_crops import PairedCropDataset, split_pair

    rng = np.random.default_rng(1)
    imgs = [rng.integers(0, 256, (40, 52, 3), dtype=np.uint8) for _ in range(2)]
    labels = [[255 - a for a in imgs], [a // 2 for a in imgs]]
    ds = PairedCropDataset(imgs, labels, [0.25, 0.75], crop=16, seed=3)
    plain = CropDataset(imgs, 16, seed=3)
    for i in range(20):
        x = ds[i][None]
        noisy, target = split_pair(x)
        assert np.array_equal(noisy.numpy(), plain[i][None].numpy())  # the same crops as plain training
        n = noisy.numpy() * 255
        expect = 0.25 * (255 - n) + 0.75 * np.floor(n / 2)
        assert np.allclose(target.numpy() * 255, expect, atol=1e-3)


def test_two_step_distill_from_a_labels_folder(tmp_path):
    """What the GPU machine runs: labels made elsewhere, no PyAV needed to train."""
    from hushframe.toolkit.methods.atbsn import distill_student
    from hushframe.toolkit.weights import load_model

    imgs = [_smooth_noisy(48, 48, seed=s)[0] for s in range(2)]

    class Blur:  # a plain NumPy teacher: this test must not need PyAV
        spec = "test:box3"

        def check(self):
            pass

        def label_image(self, img):
            p = np.pad(img.astype(np.float32), ((1, 1), (1, 1), (0, 0)), mode="edge")
            return np.rint(sum(p[i:i + 48, j:j + 48] for i in range(3) for j in range(3)) / 9).astype(np.uint8)

    write_labels(imgs, Blur(), tmp_path / "lab", log=lambda m: None)
    sec = dict(load_recipe("quick-cpu")["distill"])
    sec.update(student="student_a", width=4, crop=16, batch=2, iterations=2, checkpoint_every=1, log_every=1, val_every=99)
    out = distill_student(imgs, sec, f"labels:{tmp_path / 'lab'}", tmp_path / "run", quiet=True)
    assert load_model(out).arch == "student_a"
    man = json.loads((tmp_path / "run" / "student.safetensors.manifest.json").read_text())
    assert man["settings"]["teacher"] == f"labels:{tmp_path / 'lab'}" and man["settings"]["loss"] == "l1"
    assert man["settings"]["label_sets"][0]["made_by"] == "test:box3"
    # resumable like every stage
    sec["iterations"] = 3
    distill_student(imgs, sec, f"labels:{tmp_path / 'lab'}", tmp_path / "run", resume=True, quiet=True)
    # an L2 fine-tuning stage from those weights, recorded as such
    out2 = distill_student(imgs, dict(sec, loss="l2", iterations=2), f"labels:{tmp_path / 'lab'}", tmp_path / "ft",
                           init_weights=out, quiet=True)
    assert json.loads(out2.with_name(out2.name + ".manifest.json").read_text())["settings"]["loss"] == "l2"


def test_student_teacher_distills_into_a_smaller_student(tmp_path):
    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.methods.atbsn import distill_student
    from hushframe.toolkit.weights import load_model, save_model

    big = create_model("student_c", width=8, levels=2)
    save_model(big, tmp_path / "big.safetensors")
    imgs = [_smooth_noisy(40, 40, seed=s)[0] for s in range(2)]
    sec = dict(load_recipe("quick-cpu")["distill"])
    sec.update(student="student_a", width=4, crop=16, batch=2, iterations=1, log_every=1, val_every=99)
    out = distill_student(imgs, sec, f"student:{tmp_path / 'big.safetensors'}", tmp_path / "kd", quiet=True)
    assert load_model(out).arch == "student_a"


def test_label_and_distill_commands(tmp_path):
    pytest.importorskip("av")
    from conftest import run_cli
    from hushframe.core.images import write_image

    (tmp_path / "photos").mkdir()
    for s in range(2):
        write_image(tmp_path / "photos" / f"p{s}.png", _smooth_noisy(48, 64, seed=s)[0])
    p = run_cli("label", tmp_path / "photos", "--teacher", "ffmpeg:nlmeans=s=3", "-o", tmp_path / "lab")
    assert "2 images labelled by ffmpeg:nlmeans=s=3" in p.stdout
    p = run_cli("distill", tmp_path / "photos", "--teacher", "0.5*ffmpeg:fftdnoiz=sigma=4+0.5*labels:" + str(tmp_path / "lab"),
                "-o", tmp_path / "run", "--recipe", "quick-cpu", "--student", "student_a", "--width", "4",
                "--iterations", "1", "--crop", "32", "--batch", "1")
    assert (tmp_path / "run" / "student.safetensors").exists()
    assert len(list((tmp_path / "run" / "labels").iterdir())) == 1  # fftdnoiz cached; nlmeans read from lab
    bad = run_cli("distill", tmp_path / "photos", "--teacher", "0.7*ffmpeg:nlmeans+0.7*ffmpeg:fftdnoiz", "-o", tmp_path / "r2",
                  check=False)
    assert bad.returncode == 2 and "sum to 1.4" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_a_deployed_student_artifact_is_a_frame_teacher(tmp_path):
    """`student:model.onnx` runs through the runtime once per photo (cached like a filter), as deployed."""
    from hushframe.export.onnx_export import export_onnx
    from hushframe.runtime.backends.base import open_backend
    from hushframe.runtime.frames import denoise_image
    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.methods.atbsn import distill_student
    from hushframe.toolkit.weights import save_model

    from hushframe.core.errors import HushframeError
    from hushframe.runtime.teacher import ArtifactTeacher
    from hushframe.toolkit.teachers import use_artifact_teacher

    save_model(create_model("student_c", width=8, levels=2), tmp_path / "big.safetensors")
    onnx_path = export_onnx(tmp_path / "big.safetensors", tmp_path / "big.onnx")
    term = parse_teacher(f"student:{onnx_path}").terms[0]
    use_artifact_teacher(None)  # the toolkit alone cannot run it, and says how to wire it
    with pytest.raises(TeacherSpecError, match="use_artifact_teacher"):
        build_teacher(term)
    use_artifact_teacher(ArtifactTeacher)  # what the hushframe command does
    assert term.on_frames and not parse_teacher(f"student:{tmp_path / 'big.safetensors'}").terms[0].on_frames
    imgs = [_smooth_noisy(40, 56, seed=s)[0] for s in range(2)]
    assert np.array_equal(build_teacher(term).label_image(imgs[0]), denoise_image(open_backend(onnx_path), imgs[0]))

    sec = dict(load_recipe("quick-cpu")["distill"])
    sec.update(student="student_a", width=4, crop=16, batch=2, iterations=1, log_every=1, val_every=99)
    spec = f"0.5*student:{onnx_path}+0.5*student:{tmp_path / 'big.safetensors'}"
    distill_student(imgs, sec, spec, tmp_path / "kd", quiet=True)
    man = json.loads((tmp_path / "kd" / "student.safetensors.manifest.json").read_text())
    assert [s["made_by"] for s in man["settings"]["label_sets"]] == [f"student:{onnx_path}"]  # the .safetensors ran on crops

    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(HushframeError, match="broken.onnx") as e:
        build_teacher(parse_teacher(f"student:{tmp_path / 'broken.onnx'}").terms[0]).check()
    assert len(str(e.value).splitlines()) == 1


def test_l2_loss_is_refused_for_the_atbsn_multi_teacher_loss(tmp_path):
    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.recipes import RecipeError
    from hushframe.toolkit.methods.atbsn import distill_student
    from hushframe.toolkit.weights import save_model

    t = save_model(create_model("atbsn", width=4, levels=2), tmp_path / "teacher.safetensors")
    sec = dict(load_recipe("quick-cpu")["distill"], student="student_a", width=4, loss="l2")
    with pytest.raises(RecipeError, match="paper's L1"):
        distill_student([np.zeros((32, 32, 3), np.uint8)], sec, str(t), tmp_path / "run", quiet=True)
