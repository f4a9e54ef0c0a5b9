"""Recurrent scans: one primitive per cell family runs a whole sequence through its recurrence.

The input projection ``xw = x @ W_ih^T + b`` of every time step is one GEMM done before the
scan (by the caller: nn.RNN/LSTM/GRU). What is left is inherently sequential: per step one GEMM
with the recurrent weight and the gate arithmetic. A primitive per scan (rather than a graph of
~15 nodes per step) keeps the per-step cost to those few NumPy calls, forward and backward, and
lets the backward compute the weight gradients as one GEMM over all steps at the end.

Each scan returns one flat array holding everything its vjp needs, in three (or fewer)
contiguous blocks, so that the states are views and nothing is copied out:

    lstm_scan: [h_t (T, B, P) | c_t (T, H, B) | activated gates i, f, g, o (T, 4H, B)]
    gru_scan:  [h_t (T, B, H) | r, z, n and W_hn h_{t-1} + b_hn (T, B, 4H)]
    rnn_scan:  [h_t (T, B, H)]

(torch's fused LSTM cell likewise returns its gates as a "workspace" output.) The LSTM's
cell states and gates are stored gate-major, a ``(features, B)`` block per step: its steps
run as ``W_hh @ h^T`` GEMMs, about twice as fast in OpenBLAS as ``h @ W_hh^T`` (see
LstmScan). The public functions below return the states as tensors; the workspace stays
internal.

Variable lengths (packed sequences): ``batch_sizes[t]`` rows are active at step ``t`` (the rows
are sorted by length, longest first). Inactive rows keep their state unchanged, so after the
scan the state rows hold each sequence's final state, in either direction, and a row that has
not started yet (reverse direction) still holds its initial state.

Derivatives. With no graph being built the vjp runs backpropagation through time on arrays, in
one sweep (forward order reversed), and computes ``dW = sum_t da_t^T h_{t-1}`` as one GEMM. Under
``create_graph`` the same recurrence is written with Tensor operations (reading the saved
states through ``out``, which then carries this node), so double backward is exact. The jvp
runs the linearised recurrence forward with Tensor operations.
"""

from __future__ import annotations

from typing import Any

from chainrule import _backend
from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.op import Op
from chainrule.ops.movement import cat, stack

xp = _backend.xp

__all__ = ["lstm_scan", "gru_scan", "rnn_scan"]


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _steps(T: int, B: int, batch_sizes: tuple[int, ...] | None,
           reverse: bool) -> list[tuple[int, int, int | None]]:
    """``(t, n, t_prev)`` per step in processing order: ``n`` active rows, and the step whose
    state feeds step ``t`` (``None``: the initial state)."""
    order = range(T - 1, -1, -1) if reverse else range(T)
    steps = []
    prev = None
    for t in order:
        steps.append((t, B if batch_sizes is None else batch_sizes[t], prev))
        prev = t
    return steps


def _blocks(flat: Any, T: int, B: int, widths: tuple[int, ...]) -> list[Any]:
    """The contiguous blocks of a flat scan output (array or Tensor), each ``(T, B, w)``."""
    out = []
    start = 0
    for w in widths:
        n = T * B * w
        out.append(flat[start:start + n].reshape(T, B, w))
        start += n
    return out


def _alloc(like: Any, T: int, B: int, widths: tuple[int, ...]) -> tuple[Any, list[Any]]:
    flat = xp.empty(T * B * sum(widths), dtype=like.dtype)
    return flat, _blocks(flat, T, B, widths)


_AFFINE: dict[tuple[int, Any], tuple[Any, Any]] = {}


def _lstm_affine(H: int, dtype: Any) -> tuple[Any, Any]:
    """``(s, b)`` with ``act(x) = s * tanh(s * x) + b`` per gate column: sigmoid for i, f, o
    (``sigmoid(x) = 0.5 tanh(x / 2) + 0.5``, which never overflows) and tanh for g. One
    expression over the contiguous (n, 4H) block beats four strided ones."""
    key = (H, dtype)
    pair = _AFFINE.get(key)
    if pair is None:
        s = xp.full(4 * H, 0.5, dtype=dtype)
        s[2 * H:3 * H] = 1.0
        b = xp.full(4 * H, 0.5, dtype=dtype)
        b[2 * H:3 * H] = 0.0
        pair = _AFFINE[key] = (s, b)
    return pair


def _sigmoid_(a: Any) -> None:
    """``a = sigmoid(a)`` in place, as ``0.5 tanh(a / 2) + 0.5`` (no overflow)."""
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _weight_grad(da: Any, ys: Any, h0: Any, reverse: bool) -> Any:
    """``sum_t da_t^T h_{t-1}`` as two GEMMs without copying the states: the step fed by
    ``h0``, and all the steps fed by an earlier step (rows inactive at a step have ``da = 0``,
    so they add nothing)."""
    T, B, G = da.shape
    if reverse:
        first, fed, prev = T - 1, slice(0, T - 1), ys[1:]
    else:
        first, fed, prev = 0, slice(1, T), ys[:T - 1]
    out = da[first].T @ h0
    if T > 1:
        out += da[fed].reshape(-1, G).T @ prev.reshape(-1, prev.shape[-1])
    return out


