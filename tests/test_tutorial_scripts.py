"""Every tutorial script runs (quickly, with small sizes) and writes its picture."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "docs" / "tutorial" / "scripts"

# script name -> extra arguments that keep the run to a few seconds
FAST_ARGS = {
    "forward_vs_reverse.py": ["--sizes", "2", "8"],
    "draw_lecture_graphs.py": [],
    "optimizer_paths.py": ["--steps", "5"],
    "gradient_flow.py": ["--steps", "3"],
}


@pytest.mark.parametrize("name", sorted(p.name for p in SCRIPTS.glob("*.py")))
def test_script_runs(name: str, tmp_path: Path) -> None:
    assert name in FAST_ARGS, f"add fast arguments for {name} to FAST_ARGS"
    done = subprocess.run([sys.executable, str(SCRIPTS / name), *FAST_ARGS[name], "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    written = [p for p in tmp_path.iterdir() if p.suffix in (".png", ".svg", ".dot")]
    assert written, "the script wrote no picture"
    for p in written:
        head = p.read_bytes()[:64]
        if p.suffix == ".png":
            assert head[:8] == b"\x89PNG\r\n\x1a\n"
        elif p.suffix == ".svg":
            assert b"<svg" in p.read_bytes()
        else:
            assert head.startswith(b"digraph")
