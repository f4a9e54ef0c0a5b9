"""summary: layers, output shapes, parameter counts; totals equal the parameter count."""

from __future__ import annotations

import chainrule
from chainrule import nn


def test_totals_equal_parameter_count() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    s = chainrule.summary(model, (1, 28, 28))
    assert s.total_params == sum(p.numel() for p in model.parameters()) == 50890
    assert s.trainable_params == s.total_params
    assert [r["output_shape"] for r in s.rows] == [[-1, 784], [-1, 64], [-1, 64], [-1, 10]]
    assert sum(r["params"] for r in s.rows) == s.total_params
    assert "Total params: 50,890" in str(s)


def test_nested_modules_and_frozen_parameters() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.body(x))

    net = Net()
    net.head.requires_grad_(False)
    s = chainrule.summary(net, (3,))
    assert [r["layer"] for r in s.rows] == ["body.0 (Linear)", "body.1 (Tanh)", "head (Linear)"]
    assert s.total_params == 26 and s.trainable_params == 16 and s.non_trainable_params == 10
    assert net.training  # restored after the probe pass


def test_conv_model_shapes() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 13 * 13, 10))
    s = chainrule.summary(model, (1, 28, 28))
    assert s.rows[0]["output_shape"] == [-1, 4, 26, 26]
    assert s.rows[2]["output_shape"] == [-1, 4, 13, 13]
    assert s.total_params == 40 + 6770
