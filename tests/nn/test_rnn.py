"""nn.RNN / LSTM / GRU and their cells against PyTorch twins (weights copied through
state_dict): outputs, final states, gradients with random cotangents, state_dict keys, for
every flag; packed sequences; gradcheck in float64; errors; a 500-step unroll."""

from __future__ import annotations

import gc
import itertools
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as trnn

import chainrule
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn.utils import rnn as crnn
from chainrule.testing import assert_close, default_tolerances

MODES = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})]
FLAGS = list(itertools.product([1, 2], [False, True], [False, True], [True, False]))


def _twins(name, *args, dtype=torch.float64, **kw):
    theirs = getattr(torch.nn, name)(*args, **kw).to(dtype)
    ours = getattr(nn, name)(*args, **kw)
    if dtype == torch.float64:
        ours = ours.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _flat(x):
    """Tensors of a (nested) output: output, h_n or (h_n, c_n), or a PackedSequence."""
    if isinstance(x, (crnn.PackedSequence, trnn.PackedSequence)):
        return [x.data]
    if isinstance(x, (tuple, list)):
        return [t for item in x for t in _flat(item)]
    return [x]


def _compare(ours_out, theirs_out, ours_in, theirs_in, ours, theirs, seed=0):
    """Outputs equal; a random cotangent on every output gives equal input and weight grads."""
    rng = np.random.default_rng(seed)
    o_list, t_list = _flat(ours_out), _flat(theirs_out)
    assert len(o_list) == len(t_list)
    o_loss, t_loss = 0, 0
    for o, t in zip(o_list, t_list):
        assert_close(o, t.detach())
        cot = rng.standard_normal(tuple(t.shape))
        o_loss = o_loss + (o * chainrule.tensor(cot, dtype=o.dtype)).sum()
        t_loss = t_loss + (t * torch.tensor(cot, dtype=t.dtype)).sum()
    o_loss.backward()
    t_loss.backward()
    for o, t in zip(ours_in, theirs_in):
        if t.grad is not None:
            r, a = default_tolerances(o.dtype, kind="grad")
            assert_close(o.grad, t.grad, rtol=r, atol=a)
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        r, a = default_tolerances(p.dtype, kind="grad")
        assert_close(p.grad, t_params[name].grad, rtol=r, atol=a, msg=name)


def _pair(rng, *shape, dtype=np.float64):
    arr = rng.standard_normal(shape).astype(dtype)
    return chainrule.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)


@pytest.mark.parametrize("mode,extra", MODES, ids=["tanh", "relu", "lstm", "gru"])
@pytest.mark.parametrize("layers,bidirectional,batch_first,bias", FLAGS,
                         ids=lambda v: str(v))
