"""Generate docs/compatibility.md: which of torch's names chainrule has, which arguments it
does not take, its primitive ops, and the published programs that run under it.

    python scripts/gen_compatibility.py           # write docs/compatibility.md
    python scripts/gen_compatibility.py --check   # exit 1 if the committed page is stale

It compares against the installed torch (a test dependency, so CI has it) and reads the
program list from tests/test_programs.py. Run it in its own process: what ``dir(torch)``
shows depends on which torch submodules were imported before, so the script imports the
same ones every time and lists ``torch.__all__`` where torch has one.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's chainrule

import torch  # noqa: E402
import torch.nn  # noqa: E402, F401
import torch.nn.functional  # noqa: E402, F401
import torch.nn.init  # noqa: E402, F401
import torch.optim  # noqa: E402, F401
import torch.optim.lr_scheduler  # noqa: E402, F401
import torch.utils.data  # noqa: E402, F401

import chainrule  # noqa: E402
from chainrule.autograd.op import OPS  # noqa: E402

OUT = ROOT / "docs" / "compatibility.md"

# (torch module, chainrule module, heading); the Tensor class is handled on its own
NAMESPACES = [
    ("torch", "chainrule", "torch"),
    ("torch.nn", "chainrule.nn", "torch.nn"),
    ("torch.nn.functional", "chainrule.nn.functional", "torch.nn.functional"),
    ("torch.nn.init", "chainrule.nn.init", "torch.nn.init"),
    ("torch.optim", "chainrule.optim", "torch.optim"),
    ("torch.optim.lr_scheduler", "chainrule.optim.lr_scheduler", "torch.optim.lr_scheduler"),
    ("torch.utils.data", "chainrule.utils.data", "torch.utils.data"),
    ("torch.autograd", "chainrule.autograd", "torch.autograd"),
]

# Differences on purpose or known, stated once (the tests hold the details).
KNOWN_DIFFERENCES = [
    "Random streams: chainrule draws with NumPy's PCG64, torch with its own Mersenne Twister; "
    "the same seed gives repeatable but different numbers, so seeded programs train to "
    "comparable, not identical, results.",
    "`torch.save(model)` of a whole module (pickle) is refused: chainrule stores tensors and "
    "plain containers in safetensors and never loads pickle; save `model.state_dict()`.",
    "Composite losses (mse_loss, smooth_l1_loss, huber_loss, binary_cross_entropy_with_logits, "
    "soft_margin_loss) carry torch's grad_fn name, but the nodes behind it are the "
    "composite's own (`loss.grad_fn.next_functions` differs from torch's).",
    "Printed shapes and dtypes say `chainrule.Size([...])` and `chainrule.float32`.",
    "An index with more than one Ellipsis raises IndexError (NumPy's rule); torch accepts "
    "some such keys.",
    "Only the CPU exists: `torch.cuda.is_available()`, `torch.accelerator.is_available()` and "
    "`torch.backends.mps.is_available()` are False, so device-agnostic programs run on the "
    "CPU; asking for `'cuda'` explicitly raises as torch without CUDA does.",
]

INDEX_FORMS = [
    "ints (negative too), slices with positive steps (a negative step raises torch's "
    "`ValueError: step must be greater than zero`), `None`, `...`",
    "Python `range`, lists and tuples of ints (nested: one index of that shape), lists of "
    "floats (truncated to long, as torch)",
    "integer tensors and NumPy arrays of any dimension, 0-d integer tensors as ints",
    "bool lists, bool tensors of any dimension (also 0-d), uint8 masks",
    "tuples mixing all of the above; advanced indices separated by a slice or `None` put "
    "their result dimensions first (torch's and NumPy's rule); ints are applied first, as "
    "torch does",
    "a non-tuple list holding sequences, slices, tensors, `None` or `...` (and shorter than "
    "32) indexes like a tuple, with torch's deprecation warning",
    "reading (`x[key]`), writing (`x[key] = value`, value broadcast and cast), "
    "`index_put_`/`index_put` with `accumulate`, and gradients of all of them; out-of-range "
    "indices raise torch's `IndexError` text",
]


def _public(module: types.ModuleType) -> list[str]:
    """torch's public names in ``module``: ``__all__`` where it exists, else the
    non-underscore attributes that are torch's own (no submodules, no typing helpers)."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = []
        for n in dir(module):
            obj = getattr(module, n)
            if n.startswith("_") or isinstance(obj, types.ModuleType):
                continue
            owner = getattr(obj, "__module__", None) or ""
            if owner and not owner.startswith("torch"):
                continue
            names.append(n)
    return sorted(set(names))


def _signature(obj: object) -> inspect.Signature | None:
    try:
        target = obj.__init__ if inspect.isclass(obj) else obj  # type: ignore[misc]
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


_COMPARED = {"read": 0, "unreadable": 0}


def _missing_args(theirs: object, ours: object) -> list[str] | None:
    """torch's parameter names that chainrule's callable lacks; None when either signature
    cannot be read (C functions) or chainrule takes ``**kwargs``."""
    ts, cs = _signature(theirs), _signature(ours)
    if ts is None or cs is None:
        _COMPARED["unreadable"] += 1
        return None
    _COMPARED["read"] += 1
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in cs.parameters.values()):
        return []
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    have = set(cs.parameters)
    return [n for n, p in ts.parameters.items()
            if p.kind not in skip and n not in have and n != "self"]


