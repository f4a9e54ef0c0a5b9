"""DESIGN.md section 2: each layer imports only from the layers before it.

Every module of the package belongs to a unit (a subpackage or a top-level module); RANK gives
each unit its layer. A module may import from its own layer or an earlier one, never a later
one. A new unit must be given a rank here, which is where its place in the stack is decided.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "chainrule"

# Layers, bottom to top. Tensor and ops share a layer: Tensor's methods are one-line calls
# into ops, and ops build Tensors (the sanctioned cycle of DESIGN.md section 2).
RANK = {
    "_backend": 0,
    "autograd": 1,
    "_tensor_str": 2, "tensor": 2, "ops": 2,
    "creation": 3, "func": 3, "distributed": 3,
    "nn": 4, "optim": 4, "utils": 4,
    "vision": 5, "serialization": 5, "testing": 5, "cuda": 5, "accelerator": 5, "backends": 5,
    "viz": 6, "toy": 6,
    "jit": 7,
    "onnx": 8, "train": 8,
    "config": 9,
    "search": 10,
    "cli": 11,
    "__init__": 99, "__main__": 99,
}


def _unit(module: str) -> str:
    """'chainrule.nn.modules.linear' -> 'nn'; 'chainrule' itself -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import of a chainrule module in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "chainrule":
                found += [(node.lineno, f"chainrule.{a.name}") for a in node.names]
            elif node.module.startswith("chainrule."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names
                      if a.name.startswith("chainrule.")]
    return found


def _source_units() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        out.append((path, rel.parts[0] if len(rel.parts) > 1 else rel.parts[0]))
    return out


def test_every_unit_has_a_layer() -> None:
    units = {unit for _, unit in _source_units()}
    assert not units - set(RANK), f"give these modules a layer in RANK: {units - set(RANK)}"


@pytest.mark.parametrize("path,unit", _source_units(),
                         ids=lambda v: str(v.relative_to(PACKAGE)) if isinstance(v, Path) else "")
def test_no_import_from_a_later_layer(path: Path, unit: str) -> None:
    bad = []
    for line, module in _imports(path):
        target = _unit(module)
        if target in RANK and RANK[target] > RANK.get(unit, 99):
            bad.append(f"line {line}: {unit} (layer {RANK[unit]}) imports {module} "
                       f"(layer {RANK[target]})")
    assert not bad, "\n".join(bad)