def test_layer_matches_torch(mode, extra, layers, bidirectional, batch_first, bias) -> None:
    kw = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first,
              bias=bias, **extra)
    ours, theirs = _twins(mode, 3, 4, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(layers + 2 * bidirectional)
    x, tx = _pair(rng, *((2, 5, 3) if batch_first else (5, 2, 3)))
    d = 2 if bidirectional else 1
    if mode == "LSTM":
        (h, th), (c, tc) = _pair(rng, layers * d, 2, 4), _pair(rng, layers * d, 2, 4)
        ins, tins = [x, h, c], [tx, th, tc]
        ours_out, theirs_out = ours(x, (h, c)), theirs(tx, (th, tc))
    else:
        h, th = _pair(rng, layers * d, 2, 4)
        ins, tins = [x, h], [tx, th]
        ours_out, theirs_out = ours(x, h), theirs(tx, th)
    _compare(ours_out, theirs_out, ins, tins, ours, theirs)


@pytest.mark.parametrize("layers,bidirectional,batch_first,bias", FLAGS,
                         ids=lambda v: str(v))
def test_lstm_projection_matches_torch(layers, bidirectional, batch_first, bias) -> None:
    ours, theirs = _twins("LSTM", 3, 5, num_layers=layers, bidirectional=bidirectional,
                          batch_first=batch_first, bias=bias, proj_size=2)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    rng = np.random.default_rng(7)
    x, tx = _pair(rng, 4, 3, 3)
    _compare(ours(x), theirs(tx), [x], [tx], ours, theirs)


@pytest.mark.parametrize("mode,extra", MODES, ids=["tanh", "relu", "lstm", "gru"])
def test_default_state_and_float32(mode, extra) -> None:
    ours, theirs = _twins(mode, 3, 4, num_layers=2, dtype=torch.float32, **extra)
    rng = np.random.default_rng(1)
    x, tx = _pair(rng, 6, 3, 3, dtype=np.float32)
    _compare(ours(x), theirs(tx), [x], [tx], ours, theirs)


@pytest.mark.parametrize("mode,extra", MODES, ids=["tanh", "relu", "lstm", "gru"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input(mode, extra, batch_first) -> None:
    ours, theirs = _twins(mode, 3, 4, bidirectional=True, batch_first=batch_first, **extra)
    rng = np.random.default_rng(2)
    x, tx = _pair(rng, 5, 3)
    if mode == "LSTM":
        (h, th), (c, tc) = _pair(rng, 2, 4), _pair(rng, 2, 4)
        _compare(ours(x, (h, c)), theirs(tx, (th, tc)), [x, h, c], [tx, th, tc], ours, theirs)
    else:
        h, th = _pair(rng, 2, 4)
        _compare(ours(x, h), theirs(tx, th), [x, h], [tx, th], ours, theirs)


@pytest.mark.parametrize("mode,extra", MODES, ids=["tanh", "relu", "lstm", "gru"])
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_sequence_matches_torch(mode, extra, enforce_sorted, bidirectional) -> None:
    ours, theirs = _twins(mode, 3, 4, num_layers=2, bidirectional=bidirectional, **extra)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    rng = np.random.default_rng(3)
    x, tx = _pair(rng, 5, 4, 3)
    packed = crnn.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    tpacked = trnn.pack_padded_sequence(tx, lengths, enforce_sorted=enforce_sorted)
    d = 2 if bidirectional else 1
    h, th = _pair(rng, 2 * d, 4, 4)
    if mode == "LSTM":
        c, tc = _pair(rng, 2 * d, 4, 4)
        out, tout = ours(packed, (h, c)), theirs(tpacked, (th, tc))
        ins, tins = [x, h, c], [tx, th, tc]
    else:
        out, tout = ours(packed, h), theirs(tpacked, th)
        ins, tins = [x, h], [tx, th]
    assert isinstance(out[0], crnn.PackedSequence)
    assert out[0].batch_sizes.tolist() == tout[0].batch_sizes.tolist()
    padded, lens = crnn.pad_packed_sequence(out[0])
    tpadded, tlens = trnn.pad_packed_sequence(tout[0])
    assert lens.tolist() == tlens.tolist()
    _compare((padded, out[1]), (tpadded, tout[1]), ins, tins, ours, theirs)


@pytest.mark.parametrize("mode,extra", MODES, ids=["tanh", "relu", "lstm", "gru"])
def test_packed_without_initial_state(mode, extra) -> None:
    ours, theirs = _twins(mode, 2, 3, **extra)
    rng = np.random.default_rng(4)
    seqs = [rng.standard_normal((n, 2)) for n in (2, 4, 1)]
    ours_in = [chainrule.tensor(s, requires_grad=True) for s in seqs]
    theirs_in = [torch.tensor(s, requires_grad=True) for s in seqs]
    out = ours(crnn.pack_sequence(ours_in, enforce_sorted=False))
    tout = theirs(trnn.pack_sequence(theirs_in, enforce_sorted=False))
    _compare(out, tout, ours_in, theirs_in, ours, theirs)


def test_lstm_gradients_to_initial_states_under_packing_with_projection() -> None:
    ours, theirs = _twins("LSTM", 3, 4, proj_size=2, bidirectional=True)
    rng = np.random.default_rng(5)
    x, tx = _pair(rng, 4, 3, 3)
    (h, th), (c, tc) = _pair(rng, 2, 3, 2), _pair(rng, 2, 3, 4)
    p = crnn.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
    tp = trnn.pack_padded_sequence(tx, [2, 4, 1], enforce_sorted=False)
    _compare(ours(p, (h, c)), theirs(tp, (th, tc)), [x, h, c], [tx, th, tc], ours, theirs)


# -- cells --------------------------------------------------------------------------------------

CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
         ("GRUCell", {})]


@pytest.mark.parametrize("name,extra", CELLS, ids=["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cell_matches_torch(name, extra, bias, batched, with_state) -> None:
    ours, theirs = _twins(name, 3, 4, bias=bias, **extra)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(6)
    lead = (2,) if batched else ()
    x, tx = _pair(rng, *lead, 3)
    ins, tins = [x], [tx]
    if not with_state:
        out, tout = ours(x), theirs(tx)
    elif name == "LSTMCell":
        (h, th), (c, tc) = _pair(rng, *lead, 4), _pair(rng, *lead, 4)
        out, tout = ours(x, (h, c)), theirs(tx, (th, tc))
        ins, tins = [x, h, c], [tx, th, tc]
    else:
        h, th = _pair(rng, *lead, 4)
        out, tout = ours(x, h), theirs(tx, th)
        ins, tins = [x, h], [tx, th]
    _compare(out, tout, ins, tins, ours, theirs)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_unrolled_matches_torch(name) -> None:
    ours, theirs = _twins(name, 3, 4)
    rng = np.random.default_rng(8)
    xs, txs = _pair(rng, 6, 2, 3)
    h, th = _pair(rng, 2, 4)
    state, tstate = (h, h * 0.5) if name == "LSTMCell" else h, \
        (th, th * 0.5) if name == "LSTMCell" else th
    outs, touts = [], []
    for t in range(6):
        state, tstate = ours(xs[t], state), theirs(txs[t], tstate)
        outs.append(state[0] if name == "LSTMCell" else state)
        touts.append(tstate[0] if name == "LSTMCell" else tstate)
    _compare(chainrule.stack(outs), torch.stack(touts), [xs, h], [txs, th], ours, theirs)


def _functional(module, fn):
    """``fn`` with the module's parameters replaced by the trailing arguments (so gradcheck's
    perturbed and dual copies of them are the ones used)."""
    names = [n for n, _ in module.named_parameters()]

    def call(*args):
        inputs, params = args[:len(args) - len(names)], args[len(args) - len(names):]
        saved = dict(module._parameters)
        module._parameters.update(zip(names, params))
        try:
            return fn(*inputs)
        finally:
            module._parameters.update(saved)
    return call


@pytest.mark.parametrize("name,extra", CELLS, ids=["rnn_tanh", "rnn_relu", "lstm", "gru"])
def test_cell_gradcheck_float64(name, extra) -> None:
    cell = getattr(nn, name)(3, 2, **extra).double()
    rng = np.random.default_rng(9)
    x = chainrule.tensor(rng.uniform(0.2, 1.0, (2, 3)), requires_grad=True)
    h = chainrule.tensor(rng.uniform(0.2, 1.0, (2, 2)), requires_grad=True)
    params = list(cell.parameters())
    if name == "LSTMCell":
        c = chainrule.tensor(rng.uniform(-1, 1, (2, 2)), requires_grad=True)

        fn = _functional(cell, lambda x, h, c: cell(x, (h, c)))
        inputs = (x, h, c, *params)
    else:
        fn = _functional(cell, cell)
        inputs = (x, h, *params)
    assert gradcheck(fn, inputs, check_forward_ad=True)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("mode,extra", MODES[:1] + MODES[2:], ids=["tanh", "lstm", "gru"])
def test_layer_gradcheck_float64(mode, extra) -> None:
    kw = dict(num_layers=2, bidirectional=True, **extra)
    if mode == "LSTM":
        kw["proj_size"] = 1
    layer = getattr(nn, mode)(2, 2, **kw).double()
    rng = np.random.default_rng(10)
    x = chainrule.tensor(rng.uniform(-1, 1, (3, 2, 2)), requires_grad=True)
    params = list(layer.parameters())

    fn = _functional(layer, lambda x: layer(x)[0])
    assert gradcheck(fn, (x, *params), check_forward_ad=True)


# -- modules' details ---------------------------------------------------------------------------

def test_reprs_match_torch() -> None:
    cases = [("LSTM", (3, 4), dict(num_layers=2)),
             ("GRU", (3, 4), dict(num_layers=2, bias=False, batch_first=True, dropout=0.5,
                                  bidirectional=True)),
             ("LSTM", (4, 3), dict(proj_size=2)), ("RNN", (3, 4), dict(nonlinearity="relu")),
             ("RNNCell", (3, 4), dict(nonlinearity="relu", bias=False)),
             ("LSTMCell", (3, 4), {}), ("GRUCell", (3, 4), dict(bias=False))]
    for name, args, kw in cases:
        assert repr(getattr(nn, name)(*args, **kw)) == repr(getattr(torch.nn, name)(*args, **kw))


def test_init_range_and_all_weights() -> None:
    lstm = nn.LSTM(3, 16, num_layers=2, bidirectional=True)
    bound = 1 / 4
    for p in lstm.parameters():
        assert float(p.abs().max()) <= bound
    assert len(lstm.all_weights) == 4
    assert [tuple(p.shape) for p in lstm.all_weights[2]] == \
        [tuple(p.shape) for p in torch.nn.LSTM(3, 16, 2, bidirectional=True).all_weights[2]]


def test_state_dict_moves_to_torch() -> None:
    ours = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    theirs = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    assert_close(ours(chainrule.tensor(x))[0], theirs(torch.tensor(x))[0].detach())


def test_dropout_between_layers() -> None:
    chainrule.manual_seed(0)
    lstm = nn.LSTM(3, 8, num_layers=2, dropout=0.5)
    x = chainrule.randn(4, 2, 3)
    a, b = lstm(x)[0], lstm(x)[0]
    assert not np.allclose(a.numpy(force=True), b.numpy(force=True))
    lstm.eval()
    assert_close(lstm(x)[0], lstm(x)[0])
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.GRU(3, 4, num_layers=2, dropout=0.2)


def _error(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the type and text are what is compared
        return type(exc), str(exc).replace("torch.", "chainrule.")
    return None


@pytest.mark.parametrize("case", [
    lambda lib: lib.nn.LSTM(3, 4, 2)(lib.randn(2, 5, 5)),
    lambda lib: lib.nn.LSTM(3, 4, 2)(lib.randn(2, 3, 3), (lib.randn(2, 5, 4),
                                                           lib.randn(2, 5, 4))),
    lambda lib: lib.nn.LSTM(3, 4, 2)(lib.randn(2, 3, 3), (lib.randn(2, 3, 4),
                                                           lib.randn(2, 5, 4))),
    lambda lib: lib.nn.LSTM(3, 4, 2)(lib.randn(2, 3, 3).double()),
    lambda lib: lib.nn.LSTM(3, 4)(lib.randn(3, 3, 3, 3)),
    lambda lib: lib.nn.GRU(3, 4)(lib.randn(3, 3, 3, 3)),
    lambda lib: lib.nn.RNN(3, 4)(lib.randn(3, 3, 3, 3)),
    lambda lib: lib.nn.RNN(3, 4)(lib.randn(3, 3, 3), lib.randn(3, 4)),
    lambda lib: lib.nn.RNN(3, 4)(lib.randn(3, 3), lib.randn(1, 3, 4)),
    lambda lib: lib.nn.GRU(3, 4)(lib.randn(3, 2, 3), lib.randn(1, 3, 4)),
    lambda lib: lib.nn.LSTM(3, 4)(lib.randn(3, 2, 3), (lib.randn(1, 2, 4), lib.randn(2, 4))),
    lambda lib: lib.nn.RNN(3, 4, nonlinearity="sigmoid"),
    lambda lib: lib.nn.GRU(3, 4, proj_size=2),
    lambda lib: lib.nn.LSTM(3, 4, proj_size=4),
    lambda lib: lib.nn.LSTM(3, 4, proj_size=-1),
    lambda lib: lib.nn.LSTM(3, 4, dropout=1.5),
    lambda lib: lib.nn.LSTM(3, 0),
    lambda lib: lib.nn.LSTM(3, 4, num_layers=0),
    lambda lib: lib.nn.LSTM(3.0, 4),
    lambda lib: lib.nn.LSTM(3, 4, bias=1),
    lambda lib: lib.nn.LSTMCell(3, 4)(lib.randn(2, 5)),
    lambda lib: lib.nn.LSTMCell(3, 4)(lib.randn(2, 3), (lib.randn(2, 5), lib.randn(2, 4))),
    lambda lib: lib.nn.LSTMCell(3, 4)(lib.randn(2, 3), (lib.randn(3, 4), lib.randn(3, 4))),
    lambda lib: lib.nn.GRUCell(3, 4)(lib.randn(3, 3, 3)),
    lambda lib: lib.nn.GRUCell(3, 4)(lib.randn(2, 3), lib.randn(2, 2, 4)),
    lambda lib: lib.nn.RNNCell(3, 4, nonlinearity="sigmoid")(lib.randn(2, 3)),
])
def test_errors_match_torch(case) -> None:
    warnings.simplefilter("ignore", UserWarning)
    ours, theirs = _error(lambda: case(chainrule)), _error(lambda: case(torch))
    assert theirs is not None
    assert ours == theirs


# -- a long unroll --------------------------------------------------------------------------------

def _cell_unroll_peak(steps: int) -> tuple[int, int]:
    """(peak bytes traced during forward + backward, bytes still held after backward) of an
    LSTMCell unrolled over ``steps`` in a Python loop."""
    chainrule.manual_seed(0)
    cell = nn.LSTMCell(8, 16)
    xs = chainrule.randn(steps, 4, 8)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    h = c = chainrule.zeros(4, 16)
    for t in range(steps):
        h, c = cell(xs[t], (h, c))
    (h * h).sum().backward()
    del h, c
    gc.collect()
    now, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - before, now - before


def test_backward_through_a_500_step_unroll() -> None:
    """No recursion limit, and memory grows linearly with the steps (a constant per step),
    all of it released after backward."""
    peak_250, left_250 = _cell_unroll_peak(250)
    peak_500, left_500 = _cell_unroll_peak(500)
    per_step = (peak_500 - peak_250) / 250
    assert per_step < 20_000  # a few (4, 16) and (4, 64) arrays per step, no quadratic growth
    assert peak_500 < 2.2 * peak_250
    assert left_500 - left_250 < 50_000  # the graph is gone; only the cell's .grad remain


def test_500_step_layer_matches_torch() -> None:
    ours, theirs = _twins("LSTM", 2, 3, dtype=torch.float32)
    rng = np.random.default_rng(11)
    x, tx = _pair(rng, 500, 2, 2, dtype=np.float32)
    out, tout = ours(x), theirs(tx)
    assert_close(out[0], tout[0].detach(), rtol=1e-4, atol=1e-5)
    out[0].sum().backward()
    tout[0].sum().backward()
    assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-5)
    assert_close(ours.weight_hh_l0.grad, theirs.weight_hh_l0.grad, rtol=1e-4, atol=1e-4)
