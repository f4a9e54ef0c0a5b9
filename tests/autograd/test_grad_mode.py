"""Grad-mode switches as context managers and decorators (functions and generators)."""

from __future__ import annotations

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
