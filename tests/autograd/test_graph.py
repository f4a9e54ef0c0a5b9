"""The backward engine: textbook examples, accumulation, hooks, graph options, errors,
deep graphs and memory behaviour, checked against hand derivations and PyTorch."""

from __future__ import annotations

import gc
import math
import time
import tracemalloc
import weakref

import numpy as np
import pytest
import torch

import chainrule
from chainrule.testing import assert_close

RNG = np.random.default_rng(3)


def both(arr, requires_grad=True):
    arr = np.asarray(arr, dtype=np.float64)
    return (chainrule.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


# -- the lectures' examples -------------------------------------------------------------------
def test_toy_graph_x_plus_y_times_z():
    # f = (x + y) z at x=-2, y=5, z=-4: q = x + y = 3, df/dx = df/dy = z = -4, df/dz = q = 3
    x = chainrule.tensor(-2.0, requires_grad=True)
    y = chainrule.tensor(5.0, requires_grad=True)
    z = chainrule.tensor(-4.0, requires_grad=True)
    f = (x + y) * z
    f.backward()
    assert f.item() == -12.0
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4.0, -4.0, 3.0)


def test_gradients_sum_over_two_paths():
    # f = x1 x2 + sin(x2): x2 reaches f through the product and through sin
    x1 = chainrule.tensor(2.0, requires_grad=True, dtype=chainrule.float64)
    x2 = chainrule.tensor(3.0, requires_grad=True, dtype=chainrule.float64)
    f = x1 * x2 + x2.sin()
    f.backward()
    assert x1.grad.item() == pytest.approx(3.0)
    assert x2.grad.item() == pytest.approx(2.0 + math.cos(3.0))


def test_zero_dim_gradients_summed_over_paths_stay_arrays():
    # NumPy adds two 0-d arrays into a scalar: the engine's path sums and retain_grad must
    # still hold arrays, as every op's forward expects.
    x = chainrule.tensor(2.0, requires_grad=True)
    h = x * 3
    h.retain_grad()
    y = h * h + h
    y.backward(retain_graph=True)
    y.backward()
    assert isinstance(x.grad._data, np.ndarray) and isinstance(h.grad._data, np.ndarray)
    assert x.grad.item() == 2 * 39.0 and h.grad.item() == 2 * 13.0
    (g,) = chainrule.autograd.grad(x * x + x, x)
    assert isinstance(g._data, np.ndarray) and g.item() == 5.0


def test_logistic_regression_gradient():
    # L = -log sigmoid(w.x) for label 1: dL/dw = -(1 - sigmoid(w.x)) x
    w_np, x_np = RNG.standard_normal(5), RNG.standard_normal(5)
    w = chainrule.tensor(w_np, requires_grad=True)
    x = chainrule.tensor(x_np)
    loss = -(w @ x).sigmoid().log()
    loss.backward()
    s = 1.0 / (1.0 + np.exp(-(w_np @ x_np)))
    assert_close(w.grad, chainrule.tensor(-(1 - s) * x_np))


def test_two_layer_mlp_mse_matches_torch():
    # L = MSE(y, W2 relu(W1 x + b1) + b2)
    shapes = {"W1": (8, 5), "b1": (8,), "W2": (3, 8), "b2": (3,)}
    params = {k: both(RNG.standard_normal(s)) for k, s in shapes.items()}
    x_np, y_np = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 3))
    losses = []
    for lib, i in ((chainrule, 0), (torch, 1)):
        p = {k: v[i] for k, v in params.items()}
        x, y = lib.tensor(x_np), lib.tensor(y_np)
        h = lib.relu(x @ p["W1"].T + p["b1"])
        pred = h @ p["W2"].T + p["b2"]
        loss = ((pred - y) ** 2).mean()
        loss.backward()
        losses.append(loss)
    assert_close(losses[0], losses[1])
    for k in shapes:
        assert_close(params[k][0].grad, params[k][1].grad)


