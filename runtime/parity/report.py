"""Step 4 of a parity check: a comparison and its verdict -> the report (JSON, Markdown).

    res = report(cmp, verdict, seconds=12.3)
    print(res.to_markdown()); write_report(res, "parity.json", "parity.md")

``ParityResult`` is what ``run_parity`` returns and what ``hushframe parity --json`` writes: the
per-item rows (``images``), the summary, the thresholds applied, the failures and the verdict.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .compare import Comparison, worst_images
from .gate import Verdict


@dataclass
class ParityResult:
    artifact: str
    backend: str
    reference: str
    mode: str                               # "pairs" | "video"
    images: list = field(default_factory=list)   # per image dicts
    summary: dict = field(default_factory=dict)
    thresholds: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    passed: bool = True
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(_finite(self.to_dict()), indent=2) + "\n"

    def to_markdown(self) -> str:
        s = self.summary
        lines = [f"### Parity: `{Path(self.artifact).name}` ({self.backend}) vs `{Path(self.reference).name}`", ""]
        if self.mode == "pairs":
            lines += ["| what | PSNR (dB) | SSIM |", "| --- | --- | --- |",
                      f"| noisy input | {s['noisy_psnr']:.3f} | {s['noisy_ssim']:.4f} |",
                      f"| reference | {s['reference_psnr']:.3f} | {s['reference_ssim']:.4f} |",
                      f"| artifact | {s['artifact_psnr']:.3f} | {s['artifact_ssim']:.4f} |",
                      f"| drop (reference - artifact) | {s['psnr_drop']:.3f} | {s['ssim_drop']:.4f} |",
                      "", f"PSNR between the two outputs: {_fmt_db(s['output_psnr'])} "
                      f"(min {_fmt_db(s['output_psnr_min'])}), {s['count']} images. Per-image drop: worst "
                      f"{s['worst_image_drop']:.3f} dB, best {s['best_image_drop']:.3f} dB.",
                      "", "Worst images:", "", "| image | reference PSNR | artifact PSNR | drop (dB) | outputs PSNR |",
                      "| --- | --- | --- | --- | --- |"]
            for r in worst_images(self.images):
                lines.append(f"| {r['name']} | {r['reference_psnr']:.3f} | {r['artifact_psnr']:.3f} | "
                             f"{r['psnr_drop']:.3f} | {_fmt_db(r['output_psnr'])} |")
        else:
            lines += [f"PSNR between artifact and reference outputs over {s['count']} frames: mean "
                      f"{_fmt_db(s['output_psnr'])}, min {_fmt_db(s['output_psnr_min'])}."]
        th = ", ".join(f"{k} {v}" for k, v in self.thresholds.items() if v is not None) or "none"
        lines += ["", f"Thresholds: {th}. Result: **{'PASS' if self.passed else 'FAIL'}**"
                  + ("" if self.passed else " (" + "; ".join(self.failures) + ")")]
        return "\n".join(lines) + "\n"


def report(comparison: Comparison, verdict: Verdict, seconds: float = 0.0) -> ParityResult:
    return ParityResult(artifact=comparison.artifact.label, backend=comparison.artifact.backend,
                        reference=comparison.reference.describe(), mode=comparison.mode, images=comparison.rows,
                        summary=comparison.summary, thresholds=verdict.thresholds, failures=verdict.failures,
                        passed=verdict.passed, seconds=round(seconds, 2))


def write_report(result: ParityResult, json_path=None, markdown_path=None) -> None:
    """Each given path written atomically."""
    from hushframe.core.atomic import write_text_atomic

    if json_path is not None:
        write_text_atomic(json_path, result.to_json())
    if markdown_path is not None:
        write_text_atomic(markdown_path, result.to_markdown())


def _fmt_db(v):
    return "inf dB (identical)" if v is None or (isinstance(v, float) and math.isinf(v)) else f"{v:.2f} dB"


def _finite(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_finite(v) for v in o]
    return o
