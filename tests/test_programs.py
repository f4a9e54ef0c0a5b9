"""Published PyTorch programs run under chainrule: each program in tests/programs runs under
torch and under chainrule (``import torch`` resolving to chainrule), with short settings, and
its output passes a criterion that fits it: the same printed lines, the same numbers within a
tolerance (deterministic programs), or a loss/accuracy floor (the two frameworks' random
streams differ, so trained results are compared against floors, not against each other).

The programs' headers name their sources and every change; docs/compatibility.md lists them
(generated from PROGRAMS below by scripts/gen_compatibility.py).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAM_DIR = ROOT / "tests" / "programs"
RUNNER = PROGRAM_DIR / "_runner.py"
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _normalized(text: str) -> list[str]:
    """Output lines with chainrule's own names (``chainrule.Size``, ``chainrule.float32``)
    spelled as torch's, and without blank lines."""
    return [line.rstrip() for line in text.replace("chainrule.", "torch.").splitlines()
            if line.strip()]


def _numbers(line: str) -> list[float]:
    return [float(n) for n in _NUMBER.findall(line)]


def _lines_with(lines: list[str], pattern: str) -> list[str]:
    """The lines that ``pattern`` (a regular expression) matches at their start."""
    return [line for line in lines if re.match(pattern, line)]


# -- criteria: each takes (torch's lines, chainrule's lines) and asserts -------------------------


def same_lines(*, except_containing: tuple[str, ...] = ()) -> Callable:
    """Every printed line the same (up to the framework's name), except lines holding one of
    ``except_containing`` (known differences, listed in docs/compatibility.md)."""

    def check(theirs: list[str], ours: list[str]) -> None:
        keep = [lambda ls: [x for x in ls if not any(s in x for s in except_containing)]]
        assert keep[0](ours) == keep[0](theirs)

    return check


def same_numbers(rtol: float, atol: float) -> Callable:
    """The same lines with every number within ``atol + rtol * |torch's|`` (float32 sums in
    another order round differently)."""

    def check(theirs: list[str], ours: list[str]) -> None:
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert _NUMBER.sub("#", a) == _NUMBER.sub("#", b), (a, b)
            for x, y in zip(_numbers(a), _numbers(b)):
                assert abs(x - y) <= atol + rtol * abs(y), (a, b)

    return check


def cubic_fit(max_loss: float) -> Callable:
    """A fit of sin(x) by a cubic: the last printed loss below ``max_loss`` and the fitted
    x and x^3 coefficients near the least-squares ones (0.85, -0.092) in both runs."""

    def check(theirs: list[str], ours: list[str]) -> None:
        for lines in (theirs, ours):
            assert len(lines) == len(theirs)
            step, loss = _numbers(lines[-2])
            assert loss < max_loss, lines[-2]
            b = float(re.search(r"(\S+) x(?!\^)", lines[-1]).group(1))
            d = float(re.search(r"(\S+) x\^3", lines[-1]).group(1))
            assert 0.7 < b < 0.95 and -0.11 < d < -0.07, lines[-1]

    return check


def loss_decreases(prefix: str, factor: float = 1.0) -> Callable:
    """The last loss printed on lines that ``prefix`` (a regular expression) matches is below
    ``factor`` times the first, in both runs, and every one is finite."""

    def check(theirs: list[str], ours: list[str]) -> None:
        for lines in (theirs, ours):
            losses = [_numbers(line)[-1] for line in _lines_with(lines, prefix)]
            assert len(losses) >= 2 and all(math.isfinite(v) for v in losses), lines
            assert losses[-1] < factor * losses[0], losses

    return check


def accuracy_floor(prefix: str, floor: float, which: int = -1) -> Callable:
    """The accuracy (the number before '%', or the last number) on the ``which``-th of the
    lines that ``prefix`` (a regular expression) matches is at least ``floor`` in both runs,
    and both printed the same number of lines."""

    def check(theirs: list[str], ours: list[str]) -> None:
        assert len(ours) == len(theirs)
        for lines in (theirs, ours):
            last = _lines_with(lines, prefix)[which]
            pct = re.findall(r"([\d.]+)%", last)
            acc = float(pct[-1]) / 100 if pct else _numbers(last)[-1]
            assert acc >= floor, last

    return check


