"""Gradient-flow diagnostics: flags on a deep sigmoid net vs a shallow ReLU net, monitor, plot."""

from __future__ import annotations

import math

import pytest
import torch

import chainrule
from chainrule import nn, optim, viz


def _deep_sigmoid(depth: int = 20) -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(16, 32), nn.Sigmoid()]
    for _ in range(depth - 2):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    layers.append(nn.Linear(32, 1))
    return nn.Sequential(*layers)


def _backward(model: nn.Module) -> None:
    chainrule.manual_seed(0)
    x, y = chainrule.randn(64, 16), chainrule.randn(64, 1)
    nn.functional.mse_loss(model(x), y).backward()


def test_deep_sigmoid_vanishes_and_shallow_relu_does_not() -> None:
    chainrule.manual_seed(0)
    deep = _deep_sigmoid()
    _backward(deep)
    flags = viz.gradient_stats(deep).flags()
    assert flags["0.weight"] == "vanishing"
    assert flags[f"{len(deep) - 1}.weight"] == "ok"  # the last layer still learns

    shallow = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1))
    _backward(shallow)
    assert set(viz.gradient_stats(shallow).flags().values()) == {"ok"}


def test_stats_rows_match_torch_norms() -> None:
    chainrule.manual_seed(1)
    ours = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = chainrule.randn(8, 4)
    ours(x).sum().backward()
    theirs(torch.tensor(x.numpy())).sum().backward()
    stats = viz.gradient_stats(ours)
    for row, (name, p) in zip(stats.rows, theirs.named_parameters()):
        assert row["name"] == name and row["shape"] == tuple(p.shape)
        assert math.isclose(row["grad_norm"], p.grad.norm().item(), rel_tol=1e-5)
        assert math.isclose(row["weight_norm"], p.detach().norm().item(), rel_tol=1e-5)
    assert "0.weight" in str(stats)


def test_thresholds_are_configurable() -> None:
    chainrule.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4))
    model(chainrule.randn(2, 4)).sum().backward()
    assert viz.gradient_stats(model, vanishing=1e9).flags()["0.weight"] == "vanishing"
    assert viz.gradient_stats(model, exploding=1e-9).flags()["0.weight"] == "exploding"


def test_monitor_records_update_ratio_and_dead_relus() -> None:
    chainrule.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    with chainrule.no_grad():
        model[0].bias.fill_(-100.0)  # every unit of the ReLU layer is dead
    opt = optim.SGD(model.parameters(), lr=0.1)
    monitor = viz.GradientMonitor(model)
    for _ in range(3):
        opt.zero_grad()
        model(chainrule.randn(16, 4)).pow(2).mean().backward()
        monitor.step()
        opt.step()
    monitor.close()
    assert len(monitor.history) == 3
    assert monitor.history[0]["update_ratio"] == {}
    assert monitor.history[-1]["update_ratio"]["2.bias"] > 0
    assert monitor.history[-1]["dead_relu"] == {"1": 1.0}
    assert monitor.history[-1]["flag"]["0.weight"] == "vanishing"  # dead units pass nothing


@pytest.mark.parametrize("use_monitor", [False, True])
def test_plot_is_a_png(tmp_path, use_monitor: bool) -> None:
    chainrule.manual_seed(0)
    model = _deep_sigmoid(6)
    target = model
    if use_monitor:
        target = viz.GradientMonitor(model)
        for _ in range(2):
            model.zero_grad()
            _backward(model)
            target.step()
    else:
        _backward(model)
    path = viz.plot_gradient_flow(target, tmp_path / "flow.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
