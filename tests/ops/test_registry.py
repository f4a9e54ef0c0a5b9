"""Every registered primitive has at least one OpSpec (DESIGN.md section 8)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import chainrule  # noqa: F401  (imports every op module, filling OPS)
import chainrule.nn  # noqa: F401
from chainrule.autograd.op import OPS


def _all_specs() -> list:
    specs = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        if path.name == "test_registry.py":
            continue
        spec = importlib.util.spec_from_file_location(f"_specs_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        specs.extend(getattr(module, "SPECS", []))
    return specs


def test_every_op_has_a_spec() -> None:
    covered = set()
    for spec in _all_specs():
        covered.add(spec.name)
        covered.update(spec.covers)
    missing = set(OPS) - covered
    assert not missing, f"primitives without an OpSpec: {sorted(missing)}"