def _transposed(w: Any) -> Any:
    """``w.T`` as a C-contiguous copy, in bands of 32 rows: NumPy's one-call transposing copy
    of a (1024, 256) float32 matrix took 0.27 ms, the banded one 0.08 ms."""
    rows = w.shape[0]
    out = xp.empty((w.shape[1], rows), dtype=w.dtype)
    for r in range(0, rows, 32):
        out[:, r:r + 32] = w[r:r + 32].T
    return out


def _t_cat_rows(active: Any, rest: Any) -> Any:
    return active if rest is None else cat([active, rest], 0)


def _t_frozen(full: Any, n: int, B: int) -> Any:
    """The rows of a (B, w) Tensor from ``n`` on (inactive at this step), or None."""
    return full[n:] if n < B else None


# ---------------------------------------------------------------------------------------------
# LSTM


def _lstm_raw(flat: Any, T: int, B: int, P: int, H: int) -> tuple[Any, Any, Any]:
    """The blocks of an LSTM scan's flat output as stored: ``h (T, B, P)``, ``c (T, H, B)``,
    ``gates (T, 4H, B)`` (the cell state and gates gate-major: see :class:`LstmScan`)."""
    n_h, n_c = T * B * P, T * B * H
    return (flat[:n_h].reshape(T, B, P), flat[n_h:n_h + n_c].reshape(T, H, B),
            flat[n_h + n_c:n_h + n_c + 4 * n_c].reshape(T, 4 * H, B))


def _lstm_views(flat: Any, T: int, B: int, P: int, H: int) -> tuple[Any, Any, Any]:
    """The same blocks (array or Tensor) as batch-major views ``(T, B, w)``."""
    ys, cs, gates = _lstm_raw(flat, T, B, P, H)
    return ys, cs.swapaxes(1, 2), gates.swapaxes(1, 2)


