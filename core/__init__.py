"""hushframe.core: the floor every other package stands on.

Errors meant for the user, atomic writes, manifests and the artifact contract (tensor names,
size multiple, pad/crop, file extensions, sizes, engine precision and TensorRT manifest
checks). It imports only the standard library and numpy, and nothing from toolkit/, export/
or runtime/: they import it, the CLI (toolkit/cli) sits on top of all of them.
"""

__version__ = "0.1.0"
