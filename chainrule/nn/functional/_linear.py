"""Linear maps and lookups (torch.nn.functional's): linear, bilinear, embedding, one_hot, pad.

All are composites of differentiable ops (matmul, addmm, index_select, the core pad), so their
gradients, double backward and forward mode come from those ops.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import arange, as_tensor
from chainrule.ops.elementwise import where
from chainrule.ops.indexing import index_select
from chainrule.ops.linalg import addmm, matmul
from chainrule.ops.movement import pad as _movement_pad
from chainrule.tensor import Tensor

__all__ = ["linear", "bilinear", "embedding", "one_hot", "pad"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y = input @ weight.T + bias`` over the last dimension.

    Shape:
        - input ``(*, in_features)``, weight ``(out_features, in_features)``,
          bias ``(out_features)``; output ``(*, out_features)``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.linear(chainrule.ones(1, 2), chainrule.tensor([[1., 2.], [3., 4.]]),
        ...          chainrule.tensor([0.5, -0.5]))
        tensor([[3.5000, 6.5000]])
    """
    if input.ndim == 2 and bias is not None:
        return addmm(bias, input, weight.t())  # one fused GEMM + bias, as torch
    if bias is None:
        return matmul(input, weight.t())
    if input.dtype != weight.dtype or bias.dtype != weight.dtype:
        # torch flattens the batch and calls addmm: its words for mismatched dtypes
        addmm(bias, input.reshape(-1, input.shape[-1]) if input.ndim else input, weight.t())
    return matmul(input, weight.t()) + bias


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """``y_k = input1^T W_k input2 + b_k`` for each output feature ``k``.

    Shape:
        - input1 ``(*, in1)``, input2 ``(*, in2)`` (same batch shape), weight
          ``(out, in1, in2)``, bias ``(out)``; output ``(*, out)``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> w = chainrule.ones(1, 2, 3)
        >>> F.bilinear(chainrule.tensor([[1., 2.]]), chainrule.tensor([[1., 1., 1.]]), w)
        tensor([[9.]])
    """
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and "
                           f"{input2.ndim}")
    for i in range(input1.ndim - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got "
                               f"{input1.shape[i]} and {input2.shape[i]}")
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {in2}")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_f):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{bias.shape[-1] if bias.ndim else 1} but expected {out_f}")
    lead = tuple(input1.shape[:-1])
    a = input1.reshape(-1, in1)
    b = input2.reshape(-1, in2)
    n = a.shape[0]
    # one GEMM: (n, in1) @ (in1, out*in2), then contract in2 against input2
    t = matmul(a, weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(n, out_f, in2)
    out = (t * b.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(lead + (out_f,))


def _scale_grad(out: Tensor, scale: Tensor) -> Tensor:
    """``out`` unchanged in value, its gradient multiplied by ``scale``: ``d + (out - d) * s``
    with ``d = out.detach()`` (``out - d`` is exactly zero)."""
    d = out.detach()
    return d + (out - d) * scale


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` looked up by the integer ``input``: ``out[..., :] = weight[input]``.

    The row at ``padding_idx`` gets no gradient; ``max_norm`` renormalises (in place) the
    looked-up rows whose ``norm_type``-norm exceeds it; ``scale_grad_by_freq`` divides each
    row's gradient by how often it occurs in ``input``.

    Note:
        ``sparse=True`` is accepted but the gradient is dense (chainrule has no sparse tensors).

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> w = chainrule.tensor([[0., 0.], [1., 2.], [3., 4.]])
        >>> F.embedding(chainrule.tensor([[1, 2], [2, 0]]), w)
        tensor([[[1., 2.],
                 [3., 4.]],
        <BLANKLINE>
                [[3., 4.],
                 [0., 0.]]])
    """
    if not isinstance(input, Tensor):
        input = as_tensor(input)
    if input.dtype.name not in ("int64", "int32"):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {input.type()} instead "
                           f"(while checking arguments for embedding)")
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < num, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
            padding_idx = num + padding_idx
    flat = input.reshape(-1)
    if flat.numel() and (int(flat.max()) >= num or int(flat.min()) < 0):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm_(weight, flat, max_norm, norm_type)
    out = index_select(weight, 0, flat)
    if out.requires_grad and (padding_idx is not None or scale_grad_by_freq):
        scale = np.ones(flat.shape[0], dtype=out.numpy(force=True).dtype)
        idx = flat.numpy()
        if scale_grad_by_freq:
            _, inverse, counts = np.unique(idx, return_inverse=True, return_counts=True)
            scale = scale / counts[inverse].astype(scale.dtype)
        if padding_idx is not None:
            scale[idx == padding_idx] = 0  # the padding row gets no gradient
        out = _scale_grad(out, as_tensor(scale).unsqueeze(1))
    return out.reshape(tuple(input.shape) + (weight.shape[1],))


def _embedding_renorm_(weight: Tensor, flat: Tensor, max_norm: float, norm_type: float) -> None:
    """Scale the rows of ``weight`` used by ``flat`` whose norm exceeds ``max_norm`` down to
    ``max_norm`` (in place, unrecorded, as torch.embedding_renorm_)."""
    rows = as_tensor(np.unique(flat.numpy()))
    with no_grad():
        used = index_select(weight, 0, rows)
        norms = used.norm(p=norm_type, dim=1)
        scale = where(norms > max_norm, max_norm / (norms + 1e-7), norms.new_zeros(()) + 1)
        weight[rows] = used * scale.unsqueeze(1)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """``out[..., c] = 1 if tensor[...] == c else 0`` (int64), with ``num_classes`` defaulting
    to ``max + 1``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> F.one_hot(chainrule.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    if tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max()) + 1
    if tensor.numel():
        if int(tensor.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(tensor.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return (tensor.unsqueeze(-1) == arange(num_classes)).long()


def pad(input: Tensor, pad: tuple[int, ...] | list[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dimensions: ``pad = (left, right, top, bottom, ...)``
    starting from the last dimension; ``mode`` is ``'constant'`` (with ``value``),
    ``'reflect'``, ``'replicate'`` or ``'circular'``. Negative pads crop. Delegates to
    ``chainrule.ops.movement.pad``.

    Example:
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> x = chainrule.tensor([[[1., 2., 3.]]])
        >>> F.pad(x, (1, 2))
        tensor([[[0., 1., 2., 3., 0., 0.]]])
        >>> F.pad(x, (2, 1), mode='reflect')
        tensor([[[3., 2., 1., 2., 3., 2.]]])
    """
    return _movement_pad(input, pad, mode, value)