class LstmScan(Op):
    """LSTM over a sequence: ``a_t = xw_t + h_{t-1} W_hh^T``, ``i, f, o = sigmoid``, ``g = tanh``
    of a_t's four blocks, ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)`` (times ``W_hr^T`` with a
    projection); out = [h | c | gates];  the derivative is backpropagation through time.

    The steps run gate-major: ``a_t^T = W_hh h_{t-1}^T`` is a ``(4H, P) @ (P, B)`` product, which
    OpenBLAS computes in about half the time of the batch-major ``(B, P) @ (P, 4H)`` one
    (measured: 46 against 87 us for H = P = 256, B = 32 on two cores), and each gate is then a
    contiguous block of rows. So c and the gates are stored ``(T, H, B)`` and ``(T, 4H, B)``;
    ``h`` stays ``(T, B, P)``, the layout the caller reads. ``xw`` is read as ``xw[t].T``:
    fastest when its memory is ``(4H, T, B)``-ordered, as nn.LSTM's projection writes it."""

    needs_output = True

    @staticmethod
    def forward(xw, h0, c0, w_hh, *w_hr, batch_sizes, reverse):
        T, B, G = xw.shape
        H = G // 4
        P = h0.shape[1]
        flat = xp.empty(T * B * (P + H + G), dtype=xw.dtype)
        ys, cs, gates = _lstm_raw(flat, T, B, P, H)
        w_r = w_hr[0] if w_hr else None
        tmp = xp.empty((H, B), dtype=xw.dtype)  # tanh(c), then o tanh(c)
        # h_{t-1}^T for the GEMM, contiguous (a few us faster than the transposed view of ys)
        h_t = xp.array(h0.T, order="C")  # (a copy: it is written)
        h, c = h0, c0.T
        for t, n, _ in _steps(T, B, batch_sizes, reverse):
            a, c_new, h_new = gates[t], cs[t], ys[t]
            if n < B:
                a[:, n:] = 0
                a, cn, m, hv, ht = a[:, :n], c_new[:, :n], tmp[:, :n], h_new[:n], h_t[:, :n]
                c_prev = c[:, :n]
            else:
                cn, m, hv, ht, c_prev = c_new, tmp, h_new, h_t, c
            xp.matmul(w_hh, ht, out=a)
            a += xw[t, :n].T
            # sigmoid(x) = 0.5 tanh(x / 2) + 0.5 (never overflows) for i, f and o; tanh for g
            s1, s2 = a[:2 * H], a[3 * H:]
            s1 *= 0.5
            s2 *= 0.5
            xp.tanh(a, out=a)
            s1 *= 0.5
            s1 += 0.5
            s2 *= 0.5
            s2 += 0.5
            xp.multiply(a[H:2 * H], c_prev, out=cn)
            xp.multiply(a[:H], a[2 * H:3 * H], out=m)
            cn += m
            xp.tanh(cn, out=m)
            if w_r is None:
                xp.multiply(m, s2, out=ht)
            else:
                m *= s2
                xp.matmul(w_r, m, out=ht)
            hv[...] = ht.T
            if n < B:
                c_new[:, n:] = c[:, n:]
                h_new[n:] = h[n:]
            h, c = h_new, c_new
        return flat

    @staticmethod
    def vjp(g, out, xw, h0, c0, w_hh, *w_hr, batch_sizes, reverse):
        if not STATE.enabled:
            return _lstm_vjp_arrays(g._data, out._data, xw, h0, c0, w_hh, w_hr, batch_sizes,
                                    reverse)
        return _lstm_vjp_tensors(g, out, xw, h0, c0, w_hh, w_hr, batch_sizes, reverse)

    @staticmethod
    def jvp(*args, batch_sizes, reverse):
        k = (len(args) - 1) // 2
        dots, (out, xw, h0, c0, w_hh, *w_hr) = args[:k], args[k:]
        xw_dot, h0_dot, c0_dot, w_hh_dot, *w_hr_dot = dots
        T, B, G = xw.shape
        H = G // 4
        P = h0.shape[1]
        ys, cs, gates = _lstm_views(out, T, B, P, H)
        h, c, h_dot, c_dot = h0, c0, h0_dot, c0_dot
        y_dots, c_dots, a_dots = [None] * T, [None] * T, [None] * T
        for t, n, _ in _steps(T, B, batch_sizes, reverse):
            a = gates[t, :n]
            i, f, gg, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            pre_dot = xw_dot[t, :n] + h_dot[:n] @ w_hh.T + h[:n] @ w_hh_dot.T
            act = cat([i * (1 - i), f * (1 - f), 1 - gg * gg, o * (1 - o)], 1)
            a_dot = pre_dot * act
            i_d, f_d, g_d, o_d = (a_dot[:, :H], a_dot[:, H:2 * H], a_dot[:, 2 * H:3 * H],
                                  a_dot[:, 3 * H:])
            cn_dot = f_d * c[:n] + f * c_dot[:n] + i_d * gg + i * g_d
            tc = cs[t, :n].tanh()
            m_dot = o_d * tc + o * (1 - tc * tc) * cn_dot
            if w_hr:
                hn_dot = m_dot @ w_hr[0].T + (o * tc) @ w_hr_dot[0].T
            else:
                hn_dot = m_dot
            c_dot = _t_cat_rows(cn_dot, _t_frozen(c_dot, n, B))
            h_dot = _t_cat_rows(hn_dot, _t_frozen(h_dot, n, B))
            if n < B:
                a_dot = cat([a_dot, a_dot.new_zeros((B - n, G))], 0)
            y_dots[t], c_dots[t], a_dots[t] = h_dot, c_dot, a_dot
            h, c = ys[t], cs[t]
        return cat([stack(y_dots).reshape(-1), stack(c_dots).swapaxes(1, 2).reshape(-1),
                    stack(a_dots).swapaxes(1, 2).reshape(-1)])


