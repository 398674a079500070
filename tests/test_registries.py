"""A new teacher kind or backend is one registration in one file: the spec grammar, build_teacher,
the CLI's help, RunOptions and ``auto`` read the registries (issue 27 item 14)."""

from __future__ import annotations

import numpy as np
import pytest

from hushframe.runtime import testing as T


def _help(app, command: str, option: str) -> str:
    import typer

    cmd = typer.main.get_command(app)
    sub = cmd.commands[command] if hasattr(cmd, "commands") else cmd
    return next(p.help for p in sub.params if p.name == option)


# ------------------------------------------------------------------ teacher kinds
class _Box:
    """A 3x3 box filter as a frame teacher (what a new kind's runner looks like)."""

    def __init__(self, arg):
        self.spec = f"box:{arg}"

    def check(self):
        pass

    def label_image(self, img):
        p = np.pad(img.astype(np.float32), ((1, 1), (1, 1), (0, 0)), mode="edge")
        out = sum(p[i:i + img.shape[0], j:j + img.shape[1]] for i in range(3) for j in range(3)) / 9
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@pytest.fixture
def box_kind():
    from hushframe.toolkit.teachers import kinds
    from hushframe.toolkit.teachers.kinds import TeacherKind, register_teacher_kind

    kinds.load_kinds()
    register_teacher_kind(TeacherKind("box", usage="box:SIZE", summary="a box filter", arg="size", on_frames=True,
                                      build=lambda term, **_: _Box(term.arg), order=45))
    yield
    del kinds._KINDS["box"]


def test_a_registered_teacher_kind_is_parsed_built_and_listed(box_kind):
    from hushframe.toolkit.teachers import build_teacher, kinds_usage, parse_teacher
    from hushframe.toolkit.teachers.spec import TeacherSpecError

    spec = parse_teacher("0.5*box:3+0.5*ffmpeg:nlmeans=s=3")          # the '+' splits before the new kind too
    assert [(t.kind, t.arg) for t in spec.terms] == [("box", "3"), ("ffmpeg", "nlmeans=s=3")]
    assert spec.terms[0].on_frames and spec.terms[0].runs and not spec.terms[0].on_crops
    img = np.full((8, 8, 3), 100, np.uint8)
    assert np.array_equal(build_teacher(spec.terms[0]).label_image(img), img)
    assert "box:SIZE" in kinds_usage()
    with pytest.raises(TeacherSpecError, match=r"'box:' needs a size"):
        parse_teacher("box:")
    with pytest.raises(TeacherSpecError, match="expected atbsn:PATH, student:PATH, ffmpeg:FILTERGRAPH, bm3d"):
        parse_teacher("gauss:3")


def test_teacher_help_is_generated_from_the_kinds():
    from hushframe.toolkit.cli import label_cmd, train_cmds
    from hushframe.toolkit.teachers import load_kinds

    kinds = load_kinds()
    assert list(kinds) == ["atbsn", "student", "ffmpeg", "bm3d", "labels"]
    distill_help = _help(train_cmds.app, "distill", "teacher")
    import typer

    app = typer.Typer()
    label_cmd.register(app)
    label_help = _help(app, "label", "teacher")
    for k in kinds.values():
        assert k.usage in distill_help and k.usage in label_help, k.usage


def test_every_built_in_kind_registers_in_its_own_module():
    from hushframe.toolkit.teachers import load_kinds

    where = {k.name: k.build.__module__ if k.build else k.validate.__module__ for k in load_kinds().values()}
    assert where == {"atbsn": "hushframe.toolkit.teachers.network", "student": "hushframe.toolkit.teachers.network",
                     "ffmpeg": "hushframe.toolkit.teachers.frame", "bm3d": "hushframe.toolkit.teachers.frame",
                     "labels": "hushframe.toolkit.teachers.labels"}


# ------------------------------------------------------------------ backends
def test_each_backend_module_registers_itself():
    from hushframe.runtime.backends import aliases, auto_order, backend_help, list_backends

    assert list_backends() == ["onnxruntime", "openvino", "tensorrt", "torch"]
    assert aliases() == {"ort": "onnxruntime", "onnx": "onnxruntime", "ov": "openvino", "trt": "tensorrt",
                         "pytorch": "torch"}
    assert auto_order() == {"onnx": ["onnxruntime"], "openvino": ["openvino"], "tensorrt": ["tensorrt"],
                            "torch": ["torch"]}
    assert backend_help().startswith("auto (the artifact's own runtime: .onnx -> onnxruntime, .xml -> openvino, "
                                     ".engine/.plan -> tensorrt, .safetensors -> torch) | onnxruntime")


def test_a_registered_backend_is_usable_by_name_alias_and_in_help(tmp_path):
    from hushframe.runtime import cli
    from hushframe.runtime.backends import backend_class, backend_help, base, register_backend
    from hushframe.runtime.backends.onnxruntime import ONNXRuntimeBackend
    from hushframe.runtime.options import RunOptions, RunOptionsError

    class Copy(ONNXRuntimeBackend):
        name = "ort-copy"
        aliases = ("ortc",)
        auto_for = ()

    with pytest.raises(RunOptionsError):
        RunOptions(backend="ortc")
    register_backend(Copy)
    try:
        assert backend_class("ortc") is Copy and "| ort-copy" in backend_help()
        onnx = T.export_onnx(T.tiny_student(width=4), tmp_path / "t.onnx")
        with RunOptions(backend="ortc", threads=1).open(onnx) as be:
            assert be.info.backend == "ort-copy"
    finally:
        del base._REGISTRY["ort-copy"]
    # the CLI's help is the registry's (computed when the CLI is imported)
    for name in ("onnxruntime", "openvino", "tensorrt", "torch"):
        assert name in _help(cli.app, "stream", "backend") and name in _help(cli.app, "bench", "backend")
