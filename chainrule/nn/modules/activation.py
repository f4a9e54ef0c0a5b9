"""Activation layers: thin Modules over ``chainrule.nn.functional``, torch's names, arguments
and reprs; plus :class:`Maxout`, which torch lacks, and :class:`MultiheadAttention` (where
torch keeps it)."""

from __future__ import annotations

import warnings
from typing import Any

from chainrule.creation import empty
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.modules.linear import Linear
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU", "SiLU",
           "Mish", "Sigmoid", "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus",
           "Softsign", "Softmax", "LogSoftmax", "Softmin", "Softmax2d", "Tanhshrink",
           "Threshold", "LogSigmoid", "Hardshrink", "Softshrink", "GLU", "Maxout",
           "MultiheadAttention"]

Tensor = Any


def _inplace_str(inplace: bool, first: bool = False) -> str:
    if not inplace:
        return ""
    return "inplace=True" if first else ", inplace=True"


class ReLU(Module):
    """``max(x, 0)`` element-wise.

    Args:
        inplace: overwrite the input. Default: ``False``.

    Shape:
        - Input: ``(*)``; Output: the same shape.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.ReLU()(chainrule.tensor([-1., 2.]))
        tensor([0., 2.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, first=True)


class Hardtanh(Module):
    """``clamp(x, min_val, max_val)``; no gradient on the boundary, as torch.

    Args:
        min_val: lower bound. Default: -1.
        max_val: upper bound. Default: 1.
        inplace: overwrite the input. Default: ``False``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Hardtanh(-2., 2.)(chainrule.tensor([-3., 1., 3.]))
        tensor([-2.,  1.,  2.])
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None) -> None:
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to `min_val`",
                          FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to `max_val`",
                          FutureWarning, stacklevel=2)
            max_val = max_value
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace
        if self.max_val <= self.min_val:
            raise AssertionError(f"max_val ({self.max_val}) must be greater than min_val "
                                 f"({self.min_val})")

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_str(self.inplace)}"


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.ReLU6()(chainrule.tensor([-1., 7.]))
        tensor([0., 6.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, first=True)


class LeakyReLU(Module):
    """``x`` where positive, else ``negative_slope * x``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.LeakyReLU(0.1)(chainrule.tensor([-10., 1.]))
        tensor([-1.,  1.])
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_str(self.inplace)}"


class PReLU(Module):
    """``x`` where positive, else ``a * x`` with a learned slope ``a``: one shared, or one per
    channel (dim 1) with ``num_parameters = C``.

    Args:
        num_parameters: 1 or the number of channels. Default: 1.
        init: the initial slope. Default: 0.25.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> m = nn.PReLU()
        >>> m(chainrule.tensor([-4., 1.]))
        tensor([-1.,  1.], grad_fn=<WhereBackward0>)
        >>> m.weight.shape
        chainrule.Size([1])
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None,
                 dtype: Any = None) -> None:
        self.num_parameters = num_parameters
        super().__init__()
        self.init = init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """Randomized leaky ReLU: slope ``~ U(lower, upper)`` per element in training, the mean
    slope in evaluation.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.RReLU(0.25, 0.75).eval()(chainrule.tensor([-2., 1.]))
        tensor([-1.,  1.])
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                 inplace: bool = False) -> None:
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}{_inplace_str(self.inplace)}"


class ELU(Module):
    """``x`` where positive, else ``alpha (exp(x) - 1)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.ELU()(chainrule.tensor([-1000., 1.]))
        tensor([-1.,  1.])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_str(self.inplace)}"


class CELU(Module):
    """``max(0, x) + min(0, alpha (exp(x / alpha) - 1))``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.CELU(2.0)(chainrule.tensor([-1000., 1.]))
        tensor([-2.,  1.])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_str(self.inplace)}"


class SELU(Module):
    """``scale * elu(x, alpha)`` with SELU's self-normalizing constants.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.SELU()(chainrule.tensor([1.]))
        tensor([1.0507])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.selu(input, self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, first=True)


class GELU(Module):
    """``x Phi(x)`` (``Phi`` the normal CDF); ``approximate='tanh'`` for the tanh form.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.GELU()(chainrule.tensor([1.]))
        tensor([0.8413])
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _Inplace(Module):
    """An element-wise activation whose only option is ``inplace``."""

    _fn: Any = None

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, first=True)


class SiLU(_Inplace):
    """``x * sigmoid(x)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.SiLU()(chainrule.tensor([1.]))
        tensor([0.7311])
    """

    _fn = staticmethod(F.silu)


class Mish(_Inplace):
    """``x * tanh(softplus(x))``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Mish()(chainrule.tensor([1.]))
        tensor([0.8651])
    """

    _fn = staticmethod(F.mish)

    def extra_repr(self) -> str:
        return ""


class Hardsigmoid(_Inplace):
    """``relu6(x + 3) / 6``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Hardsigmoid()(chainrule.tensor([0., 4.]))
        tensor([0.5000, 1.0000])
    """

    _fn = staticmethod(F.hardsigmoid)

    def extra_repr(self) -> str:
        return ""


class Hardswish(_Inplace):
    """``x * relu6(x + 3) / 6``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Hardswish()(chainrule.tensor([1.5, 4.]))
        tensor([1.1250, 4.0000])
    """

    _fn = staticmethod(F.hardswish)

    def extra_repr(self) -> str:
        return ""


class _Elementwise(Module):
    """A parameterless element-wise activation."""

    _fn: Any = None

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input)


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Sigmoid()(chainrule.tensor([0.]))
        tensor([0.5000])
    """

    _fn = staticmethod(F.sigmoid)


