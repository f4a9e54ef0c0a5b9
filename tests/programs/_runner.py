"""Run a PyTorch program under ``torch`` or under chainrule, unchanged.

    python tests/programs/_runner.py chainrule path/to/program.py [program args...]
    python tests/programs/_runner.py torch path/to/program.py [program args...]

For the chainrule run, ``import torch`` (and ``import torch.nn.functional as F``, ``from
torch.utils.data import DataLoader``, ...) imports chainrule: ``sys.modules['torch']`` is
chainrule and every ``torch.<sub>`` resolves to ``chainrule.<sub>``. Neither run downloads
anything: ``torchvision`` is a small stand-in (``tests/programs/_shim/torchvision``) whose MNIST
and FashionMNIST read the local MNIST files, in both runs alike. The environment variable
``PROGRAM_SUBSET`` (an int) keeps only the first N images of each split. Both runs start from
``manual_seed(PROGRAM_SEED)`` (default 0), so a program that seeds nothing still gives the same
numbers on every run of the tests (the two frameworks' random streams differ, so not the same
numbers as each other).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class _TorchAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``torch`` and ``torch.<sub>`` to ``chainrule`` and ``chainrule.<sub>``."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001, ANN201
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        target_name = "chainrule" + fullname[len("torch"):]
        if importlib.util.find_spec(target_name) is None:
            return None  # torch.<sub> that chainrule does not have: ModuleNotFoundError
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):  # noqa: ANN001, ANN201
        return importlib.import_module("chainrule" + spec.name[len("torch"):])

    def exec_module(self, module) -> None:  # noqa: ANN001
        pass  # already executed as chainrule.<sub>


def main() -> None:
    framework, program, *args = sys.argv[1:]
    if framework == "chainrule":
        sys.path.insert(0, ROOT)  # this checkout's chainrule, not an installed one
        import chainrule

        sys.modules["torch"] = chainrule
        sys.meta_path.insert(0, _TorchAlias())
    elif framework != "torch":
        raise SystemExit(f"framework must be 'torch' or 'chainrule', not {framework!r}")
    sys.path.insert(0, os.path.join(HERE, "_shim"))
    importlib.import_module("torch").manual_seed(int(os.environ.get("PROGRAM_SEED", "0")))
    sys.argv = [program, *args]
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