def all_of(*checks: Callable) -> Callable:
    def check(theirs: list[str], ours: list[str]) -> None:
        for c in checks:
            c(theirs, ours)

    return check


def regression_converges(theirs: list[str], ours: list[str]) -> None:
    """The smooth-L1 fit stops below 1e-3 and its coefficients are within 0.1 of the target
    polynomial's, in both runs (each draws its own target)."""
    for lines in (theirs, ours):
        assert _numbers(lines[0])[0] < 1e-3, lines[0]
        learned, actual = _numbers(lines[1].split("=")[1]), _numbers(lines[2].split("=")[1])
        learned = [v for i, v in enumerate(learned) if i not in (1, 3, 5, 7)]  # drop powers
        actual = [v for i, v in enumerate(actual) if i not in (1, 3, 5, 7)]
        assert all(abs(a - b) < 0.1 for a, b in zip(learned, actual)), lines


def forward_forward_learns(theirs: list[str], ours: list[str]) -> None:
    """Each layer's goodness loss decreases, and the errors are fractions in [0, 1]."""
    for lines in (theirs, ours):
        layers = "\n".join(lines).split("training layer:")[1:]
        assert len(layers) == 2
        for block in layers:
            losses = [_numbers(x)[-1] for x in block.splitlines() if x.startswith("Loss:")]
            assert losses[-1] < losses[0], losses
        for line in _lines_with(lines, "train error:") + _lines_with(lines, "test error:"):
            assert 0.0 <= _numbers(line)[-1] <= 1.0


@dataclass(frozen=True)
class Program:
    """A program in tests/programs, its short settings and its criterion."""

    name: str
    source: str
    args: tuple[str, ...]
    check: Callable
    criterion: str  # in words, for docs/compatibility.md
    env: dict[str, str] = field(default_factory=dict)


PROGRAMS = [
    Program("tensors", "pytorch/tutorials basics/tensorqs_tutorial.py", (), same_lines(),
            "identical printed output"),
    Program("autograd_basics", "pytorch/tutorials basics/autogradqs_tutorial.py", (),
            same_numbers(rtol=1e-5, atol=1e-6), "same printed numbers (rtol 1e-5)"),
    Program("polynomial_tensor", "pytorch/tutorials examples_tensor/polynomial_tensor.py",
            (), cubic_fit(15.0), "loss < 15 after 2000 steps, fitted cubic near sin"),
    Program("polynomial_autograd",
            "pytorch/tutorials examples_autograd/polynomial_autograd.py", (),
            cubic_fit(15.0), "loss < 15 after 2000 steps, fitted cubic near sin"),
    Program("polynomial_custom_function",
            "pytorch/tutorials examples_autograd/polynomial_custom_function.py", (),
            same_numbers(rtol=1e-4, atol=1e-6), "same printed numbers (rtol 1e-4)"),
    Program("polynomial_nn", "pytorch/tutorials examples_nn/polynomial_nn.py", (),
            cubic_fit(15.0), "loss < 15 after 2000 steps, fitted cubic near sin"),
    Program("polynomial_optim", "pytorch/tutorials examples_nn/polynomial_optim.py", (),
            cubic_fit(15.0), "loss < 15 after 2000 steps, fitted cubic near sin"),
    Program("polynomial_module", "pytorch/tutorials examples_nn/polynomial_module.py", (),
            cubic_fit(15.0), "loss < 15 after 2000 steps, fitted cubic near sin"),
    Program("dynamic_net", "pytorch/tutorials examples_nn/dynamic_net.py",
            ("--steps", "2000"), loss_decreases(r"\d+ ", 0.5),
            "2000 steps: last loss below half the first"),
    Program("neural_networks", "pytorch/tutorials blitz/neural_networks_tutorial.py", (),
            same_lines(except_containing=("Backward0", "AccumulateGrad")),
            "identical printed output, except the nodes behind the loss"),
    Program("nn_tutorial", "pytorch/tutorials nn_tutorial.py (What is torch.nn really?)",
            ("--n-train", "2000", "--n-valid", "500", "--epochs", "1"),
            accuracy_floor(r"0 \d", 0.7, which=0),
            "2000 images, 1 epoch: logistic model's validation accuracy >= 70%"),
    Program("quickstart", "pytorch/tutorials basics/quickstart_tutorial.py",
            ("--epochs", "2", "--lr", "0.1"), accuracy_floor(r"\s*Accuracy", 0.5),
            "2000 images, 2 epochs: test accuracy >= 50%", {"PROGRAM_SUBSET": "2000"}),
    Program("optimization", "pytorch/tutorials basics/optimization_tutorial.py",
            ("--epochs", "2", "--lr", "0.1"), accuracy_floor(r"\s*Accuracy", 0.5),
            "2000 images, 2 epochs: test accuracy >= 50%", {"PROGRAM_SUBSET": "2000"}),
    Program("mnist_cnn", "pytorch/examples mnist/main.py",
            ("--epochs", "1", "--batch-size", "32", "--test-batch-size", "256",
             "--log-interval", "4"),
            all_of(accuracy_floor("Test set", 0.3), loss_decreases("Train Epoch")),
            "256 images, 8 steps: test accuracy >= 30%, train loss falls",
            {"PROGRAM_SUBSET": "256"}),
    Program("regression", "pytorch/examples regression/main.py", (), regression_converges,
            "loss < 1e-3, coefficients within 0.1 of the target's"),
    Program("vae", "pytorch/examples vae/main.py",
            ("--epochs", "2", "--batch-size", "64", "--log-interval", "4"),
            loss_decreases("====> Test set loss", 0.85),
            "512 images, 2 epochs: test loss falls by 15%", {"PROGRAM_SUBSET": "512"}),
    Program("forward_forward", "pytorch/examples mnist_forward_forward/main.py",
            ("--epochs", "30", "--log-interval", "10", "--train_size", "300",
             "--test_size", "300"),
            forward_forward_learns, "300 images, 30 epochs per layer: each layer's loss falls",
            {"PROGRAM_SUBSET": "300"}),
]


