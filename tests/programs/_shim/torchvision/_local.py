"""Where the MNIST files are, and the subset size."""

from __future__ import annotations

import os

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(_HERE))))


def mnist_dir() -> str:
    """``$MNIST_DIR``, else ``../shared/data/mnist`` beside the checkout, else the sample that
    chainrule ships (chainrule/_data/mnist)."""
    for path in (os.environ.get("MNIST_DIR"), os.path.join(_ROOT, "..", "shared", "data", "mnist"),
                 os.path.join(_ROOT, "chainrule", "_data", "mnist")):
        if path and os.path.isfile(os.path.join(path, "t10k-labels-idx1-ubyte.gz")):
            return os.path.abspath(path)
    raise RuntimeError("no local MNIST files found (set MNIST_DIR)")


def subset() -> int | None:
    n = os.environ.get("PROGRAM_SUBSET")
    return int(n) if n else None
