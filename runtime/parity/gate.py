"""Step 3 of a parity check: a comparison and thresholds -> a verdict (passed, and why not).

    verdict = gate(cmp, ParityThresholds(max_drop=0.10, max_image_drop=0.30))
    verdict.passed, verdict.failures      # e.g. ["worst image grass: PSNR drop 0.412 dB > 0.3 dB"]

The gate bounds the mean drop and the worst image's drop (a mean hides the one broken frame a
user would see), optionally the SSIM drop and the PSNR between the two outputs. Thresholds that
need ground truth apply to pairs only; on video frames the outputs' PSNR has a default bar (40 dB).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .compare import Comparison

VIDEO_MIN_OUTPUT_PSNR = 40.0


@dataclass(frozen=True)
class ParityThresholds:
    max_drop: float | None = 0.10          # dB, mean PSNR(ref, gt) - PSNR(artifact, gt)
    max_image_drop: float | None = 0.30    # dB, the same drop on the worst single image
    max_ssim_drop: float | None = None
    min_output_psnr: float | None = None   # dB between the two outputs (video mode default 40)

    def for_mode(self, mode: str) -> "ParityThresholds":
        """The thresholds that apply to a comparison of this mode."""
        if mode == "pairs":
            return self
        return ParityThresholds(None, None, None,
                                VIDEO_MIN_OUTPUT_PSNR if self.min_output_psnr is None else self.min_output_psnr)


@dataclass
class Verdict:
    passed: bool
    failures: list = field(default_factory=list)
    thresholds: dict = field(default_factory=dict)   # those applied (None: not checked)


def gate(comparison: Comparison, thresholds: ParityThresholds | None = None) -> Verdict:
    th = (thresholds or ParityThresholds()).for_mode(comparison.mode)
    s = comparison.summary
    failures = []
    if th.max_drop is not None and s["psnr_drop"] > th.max_drop:
        failures.append(f"PSNR drop {s['psnr_drop']:.3f} dB > {th.max_drop} dB")
    if th.max_image_drop is not None and s["worst_image_drop"] > th.max_image_drop:
        failures.append(f"worst image {s['worst_image']}: PSNR drop {s['worst_image_drop']:.3f} dB "
                        f"> {th.max_image_drop} dB")
    if th.max_ssim_drop is not None and s["ssim_drop"] > th.max_ssim_drop:
        failures.append(f"SSIM drop {s['ssim_drop']:.4f} > {th.max_ssim_drop}")
    if th.min_output_psnr is not None and s["output_psnr"] < th.min_output_psnr:
        failures.append(f"PSNR between outputs {s['output_psnr']:.2f} dB < {th.min_output_psnr} dB")
    return Verdict(not failures, failures, asdict(th))
