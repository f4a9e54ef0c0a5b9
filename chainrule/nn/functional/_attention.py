"""Attention (torch.nn.functional's): scaled_dot_product_attention and
multi_head_attention_forward, the function under nn.MultiheadAttention.

Both are composites of differentiable ops (matmul, softmax, dropout, linear), so gradients,
double backward and forward mode come from those ops. Masks are turned into additive biases
(0 where attention is allowed, -inf where it is not) computed on arrays, outside the graph,
unless a float mask is given (then it is added as it is, and gradients reach it).

Two mask conventions meet here, as in torch: ``scaled_dot_product_attention`` takes a boolean
``attn_mask`` whose True entries *may* attend; ``MultiheadAttention`` (and the Transformer
layers) take boolean masks whose True entries may *not*.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule import _backend
from chainrule.creation import zeros
from chainrule.nn.functional._dropout import dropout
from chainrule.nn.functional._linear import linear, pad
from chainrule.ops.elementwise import where
from chainrule.ops.linalg import matmul
from chainrule.ops.movement import cat
from chainrule.ops.nn_ops import softmax
from chainrule.tensor import Tensor

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _additive(mask: np.ndarray, dtype: Any) -> np.ndarray:
    """A boolean "may attend" mask as an additive bias: 0 where True, -inf where False."""
    out = np.zeros(mask.shape, dtype=dtype)
    out[~mask] = -np.inf
    return out


def _masked_softmax(scores: Tensor, bias: np.ndarray | None) -> Tensor:
    """Softmax over the last dim of masked scores. A row whose every key is masked would be
    NaN (softmax of all -inf); torch's fused CPU kernel returns zeros for it, and so does this
    (its scores are replaced before the softmax, so its gradient is zero, not NaN)."""
    if bias is None:
        return softmax(scores, -1)
    dead = np.isneginf(bias).all(axis=-1, keepdims=True)
    if not dead.any():
        return softmax(scores, -1)
    zero = _backend.wrap(np.zeros((), dtype=scores._data.dtype))
    attn = softmax(where(_backend.wrap(dead), zero, scores), -1)
    return attn * _backend.wrap((~dead).astype(scores._data.dtype))


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    r"""``softmax(Q K^T * scale + bias) V`` over the last two dims, ``scale = 1/sqrt(E)``.

    Args:
        query: ``(..., L, E)``.
        key: ``(..., S, E)``.
        value: ``(..., S, Ev)``.
        attn_mask: broadcastable to ``(..., L, S)``: boolean, True where a query may attend
            to a key; or float, added to the scores.
        dropout_p: dropout probability on the attention weights (applied whenever > 0, as
            torch: pass 0 in evaluation).
        is_causal: query ``i`` attends to keys ``j <= i`` (top-left aligned for L != S).
        scale: the factor on ``Q K^T``; default ``1/sqrt(E)``.
        enable_gqa: grouped-query attention: key and value heads (dim -3) are repeated to
            match the query heads.

    Note:
        A query row with every key masked gives zeros (torch's CPU kernel does the same; its
        reference formula would give NaN). Giving both ``attn_mask`` and ``is_causal`` is an
        error, as documented by torch (its CPU kernel ignores the mask when no input needs a
        gradient).

    Shape:
        - Output: ``(..., L, Ev)``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> q = k = chainrule.tensor([[[1., 0.], [0., 1.]]])
        >>> v = chainrule.tensor([[[1., 2.], [3., 4.]]])
        >>> F.scaled_dot_product_attention(q, k, v, is_causal=True)
        tensor([[[1.0000, 2.0000],
                 [2.3395, 3.3395]]])
    """
    L, S = query.shape[-2], key.shape[-2]
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query and key must have the same "
                           f"embedding size, got {query.shape[-1]} and {key.shape[-1]}")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key and value must have the same "
                           f"sequence length, got {key.shape[-2]} and {value.shape[-2]}")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    scale_factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(groups, -3)
        value = value.repeat_interleave(groups, -3)
    dtype = query._data.dtype
    scores = matmul(query * scale_factor, key.transpose(-2, -1))
    bias = None  # the additive mask as an array, to find rows with every key masked
    if is_causal:
        bias = _additive(np.tril(np.ones((L, S), dtype=bool)), dtype)
        scores = scores + _backend.wrap(bias)
    elif attn_mask is not None and attn_mask.dtype.name == "bool":
        bias = _additive(attn_mask.numpy(), dtype)
        scores = scores + _backend.wrap(bias)
    elif attn_mask is not None:
        bias = attn_mask.numpy(force=True)
        scores = scores + attn_mask  # a float mask takes part in the graph
    attn = _masked_softmax(scores, bias)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, True)
    return matmul(attn, value)


# ---------------------------------------------------------------------------------------------
# multi_head_attention_forward and its helpers (torch's private names, as callers use them)


def _none_or_dtype(input: Tensor | None) -> Any:
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _canonical_mask(mask: Tensor | None, mask_name: str, other_type: Any, other_name: str,
                    target_type: Any, check_other: bool = True) -> Tensor | None:
    """A boolean "masked out" mask as a float bias (-inf where True), floats unchanged."""
    if mask is None:
        return None
    is_float = mask.is_floating_point()
    if mask.dtype.name != "bool" and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use "
                      f"same type for both instead.", stacklevel=3)
    if not is_float:
        bias = np.zeros(tuple(mask.shape), dtype=target_type.np)
        bias[mask.numpy()] = -np.inf
        return _backend.wrap(bias)
    return mask


def _mha_shape_check(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any,
                     attn_mask: Any, num_heads: int) -> bool:
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError(f"For batched (3-D) `query`, expected `key` and `value` to be "
                                 f"3-D but found {key.dim()}-D and {value.dim()}-D tensors "
                                 f"respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError(f"For batched (3-D) `query`, expected `key_padding_mask` to be "
                                 f"`None` or 2-D but found {key_padding_mask.dim()}-D tensor "
                                 f"instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(f"For batched (3-D) `query`, expected `attn_mask` to be `None`, "
                                 f"2-D or 3-D but found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key` and `value` to be "
                                 f"2-D but found {key.dim()}-D and {value.dim()}-D tensors "
                                 f"respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key_padding_mask` to "
                                 f"be `None` or 1-D but found {key_padding_mask.dim()}-D tensor "
                                 f"instead")
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError(f"For unbatched (2-D) `query`, expected `attn_mask` to be "
                                     f"`None`, 2-D or 3-D but found {attn_mask.dim()}-D tensor "
                                     f"instead")
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                         f"{attn_mask.shape}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                         f"{query.dim()}-D query tensor")


def _in_projection_packed(q: Tensor, k: Tensor, v: Tensor, w: Tensor,
                          b: Tensor | None = None) -> list[Tensor]:
    """q, k, v projected by the packed ``(3E, E)`` weight: one GEMM for self-attention, two
    when key is value (encoder-decoder attention), three otherwise."""
    E = q.shape[-1]
    if k is v:
        if q is k:
            proj = linear(q, w, b)
            return [proj[..., :E], proj[..., E:2 * E], proj[..., 2 * E:]]
        b_q = b_kv = None
        if b is not None:
            b_q, b_kv = b[:E], b[E:]
        kv = linear(k, w[E:], b_kv)
        return [linear(q, w[:E], b_q), kv[..., :E], kv[..., E:]]
    bs = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
    return [linear(q, w[:E], bs[0]), linear(k, w[E:2 * E], bs[1]), linear(v, w[2 * E:], bs[2])]


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
        bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
        out_proj_bias: Tensor | None, training: bool = True,
        key_padding_mask: Tensor | None = None, need_weights: bool = True,
        attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
        q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
        v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
        static_v: Tensor | None = None, average_attn_weights: bool = True,
        is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    r"""Multi-head attention: ``concat_h softmax(Q_h K_h^T / sqrt(d) + mask) V_h`` then the
    output projection, with ``Q, K, V`` projected from query, key and value.

    See :class:`chainrule.nn.MultiheadAttention` for the arguments; boolean masks are True
    where attention is *not* allowed. Inputs are ``(L, N, E)`` (or unbatched ``(L, E)``).

    Returns:
        ``(attn_output, attn_weights)``: ``(L, N, E)``, and with ``need_weights`` the attention
        weights (after dropout, as torch) averaged over heads ``(N, L, S)`` or per head
        ``(N, num_heads, L, S)``; else None.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> E, x = 4, chainrule.randn(3, 2, 4)
        >>> out, w = F.multi_head_attention_forward(
        ...     x, x, x, E, 2, chainrule.randn(3 * E, E), None, None, None, False, 0.0,
        ...     chainrule.randn(E, E), None)
        >>> tuple(out.shape), tuple(w.shape)
        ((3, 2, 4), (2, 3, 3))
    """
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    # The is_causal hint only selects a kernel in torch; the mask gives the same result.
    attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype,
                                check_other=False)
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match "
                                 f"value's {value.shape[:2]}")
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but q_proj_weight, "
                                 "k_proj_weight or v_proj_weight is None")
        b_q = b_k = b_v = None
        if in_proj_bias is not None:
            b_q, b_k, b_v = in_proj_bias.chunk(3)
        q, k, v = (linear(query, q_proj_weight, b_q), linear(key, k_proj_weight, b_k),
                   linear(value, v_proj_weight, b_v))
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {key.shape} does not match value shape "
                                 f"{value.shape}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but "
                                   f"should be {(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but "
                                   f"should be {(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")
    # (L, N, E) -> (N * heads, L, head_dim): head h of sample n is row n * heads + h
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1) \
        if static_k is None else static_k
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1) \
        if static_v is None else static_v
    if add_zero_attn:
        z = zeros(bsz * num_heads, 1, head_dim, dtype=k.dtype)
        k = cat([k, z], 1)
        v = cat([v, z], 1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]
    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                                 f"{key_padding_mask.shape[0]}")
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                                 f"{key_padding_mask.shape[1]}")
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0
    if need_weights:
        # torch's explicit path: a row with every key masked is NaN here, as in torch
        scores = matmul(q * math.sqrt(1.0 / head_dim), k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, dropout_p)
        out = matmul(weights, v)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights
    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not is_batched:
        out = out.squeeze(1)
    return out, None