def _lstm_vjp_arrays(g, out, xw_t, h0_t, c0_t, w_hh_t, w_hr_t, batch_sizes, reverse):
    """Backpropagation through time on arrays, gate-major as the forward. What does not depend
    on the recurrence is computed for all steps at once before the sweep (one pass over each
    block rather than T small ones): ``q = o (1 - tanh(c)^2)`` and the factors ``k`` that turn
    ``d c_t`` (for i, f, g) and ``d m_t`` (for o) into the pre-activation gradients. The sweep
    then does six element-wise passes and one GEMM per step."""
    xw, h0, c0, w_hh = xw_t._data, h0_t._data, c0_t._data, w_hh_t._data
    w_hr = w_hr_t[0]._data if w_hr_t else None
    T, B, G = xw.shape
    H = G // 4
    P = h0.shape[1]
    dt = xw.dtype
    ys, cs, gates = _lstm_raw(out, T, B, P, H)
    g_ys, g_cs, g_gates = _lstm_raw(g, T, B, P, H)
    gate_cot = bool(g_gates.any())  # nonzero only when differentiating a vjp (double backward)
    c_cot = bool(g_cs.any())  # nonzero only when c_n (or a c_t) is used
    i, f, gg, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    tc = xp.tanh(cs)
    q = xp.multiply(tc, tc)
    xp.subtract(1, q, out=q)
    q *= o
    # through the activations: s (1 - s) for the sigmoid gates, 1 - g^2 for g
    k = xp.subtract(1, gates)
    k *= gates
    kg = k[:, 2 * H:3 * H]
    xp.multiply(gg, gg, out=kg)
    xp.subtract(1, kg, out=kg)
    extra = xp.multiply(g_gates, k) if gate_cot else None
    k[:, :H] *= gg  # d i = d c_t g
    kf = k[:, H:2 * H]  # d f = d c_t c_{t-1}
    c0t = c0.T
    if reverse:
        kf[:T - 1] *= cs[1:]
        kf[T - 1] *= c0t
    else:
        kf[1:] *= cs[:T - 1]
        kf[0] *= c0t
    kg *= i  # d g = d c_t i
    k[:, 3 * H:] *= tc  # d o = d m_t tanh(c_t)
    k3 = k[:, :3 * H].reshape(T, 3, H, B)
    dxw = xp.empty((G, T, B), dtype=dt)  # gate-major, as the projection's gradient wants it
    w_t = _transposed(w_hh)
    dh = xp.zeros((P, B), dtype=dt)
    dc = xp.zeros((H, B), dtype=dt)
    dct = xp.empty((H, B), dtype=dt)
    if w_hr is not None:
        dh_all = xp.zeros((T, P, B), dtype=dt)
        dm_buf = xp.empty((H, B), dtype=dt)
        w_r_t = _transposed(w_hr)
    k_o = k[:, 3 * H:]
    dxw3 = dxw[:3 * H].reshape(3, H, T, B)
    g_yt = xp.empty((T, P, B), dtype=dt)  # one transposing copy, then contiguous adds
    xp.copyto(g_yt, g_ys.transpose(0, 2, 1))
    for t, n, _ in reversed(_steps(T, B, batch_sizes, reverse)):
        dh += g_yt[t]
        if c_cot:
            dc += g_cs[t]
        da, da3 = dxw[:, t], dxw3[:, :, t]
        if n < B:
            da[:, n:] = 0
            da, da3, dhv, dcv, d_c = da[:, :n], da3[:, :, :n], dh[:, :n], dc[:, :n], dct[:, :n]
            q_t, k3_t, ko_t, f_t = q[t, :, :n], k3[t, :, :, :n], k_o[t, :, :n], f[t, :, :n]
        else:
            dhv, dcv, d_c, q_t, k3_t, ko_t, f_t = dh, dc, dct, q[t], k3[t], k_o[t], f[t]
        if w_hr is not None:
            dh_all[t, :, :n] = dhv
            dm = dm_buf[:, :n]
            xp.matmul(w_r_t, dhv, out=dm)
        else:
            dm = dhv
        xp.multiply(dm, q_t, out=d_c)  # d c_t = dc + dm o (1 - tanh(c_t)^2)
        d_c += dcv
        xp.multiply(k3_t, d_c, out=da3)  # d i, d f, d g
        xp.multiply(dm, ko_t, out=da[3 * H:])  # d o
        xp.multiply(d_c, f_t, out=dcv)  # d c_{t-1}
        if gate_cot:
            da += extra[t, :, :n]
        xp.matmul(w_t, da, out=dhv)
    grads = [dxw.transpose(1, 2, 0) if xw_t._requires_grad else None,
             xp.ascontiguousarray(dh.T) if h0_t._requires_grad else None,
             xp.ascontiguousarray(dc.T) if c0_t._requires_grad else None,
             _weight_grad_gm(dxw, ys, h0, reverse) if w_hh_t._requires_grad else None]
    if w_hr is not None:
        gw = None
        if w_hr_t[0]._requires_grad:
            tc *= o  # m_t = o tanh(c_t), (T, H, B)
            gw = xp.matmul(dh_all, tc.transpose(0, 2, 1)).sum(0)
        grads.append(gw)
    return tuple(None if a is None else _backend.wrap(a) for a in grads)


def _weight_grad_gm(da: Any, ys: Any, h0: Any, reverse: bool) -> Any:
    """:func:`_weight_grad` for a gate-major ``da`` ``(G, T, B)``: ``sum_t da_t h_{t-1}``."""
    G, T, B = da.shape
    if reverse:
        first, fed, prev = T - 1, slice(0, T - 1), ys[1:]
    else:
        first, fed, prev = 0, slice(1, T), ys[:T - 1]
    out = da[:, first] @ h0
    if T > 1:
        out += da[:, fed].reshape(G, -1) @ prev.reshape(-1, prev.shape[-1])
    return out


