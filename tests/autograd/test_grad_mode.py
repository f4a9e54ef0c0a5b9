"""Grad-mode switches as context managers and decorators (functions and generators)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule


@pytest.fixture(params=["chainrule", "torch"])
def lib(request):
    """Each behaviour is checked on torch too, so the test documents torch's semantics."""
    return chainrule if request.param == "chainrule" else torch


def test_no_grad_context(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.no_grad():
        y = x * 2
        assert not lib.is_grad_enabled()
    assert lib.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_enable_grad_inside_no_grad(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.no_grad():
        with lib.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_set_grad_enabled_as_call_and_context(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert lib.is_grad_enabled()
    lib.set_grad_enabled(False)
    try:
        assert not lib.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        lib.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_decorators_with_and_without_parentheses(lib):
    x = lib.ones(2, requires_grad=True)

    @lib.no_grad()
    def f1(t):
        return t * 2

    @lib.no_grad
    def f2(t):
        return t * 2

    @lib.enable_grad
    def f3(t):
        return t * 2

    @lib.inference_mode()
    def f4(t):
        return t * 2

    @lib.inference_mode
    def f5(t):
        return t * 2

    assert f1.__name__ == "f1"
    assert not f1(x).requires_grad and not f2(x).requires_grad
    with lib.no_grad():
        assert f3(x).requires_grad
    assert not f4(x).requires_grad and f4(x).is_inference() and f5(x).is_inference()
    assert lib.is_grad_enabled() and not lib.is_inference_mode_enabled()


def test_decorated_generator_switches_only_while_running(lib):
    @lib.no_grad()
    def gen():
        for _ in range(3):
            got = yield lib.is_grad_enabled()
            assert got == "sent"

    g = gen()
    assert next(g) is False
    assert lib.is_grad_enabled()  # between steps the caller's mode holds
    assert g.send("sent") is False
    assert lib.is_grad_enabled()
    g.close()


def test_decorated_generator_return_value(lib):
    @lib.no_grad()
    def gen():
        yield 1
        return "done"

    g = gen()
    next(g)
    with pytest.raises(StopIteration) as info:
        next(g)
    assert info.value.value == "done"


def test_state_restored_after_exception(lib):
    with pytest.raises(ValueError):
        with lib.no_grad():
            raise ValueError
    assert lib.is_grad_enabled()

    @lib.no_grad()
    def boom():
        raise KeyError

    with pytest.raises(KeyError):
        boom()
    assert lib.is_grad_enabled()


def test_inference_mode(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.inference_mode():
        assert lib.is_inference_mode_enabled() and not lib.is_grad_enabled()
        y = x * 2
        with lib.inference_mode(False):
            assert not lib.is_inference_mode_enabled()
    assert not y.requires_grad and y.is_inference()
    assert not (x * 2).is_inference()
    assert not lib.is_inference_mode_enabled()


# -- inference tensors used outside inference_mode (torch's messages, users match on them) ----
SAVED_MSG = "Inference tensors cannot be saved for backward"
INPLACE_MSG = ("Inplace update to inference tensor outside InferenceMode is not allowed.You can "
               "make a clone to get a normal tensor before doing inplace update.")


def _inference(lib):
    with lib.inference_mode():
        return lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


@pytest.mark.parametrize("f", [
    lambda a, w: a * w, lambda a, w: w * a, lambda a, w: w / a, lambda a, w: w.pow(a),
    lambda a, w: a @ w.t(), lambda a, w: w.exp() * a[0], lambda a, w: w.maximum(a.t().t()),
    lambda a, w: w.sum() * a,
], ids=["mul", "rmul", "div", "pow", "matmul", "view_of_inference", "maximum", "after_sum"])
def test_inference_tensor_saved_for_backward_raises(lib, f):
    a, w = _inference(lib), lib.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=SAVED_MSG) as info:
        f(a, w)
    assert "make a clone to get a normal tensor and use it in autograd" in str(info.value)
    y = f(a.clone(), w)  # the documented workaround
    y.backward(lib.ones_like(y))
    assert w.grad is not None


@pytest.mark.parametrize("f", [
    lambda a, w, lib: a + w, lambda a, w, lib: w - a, lambda a, w, lib: lib.cat([a, w]),
    lambda a, w, lib: lib.stack([w, a]),
], ids=["add", "sub", "cat", "stack"])
def test_inference_tensor_in_ops_that_save_nothing(lib, f):
    a, w = _inference(lib), lib.ones(2, 3, requires_grad=True)
    y = f(a, w, lib)
    g = lib.tensor(np.random.default_rng(0).standard_normal(tuple(y.shape)))
    y.backward(g)
    assert w.grad.shape == w.shape and not y.is_inference()
    with lib.no_grad():
        assert not (a * w).is_inference()  # nothing recorded, nothing saved


@pytest.mark.parametrize("f", [
    lambda a, lib: a.add_(1), lambda a, lib: a.mul_(2), lambda a, lib: a.zero_(),
    lambda a, lib: a.fill_(2.0), lambda a, lib: a.copy_(lib.zeros(2, 3)),
    lambda a, lib: a.__setitem__(0, 1.0), lambda a, lib: a[0].add_(1),
    lambda a, lib: a.t().mul_(2), lambda a, lib: a.clamp_(0, 1),
    lambda a, lib: a.masked_fill_(a > 2, 0.0),
], ids=["add_", "mul_", "zero_", "fill_", "copy_", "setitem", "view_add_", "t_mul_",
        "clamp_", "masked_fill_"])
def test_inplace_on_inference_tensor_outside_inference_mode_raises(lib, f):
    a = _inference(lib)
    before = a.clone()
    with pytest.raises(RuntimeError, match=INPLACE_MSG):
        f(a, lib)
    with lib.no_grad(), pytest.raises(RuntimeError, match=INPLACE_MSG):
        f(a, lib)  # no_grad is not inference_mode
    if lib is chainrule:  # torch writes the values, then raises; chainrule raises first
        assert a.clone().equal(before)
    with lib.inference_mode():
        f(a, lib)  # allowed inside


def test_inference_tensor_views_and_versions(lib):
    a = _inference(lib)
    assert a[0].is_inference() and a.t().is_inference() and a.view(6).is_inference()
    assert not a.clone().is_inference() and not (a * 2).is_inference()
    with pytest.raises(RuntimeError, match="Inference tensors do not track version counter"):
        _ = a._version
    x = lib.zeros(3)
    with lib.inference_mode():
        x.add_(1)  # a normal tensor may be updated in place inside inference_mode
    assert x._version == 1 and not x.is_inference()


def test_requires_grad_on_inference_tensor(lib):
    a = _inference(lib)
    msg = "Setting requires_grad=True on inference tensor outside InferenceMode is not allowed."
    with pytest.raises(RuntimeError, match=msg):
        a.requires_grad_()
    with pytest.raises(RuntimeError, match=msg):
        a.requires_grad = True
    assert a.requires_grad_(False) is a and not a.requires_grad
    with lib.inference_mode():
        a.requires_grad_()
    assert a.requires_grad and a.is_leaf


def test_constants_built_in_inference_mode_stay_normal(lib):
    with lib.inference_mode():
        (lib.ones(2) * 0.37).sum()  # chainrule caches the wrapped 0.37 for reuse
    w = lib.ones(2, requires_grad=True)
    (w.sigmoid() * 0.37).sum().backward()
    assert w.grad is not None


def test_nesting_restores_each_level(lib):
    with lib.no_grad():
        with lib.set_grad_enabled(True):
            assert lib.is_grad_enabled()
            with lib.no_grad():
                assert not lib.is_grad_enabled()
            assert lib.is_grad_enabled()
        assert not lib.is_grad_enabled()
    assert lib.is_grad_enabled()


def test_decorating_a_class_raises():
    with pytest.raises(RuntimeError):
        chainrule.no_grad()(type("C", (), {}))


def test_backward_of_graph_built_before_no_grad_still_works():
    x = chainrule.ones(2, requires_grad=True)
    y = (x * 3).sum()
    with chainrule.no_grad():
        y.backward()
    assert x.grad.tolist() == [3.0, 3.0]
