"""Normalization primitives: batch, layer and group norm (instance norm is batch norm per
sample), each ``out = (x - mean) / sqrt(var + eps) * w + b`` with the statistics taken over
``dims`` (biased variance) and ``w``, ``b`` broadcast as ``affine_shape``.

Fused for speed (DESIGN.md section 3): the statistics are computed once, on raw arrays, by the
public function (which also needs them for running averages) and handed to the forward; the
composite would take ~10 separate passes and keep every temporary for backward.

The vjp has two paths. With no graph being built it works on arrays, in one sweep:

    dx = invstd * (g w - mean(g w) - xhat * mean(g w * xhat)),  dw = sum g xhat,  db = sum g

(means over ``dims``). Under ``create_graph`` the same formula is written with Tensor
operations, the statistics recomputed from ``x``, so double backward (a gradient penalty
through a normalized network) is exact. The jvp is the Tensor form of the same linearization.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule import _backend
from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.op import Op

xp = _backend.xp

__all__ = ["layer_norm", "group_norm"]


def _stats(x: Any, dims: tuple, eps: float) -> tuple[Any, Any, Any]:
    """(mean, biased var, invstd) over ``dims``, kept dims; float accumulation as x."""
    mean = x.mean(axis=dims, keepdims=True)
    xc = x - mean
    xc *= xc
    var = xc.mean(axis=dims, keepdims=True)
    invstd = 1.0 / xp.sqrt(var + eps)
    return mean, var, invstd.astype(x.dtype, copy=False)


def _count(shape: tuple, dims: tuple) -> int:
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _sum_to(a: Any, shape: tuple) -> Any:
    return _backend.sum_to(a, tuple(shape))


class _Normalization(Op, register=False):
    """out = (x - mean) * invstd * w + b, statistics over ``dims`` of x viewed as ``view``;
    d out = invstd (dx - mean(dx) - xhat mean(dx xhat)) w + xhat dw + db."""

    @staticmethod
    def forward(x, *wb, dims, eps, affine_shape, affine, mean, invstd, view):
        xv = x if view is None else x.reshape(view)
        out = xv - mean
        out *= invstd
        k = 0
        if affine[0]:
            out *= wb[0].reshape(affine_shape)
            k = 1
        if affine[1]:
            out += wb[k].reshape(affine_shape)
        return out if view is None else out.reshape(x.shape)

    @staticmethod
    def vjp(g, out, x, *wb, dims, eps, affine_shape, affine, mean, invstd, view):
        w = wb[0] if affine[0] else None
        b = wb[-1] if affine[1] else None
        shape = x._data.shape
        if view is not None:
            g = g.reshape(view)
        if not STATE.enabled:
            return _raw_vjp(g._data, x, w, b, dims, affine_shape, mean, invstd, view)
        xv = x if view is None else x.reshape(view)
        xhat, inv = _tensor_xhat(xv, dims, eps)
        gw = g * w.reshape(affine_shape) if w is not None else g
        gx = None
        if x._requires_grad:
            gx = inv * (gw - gw.mean(dims, keepdim=True)
                        - xhat * (gw * xhat).mean(dims, keepdim=True))
            if view is not None:
                gx = gx.reshape(shape)
        res = [gx]
        if w is not None:
            res.append((g * xhat).sum_to_size(affine_shape).reshape(w._data.shape)
                       if w._requires_grad else None)
        if b is not None:
            res.append(g.sum_to_size(affine_shape).reshape(b._data.shape)
                       if b._requires_grad else None)
        return tuple(res)

    @staticmethod
    def jvp(x_dot, *rest, dims, eps, affine_shape, affine, mean, invstd, view):
        n = affine[0] + affine[1]
        tangents, (_, x, *wb) = rest[:n], rest[n:]
        shape = x._data.shape
        if view is not None:
            x, x_dot = x.reshape(view), x_dot.reshape(view)
        xhat, inv = _tensor_xhat(x, dims, eps)
        xhat_dot = inv * (x_dot - x_dot.mean(dims, keepdim=True)
                          - xhat * (x_dot * xhat).mean(dims, keepdim=True))
        k = 0
        if affine[0]:
            res = xhat_dot * wb[0].reshape(affine_shape) + xhat * tangents[0].reshape(affine_shape)
            k = 1
        else:
            res = xhat_dot
        if affine[1]:
            res = res + tangents[k].reshape(affine_shape)
        return res if view is None else res.reshape(shape)


def _tensor_xhat(x: Any, dims: tuple, eps: float) -> tuple[Any, Any]:
    """(xhat, invstd) recomputed from ``x`` with Tensor ops, so derivatives see them move."""
    xc = x - x.mean(dims, keepdim=True)
    inv = ((xc * xc).mean(dims, keepdim=True) + eps).rsqrt()
    return xc * inv, inv


def _raw_vjp(g: Any, x: Any, w: Any, b: Any, dims: tuple, affine_shape: tuple, mean: Any,
             invstd: Any, view: Any) -> tuple:
    wrap = _backend.wrap
    xa = x._data if view is None else x._data.reshape(view)
    m = _count(xa.shape, dims)
    xhat = xa - mean
    xhat *= invstd
    gxh = g * xhat
    wb = w._data.reshape(affine_shape) if w is not None else None
    # The weight is constant over the normalized dims for batch/instance/group norm: the two
    # means factor through it and g * xhat serves dw as well.
    outside = len(affine_shape) == xa.ndim and all(affine_shape[d] == 1 for d in dims)
    gx = None
    if x._requires_grad:
        if wb is None or outside:
            mg = g.mean(axis=dims, keepdims=True)
            mgx = gxh.sum(axis=dims, keepdims=True)
            mgx /= m
            gx = xhat * mgx
            xp.subtract(g, gx, out=gx)
            gx -= mg
            gx *= invstd if wb is None else invstd * wb
        else:
            gw = g * wb
            mg = gw.mean(axis=dims, keepdims=True)
            gwx = gw * xhat
            mgx = gwx.mean(axis=dims, keepdims=True)
            gx = xhat
            gx *= mgx
            xp.subtract(gw, gx, out=gx)
            gx -= mg
            gx *= invstd
        gx = wrap(gx if view is None else gx.reshape(x._data.shape))
    res = [gx]
    if w is not None:
        res.append(wrap(_sum_to(gxh, affine_shape).reshape(w._data.shape))
                   if w._requires_grad else None)
    if b is not None:
        res.append(wrap(_sum_to(g, affine_shape).reshape(b._data.shape))
                   if b._requires_grad else None)
    return tuple(res)


class NativeBatchNorm(_Normalization):
    """out = (x - mean) / sqrt(var + eps) * w + b, statistics per channel over the batch and
    spatial dims;  d out = invstd (dx - mean(dx) - xhat mean(dx xhat)) w + xhat dw + db."""


class NativeLayerNorm(_Normalization):
    """out = (x - mean) / sqrt(var + eps) * w + b, statistics over the trailing normalized
    dims, w and b elementwise;  d out as NativeBatchNorm's over those dims."""