def _lstm_vjp_tensors(g, out, xw, h0, c0, w_hh, w_hr, batch_sizes, reverse):
    T, B, G = xw.shape
    H = G // 4
    P = h0.shape[1]
    ys, cs, gates = _lstm_views(out, T, B, P, H)
    g_ys, g_cs, g_gates = _lstm_views(g, T, B, P, H)
    dh, dc = h0.new_zeros((B, P)), c0.new_zeros((B, H))
    dxw: list[Any] = [None] * T
    dw_hh = dw_hr = None
    for t, n, tp in reversed(_steps(T, B, batch_sizes, reverse)):
        dh = dh + g_ys[t]
        dc = dc + g_cs[t]
        a = gates[t, :n]
        i, f, gg, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        h_prev = h0[:n] if tp is None else ys[tp, :n]
        c_prev = c0[:n] if tp is None else cs[tp, :n]
        tc = cs[t, :n].tanh()
        if w_hr:
            dm = dh[:n] @ w_hr[0]
            term = dh[:n].T @ (o * tc)
            dw_hr = term if dw_hr is None else dw_hr + term
        else:
            dm = dh[:n]
        dct = dc[:n] + dm * o * (1 - tc * tc)
        d_act = cat([dct * gg, dct * c_prev, dct * i, dm * tc], 1) + g_gates[t, :n]
        da = d_act * cat([i * (1 - i), f * (1 - f), 1 - gg * gg, o * (1 - o)], 1)
        term = da.T @ h_prev
        dw_hh = term if dw_hh is None else dw_hh + term
        dh = _t_cat_rows(da @ w_hh, _t_frozen(dh, n, B))
        dc = _t_cat_rows(dct * f, _t_frozen(dc, n, B))
        dxw[t] = da if n == B else cat([da, da.new_zeros((B - n, G))], 0)
    grads = (stack(dxw), dh, dc, dw_hh)
    return grads + ((dw_hr,) if w_hr else ())


def lstm_scan(xw: Any, h0: Any, c0: Any, w_hh: Any, w_hr: Any = None, *,
              batch_sizes: tuple[int, ...] | None = None,
              reverse: bool = False) -> tuple[Any, Any, Any]:
    """Run an LSTM layer (one direction) over pre-projected inputs.

    Args:
        xw: ``x_t @ W_ih^T + b_ih + b_hh`` for every step, ``(T, B, 4H)``.
        h0: initial hidden state ``(B, P)`` (``P = H`` without projection).
        c0: initial cell state ``(B, H)``.
        w_hh: recurrent weight ``(4H, P)``.
        w_hr: projection weight ``(P, H)``, or None.
        batch_sizes: active rows per step (packed sequences, longest first), or None.
        reverse: run from the last step to the first.

    Returns:
        ``(h, h_n, c_n)``: every step's hidden state ``(T, B, P)`` and the final states.

    Example:
        >>> import chainrule
        >>> from chainrule.ops.rnn import lstm_scan
        >>> h, h_n, c_n = lstm_scan(chainrule.zeros(5, 2, 12), chainrule.zeros(2, 3),
        ...                         chainrule.ones(2, 3), chainrule.zeros(12, 3))
        >>> tuple(h.shape), round(c_n[0, 0].item(), 4)   # c halves each step: f = 0.5, i g = 0
        ((5, 2, 3), 0.0312)
    """
    T, B, G = xw.shape
    H, P = G // 4, h0.shape[1]
    args = (xw, h0, c0, w_hh) if w_hr is None else (xw, h0, c0, w_hh, w_hr)
    flat = LstmScan.apply(*args, batch_sizes=batch_sizes, reverse=reverse)
    ys, cs, _ = _lstm_raw(flat, T, B, P, H)
    last = 0 if reverse else T - 1
    return ys, ys[last], cs[last].T.contiguous()  # (c is stored (T, H, B))


# ---------------------------------------------------------------------------------------------
# GRU


