"""Metrics against plain NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule.train.metrics import accuracy, mae, mse, resolve_metrics, topk_accuracy


def test_metrics_match_numpy() -> None:
    rng = np.random.default_rng(0)
    out = rng.standard_normal((50, 7)).astype(np.float32)
    y = rng.integers(0, 7, 50)
    o, t = chainrule.tensor(out), chainrule.tensor(y)
    assert accuracy(o, t) == pytest.approx(np.mean(out.argmax(1) == y))
    top3 = np.argsort(-out, axis=1)[:, :3]
    assert topk_accuracy(3)(o, t) == pytest.approx(np.mean((top3 == y[:, None]).any(1)))
    reg, target = out[:, 0], out[:, 1]
    assert mse(chainrule.tensor(reg), chainrule.tensor(target)) == \
        pytest.approx(np.mean((reg - target) ** 2))
    assert mae(chainrule.tensor(reg), chainrule.tensor(target)) == \
        pytest.approx(np.mean(np.abs(reg - target)))


def test_binary_accuracy_from_one_logit() -> None:
    assert accuracy(chainrule.tensor([[2.0], [-1.0], [0.5]]), chainrule.tensor([1.0, 0.0, 0.0])) \
        == pytest.approx(2 / 3)


def test_resolve_metrics() -> None:
    def f1(o, t):
        return 0.0

    assert list(resolve_metrics(["accuracy", f1, "top2_acc"])) == ["accuracy", "f1", "top2_acc"]
    assert list(resolve_metrics({"mine": f1})) == ["mine"]
    assert resolve_metrics(None) == {}
    with pytest.raises(TypeError, match="a name or a callable"):
        resolve_metrics([3])