class NativeGroupNorm(_Normalization):
    """out = (x - mean) / sqrt(var + eps) * w + b, statistics per sample and channel group, w
    and b per channel;  d out as NativeBatchNorm's over each group."""


# ---------------------------------------------------------------------------------------------
# Public functions


def _affine_args(weight: Any, bias: Any) -> tuple[tuple, tuple[bool, bool]]:
    wb = tuple(t for t in (weight, bias) if t is not None)
    return wb, (weight is not None, bias is not None)


def _check_float(name: str, x: Any) -> None:
    if x._data.dtype.kind != "f":
        kind = {"int64": "Long", "int32": "Int", "bool": "Bool", "uint8": "Byte"}.get(
            x._data.dtype.name, x._data.dtype.name)
        raise NotImplementedError(f"\"{name}\" not implemented for '{kind}'")


def _normalize(op: type[Op], x: Any, weight: Any, bias: Any, dims: tuple, eps: float,
               affine_shape: tuple, view: tuple | None = None) -> Any:
    """Apply ``op`` with statistics of ``x`` (viewed as ``view``) over ``dims``; returns
    (out, mean, var)."""
    xa = x._data if view is None else x._data.reshape(view)
    mean, var, invstd = _stats(xa, dims, eps)
    wb, affine = _affine_args(weight, bias)
    out = op.apply(x, *wb, dims=dims, eps=float(eps), affine_shape=affine_shape,
                   affine=affine, mean=mean, invstd=invstd, view=view)
    return out, mean, var