class GruScan(Op):
    """GRU over a sequence: ``hw = h_{t-1} W_hh^T + b_hh``, ``r, z = sigmoid(xw + hw)`` (their
    blocks), ``n = tanh(xw_n + r hw_n)``, ``h_t = (1 - z) n + z h_{t-1}``; out = [h | r, z, n,
    hw_n];  the derivative is backpropagation through time."""

    needs_output = True

    @staticmethod
    def forward(xw, h0, w_hh, *b_hh, batch_sizes, reverse):
        T, B, G = xw.shape
        H = G // 3
        flat, (ys, ws) = _alloc(xw, T, B, (H, 4 * H))
        w_t = w_hh.T
        h = h0
        for t, n, _ in _steps(T, B, batch_sizes, reverse):
            a = ws[t]
            if n < B:
                a[n:] = 0
                a = a[:n]
            hw = h[:n] @ w_t
            if b_hh:
                hw += b_hh[0]
            x = xw[t, :n]
            rz = a[:, :2 * H]
            xp.add(x[:, :2 * H], hw[:, :2 * H], out=rz)
            _sigmoid_(rz)
            hn = a[:, 3 * H:]
            hn[...] = hw[:, 2 * H:]
            nn = a[:, 2 * H:3 * H]
            xp.multiply(rz[:, :H], hn, out=nn)
            nn += x[:, 2 * H:]
            xp.tanh(nn, out=nn)
            h_new = ys[t]
            hv = h_new[:n]
            xp.subtract(h[:n], nn, out=hv)  # h' = n + z (h - n)
            hv *= rz[:, H:]
            hv += nn
            if n < B:
                h_new[n:] = h[n:]
            h = h_new
        return flat

    @staticmethod
    def vjp(g, out, xw, h0, w_hh, *b_hh, batch_sizes, reverse):
        if not STATE.enabled:
            return _gru_vjp_arrays(g._data, out._data, xw, h0, w_hh, b_hh, batch_sizes, reverse)
        return _gru_vjp_tensors(g, out, xw, h0, w_hh, b_hh, batch_sizes, reverse)

    @staticmethod
    def jvp(*args, batch_sizes, reverse):
        k = (len(args) - 1) // 2
        dots, (out, xw, h0, w_hh, *b_hh) = args[:k], args[k:]
        xw_dot, h0_dot, w_hh_dot, *b_hh_dot = dots
        T, B, G = xw.shape
        H = G // 3
        ys, ws = _blocks(out, T, B, (H, 4 * H))
        h, h_dot = h0, h0_dot
        y_dots, w_dots = [None] * T, [None] * T
        for t, n, _ in _steps(T, B, batch_sizes, reverse):
            a = ws[t, :n]
            r, z, nn, hn = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            hw_dot = h_dot[:n] @ w_hh.T + h[:n] @ w_hh_dot.T
            if b_hh:
                hw_dot = hw_dot + b_hh_dot[0]
            x_dot = xw_dot[t, :n]
            rz_dot = (x_dot[:, :2 * H] + hw_dot[:, :2 * H]) * cat([r * (1 - r), z * (1 - z)], 1)
            r_dot, z_dot = rz_dot[:, :H], rz_dot[:, H:]
            hn_dot = hw_dot[:, 2 * H:]
            n_dot = (x_dot[:, 2 * H:] + r_dot * hn + r * hn_dot) * (1 - nn * nn)
            hv_dot = n_dot + z_dot * (h[:n] - nn) + z * (h_dot[:n] - n_dot)
            h_dot = _t_cat_rows(hv_dot, _t_frozen(h_dot, n, B))
            w_dot = cat([r_dot, z_dot, n_dot, hn_dot], 1)
            if n < B:
                w_dot = cat([w_dot, w_dot.new_zeros((B - n, 4 * H))], 0)
            y_dots[t], w_dots[t] = h_dot, w_dot
            h = ys[t]
        return cat([stack(y_dots).reshape(-1), stack(w_dots).reshape(-1)])


def _gru_vjp_arrays(g, out, xw_t, h0_t, w_hh_t, b_hh_t, batch_sizes, reverse):
    xw, h0, w_hh = xw_t._data, h0_t._data, w_hh_t._data
    T, B, G = xw.shape
    H = G // 3
    ys, ws = _blocks(out, T, B, (H, 4 * H))
    g_ys, g_ws = _blocks(g, T, B, (H, 4 * H))
    ws_cot = bool(g_ws.any())  # nonzero only when differentiating a vjp (double backward)
    dxw = xp.empty_like(xw)
    dhw_all = xp.zeros((T, B, G), dtype=xw.dtype)
    dh = xp.zeros((B, H), dtype=xw.dtype)
    for t, n, tp in reversed(_steps(T, B, batch_sizes, reverse)):
        dh += g_ys[t]
        a = ws[t, :n]
        r, z, nn, hn = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        h_prev = h0[:n] if tp is None else ys[tp, :n]
        dhv = dh[:n]
        da = dxw[t]
        if n < B:
            da[n:] = 0
            da = da[:n]
        dhw = dhw_all[t, :n]
        da_n = da[:, 2 * H:]
        xp.multiply(dhv, z, out=da_n)  # d n = dh (1 - z)
        xp.subtract(dhv, da_n, out=da_n)
        dz = xp.subtract(h_prev, nn)
        dz *= dhv
        if ws_cot:
            gw = g_ws[t, :n]
            da_n += gw[:, 2 * H:3 * H]
            dz += gw[:, H:2 * H]
        dn2 = nn * nn  # through tanh: 1 - n^2
        xp.subtract(1, dn2, out=dn2)
        da_n *= dn2
        xp.multiply(da_n, r, out=dhw[:, 2 * H:])  # d hw_n
        dr = da_n * hn
        if ws_cot:
            dr += gw[:, :H]
            dhw[:, 2 * H:] += gw[:, 3 * H:]
        d = xp.subtract(1, r)  # through the sigmoids: s (1 - s)
        d *= r
        xp.multiply(dr, d, out=da[:, :H])
        xp.subtract(1, z, out=d)
        d *= z
        xp.multiply(dz, d, out=da[:, H:2 * H])
        dhw[:, :2 * H] = da[:, :2 * H]
        dh_prev = dhw @ w_hh
        dh_prev += dhv * z
        dh[:n] = dh_prev
    grads = [dxw if xw_t._requires_grad else None,
             dh if h0_t._requires_grad else None,
             _weight_grad(dhw_all, ys, h0, reverse) if w_hh_t._requires_grad else None]
    if b_hh_t:
        grads.append(dhw_all.sum(axis=(0, 1)) if b_hh_t[0]._requires_grad else None)
    return tuple(None if a is None else _backend.wrap(a) for a in grads)


