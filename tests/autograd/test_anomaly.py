"""detect_anomaly: the first op making a NaN/Inf is named, forward and backward, with the
user's source line; nothing is checked or recorded while it is off."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule.autograd import anomaly


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with np.errstate(all="ignore"):
        yield


def test_forward_nan_names_op_and_user_line():
    x = chainrule.tensor([-1.0, 4.0], requires_grad=True)
    with chainrule.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            y = x.sqrt()  # the line the message must point at  # noqa: F841
    msg = str(info.value)
    assert msg.startswith("Function 'sqrt' produced nan values in its output (forward).")
    assert __file__ in msg and "y = x.sqrt()" in msg


def test_forward_inf_is_reported():
    with chainrule.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="Function 'div' produced inf values"):
            chainrule.ones(1) / chainrule.zeros(1)


def test_backward_nan_names_backward_node_and_forward_line():
    x = chainrule.tensor([0.0, 1.0], requires_grad=True)
    with chainrule.autograd.detect_anomaly():
        loss = (x * 2 + (x - x).abs().sqrt()).sum()  # finite forward; sqrt'(0) is inf
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    msg = str(info.value)
    assert msg.startswith("Function 'SqrtBackward0' returned inf values in its 0th output.")
    assert "The forward call that created it:" in msg and __file__ in msg
    assert "(x - x).abs().sqrt()" in msg


def test_check_nan_false_records_traces_without_raising():
    x = chainrule.tensor([-1.0], requires_grad=True)
    with chainrule.autograd.detect_anomaly(check_nan=False):
        y = x.sqrt()
        assert y.grad_fn.trace is not None and __file__ in y.grad_fn.trace
    assert np.isnan(y.item())


def test_set_detect_anomaly_and_decorator():
    assert not chainrule.autograd.is_anomaly_enabled()
    with chainrule.autograd.set_detect_anomaly(True):
        assert chainrule.autograd.is_anomaly_enabled()
    assert not chainrule.autograd.is_anomaly_enabled()
    chainrule.autograd.set_detect_anomaly(True)
    try:
        assert chainrule.autograd.is_anomaly_enabled()
    finally:
        chainrule.autograd.set_detect_anomaly(False)

    @chainrule.autograd.detect_anomaly()
    def f(t):
        return t.log()

    with pytest.raises(RuntimeError, match="Function 'log' produced"):
        f(chainrule.zeros(1))
    assert not chainrule.autograd.is_anomaly_enabled()


def test_nothing_checked_or_recorded_when_off(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("anomaly machinery ran while disabled")

    monkeypatch.setattr(anomaly, "check_forward", forbidden)
    monkeypatch.setattr(anomaly, "check_backward", forbidden)
    monkeypatch.setattr(anomaly, "creation_trace", forbidden)
    x = chainrule.tensor([-1.0, 0.0], requires_grad=True)
    y = x.sqrt()  # NaN and a later inf gradient: unnoticed, as without anomaly mode
    assert y.grad_fn.extra is None  # no per-node state at all
    y.sum().backward()
    assert np.isinf(x.grad.numpy()[1])
