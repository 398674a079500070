"""hushframe.core: the floor every other package stands on.

Errors meant for the user, atomic writes, manifests and the artifact contract (tensor names,
size multiple, pad/crop, file extensions, sizes, engine precision and TensorRT manifest
checks); image readers/writers (images.py), paired sets (pairs.py), PSNR/SSIM (metrics.py),
the progress display (progress.py) and the hook through which the toolkit provides torch
networks to export/ and runtime/ (models.py). At import time only the standard library and
numpy; Pillow, rich, tifffile and scipy inside the functions that need them; never torch or an
engine. Nothing from toolkit/, export/ or runtime/: they import it, the CLI (toolkit/cli) sits
on top of all of them (tests/test_layout.py checks it).
"""

__version__ = "0.1.0"