def test_diamond_graph_matches_torch():
    xc, xt = both(RNG.standard_normal(4))
    g = RNG.standard_normal(4)
    outs = []
    for x, lib in ((xc, chainrule), (xt, torch)):
        a = x * 2
        b = a.sin()
        c = a.exp()
        d = b * c + a  # a feeds three consumers
        d.backward(lib.tensor(g))
        outs.append(d)
    assert_close(outs[0], outs[1])
    assert_close(xc.grad, xt.grad)


def test_node_reused_many_times():
    xc, xt = both(RNG.standard_normal(3))
    for x in (xc, xt):
        y = x
        for _ in range(20):
            y = y * 0.9 + y.tanh() * y  # every layer uses the previous output three times
        y.sum().backward()
    assert_close(xc.grad, xt.grad)


def test_gradients_accumulate_across_backward_calls():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_broadcast_gradients_are_summed_to_input_shapes():
    (ac, at), (bc, bt) = both(RNG.standard_normal((3, 1))), both(RNG.standard_normal((4,)))
    g = RNG.standard_normal((3, 4))
    (ac * bc).backward(chainrule.tensor(g))
    (at * bt).backward(torch.tensor(g))
    assert_close(ac.grad, at.grad)
    assert_close(bc.grad, bt.grad)


# -- graph structure --------------------------------------------------------------------------
NAMED_OPS = [
    ("mul", lambda x: x * 2),
    ("add", lambda x: x + 1),
    ("sub", lambda x: x - 1),
    ("div", lambda x: x / x),
    ("neg", lambda x: -x),
    ("sum", lambda x: x.sum()),
    ("mean", lambda x: x.mean()),
    ("exp", lambda x: x.exp()),
    ("tanh", lambda x: x.tanh()),
    ("sigmoid", lambda x: x.sigmoid()),
    ("relu", lambda x: x.relu()),
    ("pow", lambda x: x ** 2),
    ("mm", lambda x: x @ x.T),
    ("view", lambda x: x.view(6)),
    ("reshape", lambda x: x.reshape(3, 2)),
    ("select", lambda x: x[0]),
    # one chainrule primitive, several torch overloads told apart by name (Op.variant)
    ("t", lambda x: x.t()),
    ("T_is_permute", lambda x: x.T),
    ("transpose", lambda x: x.transpose(0, 1)),
    ("mT", lambda x: x.mT),
    ("swapaxes", lambda x: x.swapaxes(1, 0)),
    ("permute", lambda x: x.permute(1, 0)),
    ("sum_dim", lambda x: x.sum(0)),
    ("sum_dims_keepdim", lambda x: x.sum((0, 1), keepdim=True)),
    ("mean_dim", lambda x: x.mean(1)),
    ("prod", lambda x: x.prod()),
    ("prod_dim", lambda x: x.prod(0)),
    ("max", lambda x: x.max()),
    ("amax", lambda x: x.amax(0)),
    ("squeeze", lambda x: x.view(1, 2, 3).squeeze()),
    ("squeeze_dim", lambda x: x.view(1, 2, 3).squeeze(0)),
    ("squeeze_dims", lambda x: x.view(1, 2, 3).squeeze((0, 1))),
    ("unsqueeze", lambda x: x.unsqueeze(-1)),
    ("clamp", lambda x: x.clamp(0.5, 2)),
    ("clamp_min", lambda x: x.clamp(min=0)),
    ("clamp_min_fn", lambda x: x.clamp_min(0)),
    ("clamp_max_fn", lambda x: x.clamp_max(1)),
    ("pow_tensors", lambda x: x ** (x * 2)),
    ("stack", lambda x: chainrule_or_torch(x).stack([x, x * 2], 1)),
    ("split", lambda x: x.split(1)[1]),
    ("split_with_sizes", lambda x: x.split([1, 2], 1)[1]),
    ("chunk", lambda x: x.chunk(2, 1)[0]),
    ("unbind", lambda x: x.unbind(1)[2]),
]

