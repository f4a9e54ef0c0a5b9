"""The examples run and their claims hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

import resnet_gradients  # noqa: E402


def test_skip_connections_keep_gradients_alive() -> None:
    plain = resnet_gradients.first_layer_grad_norm(30, skip=False)
    residual = resnet_gradients.first_layer_grad_norm(30, skip=True)
    assert plain < 1e-8 < 1e-2 < residual


def test_small_resnet_forward_shape() -> None:
    import chainrule

    out = resnet_gradients.SmallResNet()(chainrule.randn(2, 1, 28, 28))
    assert tuple(out.shape) == (2, 10)


def test_resnet_example_script_runs() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLES / "resnet_gradients.py"), "--quick",
                           "--depth", "20"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "with skip connections" in done.stdout


def test_regression_example_loss_falls() -> None:
    import fit_regression

    assert fit_regression.main(steps=100) < 0.1