def _update_running(running: Any, value: Any, momentum: float) -> None:
    """running <- (1 - momentum) * running + momentum * value, in place (a buffer update)."""
    arr = running._data
    arr *= 1 - momentum
    arr += (momentum * value).astype(arr.dtype, copy=False)
    running._bump()


def _affine_eval(x: Any, mean: Any, var: Any, weight: Any, bias: Any, eps: float,
                 shape: tuple) -> Any:
    """Normalization by given (running) statistics: an affine map, composed of Tensor ops."""
    scale = (var + eps).rsqrt()
    if weight is not None:
        scale = scale * weight
    shift = -mean * scale
    if bias is not None:
        shift = shift + bias
    return x * scale.reshape(shape) + shift.reshape(shape)


def _check_vector(name: str, t: Any, n: int) -> None:
    if t is not None and t._data.size != n:
        raise RuntimeError(f"{name} should contain {n} elements not {t._data.size}")


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Any:
    """Normalize each channel (dim 1): ``(x - mean) / sqrt(var + eps) * weight + bias``.

    In training the statistics are the batch's (over every dim but 1, biased variance) and
    the running ones, when given, move towards them in place:
    ``running = (1 - momentum) * running + momentum * batch_stat`` with the unbiased batch
    variance. In evaluation the running statistics are used.

    Example:
        >>> import chainrule
        >>> x = chainrule.tensor([[1.], [3.]])
        >>> rm, rv = chainrule.zeros(1), chainrule.ones(1)
        >>> batch_norm(x, rm, rv, training=True, eps=1e-12)
        tensor([[-1.],
                [ 1.]])
        >>> rm, rv
        (tensor([0.2000]), tensor([1.1000]))
    """
    _check_float("batch_norm", input)
    shape = input._data.shape
    if input._data.ndim < 2:
        raise ValueError(f"Expected 2D or higher input to batch_norm (got {input._data.ndim}D "
                         f"input)")
    c = shape[1]
    _check_vector("running_mean", running_mean, c)
    _check_vector("running_var", running_var, c)
    _check_vector("weight", weight, c)
    _check_vector("bias", bias, c)
    affine_shape = (1, c) + (1,) * (len(shape) - 2)
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        return _affine_eval(input, running_mean, running_var, weight, bias, eps, affine_shape)
    dims = (0,) + tuple(range(2, len(shape)))
    m = _count(shape, dims)
    if m <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {_size_repr(shape)}")
    out, mean, var = _normalize(NativeBatchNorm, input, weight, bias, dims, eps, affine_shape)
    if running_mean is not None:
        _update_running(running_mean, mean.reshape(c), momentum)
    if running_var is not None:
        _update_running(running_var, var.reshape(c) * (m / (m - 1)), momentum)
    return out


def _size_repr(shape: tuple) -> str:
    return f"torch.Size({list(shape)})"