# torch's overloads taking a number (``1 - x``, ``2 ** x``, ``masked_fill(m, 0.)``) have no edge
# for it; chainrule wraps the number as a constant tensor input, which adds a ``None`` edge.
NAMED_OPS_WITH_CONSTANT = [
    ("rsub", lambda x: 1 - x),
    ("pow_number_base", lambda x: 2 ** x),
    ("masked_fill", lambda x: x.masked_fill(x > 1, 0.0)),
    ("masked_fill_tensor", lambda x: x.masked_fill(x > 1, x.sum())),
    ("masked_fill_constant_tensor", lambda x: x.masked_fill(x > 1, chainrule_or_torch(x).tensor(0.))),
]


def chainrule_or_torch(x):
    return torch if isinstance(x, torch.Tensor) else chainrule


def _structure(node, depth=3, drop_none=False):
    if node is None or depth == 0:
        return None if node is None else node.name()
    edges = [(_structure(n, depth - 1, drop_none), i) for n, i in node.next_functions
             if not (drop_none and n is None)]
    return (node.name(), tuple(edges))


@pytest.mark.parametrize("name,f", NAMED_OPS, ids=[n for n, _ in NAMED_OPS])
def test_grad_fn_names_and_next_functions_match_torch(name, f):
    xc, xt = both(RNG.uniform(0.5, 2.0, (2, 3)))
    assert _structure(f(xc).grad_fn) == _structure(f(xt).grad_fn)


@pytest.mark.parametrize("name,f", NAMED_OPS_WITH_CONSTANT,
                         ids=[n for n, _ in NAMED_OPS_WITH_CONSTANT])
def test_grad_fn_names_match_torch_with_number_operands(name, f):
    xc, xt = both(RNG.uniform(0.5, 2.0, (2, 3)))
    assert _structure(f(xc).grad_fn, drop_none=True) == _structure(f(xt).grad_fn, drop_none=True)
    yc, yt = f(xc), f(xt)
    g = RNG.standard_normal((2, 3))
    yc.backward(chainrule.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xc.grad, xt.grad)


def test_op_variant_renames_the_node_only():
    from chainrule.autograd.op import OPS
    from chainrule.ops.reduce import Sum

    before = dict(OPS)
    v = Sum.variant("SumBackwardTest")
    assert v is Sum.variant("SumBackwardTest") and issubclass(v, Sum)  # cached
    assert v.name == "sum" and OPS == before and OPS["sum"] is Sum  # not a new primitive
    # the cache is per class: a variant's own variants are not its parent's
    assert v.variant("SumBackwardTest") is not v and "_variants" not in Sum.__base__.__dict__
    x = chainrule.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    g = chainrule.tensor(RNG.standard_normal(4))
    y = v.apply(x, dim=(0,), keepdim=False)
    assert y.grad_fn.name() == "SumBackwardTest"
    (gv,) = chainrule.autograd.grad(y, x, g)
    (gs,) = chainrule.autograd.grad(Sum.apply(x, dim=(0,), keepdim=False), x, g)
    assert_close(gv, gs)
    with chainrule.autograd.detect_anomaly(), pytest.raises(RuntimeError,
                                                            match="Function 'sum' produced"):
        v.apply(chainrule.tensor([float("nan"), 1.0]), dim=None, keepdim=False)


def test_is_leaf_requires_grad_and_grad_fn():
    x = chainrule.ones(2, requires_grad=True)
    c = chainrule.ones(2)
    y = x * c
    assert x.is_leaf and c.is_leaf and not y.is_leaf
    assert x.grad_fn is None and y.requires_grad and not (c * 2).requires_grad
    assert y.grad_fn.next_functions[0][0].variable is x


