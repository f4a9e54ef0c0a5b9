"""Attention and Transformer layers against PyTorch twins (weights copied through
state_dict): F.scaled_dot_product_attention, nn.MultiheadAttention, the encoder and decoder
layers and stacks, nn.Transformer; outputs, gradients with random cotangents, state_dict keys,
masks of every kind, flags; gradcheck in float64; errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.testing import assert_close, default_tolerances


def _load(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours


def _twins(name, *args, **kw):
    theirs = getattr(torch.nn, name)(*args, **kw).double()
    ours = getattr(nn, name)(*args, **kw).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    return _load(ours, theirs), theirs


def _pairs(rng, *shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    return ([chainrule.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def _check(out, tout, ins, tins, ours=None, theirs=None, seed=0):
    """Same values; the same random cotangent gives the same input and parameter grads."""
    assert_close(out, tout.detach())
    cot = np.random.default_rng(seed).standard_normal(tuple(tout.shape))
    out.backward(chainrule.tensor(cot, dtype=out.dtype))
    tout.backward(torch.tensor(cot, dtype=tout.dtype))
    for a, b in zip(ins, tins):
        if b.grad is not None:
            r, t = default_tolerances(a.dtype, kind="grad")
            assert_close(a.grad, b.grad, rtol=r, atol=t)
    if ours is not None:
        tp = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            r, t = default_tolerances(p.dtype, kind="grad")
            assert_close(p.grad, tp[name].grad, rtol=r, atol=t, msg=name)


# -- scaled_dot_product_attention -----------------------------------------------------------------

def _mask_case(kind, rng, L, S):
    if kind == "bool":
        m = rng.random((L, S)) > 0.3
        m[1] = False  # a row with every key masked
        return chainrule.tensor(m), torch.tensor(m)
    if kind == "bool_batched":
        m = rng.random((2, 1, L, S)) > 0.4
        return chainrule.tensor(m), torch.tensor(m)
    if kind == "float":
        m = rng.standard_normal((2, 3, L, S))
        m[0, 1, 2] = -np.inf
        return (chainrule.tensor(m, requires_grad=True), torch.tensor(m, requires_grad=True))
    return None, None


@pytest.mark.parametrize("mask,is_causal", [(None, False), (None, True), ("bool", False),
                                            ("bool_batched", False), ("float", False)])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_matches_torch(mask, is_causal, scale) -> None:
    rng = np.random.default_rng(0)
    ins, tins = _pairs(rng, (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7))
    m, tm = _mask_case(mask, rng, 4, 6)
    out = F.scaled_dot_product_attention(*ins, attn_mask=m, is_causal=is_causal, scale=scale)
    tout = TF.scaled_dot_product_attention(*tins, attn_mask=tm, is_causal=is_causal,
                                           scale=scale)
    extra = [m] if mask == "float" else []
    textra = [tm] if mask == "float" else []
    _check(out, tout, ins + extra, tins + textra)


@pytest.mark.parametrize("shapes", [[(3, 4), (5, 4), (5, 6)], [(2, 3, 4), (2, 5, 4), (2, 5, 6)]])
def test_sdpa_lower_rank_inputs(shapes) -> None:
    rng = np.random.default_rng(1)
    ins, tins = _pairs(rng, *shapes)
    _check(F.scaled_dot_product_attention(*ins), TF.scaled_dot_product_attention(*tins),
           ins, tins)


def test_sdpa_grouped_query_attention() -> None:
    rng = np.random.default_rng(2)
    ins, tins = _pairs(rng, (2, 4, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6))
    _check(F.scaled_dot_product_attention(*ins, enable_gqa=True),
           TF.scaled_dot_product_attention(*tins, enable_gqa=True), ins, tins)


def test_sdpa_dropout() -> None:
    chainrule.manual_seed(0)
    q = chainrule.randn(2, 8, 6)
    v = chainrule.randn(2, 8, 6)
    plain = F.scaled_dot_product_attention(q, q, v)
    dropped = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    assert not np.allclose(plain.numpy(), dropped.numpy())
    zero = F.scaled_dot_product_attention(q, q, v, dropout_p=1.0)
    assert_close(zero, chainrule.zeros(2, 8, 6))


def test_sdpa_gradcheck_float64() -> None:
    rng = np.random.default_rng(3)
    q, k, v = (chainrule.tensor(rng.standard_normal(s), requires_grad=True)
               for s in [(2, 3, 2), (2, 4, 2), (2, 4, 3)])
    mask = chainrule.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m),
                     (q, k, v, mask), check_forward_ad=True)
    assert gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v,
                                                                        is_causal=True),
                         (q, k, v))


# -- MultiheadAttention ---------------------------------------------------------------------------

MHA_FLAGS = [dict(), dict(batch_first=True), dict(kdim=3, vdim=5), dict(bias=False),
             dict(add_bias_kv=True), dict(add_zero_attn=True),
             dict(add_bias_kv=True, add_zero_attn=True, kdim=3, vdim=5, batch_first=True)]


def _mha_inputs(rng, kw, batched=True):
    kd, vd = kw.get("kdim", 4), kw.get("vdim", 4)
    if not batched:
        return _pairs(rng, (3, 4), (5, kd), (5, vd))
    if kw.get("batch_first"):
        return _pairs(rng, (2, 3, 4), (2, 5, kd), (2, 5, vd))
    return _pairs(rng, (3, 2, 4), (5, 2, kd), (5, 2, vd))


@pytest.mark.parametrize("kw", MHA_FLAGS, ids=lambda d: "-".join(d) or "default")
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("masks", ["none", "bool", "float"])
def test_mha_matches_torch(kw, need_weights, average, masks) -> None:
    ours, theirs = _twins("MultiheadAttention", 4, 2, **kw)
    rng = np.random.default_rng(4)
    ins, tins = _mha_inputs(rng, kw)
    margs, targs = {}, {}
    if masks != "none":
        kpm = np.zeros((2, 5), dtype=bool)
        kpm[1, 3:] = True
        am = rng.random((3, 5)) > 0.7
        if masks == "float":
            kpm, am = np.where(kpm, -np.inf, 0.0), rng.standard_normal((3, 5))
        margs = dict(key_padding_mask=chainrule.tensor(kpm), attn_mask=chainrule.tensor(am))
        targs = dict(key_padding_mask=torch.tensor(kpm), attn_mask=torch.tensor(am))
    out, w = ours(*ins, need_weights=need_weights, average_attn_weights=average, **margs)
    tout, tw = theirs(*tins, need_weights=need_weights, average_attn_weights=average, **targs)
    if need_weights:
        assert_close(w, tw.detach())
    else:
        assert w is None and tw is None
    _check(out, tout, ins, tins, ours, theirs)


@pytest.mark.parametrize("self_attention", [True, False])
def test_mha_unbatched_and_3d_mask(self_attention) -> None:
    ours, theirs = _twins("MultiheadAttention", 4, 2)
    rng = np.random.default_rng(5)
    ins, tins = _mha_inputs(rng, {}, batched=False)
    if self_attention:
        ins, tins = [ins[0]] * 3, [tins[0]] * 3
    S = ins[1].shape[0]
    am = rng.standard_normal((2, 3, S))
    out, w = ours(*ins, attn_mask=chainrule.tensor(am))
    tout, tw = theirs(*tins, attn_mask=torch.tensor(am))
    assert_close(w, tw.detach())
    _check(out, tout, ins[:1] if self_attention else ins, tins[:1] if self_attention else tins,
           ours, theirs)


def test_mha_causal_hint_and_batched_3d_mask() -> None:
    ours, theirs = _twins("MultiheadAttention", 4, 2, batch_first=True)
    rng = np.random.default_rng(6)
    (x,), (tx,) = _pairs(rng, (2, 3, 4))
    mask = nn.Transformer.generate_square_subsequent_mask(3).double()
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(3).double()
    out = ours(x, x, x, attn_mask=mask, is_causal=True, need_weights=False)[0]
    tout = theirs(tx, tx, tx, attn_mask=tmask, is_causal=True, need_weights=False)[0]
    _check(out, tout, [x], [tx], ours, theirs)
    m3 = rng.random((4, 3, 3)) > 0.5
    out = ours(x, x, x, attn_mask=chainrule.tensor(m3), need_weights=False)[0]
    tout = theirs(tx, tx, tx, attn_mask=torch.tensor(m3), need_weights=False)[0]
    assert_close(out, tout.detach())


def test_mha_state_dict_moves_to_torch_and_init() -> None:
    ours = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True)
    theirs = torch.nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    assert float(ours.in_proj_bias.abs().max()) == 0.0
    assert float(ours.out_proj.bias.abs().max()) == 0.0
    assert repr(ours) == repr(theirs)
    rng = np.random.default_rng(7)
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in [(3, 2, 8), (4, 2, 3),
                                                                   (4, 2, 5)])
    out = ours(*(chainrule.tensor(a) for a in (q, k, v)))[0]
    tout = theirs(*(torch.tensor(a) for a in (q, k, v)))[0]
    assert_close(out, tout.detach())


def test_mha_dropout_in_training_only() -> None:
    chainrule.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = chainrule.randn(5, 2, 8)
    a, b = mha(x, x, x)[0], mha(x, x, x)[0]
    assert not np.allclose(a.numpy(force=True), b.numpy(force=True))
    mha.eval()
    assert_close(mha(x, x, x)[0], mha(x, x, x)[0])


def test_mha_gradcheck_float64() -> None:
    mha = nn.MultiheadAttention(4, 2, add_bias_kv=True).double()
    rng = np.random.default_rng(8)
    x = chainrule.tensor(rng.standard_normal((3, 1, 4)), requires_grad=True)
    kpm = chainrule.tensor(np.array([[False, False, True]]))
    assert gradcheck(lambda x: mha(x, x, x, key_padding_mask=kpm)[0], (x,),
                     check_forward_ad=True)


def _error(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except Exception as exc:  # noqa: BLE001 - the type and text are what is compared
        return type(exc), str(exc).replace("torch.", "chainrule.")
    return None


@pytest.mark.parametrize("case", [
    lambda lib: lib.nn.functional.scaled_dot_product_attention(
        lib.ones(1, 2, 3, requires_grad=True), lib.ones(1, 2, 3), lib.ones(1, 2, 3),
        attn_mask=lib.ones(2, 2, dtype=lib.bool), is_causal=True),
    lambda lib: lib.nn.MultiheadAttention(5, 2),
    lambda lib: lib.nn.MultiheadAttention(0, 2),
    lambda lib: lib.nn.MultiheadAttention(4, 2)(lib.ones(3, 2, 4), lib.ones(3, 2, 4),
                                                lib.ones(3, 2, 4), is_causal=True),
    lambda lib: lib.nn.MultiheadAttention(4, 2)(lib.ones(3, 2, 4), lib.ones(3, 4),
                                                lib.ones(3, 4)),
    lambda lib: lib.nn.MultiheadAttention(4, 2)(lib.ones(3, 2, 4), lib.ones(3, 2, 4),
                                                lib.ones(3, 2, 4), attn_mask=lib.ones(2, 2)),
    lambda lib: lib.nn.MultiheadAttention(4, 2)(lib.ones(3, 2, 4), lib.ones(3, 2, 4),
                                                lib.ones(3, 2, 4),
                                                key_padding_mask=lib.ones(2, 3, 1)),
    lambda lib: lib.nn.MultiheadAttention(4, 2)(lib.ones(3, 2, 4), lib.ones(3, 2, 4),
                                                lib.ones(3, 2, 4),
                                                attn_mask=lib.ones(3, 3, dtype=lib.int64)),
    lambda lib: lib.nn.MultiheadAttention(4, 2)(lib.ones(3, 2, 5), lib.ones(3, 2, 5),
                                                lib.ones(3, 2, 5)),
    lambda lib: lib.nn.MultiheadAttention(4, 2)(lib.ones(2, 3, 2, 4), lib.ones(3, 2, 4),
                                                lib.ones(3, 2, 4)),
    lambda lib: lib.nn.TransformerEncoderLayer(4, 2, activation="tanh"),
    lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16)(lib.ones(3, 2, 8), lib.ones(3, 4, 8)),
    lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16)(lib.ones(3, 2, 8), lib.ones(3, 2, 6)),
])
def test_errors_match_torch(case) -> None:
    theirs = _error(lambda: case(torch))
    assert theirs is not None
    assert _error(lambda: case(chainrule)) == theirs


def test_mismatched_mask_types_warn() -> None:
    mha = nn.MultiheadAttention(4, 2)
    x = chainrule.ones(3, 2, 4)
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask"):
        mha(x, x, x, key_padding_mask=chainrule.zeros(2, 3, dtype=chainrule.bool),
            attn_mask=chainrule.zeros(3, 3))


# -- Transformer layers ---------------------------------------------------------------------------

ACTIVATIONS = {"relu": ("relu", "relu"), "gelu": ("gelu", "gelu"),
               "callable": (lambda x: x.tanh(), lambda x: x.tanh()),
               "module": (nn.GELU(), torch.nn.GELU())}
LAYER_FLAGS = list(itertools.product([False, True], [False, True], [True, False]))


def _layer_twins(name, act, norm_first, batch_first, bias, **kw):
    ours_act, theirs_act = ACTIVATIONS[act]
    args = dict(dim_feedforward=6, dropout=0.0, norm_first=norm_first, batch_first=batch_first,
                bias=bias, **kw)
    theirs = getattr(torch.nn, name)(4, 2, activation=theirs_act, **args).double()
    ours = getattr(nn, name)(4, 2, activation=ours_act, **args).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    return _load(ours, theirs), theirs


@pytest.mark.parametrize("act", list(ACTIVATIONS))
@pytest.mark.parametrize("norm_first,batch_first,bias", LAYER_FLAGS, ids=str)
def test_encoder_layer_matches_torch(act, norm_first, batch_first, bias) -> None:
    ours, theirs = _layer_twins("TransformerEncoderLayer", act, norm_first, batch_first, bias)
    rng = np.random.default_rng(9)
    ins, tins = _pairs(rng, (2, 5, 4) if batch_first else (5, 2, 4))
    mask = nn.Transformer.generate_square_subsequent_mask(5).double()
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(5).double()
    kpm = np.zeros((2, 5), dtype=bool)
    kpm[0, 4] = True
    out = ours(ins[0], src_mask=mask, src_key_padding_mask=chainrule.tensor(kpm == 1.0)
               .to(chainrule.float64).masked_fill(chainrule.tensor(kpm), float("-inf")))
    tout = theirs(tins[0], src_mask=tmask, src_key_padding_mask=torch.tensor(kpm == 1.0)
                  .double().masked_fill(torch.tensor(kpm), float("-inf")))
    _check(out, tout, ins, tins, ours, theirs)


@pytest.mark.filterwarnings("ignore:Support for mismatched")
@pytest.mark.parametrize("act", ["relu", "gelu", "callable"])
@pytest.mark.parametrize("norm_first,batch_first,bias", LAYER_FLAGS, ids=str)
def test_decoder_layer_matches_torch(act, norm_first, batch_first, bias) -> None:
    ours, theirs = _layer_twins("TransformerDecoderLayer", act, norm_first, batch_first, bias)
    rng = np.random.default_rng(10)
    shapes = [(2, 3, 4), (2, 5, 4)] if batch_first else [(3, 2, 4), (5, 2, 4)]
    ins, tins = _pairs(rng, *shapes)
    tgt_mask = rng.random((3, 3)) > 0.6
    np.fill_diagonal(tgt_mask, False)
    mem_kpm = np.zeros((2, 5), dtype=bool)
    mem_kpm[1, 3:] = True
    kw = dict(tgt_mask=chainrule.tensor(tgt_mask), memory_key_padding_mask=chainrule.tensor(
        mem_kpm), memory_mask=chainrule.tensor(rng.standard_normal((3, 5))))
    tkw = {k: torch.tensor(v.numpy()) for k, v in kw.items()}
    _check(ours(*ins, **kw), theirs(*tins, **tkw), ins, tins, ours, theirs)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.parametrize("norm_first", [False, True])
def test_stacks_and_full_transformer_match_torch(norm_first) -> None:
    theirs = torch.nn.Transformer(8, 2, num_encoder_layers=2, num_decoder_layers=2,
                                  dim_feedforward=12, dropout=0.0, norm_first=norm_first,
                                  activation="gelu").double()
    ours = nn.Transformer(8, 2, num_encoder_layers=2, num_decoder_layers=2,
                          dim_feedforward=12, dropout=0.0, norm_first=norm_first,
                          activation="gelu").double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _load(ours, theirs)
    rng = np.random.default_rng(11)
    ins, tins = _pairs(rng, (5, 2, 8), (4, 2, 8))
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=chainrule.float64)
    ttgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    kpm = np.array([[False] * 5, [False] * 3 + [True] * 2])
    out = ours(*ins, tgt_mask=tgt_mask, src_key_padding_mask=chainrule.tensor(kpm),
               memory_key_padding_mask=chainrule.tensor(kpm))
    tout = theirs(*tins, tgt_mask=ttgt_mask, src_key_padding_mask=torch.tensor(kpm),
                  memory_key_padding_mask=torch.tensor(kpm))
    _check(out, tout, ins, tins, ours, theirs)


def test_encoder_stack_batch_first_unbatched_and_causal_detection() -> None:
    layer = torch.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True)
    theirs = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(4),
                                         enable_nested_tensor=False).double()
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0,
                                                            batch_first=True), 2,
                                 norm=nn.LayerNorm(4)).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _load(ours, theirs)
    rng = np.random.default_rng(12)
    ins, tins = _pairs(rng, (2, 5, 4))
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=chainrule.float64)
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    _check(ours(ins[0], mask=mask), theirs(tins[0], mask=tmask), ins, tins, ours, theirs)
    ins, tins = _pairs(rng, (5, 4))
    _check(ours(ins[0]), theirs(tins[0]), ins, tins)


def test_layers_are_independent_copies() -> None:
    layer = nn.TransformerEncoderLayer(4, 2, 6)
    enc = nn.TransformerEncoder(layer, 3)
    ws = [m.linear1.weight for m in enc.layers]
    assert ws[0] is not ws[1] and ws[0] is not layer.linear1.weight
    assert_close(ws[0], ws[2])


def test_generate_square_subsequent_mask_and_reprs() -> None:
    assert_close(nn.Transformer.generate_square_subsequent_mask(4),
                 torch.nn.Transformer.generate_square_subsequent_mask(4))
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=chainrule.float64).dtype \
        == chainrule.float64
    assert repr(nn.TransformerEncoderLayer(4, 2, 6)) == \
        repr(torch.nn.TransformerEncoderLayer(4, 2, 6))
    assert repr(nn.TransformerDecoderLayer(4, 2, 6, bias=False)) == \
        repr(torch.nn.TransformerDecoderLayer(4, 2, 6, bias=False))


def test_dropout_in_training_only() -> None:
    chainrule.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3)
    x = chainrule.randn(5, 2, 8)
    assert not np.allclose(layer(x).numpy(force=True), layer(x).numpy(force=True))
    layer.eval()
    assert_close(layer(x), layer(x))


def test_encoder_layer_gradcheck_float64() -> None:
    layer = nn.TransformerEncoderLayer(4, 2, 3, dropout=0.0, norm_first=True,
                                       activation="gelu").double()
    rng = np.random.default_rng(13)
    x = chainrule.tensor(rng.standard_normal((3, 1, 4)), requires_grad=True)
    assert gradcheck(layer, (x,), check_forward_ad=True)
