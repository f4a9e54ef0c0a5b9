"""Normalization primitives (native_batch_norm, native_layer_norm, native_group_norm) and the
functions over them against PyTorch: forward, vjp (both the raw and the create_graph path),
jvp, finite differences to second order; running statistics; errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule
from chainrule.ops import norm
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients


def _bn(**kw):
    return (lambda x, *wb: norm.batch_norm(x, None, None, *wb, training=True, **kw),
            lambda x, *wb: TF.batch_norm(x, None, None, *wb, training=True, **kw))


_STATS = (np.array([0.5, -1.0, 0.25]), np.array([0.5, 2.0, 1.5]))
_RM, _RV = chainrule.tensor(_STATS[0]), chainrule.tensor(_STATS[1])

SPECS = [
    OpSpec("native_batch_norm", *_bn(), shapes=[(4, 3, 2, 3), (3,), (3,)]),
    OpSpec("native_batch_norm", *_bn(eps=0.1), shapes=[(5, 3)], variant="no_affine"),
    OpSpec("native_batch_norm", lambda x, w: norm.batch_norm(x, None, None, w, training=True),
           lambda x, w: TF.batch_norm(x, None, None, w, training=True),
           shapes=[(4, 2, 5), (2,)], variant="weight_only"),
    OpSpec("native_batch_norm", lambda x, w, b: norm.instance_norm(x, weight=w, bias=b),
           lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
           shapes=[(3, 2, 3, 4), (2,), (2,)], variant="instance_norm"),
    OpSpec("native_layer_norm", lambda x, w, b: norm.layer_norm(x, (3, 4), w, b),
           lambda x, w, b: TF.layer_norm(x, (3, 4), w, b), shapes=[(2, 3, 4), (3, 4), (3, 4)]),
    OpSpec("native_layer_norm", lambda x: norm.layer_norm(x, 5, eps=1e-3),
           lambda x: TF.layer_norm(x, (5,), eps=1e-3), shapes=[(3, 5)], variant="no_affine"),
    OpSpec("native_layer_norm", lambda x, w: norm.layer_norm(x, [4], w),
           lambda x, w: TF.layer_norm(x, [4], w), shapes=[(2, 3, 4), (4,)],
           variant="weight_only"),
    OpSpec("native_group_norm", lambda x, w, b: norm.group_norm(x, 2, w, b),
           lambda x, w, b: TF.group_norm(x, 2, w, b), shapes=[(3, 4, 5), (4,), (4,)]),
    OpSpec("native_group_norm", lambda x: norm.group_norm(x, 3),
           lambda x: TF.group_norm(x, 3), shapes=[(2, 6, 2, 2)], variant="no_affine"),
    OpSpec("local_response_norm", lambda x: norm.local_response_norm(x, 3, 0.1, 0.75, 2.0),
           lambda x: TF.local_response_norm(x, 3, 0.1, 0.75, 2.0), shapes=[(2, 5, 3, 2)]),
    OpSpec("local_response_norm", lambda x: norm.local_response_norm(x, 2, 0.5),
           lambda x: TF.local_response_norm(x, 2, 0.5), shapes=[(2, 4, 3)], variant="3d"),
    OpSpec("batch_norm",
           lambda x, w, b: norm.batch_norm(x, _RM.to(x.dtype), _RV.to(x.dtype), w, b),
           lambda x, w, b: TF.batch_norm(x, torch.tensor(_STATS[0], dtype=x.dtype),
                                         torch.tensor(_STATS[1], dtype=x.dtype), w, b),
           shapes=[(4, 3, 2), (3,), (3,)], variant="eval_running_stats"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_running_statistics_match_torch_over_steps(momentum) -> None:
    rng = np.random.default_rng(0)
    rm, rv = chainrule.zeros(3), chainrule.ones(3)
    trm, trv = torch.zeros(3), torch.ones(3)
    for step in range(4):
        x = (rng.standard_normal((6, 3, 4)) * (step + 1) + step).astype(np.float32)
        out = norm.batch_norm(chainrule.tensor(x), rm, rv, training=True, momentum=momentum)
        tout = TF.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=momentum)
        assert_close(out, tout)
    assert_close(rm, trm)
    assert_close(rv, trv)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    assert_close(norm.batch_norm(chainrule.tensor(x), rm, rv),
                 TF.batch_norm(torch.tensor(x), trm, trv))


def test_instance_norm_running_statistics_average_over_the_batch() -> None:
    rng = np.random.default_rng(1)
    rm, rv = chainrule.zeros(3), chainrule.ones(3)
    trm, trv = torch.zeros(3), torch.ones(3)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 5)).astype(np.float32) * 3 + 1
        norm.instance_norm(chainrule.tensor(x), rm, rv, momentum=0.2)
        TF.instance_norm(torch.tensor(x), trm, trv, momentum=0.2)
    assert_close(rm, trm)
    assert_close(rv, trv)


def test_running_update_bumps_the_buffer_version() -> None:
    rm = chainrule.zeros(2)
    before = rm._version
    norm.batch_norm(chainrule.randn(4, 2), rm, None, training=True)
    assert rm._version == before + 1


@pytest.mark.parametrize("fn", ["batch_norm", "layer_norm", "group_norm"])
def test_raw_and_graph_vjp_paths_agree(fn) -> None:
    rng = np.random.default_rng(2)
    x_np, g_np = rng.standard_normal((4, 6, 5)), rng.standard_normal((4, 6, 5))
    w_np = rng.standard_normal(5 if fn == "layer_norm" else 6)
    b_np = rng.standard_normal(w_np.shape)

    def run(create_graph):
        x, w, b = (chainrule.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
        if fn == "batch_norm":
            out = norm.batch_norm(x, None, None, w, b, training=True)
        elif fn == "layer_norm":
            out = norm.layer_norm(x, (5,), w, b)
        else:
            out = norm.group_norm(x, 3, w, b)
        return chainrule.autograd.grad(out, [x, w, b], chainrule.tensor(g_np),
                                       create_graph=create_graph)

    for a, b in zip(run(False), run(True)):
        assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_grad_fn_names_match_torch() -> None:
    x = chainrule.randn(4, 3, 5, requires_grad=True)
    assert norm.batch_norm(x, None, None, training=True).grad_fn.name() == \
        "NativeBatchNormBackward0"
    assert norm.layer_norm(x, (5,)).grad_fn.name() == "NativeLayerNormBackward0"
    assert norm.group_norm(x, 3).grad_fn.name() == "NativeGroupNormBackward0"


@pytest.mark.parametrize("call", [
    lambda F, lib: F.batch_norm(lib.randn(1, 3), None, None, training=True),
    lambda F, lib: F.batch_norm(lib.randn(4, 3), lib.zeros(4), lib.ones(4), training=True),
    lambda F, lib: F.batch_norm(lib.randn(4, 3), lib.zeros(3), lib.ones(3), lib.ones(4),
                                training=True),
    lambda F, lib: F.layer_norm(lib.randn(2, 3), (4,)),
    lambda F, lib: F.layer_norm(lib.randn(2, 3), (3,), lib.ones(4)),
    lambda F, lib: F.group_norm(lib.randn(2, 6, 4), 4),
    lambda F, lib: F.group_norm(lib.randn(2, 6, 4), 3, lib.ones(5)),
    lambda F, lib: F.instance_norm(lib.randn(2, 3, 1)),
    lambda F, lib: F.batch_norm(lib.ones(4, 3, dtype=lib.int64), None, None, training=True),
    lambda F, lib: F.batch_norm(lib.randn(4, 3), None, None, training=True, eps=0.0),
    lambda F, lib: F.batch_norm(lib.randn(4, 3), lib.zeros(3), lib.ones(3), eps=-1.0),
])
def test_errors_match_torch(call) -> None:
    import chainrule.nn.functional as CF

    def run(F, lib):
        try:
            call(F, lib)
        except Exception as e:  # noqa: BLE001 - comparing types and messages
            return type(e), str(e)
        return None, None

    ours, theirs = run(CF, chainrule), run(TF, torch)
    assert theirs[0] is not None and ours == theirs