# -- hooks ------------------------------------------------------------------------------------
def test_leaf_and_nonleaf_tensor_hooks_match_torch():
    xc, xt = both(RNG.standard_normal(3))
    seen = {"c": [], "t": []}
    for x, key in ((xc, "c"), (xt, "t")):
        x.register_hook(lambda g, key=key: seen[key].append(("leaf", g.tolist())) or g * 2)
        h = x * 3
        h.register_hook(lambda g, key=key: seen[key].append(("mid", g.tolist())) or g + 1)
        h.register_hook(lambda g: g * 10)  # hooks compose in registration order
        (h * h).sum().backward()
    assert_close(xc.grad, xt.grad)
    assert [s[0] for s in seen["c"]] == [s[0] for s in seen["t"]] == ["mid", "leaf"]
    np.testing.assert_allclose(seen["c"][0][1], seen["t"][0][1])


def test_hook_removal():
    x = chainrule.ones(2, requires_grad=True)
    handle = x.register_hook(lambda g: g * 100)
    handle.remove()
    h = x * 1
    hh = h.register_hook(lambda g: g * 100)
    hh.remove()
    (h * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                           "require gradient"):
        chainrule.ones(2).register_hook(lambda g: g)


def test_node_prehook_and_posthook_match_torch():
    xc, xt = both([1.0, 2.0])
    pre = {"c": [], "t": []}
    for x, key in ((xc, "c"), (xt, "t")):
        y = x * 3
        z = (y * y).sum()
        z.grad_fn.register_prehook(lambda go, key=key: pre[key].append(go[0].item()))
        y.grad_fn.register_hook(lambda gi, go: (gi[0] * 10, None))
        z.backward()
    assert pre["c"] == pre["t"] == [1.0]
    assert_close(xc.grad, xt.grad)


def test_post_accumulate_grad_hook():
    x = chainrule.ones(2, requires_grad=True)
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (x * 4).sum().backward()
    assert seen == [[4.0, 4.0]]


def test_retain_grad_on_non_leaves():
    xc, xt = both(RNG.standard_normal(3))
    mids = []
    for x in (xc, xt):
        h = x.exp()
        h.retain_grad()
        assert h.retains_grad
        (h * h).sum().backward()
        mids.append(h)
    assert_close(mids[0].grad, mids[1].grad)
    assert (xc * 2).grad is None  # non-leaves keep no grad unless asked


# -- retain_graph, create_graph, inputs, autograd.grad ---------------------------------------
def test_retain_graph_allows_second_backward():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.clone()
    y.backward()
    assert_close(x.grad, first * 2)


def test_create_graph_and_double_backward_match_torch():
    xc, xt = both(RNG.standard_normal(3))
    w = RNG.standard_normal(3)
    for x, lib in ((xc, chainrule), (xt, torch)):
        y = (x.sin() * x ** 3).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        assert g.requires_grad
        (g * lib.tensor(w)).sum().backward()
    assert_close(xc.grad, xt.grad)


def test_backward_create_graph_makes_grad_differentiable():
    x = chainrule.tensor(2.0, requires_grad=True)
    (x ** 3).backward(create_graph=True)
    assert x.grad.item() == 12.0 and x.grad.requires_grad
    (g2,) = chainrule.autograd.grad(x.grad, x)
    assert g2.item() == 12.0


def test_triple_derivative():
    x = chainrule.tensor(1.5, requires_grad=True, dtype=chainrule.float64)
    y = x.exp() * x
    for _ in range(3):
        (y,) = chainrule.autograd.grad(y, x, create_graph=True)
    # d^3/dx^3 (x e^x) = (x + 3) e^x
    assert y.item() == pytest.approx((1.5 + 3) * math.exp(1.5))


def test_backward_inputs_accumulates_only_there():
    xc, xt = both([1.0, 2.0])
    yc, yt = both([3.0, 4.0])
    for x, y in ((xc, yc), (xt, yt)):
        h = x * y
        (h * h).sum().backward(inputs=[y, h])
        assert x.grad is None
    assert_close(yc.grad, yt.grad)
    with pytest.raises(RuntimeError, match="`inputs` argument to `backward\\(\\)` cannot be empty"):
        (xc * 2).sum().backward(inputs=[])


