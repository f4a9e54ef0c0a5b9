"""examples/vanishing_gradients.py backs the lectures' claims with numbers."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "vanishing_gradients.py"


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    spec = importlib.util.spec_from_file_location("vanishing_gradients", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {r["variant"]: r for r in module.main(["--quick"])}


def test_sigmoid_first_layer_gradient_vanishes(results: dict[str, dict]) -> None:
    sig = results["sigmoid"]["first_grad"]
    assert sig < 1e-10
    for fix in ("relu+kaiming", "sigmoid+batchnorm", "sigmoid+residual"):
        # twenty layers of sigma' <= 1/4 cost the sigmoid net many orders of magnitude
        assert results[fix]["first_grad"] > 1e-3
        assert results[fix]["first_grad"] > 1e8 * sig


def test_gradient_stats_flags(results: dict[str, dict]) -> None:
    assert results["sigmoid"]["flags"].get("vanishing", 0) > 0
    for fix in ("relu+kaiming", "sigmoid+batchnorm", "sigmoid+residual"):
        assert results[fix]["flags"].get("vanishing", 0) == 0
        assert results[fix]["flags"].get("exploding", 0) == 0


def test_only_the_fixed_networks_learn(results: dict[str, dict]) -> None:
    sig = results["sigmoid"]
    assert sig["loss0"] - sig["loss"] < 0.1
    for fix in ("relu+kaiming", "sigmoid+batchnorm", "sigmoid+residual"):
        assert results[fix]["loss"] < results[fix]["loss0"] - 0.3


def test_script_runs_from_the_command_line() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE), "--quick", "--depth", "6"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("6-layer MLPs")
    assert [ln.split()[0] for ln in lines[2:]] == ["sigmoid", "relu+kaiming",
                                                   "sigmoid+batchnorm", "sigmoid+residual"]
