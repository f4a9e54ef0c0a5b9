"""Memory: training does not grow the process, and backward leaves no reference cycles.

- The soak: benchmarks/soak_memory.py trains the 784-128-10 MLP (batch 32) in a fresh
  process and samples its resident memory; a short run here (1,500 steps) must stay flat
  after warm-up, and the same run with a deliberate leak of 4 KB per step must not (the
  measurement can see a leak of that size).
- No cycles: with the cycle collector saving everything it finds (``gc.DEBUG_SAVEALL``), a
  training step, with hooks, ``retain_graph``, ``create_graph`` (through ``autograd.grad``)
  and a custom Function, leaves no unreachable chainrule object behind: reference counting
  alone frees the graph. ``backward(create_graph=True)`` does make a cycle, as in torch
  (parameter -> .grad -> its graph -> parameter), with torch's warning; resetting ``.grad``
  breaks it, as torch recommends.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import warnings
from collections import Counter

import pytest

import chainrule
from chainrule import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOAK = os.path.join(ROOT, "benchmarks", "soak_memory.py")


def soak(*extra):
    proc = subprocess.run([sys.executable, SOAK, "--steps", "1500", "--every", "250",
                           "--warmup", "500", "--synthetic", "--samples", "3200", *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_short_soak_stays_flat_and_would_see_a_leak():
    flat = soak()
    assert [s for s, _ in flat["curve"]] == list(range(0, 1501, 250))
    # after warm-up: well under 1% (a 4 KB-per-step leak adds about 4 MB here)
    assert flat["growth_pct"] < 1.0 and flat["growth_mb"] < 0.5, flat["curve"]
    leaky = soak("--leak-bytes", "4096")
    assert leaky["growth_mb"] > 2.5, leaky["curve"]  # 1,000 steps x 4 KB = 3.9 MB


def chainrule_garbage(step):
    """Run ``step()`` with the cycle collector keeping what it finds; the chainrule objects
    that only a collection (not reference counting) would have freed, by type."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        step()
        gc.collect()
        found = Counter(type(o).__name__ for o in gc.garbage
                        if (getattr(type(o), "__module__", "") or "").startswith("chainrule"))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return found


class Square(chainrule.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


def make_step(case):
    def step():
        chainrule.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
        opt = chainrule.optim.Adam(model.parameters(), lr=1e-3)
        x = chainrule.randn(4, 8, requires_grad=case in ("hooks", "create_graph"))
        y = chainrule.tensor([0, 1, 2, 0])
        handles = []
        if case == "hooks":
            handles += [model[0].register_forward_hook(lambda m, i, o: o * 1),
                        model[0].register_forward_pre_hook(lambda m, i: None),
                        model[2].register_full_backward_hook(lambda m, gi, go: None),
                        x.register_hook(lambda g: g * 1)]
        h = model[:2](x)
        if case == "custom_function":
            h = Square.apply(h)
        if case == "retain_grad":
            h.retain_grad()
        loss = nn.functional.cross_entropy(model[2](h), y)
        if case == "retain_graph":
            loss.backward(retain_graph=True)
            loss.backward()
        elif case == "create_graph":
            # torch's advice for higher order: autograd.grad, then backward through it
            grads = chainrule.autograd.grad(loss, [x, *model.parameters()], create_graph=True)
            sum(g.square().sum() for g in grads).backward()
        elif case == "create_graph_backward_reset":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loss.backward(create_graph=True)
            sum(p.grad.square().sum() for p in model.parameters()).backward()
            for p in model.parameters():
                p.grad = None  # breaks the cycle, as torch recommends
        else:
            loss.backward()
        opt.step()
        opt.zero_grad()
        for handle in handles:
            handle.remove()
    return step


@pytest.mark.parametrize("case", ["plain", "hooks", "retain_graph", "retain_grad",
                                  "create_graph", "custom_function",
                                  "create_graph_backward_reset"])
def test_a_training_step_leaves_no_cycles(case):
    assert chainrule_garbage(make_step(case)) == Counter()


def test_several_steps_leave_no_cycles():
    def steps():
        for case in ("plain", "hooks", "custom_function"):
            for _ in range(3):
                make_step(case)()

    assert chainrule_garbage(steps) == Counter()


def test_backward_with_create_graph_makes_torchs_cycle_and_warns():
    import chainrule.autograd as autograd

    autograd._warned_create_graph_cycle = False  # warned once per process, as torch

    def step():
        w = nn.Parameter(chainrule.randn(3, 2))
        x = chainrule.randn(4, 3, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (x @ w).square().sum().backward(create_graph=True)
            (x @ w).square().sum().backward(create_graph=True)
        messages = [str(c.message) for c in caught]
        assert len(messages) == 1 and messages[0].startswith(
            "Using backward() with create_graph=True will create a reference cycle")

    found = chainrule_garbage(step)
    assert found["Parameter"] == 1 and found["Tensor"] >= 1  # the detector sees a cycle