class Tanh(_Elementwise):
    """``tanh(x)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Tanh()(chainrule.tensor([0.]))
        tensor([0.])
    """

    _fn = staticmethod(F.tanh)


class Softsign(_Elementwise):
    """``x / (1 + |x|)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Softsign()(chainrule.tensor([1.]))
        tensor([0.5000])
    """

    _fn = staticmethod(F.softsign)


class Tanhshrink(_Elementwise):
    """``x - tanh(x)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Tanhshrink()(chainrule.tensor([0.]))
        tensor([0.])
    """

    _fn = staticmethod(F.tanhshrink)


class LogSigmoid(_Elementwise):
    """``log(sigmoid(x))``, computed without overflow.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.LogSigmoid()(chainrule.tensor([0.]))
        tensor([-0.6931])
    """

    _fn = staticmethod(F.logsigmoid)


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Softplus()(chainrule.tensor([0.]))
        tensor([0.6931])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Threshold(Module):
    """``x`` where ``x > threshold``, else ``value``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Threshold(0.5, -1.)(chainrule.tensor([0., 1.]))
        tensor([-1.,  1.])
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}{_inplace_str(self.inplace)}"


class Hardshrink(Module):
    """``x`` where ``|x| > lambd``, else 0.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Hardshrink()(chainrule.tensor([0.2, 1.]))
        tensor([0., 1.])
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Module):
    """``x - lambd sign(x)`` where ``|x| > lambd``, else 0.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Softshrink()(chainrule.tensor([0.2, 1.]))
        tensor([0.0000, 0.5000])
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return F.softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class GLU(Module):
    """Gated linear unit ``a * sigmoid(b)``, ``a, b`` the halves of the input along ``dim``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.GLU()(chainrule.tensor([[2., 0.]]))
        tensor([[1.]])
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class _SoftmaxBase(Module):
    _fn: Any = None

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim`` (entries along it sum to 1).

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Softmax(dim=1)(chainrule.tensor([[0., 0.69314718]]))
        tensor([[0.3333, 0.6667]])
    """

    _fn = staticmethod(F.softmax)


class LogSoftmax(_SoftmaxBase):
    """``x_i - log sum_j exp(x_j)`` along ``dim``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.LogSoftmax(dim=0)(chainrule.tensor([0., 0.]))
        tensor([-0.6931, -0.6931])
    """

    _fn = staticmethod(F.log_softmax)


class Softmin(_SoftmaxBase):
    """``softmax(-x)`` along ``dim``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Softmin(dim=0)(chainrule.tensor([0., 0.69314718]))
        tensor([0.6667, 0.3333])
    """

    _fn = staticmethod(F.softmin)


class Softmax2d(Module):
    """Softmax over the channels of ``(N, C, H, W)`` or ``(C, H, W)`` inputs, at each location.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> nn.Softmax2d()(chainrule.zeros(2, 1, 1)).flatten()
        tensor([0.5000, 0.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D "
                             f"instead")
        return F.softmax(input, -3, _stacklevel=5)


class Maxout(Module):
    """Maxout units: ``y_j = max_k (x W_{j,k}^T + b_{j,k})`` over ``pieces`` affine pieces.

    A :class:`Linear` layer maps ``in_features`` to ``out_features * pieces`` values, and each
    output unit is the maximum of its ``pieces`` consecutive ones (unit ``j`` uses rows
    ``j * pieces .. (j + 1) * pieces - 1`` of ``linear.weight``). With enough pieces a maxout
    unit approximates any convex function; ReLU is the two-piece case with one piece fixed at
    zero. The gradient goes to the winning piece (the first one on ties, as ``max(dim)``).

    Note: ours; PyTorch has no Maxout layer (Goodfellow et al., 2013, as the lectures teach
    it). The torch equivalent is ``linear(x).unflatten(-1, (out_features, pieces)).max(-1)
    .values``, and ``state_dict()`` keys are ``linear.weight`` and ``linear.bias``.

    Args:
        in_features: size of each input sample.
        out_features: number of maxout units.
        pieces: number of affine pieces per unit (``k``).
        bias: learn a bias per piece. Default: ``True``.

    Shape:
        - Input: ``(*, in_features)``
        - Output: ``(*, out_features)``

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> m = nn.Maxout(4, 3, pieces=2)
        >>> tuple(m(chainrule.randn(5, 4)).shape)
        (5, 3)
        >>> m
        Maxout(
          in_features=4, out_features=3, pieces=2
          (linear): Linear(in_features=4, out_features=6, bias=True)
        )
    """

    def __init__(self, in_features: int, out_features: int, pieces: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if pieces < 1:
            raise ValueError(f"Maxout: pieces must be at least 1, got {pieces}")
        self.in_features = in_features
        self.out_features = out_features
        self.pieces = pieces
        # imported here: activation.py loads before linear.py in chainrule.nn.modules
        from chainrule.nn.modules.linear import Linear

        self.linear = Linear(in_features, out_features * pieces, bias=bias, device=device,
                             dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        z = self.linear(input)
        z = z.unflatten(-1, (self.out_features, self.pieces))
        return z.max(-1).values

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pieces={self.pieces}")


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under another name: torch's type for ``MultiheadAttention.out_proj`` (its name
    shows in reprs; the math is Linear's).

    Example:
        >>> NonDynamicallyQuantizableLinear(2, 2)
        NonDynamicallyQuantizableLinear(in_features=2, out_features=2, bias=True)
    """


class MultiheadAttention(Module):
    r"""Multi-head attention: ``concat_h(softmax(Q W_q^h (K W_k^h)^T / sqrt(d)) V W_v^h) W_o``,
    ``num_heads`` heads of size ``d = embed_dim / num_heads``.

    Parameters as torch's, so state_dicts move both ways: ``in_proj_weight`` ``(3E, E)``
    (q, k, v stacked; or ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when
    ``kdim``/``vdim`` differ from ``embed_dim``), ``in_proj_bias`` ``(3E)``, ``out_proj``
    (a Linear), and ``bias_k``, ``bias_v`` ``(1, 1, E)`` with ``add_bias_kv``. Projection
    weights are Xavier-uniform, biases zero, as torch.

    Args:
        embed_dim: model width ``E``.
        num_heads: parallel heads (must divide ``embed_dim``).
        dropout: dropout on the attention weights. Default: 0.
        bias: learn input and output projection biases. Default: ``True``.
        add_bias_kv: append a learned key and value to the sequences. Default: ``False``.
        add_zero_attn: append a zero key and value. Default: ``False``.
        kdim: features of the keys. Default: ``embed_dim``.
        vdim: features of the values. Default: ``embed_dim``.
        batch_first: inputs and outputs are ``(N, L, E)``. Default: ``False`` (``(L, N, E)``).

    Shape:
        - query ``(L, N, E)``, key ``(S, N, kdim)``, value ``(S, N, vdim)`` (batch first with
          ``batch_first``; or unbatched ``(L, E)``, ...); ``key_padding_mask`` ``(N, S)``
          (True: ignore that key); ``attn_mask`` ``(L, S)`` or ``(N * num_heads, L, S)``
          (True: may not attend; float masks are added).
        - Output: ``(L, N, E)``, and the weights ``(N, L, S)`` averaged over heads (or
          ``(N, num_heads, L, S)``) when ``need_weights``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> mha = nn.MultiheadAttention(8, 2, batch_first=True)
        >>> x = chainrule.randn(3, 5, 8)
        >>> out, weights = mha(x, x, x)
        >>> tuple(out.shape), tuple(weights.shape)
        ((3, 5, 8), (3, 5, 5))
        >>> [n for n, _ in mha.named_parameters()]
        ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']
    """

    __constants__ = ["batch_first"]

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != self.embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        factory = {"device": device, "dtype": dtype}
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(empty((embed_dim, embed_dim), **factory))
            self.k_proj_weight = Parameter(empty((embed_dim, self.kdim), **factory))
            self.v_proj_weight = Parameter(empty((embed_dim, self.vdim), **factory))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty((3 * embed_dim, embed_dim), **factory))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        **factory)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, embed_dim), **factory))
            self.bias_v = Parameter(empty((1, 1, embed_dim), **factory))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key``/``value``; returns ``(output, weights or None)``."""
        is_batched = query.dim() == 3
        key_padding_mask = F._canonical_mask(key_padding_mask, "key_padding_mask",
                                             F._none_or_dtype(attn_mask), "attn_mask",
                                             query.dtype)
        attn_mask = F._canonical_mask(attn_mask, "attn_mask", None, "", query.dtype,
                                      check_other=False)
        if self.batch_first and is_batched:
            # keep "key is value" (and "query is key") true: the projection shares GEMMs then
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = (x.transpose(1, 0) for x in (query, key))
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        separate = not self._qkv_same_embed_dim
        out, weights = F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=separate, q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        if self.batch_first and is_batched:
            return out.transpose(1, 0), weights
        return out, weights
