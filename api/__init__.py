"""hushframe: self-supervised denoising for real cameras and video.

The Python API (README "Python API"):

    from hushframe import Denoiser

    with Denoiser("student-int8.xml", backend="auto") as d:
        clean = d(frame)                 # uint8 H x W x 3 RGB in and out, as `hushframe stream`

The packages under it: ``hushframe.core`` (the floor), ``hushframe.toolkit`` (training, the CLI),
``hushframe.export``, ``hushframe.runtime`` (torch-free). This file is imported before any of them
(``import hushframe.core`` runs it first), so it imports nothing itself: ``Denoiser`` loads on first use.
"""

__version__ = "0.1.0"   # tests/test_api.py checks it against the installed distribution and `hushframe --version`
__all__ = ["Denoiser", "FrameError", "__version__"]


def __getattr__(name):
    if name in ("Denoiser", "FrameError"):
        from hushframe.runtime import denoiser

        return getattr(denoiser, name)
    raise AttributeError(f"module 'hushframe' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