def test_autograd_grad_unused_inputs():
    x = chainrule.ones(3, requires_grad=True)
    z = chainrule.ones(2, requires_grad=True)
    out = (x * 2).sum()
    with pytest.raises(RuntimeError, match="The differentiated Tensor at index 1 appears to not "
                                           "have been used in the graph"):
        chainrule.autograd.grad(out, [x, z], retain_graph=True)
    gx, gz = chainrule.autograd.grad(out, [x, z], allow_unused=True, retain_graph=True)
    assert gx.tolist() == [2.0] * 3 and gz is None
    gx, gz = chainrule.autograd.grad(out, [x, z], materialize_grads=True)
    assert gz.tolist() == [0.0, 0.0]
    assert x.grad is None  # grad() returns, never accumulates


def test_autograd_grad_with_grad_outputs_and_several_outputs():
    xc, xt = both(RNG.standard_normal(3))
    g1, g2 = RNG.standard_normal(3), RNG.standard_normal(())
    rc = chainrule.autograd.grad([xc.exp(), (xc * xc).sum()], xc,
                                 [chainrule.tensor(g1), chainrule.tensor(g2)])
    rt = torch.autograd.grad([xt.exp(), (xt * xt).sum()], xt, [torch.tensor(g1), torch.tensor(g2)])
    assert_close(rc[0], rt[0])


# -- errors with torch's types and texts ------------------------------------------------------
def test_non_scalar_backward_needs_gradient():
    x = chainrule.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar "
                                           "outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape: grad_output\\[0\\] has a shape of "
                                           "chainrule.Size\\(\\[2\\]\\) and output\\[0\\] has a "
                                           "shape of chainrule.Size\\(\\[3\\]\\)"):
        (x * 2).backward(chainrule.ones(2))


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does "
                                           "not have a grad_fn"):
        chainrule.ones(2).sum().backward()


def test_second_backward_through_freed_graph_raises():
    x = chainrule.ones(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time "
                                           r"\(or directly access saved tensors after they have "
                                           r"already been freed\)"):
        y.backward()


def test_inplace_change_of_saved_tensor_names_op_and_tensor():
    x = chainrule.ones(3, requires_grad=True)
    a = x * 2
    b = a * a
    a.mul_(2)
    with pytest.raises(RuntimeError, match=r"one of the variables needed for gradient "
                                           r"computation has been modified by an inplace "
                                           r"operation: \[float32 \[3\]\], which is input 0 of "
                                           r"MulBackward0, is at version 1; expected version 0"):
        b.sum().backward()
    a = x * 2
    e = a.exp()  # exp's vjp reads its output, not its input: changing a is harmless
    a.add_(1)
    e.sum().backward()


def test_inplace_on_leaf_requiring_grad_raises():
    x = chainrule.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                           "an in-place operation."):
        x.add_(1)
    with chainrule.no_grad():
        x.add_(1)
    assert x.tolist() == [2.0] * 3 and x._version == 1


def test_requires_grad_flag_rules():
    y = chainrule.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf "
                                           "variables"):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require "
                                           "gradients"):
        chainrule.ones(2, dtype=chainrule.int64).requires_grad_()


# -- deep graphs and memory -------------------------------------------------------------------
def test_100k_op_chain_backpropagates_iteratively():
    x = chainrule.tensor(1.0, requires_grad=True, dtype=chainrule.float64)
    y = x
    n = 100_000
    for _ in range(n):
        y = y * (1 + 1 / n)
    y.backward()
    assert x.grad.item() == pytest.approx((1 + 1 / n) ** n)  # about e


