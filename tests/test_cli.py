"""The main job: `chainrule train` runs offline on the bundled sample and learns."""

from __future__ import annotations

import subprocess
import sys

from chainrule.cli import main, train


def test_train_one_epoch_on_bundled_sample(capsys) -> None:
    assert main(["train", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "epoch 1: train loss" in out and "test accuracy" in out
    accuracy = float(out.split("test accuracy")[1].split("%")[0])
    assert accuracy > 90.0


def test_console_script_smoke(tmp_path) -> None:
    save = tmp_path / "ckpt.safetensors"
    done = subprocess.run([sys.executable, "-m", "chainrule.cli", "train", "--epochs", "1",
                           "--optimizer", "sgd", "--batch-size", "128", "--save", str(save)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "epoch 1:" in done.stdout and save.exists()


def test_train_returns_metrics() -> None:
    result = train(epochs=1, progress=False, out=open("/dev/null", "w"))
    assert set(result) == {"train_loss", "test_loss", "test_accuracy"}
    assert result["test_loss"] < 0.5
