"""docs/compatibility.md is what scripts/gen_compatibility.py generates now: regenerate it (in
its own process, as CI does) and fail when the committed page is stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_compatibility_page_is_up_to_date() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_compatibility.py"),
                          "--check"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_page_lists_every_program_and_the_namespaces() -> None:
    text = (ROOT / "docs" / "compatibility.md").read_text()
    programs = sorted(p.stem for p in (ROOT / "tests" / "programs").glob("*.py")
                      if not p.name.startswith("_") and p.name != "conftest.py")
    assert len(programs) >= 12
    for name in programs:
        assert f"| `{name}` |" in text, name
    for heading in ("`torch.nn.functional`", "`torch.optim`", "`torch.utils.data`",
                    "`Tensor` methods and attributes", "## Arguments chainrule does not take"):
        assert heading in text