def _gru_vjp_tensors(g, out, xw, h0, w_hh, b_hh, batch_sizes, reverse):
    T, B, G = xw.shape
    H = G // 3
    ys, ws = _blocks(out, T, B, (H, 4 * H))
    g_ys, g_ws = _blocks(g, T, B, (H, 4 * H))
    dh = h0.new_zeros((B, H))
    dxw: list[Any] = [None] * T
    dw_hh = db_hh = None
    for t, n, tp in reversed(_steps(T, B, batch_sizes, reverse)):
        dh = dh + g_ys[t]
        a = ws[t, :n]
        r, z, nn, hn = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        gw = g_ws[t, :n]
        h_prev = h0[:n] if tp is None else ys[tp, :n]
        dhv = dh[:n]
        da_n = (dhv * (1 - z) + gw[:, 2 * H:3 * H]) * (1 - nn * nn)
        dz = dhv * (h_prev - nn) + gw[:, H:2 * H]
        dr = da_n * hn + gw[:, :H]
        dhw_n = da_n * r + gw[:, 3 * H:]
        da_rz = cat([dr * r * (1 - r), dz * z * (1 - z)], 1)
        dhw = cat([da_rz, dhw_n], 1)
        term = dhw.T @ h_prev
        dw_hh = term if dw_hh is None else dw_hh + term
        bterm = dhw.sum(0)
        db_hh = bterm if db_hh is None else db_hh + bterm
        dh = _t_cat_rows(dhw @ w_hh + dhv * z, _t_frozen(dh, n, B))
        da = cat([da_rz, da_n], 1)
        dxw[t] = da if n == B else cat([da, da.new_zeros((B - n, G))], 0)
    grads = (stack(dxw), dh, dw_hh)
    return grads + ((db_hh,) if b_hh else ())


def gru_scan(xw: Any, h0: Any, w_hh: Any, b_hh: Any = None, *,
             batch_sizes: tuple[int, ...] | None = None,
             reverse: bool = False) -> tuple[Any, Any]:
    """Run a GRU layer (one direction) over pre-projected inputs.

    Args:
        xw: ``x_t @ W_ih^T + b_ih`` for every step, ``(T, B, 3H)``.
        h0: initial hidden state ``(B, H)``.
        w_hh: recurrent weight ``(3H, H)``.
        b_hh: recurrent bias ``(3H,)`` (inside ``r * (W_hn h + b_hn)``), or None.
        batch_sizes: active rows per step (packed sequences, longest first), or None.
        reverse: run from the last step to the first.

    Returns:
        ``(h, h_n)``: every step's hidden state ``(T, B, H)`` and the final one.

    Example:
        >>> import chainrule
        >>> from chainrule.ops.rnn import gru_scan
        >>> h, h_n = gru_scan(chainrule.zeros(4, 1, 6), chainrule.ones(1, 2),
        ...                   chainrule.zeros(6, 2))
        >>> h_n   # z = 0.5, n = 0: h halves each step
        tensor([[0.0625, 0.0625]])
    """
    T, B, G = xw.shape
    H = G // 3
    args = (xw, h0, w_hh) if b_hh is None else (xw, h0, w_hh, b_hh)
    flat = GruScan.apply(*args, batch_sizes=batch_sizes, reverse=reverse)
    (ys,) = _blocks(flat, T, B, (H,))
    return ys, ys[0 if reverse else T - 1]


# ---------------------------------------------------------------------------------------------
# Elman RNN


