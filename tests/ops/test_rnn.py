"""Recurrent scan primitives (lstm_scan, gru_scan, rnn_scan) against step-by-step PyTorch
references: forward (states and workspace), vjp (raw and create_graph paths), jvp, finite
differences to second order, variable lengths in both directions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule
from chainrule.ops import rnn
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients

PACKED = (3, 2, 2, 1)  # active rows per step of a batch of 3 (lengths 4, 3, 1)


def _steps(T, batch_sizes, B, reverse):
    order = range(T - 1, -1, -1) if reverse else range(T)
    return [(t, B if batch_sizes is None else batch_sizes[t]) for t in order]


def _keep(new, old, n):
    """Rows from n on keep their old value (inactive at this step)."""
    return new if n == old.shape[0] else torch.cat([new, old[n:]], 0)


def _pad_rows(a, B):
    return a if a.shape[0] == B else torch.cat([a, a.new_zeros(B - a.shape[0], a.shape[1])], 0)


def torch_lstm_scan(xw, h0, c0, w_hh, w_hr=None, batch_sizes=None, reverse=False):
    T, B, G = xw.shape
    H = G // 4
    h, c = h0, c0
    ys, cs, ws = [None] * T, [None] * T, [None] * T
    for t, n in _steps(T, batch_sizes, B, reverse):
        a = xw[t, :n] + h[:n] @ w_hh.T
        i, f, g, o = a[:, :H].sigmoid(), a[:, H:2 * H].sigmoid(), a[:, 2 * H:3 * H].tanh(), \
            a[:, 3 * H:].sigmoid()
        cn = f * c[:n] + i * g
        hn = o * cn.tanh()
        if w_hr is not None:
            hn = hn @ w_hr.T
        h, c = _keep(hn, h, n), _keep(cn, c, n)
        ys[t], cs[t], ws[t] = h, c, _pad_rows(torch.cat([i, f, g, o], 1), B)
    # (the layout of LstmScan's output: c and the gates gate-major, (T, H, B) and (T, 4H, B))
    return torch.cat([torch.stack(ys).reshape(-1), torch.stack(cs).transpose(1, 2).reshape(-1),
                      torch.stack(ws).transpose(1, 2).reshape(-1)])


def torch_gru_scan(xw, h0, w_hh, b_hh=None, batch_sizes=None, reverse=False):
    T, B, G = xw.shape
    H = G // 3
    h = h0
    ys, ws = [None] * T, [None] * T
    for t, n in _steps(T, batch_sizes, B, reverse):
        hw = h[:n] @ w_hh.T
        if b_hh is not None:
            hw = hw + b_hh
        x = xw[t, :n]
        r = (x[:, :H] + hw[:, :H]).sigmoid()
        z = (x[:, H:2 * H] + hw[:, H:2 * H]).sigmoid()
        nn = (x[:, 2 * H:] + r * hw[:, 2 * H:]).tanh()
        hn = (1 - z) * nn + z * h[:n]
        h = _keep(hn, h, n)
        ys[t], ws[t] = h, _pad_rows(torch.cat([r, z, nn, hw[:, 2 * H:]], 1), B)
    return torch.cat([torch.stack(ys).reshape(-1), torch.stack(ws).reshape(-1)])


def torch_rnn_scan(xw, h0, w_hh, nonlinearity="tanh", batch_sizes=None, reverse=False):
    T, B, H = xw.shape
    h = h0
    ys = [None] * T
    for t, n in _steps(T, batch_sizes, B, reverse):
        a = xw[t, :n] + h[:n] @ w_hh.T
        h = _keep(a.tanh() if nonlinearity == "tanh" else a.relu(), h, n)
        ys[t] = h
    return torch.stack(ys).reshape(-1)


def _lstm(proj=False, **kw):
    def ours(xw, h0, c0, w_hh, *w_hr):
        return rnn.LstmScan.apply(xw, h0, c0, w_hh, *w_hr, batch_sizes=kw.get("batch_sizes"),
                                  reverse=kw.get("reverse", False))

    def theirs(xw, h0, c0, w_hh, *w_hr):
        return torch_lstm_scan(xw, h0, c0, w_hh, *w_hr, **kw)

    return ours, theirs


def _gru(**kw):
    def ours(xw, h0, w_hh, *b_hh):
        return rnn.GruScan.apply(xw, h0, w_hh, *b_hh, batch_sizes=kw.get("batch_sizes"),
                                 reverse=kw.get("reverse", False))

    def theirs(xw, h0, w_hh, *b_hh):
        return torch_gru_scan(xw, h0, w_hh, *b_hh, **kw)

    return ours, theirs


def _rnn(**kw):
    def ours(xw, h0, w_hh):
        return rnn.RnnScan.apply(xw, h0, w_hh, nonlinearity=kw.get("nonlinearity", "tanh"),
                                 batch_sizes=kw.get("batch_sizes"),
                                 reverse=kw.get("reverse", False))

    def theirs(xw, h0, w_hh):
        return torch_rnn_scan(xw, h0, w_hh, **kw)

    return ours, theirs


def _relu_inputs(r):
    # away from the kink: pre-activations stay clear of 0 for finite differences
    xw = r.choice([-1.0, 1.0], (3, 2, 2)) * r.uniform(0.5, 1.5, (3, 2, 2))
    return [xw, r.uniform(-0.1, 0.1, (2, 2)), r.uniform(-0.1, 0.1, (2, 2))]


SPECS = [
    OpSpec("lstm_scan", *_lstm(), shapes=[(3, 2, 8), (2, 2), (2, 2), (8, 2)]),
    OpSpec("lstm_scan", *_lstm(reverse=True), shapes=[(3, 2, 8), (2, 2), (2, 2), (8, 2)],
           variant="reverse"),
    OpSpec("lstm_scan", *_lstm(), shapes=[(2, 2, 12), (2, 2), (2, 3), (12, 2), (2, 3)],
           variant="proj"),
    OpSpec("lstm_scan", *_lstm(batch_sizes=PACKED), shapes=[(4, 3, 8), (3, 2), (3, 2), (8, 2)],
           variant="packed"),
    OpSpec("lstm_scan", *_lstm(batch_sizes=PACKED, reverse=True),
           shapes=[(4, 3, 8), (3, 1), (3, 2), (8, 1), (1, 2)], variant="packed_reverse_proj"),
    OpSpec("gru_scan", *_gru(), shapes=[(3, 2, 6), (2, 2), (6, 2), (6,)]),
    OpSpec("gru_scan", *_gru(reverse=True), shapes=[(3, 2, 6), (2, 2), (6, 2)],
           variant="reverse_no_bias"),
    OpSpec("gru_scan", *_gru(batch_sizes=PACKED), shapes=[(4, 3, 6), (3, 2), (6, 2), (6,)],
           variant="packed"),
    OpSpec("gru_scan", *_gru(batch_sizes=PACKED, reverse=True),
           shapes=[(4, 3, 6), (3, 2), (6, 2), (6,)], variant="packed_reverse"),
    OpSpec("rnn_scan", *_rnn(), shapes=[(3, 2, 2), (2, 2), (2, 2)]),
    OpSpec("rnn_scan", *_rnn(nonlinearity="relu", reverse=True), make_inputs=_relu_inputs,
           variant="relu_reverse"),
    OpSpec("rnn_scan", *_rnn(batch_sizes=PACKED, reverse=True),
           shapes=[(4, 3, 2), (3, 2), (2, 2)], variant="packed_reverse"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.name != "rnn_scan"] + SPECS[-2:],
                         ids=lambda s: s.id)
def test_raw_and_graph_vjp_paths_agree(spec: OpSpec) -> None:
    """The array sweep and the Tensor sweep (create_graph) give the same gradients, also with
    a cotangent on the workspace (which only double backward sends)."""
    arrays = spec.inputs(np.float64)
    rng = np.random.default_rng(3)

    def run(create_graph):
        xs = [chainrule.tensor(a, requires_grad=True) for a in arrays]
        out = spec.fn(*xs)
        cot = chainrule.tensor(rng.standard_normal(tuple(out.shape)))
        return chainrule.autograd.grad(out, xs, cot, create_graph=create_graph)

    state = rng.bit_generator.state
    raw = run(False)
    rng.bit_generator.state = state
    graph = run(True)
    for a, b in zip(raw, graph):
        assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_public_functions_return_states() -> None:
    rng = np.random.default_rng(0)
    xw = chainrule.tensor(rng.standard_normal((4, 3, 8)))
    h0, c0 = chainrule.tensor(rng.standard_normal((3, 2))), chainrule.tensor(
        rng.standard_normal((3, 2)))
    w = chainrule.tensor(rng.standard_normal((8, 2)))
    ys, h_n, c_n = rnn.lstm_scan(xw, h0, c0, w, batch_sizes=PACKED)
    flat = torch_lstm_scan(*(torch.tensor(t.numpy()) for t in (xw, h0, c0, w)),
                           batch_sizes=PACKED)
    t_ys = flat[:24].reshape(4, 3, 2)
    t_cs = flat[24:48].reshape(4, 2, 3).transpose(1, 2)  # stored (T, H, B)
    assert_close(ys, t_ys)
    # the final state of each row is its state after its last active step
    assert_close(h_n, torch.stack([t_ys[3, 0], t_ys[2, 1], t_ys[0, 2]]))
    assert_close(c_n, torch.stack([t_cs[3, 0], t_cs[2, 1], t_cs[0, 2]]))
    ys, h_n = rnn.gru_scan(chainrule.tensor(rng.standard_normal((4, 3, 6))), h0,
                           chainrule.tensor(rng.standard_normal((6, 2))), reverse=True)
    assert_close(h_n, ys[0])