def test_saved_values_are_freed_after_backward():
    x = chainrule.ones(1000, requires_grad=True)
    h = x * 2
    ref = weakref.ref(h)
    out = (h * h).sum()
    node = out.grad_fn.next_functions[0][0]
    del h
    assert ref() is not None  # MulBackward0 saved it
    out.backward()
    assert ref() is None and node.inputs is None  # released right after use


def test_saved_values_kept_with_retain_graph():
    x = chainrule.ones(10, requires_grad=True)
    h = x * 2
    ref = weakref.ref(h)
    out = (h * h).sum()
    del h
    out.backward(retain_graph=True)
    assert ref() is not None
    del out
    assert ref() is None


def _mlp_step(params, x, y):
    w1, b1, w2, b2 = params
    h = (x @ w1 + b1).relu()
    loss = ((h @ w2 + b2 - y) ** 2).mean()
    loss.backward()
    for p in params:
        p.grad = None
    return loss


def test_no_reference_cycles_and_flat_memory_over_10k_steps():
    params = [chainrule.randn(8, 16, requires_grad=True), chainrule.zeros(16, requires_grad=True),
              chainrule.randn(16, 4, requires_grad=True), chainrule.zeros(4, requires_grad=True)]
    x, y = chainrule.randn(4, 8), chainrule.randn(4, 4)
    start = time.perf_counter()
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()  # anything left for the cycle collector shows up in gc.collect() below
    try:
        for _ in range(200):
            _mlp_step(params, x, y)
        objects_before = len(gc.get_objects())
        tracemalloc.start()
        for _ in range(500):
            _mlp_step(params, x, y)
        mem_before, _ = tracemalloc.get_traced_memory()
        for _ in range(1000):
            _mlp_step(params, x, y)
        mem_after, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        for _ in range(10_000 - 1700):
            _mlp_step(params, x, y)
        objects_after = len(gc.get_objects())
        unreachable = gc.collect()
    finally:
        if was_enabled:
            gc.enable()
    assert unreachable == 0, f"{unreachable} objects were only collectable as cycles"
    assert objects_after - objects_before < 50
    # One leaked tensor per step (object + array header + data) would be over 200 bytes a step;
    # below 64 bytes a step is allocator noise (free lists, interned tuples).
    assert mem_after - mem_before < 64 * 1000, mem_after - mem_before
    assert time.perf_counter() - start < 30


def test_leaf_gradient_buffers_are_private():
    # The engine hands a leaf the gradient's own buffer when nothing else can see it (also
    # when the gradient is a reshaped view of a fresh product): .grad must never alias a
    # tensor the user can still reach.
    x = chainrule.ones(3, 4, requires_grad=True)
    w = chainrule.arange(12.0)
    h = x.reshape(12) * 1.0
    h.retain_grad()
    (h * w).sum().backward()
    assert_close(x.grad, w.reshape(3, 4))
    x.grad.zero_()
    assert_close(h.grad, w)  # retain_grad's tensor was not the buffer handed to x
    x2 = chainrule.ones(3, 4, requires_grad=True)
    (x2.reshape(12) * w).sum().backward()
    assert_close(x2.grad, w.reshape(3, 4))
    assert x2.grad._data.flags.writeable and x2.grad._data.flags.c_contiguous
    kept = []
    x3 = chainrule.ones(3, 4, requires_grad=True)
    y3 = x3.reshape(12)
    y3.register_hook(lambda g: kept.append(g))
    (y3 * w).sum().backward()
    x3.grad.zero_()
    assert_close(kept[0], w)  # the hook's tensor is untouched by writes into x3.grad