class RnnScan(Op):
    """Elman RNN over a sequence: ``h_t = act(xw_t + h_{t-1} W_hh^T)`` with act tanh or relu;
    out = h;  the derivative is backpropagation through time (relu'(0) = 0, as torch)."""

    needs_output = True

    @staticmethod
    def forward(xw, h0, w_hh, *, nonlinearity, batch_sizes, reverse):
        T, B, H = xw.shape
        ys = xp.empty((T, B, H), dtype=xw.dtype)
        w_t = w_hh.T
        h = h0
        for t, n, _ in _steps(T, B, batch_sizes, reverse):
            a = ys[t, :n]
            xp.matmul(h[:n], w_t, out=a)
            a += xw[t, :n]
            if nonlinearity == "tanh":
                xp.tanh(a, out=a)
            else:
                xp.maximum(a, 0, out=a)
            if n < B:
                ys[t, n:] = h[n:]
            h = ys[t]
        return ys.reshape(-1)

    @staticmethod
    def vjp(g, out, xw, h0, w_hh, *, nonlinearity, batch_sizes, reverse):
        T, B, H = xw.shape
        relu = nonlinearity != "tanh"
        if not STATE.enabled:
            ys = out._data.reshape(T, B, H)
            g_ys = g._data.reshape(T, B, H)
            dxw = xp.empty_like(xw._data)
            dh = xp.zeros((B, H), dtype=dxw.dtype)
            w = w_hh._data
            for t, n, _ in reversed(_steps(T, B, batch_sizes, reverse)):
                dh += g_ys[t]
                da = dxw[t]
                if n < B:
                    da[n:] = 0
                    da = da[:n]
                y = ys[t, :n]
                if relu:
                    xp.multiply(dh[:n], y > 0, out=da)
                else:
                    xp.multiply(y, y, out=da)
                    xp.subtract(1, da, out=da)
                    da *= dh[:n]
                xp.matmul(da, w, out=dh[:n])
            grads = (dxw if xw._requires_grad else None,
                     dh if h0._requires_grad else None,
                     _weight_grad(dxw, ys, h0._data, reverse) if w_hh._requires_grad else None)
            return tuple(None if a is None else _backend.wrap(a) for a in grads)
        ys, g_ys = out.reshape(T, B, H), g.reshape(T, B, H)
        dh = h0.new_zeros((B, H))
        dxw: list[Any] = [None] * T
        dw = None
        for t, n, tp in reversed(_steps(T, B, batch_sizes, reverse)):
            dh = dh + g_ys[t]
            y = ys[t, :n]
            deriv = (y > 0).to(y.dtype) if relu else 1 - y * y
            da = dh[:n] * deriv
            h_prev = h0[:n] if tp is None else ys[tp, :n]
            term = da.T @ h_prev
            dw = term if dw is None else dw + term
            dh = _t_cat_rows(da @ w_hh, _t_frozen(dh, n, B))
            dxw[t] = da if n == B else cat([da, da.new_zeros((B - n, H))], 0)
        return stack(dxw), dh, dw

    @staticmethod
    def jvp(xw_dot, h0_dot, w_hh_dot, out, xw, h0, w_hh, *, nonlinearity, batch_sizes,
            reverse):
        T, B, H = xw.shape
        ys = out.reshape(T, B, H)
        h, h_dot = h0, h0_dot
        dots: list[Any] = [None] * T
        for t, n, _ in _steps(T, B, batch_sizes, reverse):
            y = ys[t, :n]
            deriv = (y > 0).to(y.dtype) if nonlinearity != "tanh" else 1 - y * y
            hn_dot = (xw_dot[t, :n] + h_dot[:n] @ w_hh.T + h[:n] @ w_hh_dot.T) * deriv
            h_dot = _t_cat_rows(hn_dot, _t_frozen(h_dot, n, B))
            dots[t] = h_dot
            h = ys[t]
        return stack(dots).reshape(-1)


def rnn_scan(xw: Any, h0: Any, w_hh: Any, *, nonlinearity: str = "tanh",
             batch_sizes: tuple[int, ...] | None = None,
             reverse: bool = False) -> tuple[Any, Any]:
    """Run an Elman RNN layer (one direction) over pre-projected inputs.

    Args:
        xw: ``x_t @ W_ih^T + b_ih + b_hh`` for every step, ``(T, B, H)``.
        h0: initial hidden state ``(B, H)``.
        w_hh: recurrent weight ``(H, H)``.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        batch_sizes: active rows per step (packed sequences, longest first), or None.
        reverse: run from the last step to the first.

    Returns:
        ``(h, h_n)``: every step's hidden state ``(T, B, H)`` and the final one.

    Example:
        >>> import chainrule
        >>> from chainrule.ops.rnn import rnn_scan
        >>> h, h_n = rnn_scan(chainrule.ones(3, 1, 1), chainrule.zeros(1, 1),
        ...                   chainrule.ones(1, 1), nonlinearity='relu')
        >>> h.reshape(-1)   # h_t = relu(1 + h_{t-1})
        tensor([1., 2., 3.])
    """
    T, B, H = xw.shape
    flat = RnnScan.apply(xw, h0, w_hh, nonlinearity=nonlinearity, batch_sizes=batch_sizes,
                         reverse=reverse)
    ys = flat.reshape(T, B, H)
    return ys, ys[0 if reverse else T - 1]
