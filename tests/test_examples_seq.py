"""The sequence-model examples (char_lm.py, vit_mnist.py) run on both backends, with tiny
settings; the language model's loss falls."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

import char_lm  # noqa: E402
import vit_mnist  # noqa: E402

TINY_LM = ["--hidden", "16", "--embed", "8", "--bptt", "8", "--batch-size", "4",
           "--sample-len", "20", "--log-every", "1"]


@pytest.mark.parametrize("backend", ["chainrule", "torch"])
def test_char_lm_runs_and_samples(backend, capsys) -> None:
    loss, text = char_lm.main(["--backend", backend, "--steps", "3", *TINY_LM])
    assert math.isfinite(loss)
    assert text.startswith("PROSPERO.\n") and len(text) == len("PROSPERO.\n") + 20
    assert "sample (temperature 0.7)" in capsys.readouterr().out


def test_char_lm_loss_falls() -> None:
    vocab = len(char_lm.Vocab(char_lm.load_text()))
    loss, _ = char_lm.main(["--steps", "60", "--hidden", "32", "--embed", "16", "--bptt", "16",
                            "--batch-size", "8", "--sample-len", "1", "--log-every", "100"])
    assert loss < 0.85 * math.log(vocab)  # well below a uniform guess over the characters


def test_char_lm_batchify_keeps_the_stream_in_columns() -> None:
    import numpy as np

    cols = char_lm.batchify(np.arange(10), 3)
    assert cols.tolist() == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]


@pytest.mark.parametrize("backend", ["chainrule", "torch"])
def test_vit_mnist_runs(backend) -> None:
    acc = vit_mnist.main(["--backend", backend, "--epochs", "1", "--max-batches", "2",
                          "--dim", "16", "--depth", "1", "--heads", "2", "--mlp", "16",
                          "--batch-size", "32", "--warmup", "1"])
    assert 0.0 <= acc <= 1.0


def test_vit_patches_are_row_major_tiles() -> None:
    import numpy as np

    import chainrule

    model = vit_mnist.build(chainrule, dim=8, depth=1, heads=2, mlp=8)
    image = np.arange(28 * 28, dtype=np.float32).reshape(1, 1, 28, 28)
    x = chainrule.tensor(image).reshape(1, 4, 7, 4, 7).permute(0, 1, 3, 2, 4).reshape(1, 16, 49)
    assert x[0, 1].tolist() == image[0, 0, :7, 7:14].reshape(-1).tolist()
    assert tuple(model(chainrule.tensor(image)).shape) == (1, 10)
