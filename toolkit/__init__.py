"""hushframe.toolkit: models, data, losses, training, evaluation and the CLI.

Kept import-light on purpose: `hushframe --help` and the torch-free runtime import
from this package, so nothing here may import torch at module level.
"""

__version__ = "0.1.0"
