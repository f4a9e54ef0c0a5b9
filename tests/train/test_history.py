"""History: per-epoch dicts, best(), plots."""

from __future__ import annotations

import math

import pytest

from chainrule.train import History
from chainrule.train.history import mode_for


def test_best_picks_min_for_losses_and_max_otherwise() -> None:
    h = History([{"epoch": 1, "val_loss": 0.5, "val_accuracy": 0.8},
                 {"epoch": 2, "val_loss": 0.3, "val_accuracy": 0.9},
                 {"epoch": 3, "val_loss": math.nan, "val_accuracy": 0.9}])
    assert h.best("val_loss")["epoch"] == 2
    assert h.best("val_accuracy")["epoch"] == 2  # ties go to the earlier epoch
    assert h.best("val_loss", mode="max")["epoch"] == 1
    assert h["val_accuracy"] == [0.8, 0.9, 0.9] and h[-1]["epoch"] == 3
    assert h.keys() == ["epoch", "val_loss", "val_accuracy"]
    with pytest.raises(KeyError, match="no metric 'acc'"):
        h.best("acc")
    with pytest.raises(ValueError, match="mode must be"):
        h.best("val_loss", mode="lowest")


def test_mode_for_names() -> None:
    assert [mode_for(n) for n in ("loss", "val_mae", "elapsed_time", "top5_accuracy")] == \
        ["min", "min", "min", "max"]


def test_plot_writes_a_png(tmp_path) -> None:
    h = History([{"epoch": i, "loss": 1 / i, "val_loss": 1.1 / i, "accuracy": 1 - 1 / (i + 1)}
                 for i in range(1, 4)])
    path = h.plot(tmp_path / "h.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