def instance_norm(input: Any, running_mean: Any = None, running_var: Any = None,
                  weight: Any = None, bias: Any = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Any:
    """Normalize each (sample, channel) plane over its spatial dims, then ``* weight + bias``
    per channel. Running statistics, when given, are updated with the batch average of the
    per-instance statistics (as torch).

    Example:
        >>> import chainrule
        >>> instance_norm(chainrule.tensor([[[1., 3.], [2., 6.]]]), eps=0.)
        tensor([[[-1.,  1.],
                 [-1.,  1.]]])
    """
    _check_float("batch_norm", input)
    shape = input._data.shape
    c = shape[1]
    affine_shape = (1, c) + (1,) * (len(shape) - 2)
    _check_vector("weight", weight, c)
    _check_vector("bias", bias, c)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        return _affine_eval(input, running_mean, running_var, weight, bias, eps, affine_shape)
    dims = tuple(range(2, len(shape)))
    m = _count(shape, dims)
    if m <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{_size_repr(shape)}")
    out, mean, var = _normalize(NativeBatchNorm, input, weight, bias, dims, eps, affine_shape)
    if running_mean is not None:
        _update_running(running_mean, mean.reshape(shape[0], c).mean(0), momentum)
    if running_var is not None:
        unbiased = var.reshape(shape[0], c) * (m / (m - 1))
        _update_running(running_var, unbiased.mean(0), momentum)
    return out


def layer_norm(input: Any, normalized_shape: Sequence[int] | int, weight: Any = None,
               bias: Any = None, eps: float = 1e-5) -> Any:
    """Normalize over the trailing ``normalized_shape`` dims of each sample:
    ``(x - mean) / sqrt(var + eps) * weight + bias`` (weight, bias of that shape).

    Example:
        >>> import chainrule
        >>> layer_norm(chainrule.tensor([[1., 3.], [0., 4.]]), (2,), eps=0.)
        tensor([[-1.,  1.],
                [-1.,  1.]])
    """
    _check_float("LayerNormKernelImpl", input)
    ns = (int(normalized_shape),) if isinstance(normalized_shape, int) else \
        tuple(int(n) for n in normalized_shape)
    shape = input._data.shape
    k = len(ns)
    if k == 0 or shape[len(shape) - k:] != ns or k > len(shape):
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size"
                           f"{list(shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t._data.shape != ns:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t._data.shape)} and normalized_shape "
                               f"= {list(ns)}")
    dims = tuple(range(len(shape) - k, len(shape)))
    out, _, _ = _normalize(NativeLayerNorm, input, weight, bias, dims, eps, ns)
    return out


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Any:
    """Split the channels into ``num_groups`` groups and normalize each (sample, group) over
    its channels and spatial dims, then ``* weight + bias`` per channel.

    Example:
        >>> import chainrule
        >>> group_norm(chainrule.tensor([[1., 3., 0., 4.]]), 2, eps=0.)
        tensor([[-1.,  1., -1.,  1.]])
    """
    _check_float("group_norm", input)
    shape = input._data.shape
    if input._data.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input._data.ndim}")
    n, c = shape[0], shape[1]
    G = int(num_groups)
    if G <= 0 or c % G:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(shape)} and "
                           f"num_groups={num_groups}")
    for t in (weight, bias):
        if t is not None and t._data.shape != (c,):
            raise RuntimeError(f"Expected weight to be a vector of size equal to the number of "
                               f"channels in input, but got weight of shape "
                               f"{list(t._data.shape)} and input of shape {list(shape)}")
    view = (n, G, c // G, int(input._data.size // max(n * c, 1)))
    out, _, _ = _normalize(NativeGroupNorm, input, weight, bias, (2, 3), eps, (1, G, c // G, 1),
                           view)
    return out


def local_response_norm(input: Any, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Any:
    """``x / (k + alpha / size * sum_{c' near c} x_{c'}^2) ** beta``, the sum over ``size``
    neighbouring channels (zero beyond the edges), as in AlexNet.

    Example:
        >>> import chainrule
        >>> local_response_norm(chainrule.ones(1, 2, 1), 2, alpha=1., beta=1., k=0.)
        tensor([[[2.],
                 [1.]]])
    """
    from chainrule.ops.movement import constant_pad_nd
    from chainrule.ops.pool import AvgPool

    shape = input._data.shape
    if input._data.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input._data.ndim} "
                         f"dimensions)")
    if input._data.size == 0:
        return input
    sq = (input * input).reshape(shape[0], 1, shape[1], -1)
    sq = constant_pad_nd(sq, (0, 0, size // 2, (size - 1) // 2))
    div = AvgPool.apply(sq, input_shape=sq._data.shape, kernel_size=(size, 1), stride=(1, 1),
                        padding=(0, 0), ceil_mode=False, count_include_pad=True,
                        divisor_override=None)
    div = (div.reshape(shape) * alpha + k) ** beta
    return input / div


TENSOR_METHODS: dict[str, Any] = {}
