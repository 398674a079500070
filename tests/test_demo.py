"""`hushframe demo` end to end (few training steps): every stage runs and prints its figures."""

import json

from conftest import run_cli


def test_demo_runs_the_whole_chain(tmp_path):
    out = tmp_path / "demo"
    r = run_cli("demo", "-o", out, "--teacher-steps", "2", "--distill-steps", "2")
    text = r.stdout
    for what in ("noisy input", "teacher (k_b = 1)", "student C", "PASS", "demo finished"):
        assert what in text, what
    for f in ("run/teacher.safetensors", "run/student.safetensors", "student.onnx", "openvino/student.xml",
              "denoised.mp4", "parity.json", "strip.png"):
        assert (out / f).exists(), f
    parity = json.loads((out / "parity.json").read_text())
    assert parity["passed"] is True
    # The shipped weights already denoise: the student beats the noisy input on held-out pairs.
    s = parity["summary"]
    assert s["reference_psnr"] > s["noisy_psnr"] + 2.0