def test_one_gradient_tensor_reaching_two_leaves_is_not_shared():
    # Add's vjp hands the same tensor to both inputs: only one leaf may take its buffer.
    a = chainrule.zeros(4, requires_grad=True)
    b = chainrule.zeros(4, requires_grad=True)
    (a + b).backward(chainrule.ones(4))
    a.grad.add_(1)
    assert_close(b.grad, chainrule.ones(4))
    assert a.grad._data is not b.grad._data
    # a hook that keeps the tensor it returns: the leaf must copy it
    kept = []
    c = chainrule.zeros(4, requires_grad=True)
    c.register_hook(lambda g: kept.append(g * 2) or kept[-1])
    (c * 1.0).sum().backward()
    c.grad.zero_()
    assert_close(kept[0], chainrule.full((4,), 2.0))


def test_leaf_gradient_that_views_a_kept_tensor_is_copied():
    # W's gradient is a transposed view of W.t()'s gradient; a hook keeps that one, so W
    # must not take the shared buffer (without the hook it may, and the values are the same).
    x = chainrule.randn(5, 4)
    for keep in (True, False):
        w = chainrule.randn(3, 4, requires_grad=True)
        wt = w.t()
        kept = []
        if keep:
            wt.register_hook(kept.append)
        (x @ wt).sum().backward()
        expected = (chainrule.ones(5, 3).t() @ x)
        assert_close(w.grad, expected)
        w.grad.zero_()
        if keep:
            assert_close(kept[0], expected.t())


# -- final callbacks (torch's Engine.queue_callback) --------------------------------------------
def test_queued_callback_runs_after_every_gradient_is_written():
    from chainrule.autograd.graph import queue_callback

    w = chainrule.tensor([1.0, 2.0], requires_grad=True)
    b = chainrule.tensor(0.5, requires_grad=True)
    seen = []
    # queued from w's hook, which runs before b's gradient has been accumulated
    w.register_post_accumulate_grad_hook(
        lambda p: queue_callback(lambda: seen.append((w.grad.tolist(), b.grad.item()))))
    ((w * 3).sum() + b * 4).backward()
    assert seen == [([3.0, 3.0], 4.0)]
    ((w * 3).sum() + b * 4).backward()  # once per backward
    assert seen[1:] == [([6.0, 6.0], 8.0)]


def test_callbacks_may_queue_callbacks_and_run_in_order():
    from chainrule.autograd.graph import queue_callback

    x = chainrule.ones(2, requires_grad=True)
    order = []

    def first():
        order.append("first")
        queue_callback(lambda: order.append("queued by first"))

    def hook(g):
        queue_callback(first)
        queue_callback(lambda: order.append("second"))

    x.register_hook(hook)
    (x * 2).sum().backward()
    assert order == ["first", "second", "queued by first"]


def test_queue_callback_outside_backward_raises_as_torch():
    from chainrule.autograd.graph import queue_callback

    with pytest.raises(RuntimeError, match="Final callbacks can only be installed during "
                                           "backward pass"):
        queue_callback(lambda: None)
    with pytest.raises(RuntimeError, match="Final callbacks can only be installed"):
        torch.autograd.Variable._execution_engine.queue_callback(lambda: None)


def test_nested_backward_runs_its_own_callbacks_and_errors_clear_them():
    from chainrule.autograd import graph

    x = chainrule.ones(1, requires_grad=True)
    y = chainrule.ones(1, requires_grad=True)
    order = []

    def hook(g):
        graph.queue_callback(lambda: order.append("outer"))
        with chainrule.enable_grad():  # (hooks run with grad mode off)
            inner = (y * 5).sum()
        y.register_hook(lambda g2: graph.queue_callback(lambda: order.append("inner")))
        inner.backward()
        order.append("inner backward returned")

    x.register_hook(hook)
    (x * 2).sum().backward()
    assert order == ["inner", "inner backward returned", "outer"]
    assert graph._final_callbacks == []

    z = chainrule.ones(1, requires_grad=True)
    z.register_hook(lambda g: (graph.queue_callback(lambda: order.append("never")),
                               1 / 0))
    with pytest.raises(ZeroDivisionError):
        (z * 2).sum().backward()
    assert graph._final_callbacks == [] and "never" not in order