def _programs() -> list:
    spec = importlib.util.spec_from_file_location("_test_programs",
                                                  ROOT / "tests" / "test_programs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.PROGRAMS


def _wrap(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else "none"


def generate() -> str:
    lines = [
        "# Compatibility with PyTorch",
        "",
        "<!-- generated by scripts/gen_compatibility.py; do not edit by hand: "
        "tests/test_gen_compatibility.py fails when this page is stale -->",
        "",
        f"What `import chainrule as torch` finds, compared with torch {torch.__version__} "
        "(the version the tests use as their oracle). A name counts as present when chainrule "
        "has it under the same path; its behaviour is tested against torch in tests/.",
        "",
        "## Programs that run",
        "",
        "Each program in `tests/programs/` was written after a published PyTorch program "
        "(named in its header, with every change) and runs under torch and under chainrule "
        "in `tests/test_programs.py`, with short settings and the criterion below. "
        "`python tests/programs/_runner.py chainrule PROGRAM.py [args]` runs any PyTorch "
        "program that way (`import torch` resolves to chainrule; `torchvision`'s MNIST and "
        "FashionMNIST read local files).",
        "",
        "| program | after | settings | criterion |",
        "| --- | --- | --- | --- |",
    ]
    for p in _programs():
        env = " ".join(f"{k}={v}" for k, v in p.env.items())
        settings = " ".join(filter(None, [env, " ".join(p.args)])) or "as published"
        lines.append(f"| `{p.name}` | {p.source} | `{settings}` | {p.criterion} |")

    lines += ["", "## Names", "",
              "| namespace | torch's public names | in chainrule | share |",
              "| --- | ---: | ---: | ---: |"]
    sections = []
    arg_rows = []
    for torch_name, ours_name, heading in NAMESPACES:
        theirs_mod = importlib.import_module(torch_name)
        ours_mod = importlib.import_module(ours_name)
        names = _public(theirs_mod)
        present = [n for n in names if hasattr(ours_mod, n)]
        missing = [n for n in names if not hasattr(ours_mod, n)]
        lines.append(f"| `{heading}` | {len(names)} | {len(present)} | "
                     f"{100 * len(present) / max(len(names), 1):.0f}% |")
        sections += [f"### `{heading}`", "", f"Present ({len(present)}): {_wrap(present)}", "",
                     f"Missing ({len(missing)}): {_wrap(missing)}", ""]
        for n in present:
            gap = _missing_args(getattr(theirs_mod, n), getattr(ours_mod, n))
            if gap:
                arg_rows.append(f"| `{heading}.{n}` | {_wrap(gap)} |")
    methods = sorted(n for n in dir(torch.Tensor) if not n.startswith("_"))
    have = [n for n in methods if hasattr(chainrule.Tensor, n)]
    lacking = [n for n in methods if not hasattr(chainrule.Tensor, n)]
    lines.append(f"| `Tensor` methods and attributes | {len(methods)} | {len(have)} | "
                 f"{100 * len(have) / len(methods):.0f}% |")
    sections += ["### `Tensor` methods and attributes", "", f"Present ({len(have)}): "
                 f"{_wrap(have)}", "", f"Missing ({len(lacking)}): {_wrap(lacking)}", ""]
    for n in have:
        gap = _missing_args(getattr(torch.Tensor, n), getattr(chainrule.Tensor, n))
        if gap:
            arg_rows.append(f"| `Tensor.{n}` | {_wrap(gap)} |")

    lines += ["", *sections,
              "## Arguments chainrule does not take", "",
              "Where both signatures can be read (torch's C functions and most Tensor methods "
              "have none), the parameters of torch's callable (or class constructor) that "
              f"chainrule's lacks. Passing one raises TypeError. Compared: "
              f"{_COMPARED['read']} signatures; {_COMPARED['unreadable']} names have no "
              "readable signature on one side.", "",
              "| name | torch's parameters missing here |", "| --- | --- |", *arg_rows, "",
              "## Indexing", "", "Every form below is tested against torch (values, gradients "
              "with a random cotangent, assignment) in `tests/ops/test_indexing.py`:", ""]
    lines += [f"- {f}" for f in INDEX_FORMS]
    lines += ["", "## Primitive ops", "",
              f"chainrule differentiates {len(OPS)} primitives (each with forward, vjp and "
              "jvp, registered in `chainrule.autograd.op.OPS`); everything else is composed "
              "from them. By family:", ""]
    families: dict[str, list[str]] = {}
    for name, op in OPS.items():
        families.setdefault(op.__module__.rsplit(".", 1)[-1], []).append(name)
    for family in sorted(families):
        lines.append(f"- `{family}`: {_wrap(sorted(families[family]))}")
    lines += ["", "## Known differences", ""]
    lines += [f"- {d}" for d in KNOWN_DIFFERENCES]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed page instead of writing it")
    args = parser.parse_args()
    text = generate()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is stale: run python scripts/gen_compatibility.py")
            return 1
        print(f"{OUT.relative_to(ROOT)} is up to date")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