def run_program(program: Program, framework: str, cwd: Path) -> list[str]:
    """The program's printed lines under ``framework`` ('torch' or 'chainrule')."""
    env = {**os.environ, **program.env}
    proc = subprocess.run(
        [sys.executable, str(RUNNER), framework, str(PROGRAM_DIR / f"{program.name}.py"),
         *program.args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{program.name} under {framework}:\n{proc.stderr[-3000:]}"
    return _normalized(proc.stdout)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_program_runs_under_both(program: Program, tmp_path: Path) -> None:
    theirs = run_program(program, "torch", tmp_path)
    ours = run_program(program, "chainrule", tmp_path)
    program.check(theirs, ours)


def test_every_program_is_listed_and_names_its_source() -> None:
    files = {p.stem for p in PROGRAM_DIR.glob("*.py")
             if not p.name.startswith("_") and p.name != "conftest.py"}
    assert files == {p.name for p in PROGRAMS}
    for p in PROGRAMS:
        head = (PROGRAM_DIR / f"{p.name}.py").read_text().split('"""')[0]
        head = " ".join(line.lstrip("# ").strip() for line in head.splitlines())
        assert head.startswith("Source: pytorch/"), p.name
        assert "License: BSD-3-Clause" in head and "Changes from the published" in head, p.name


def test_runner_resolves_torch_submodules_to_chainrule(tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text("import torch, torch.nn.functional as F\n"
                      "from torch.utils.data import DataLoader\n"
                      "from torch.optim.lr_scheduler import StepLR\n"
                      "import torchvision\n"
                      "print(torch.__name__, F.__name__, DataLoader.__module__, "
                      "StepLR.__module__, torchvision.uses_chainrule())\n")
    out = subprocess.run([sys.executable, str(RUNNER), "chainrule", str(script)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    names = out.stdout.split()
    assert names[0] == "chainrule" and names[1] == "chainrule.nn.functional"
    assert names[2].startswith("chainrule.utils.data") and names[3].startswith("chainrule.optim")
    assert names[4] == "True"
