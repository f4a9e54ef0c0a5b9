"""Fused activation primitives: the piecewise activations whose torch derivative conventions a
composite would get wrong at the kinks, or whose composite is unstable.

- ``Hardtanh`` (also relu6 and hardsigmoid): ``clamp``'s derivative is 1 on the boundary, but
  torch's hardtanh passes no gradient there (``hardtanh'(min) = hardtanh'(max) = 0``).
- ``Elu`` (elu, selu, celu): ``where(x > 0, x, expm1(x))`` as a composite sends ``0 * inf =
  nan`` back through the unused branch for large ``x``; the fused form clamps first.
- ``LeakyRelu``, ``Threshold`` and ``Hardswish``: one NumPy pass instead of three or four
  Tensor ops, with torch's conventions at 0, at the threshold and at -3 / 3.

Each derivative rule is written with Tensor operations (so double backward works); when no
graph is being built it takes a shortcut over raw arrays, as ``Relu`` does.
"""

from __future__ import annotations

from chainrule import _backend
from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.op import Op
from chainrule.ops.elementwise import exp, where

xp = _backend.xp

__all__: list[str] = []


class Hardtanh(Op):
    """out = clamp(x, min_val, max_val);  d out = [min_val < x < max_val] dx (0 on the
    boundary, as torch)."""

    @staticmethod
    def forward(x, *, min_val, max_val):
        return xp.clip(x, _backend.scalar(min_val, x.dtype), _backend.scalar(max_val, x.dtype))

    @staticmethod
    def vjp(g, out, x, *, min_val, max_val):
        return (HardtanhBackward.apply(g, x, min_val=min_val, max_val=max_val),)

    @staticmethod
    def jvp(x_dot, out, x, *, min_val, max_val):
        return HardtanhBackward.apply(x_dot, x, min_val=min_val, max_val=max_val)


class LeakyRelu(Op):
    """out = x if x > 0 else slope x;  d out = (1 if x > 0 else slope) dx (slope at 0, as
    torch)."""

    @staticmethod
    def forward(x, *, negative_slope):
        return xp.where(x > 0, x, x * _backend.scalar(negative_slope, x.dtype))

    @staticmethod
    def vjp(g, out, x, *, negative_slope):
        return (LeakyReluBackward.apply(g, x, negative_slope=negative_slope),)

    @staticmethod
    def jvp(x_dot, out, x, *, negative_slope):
        return LeakyReluBackward.apply(x_dot, x, negative_slope=negative_slope)


class Threshold(Op):
    """out = x if x > threshold else value;  d out = [x > threshold] dx."""

    @staticmethod
    def forward(x, *, threshold, value):
        return xp.where(x > threshold, x, _backend.scalar(value, x.dtype))

    @staticmethod
    def vjp(g, out, x, *, threshold, value):
        return (ThresholdBackward.apply(g, x, threshold=threshold),)

    @staticmethod
    def jvp(x_dot, out, x, *, threshold, value):
        return ThresholdBackward.apply(x_dot, x, threshold=threshold)


class Hardshrink(Op):
    """out = x if |x| > lambd else 0;  d out = [|x| > lambd] dx."""

    @staticmethod
    def forward(x, *, lambd):
        return xp.where((x < -lambd) | (x > lambd), x, _backend.scalar(0, x.dtype))

    @staticmethod
    def vjp(g, out, x, *, lambd):
        return (ShrinkBackward.apply(g, x, lambd=lambd),)

    @staticmethod
    def jvp(x_dot, out, x, *, lambd):
        return ShrinkBackward.apply(x_dot, x, lambd=lambd)


class Softshrink(Op):
    """out = x - lambd sign(x) if |x| > lambd else 0;  d out = [|x| > lambd] dx."""

    @staticmethod
    def forward(x, *, lambd):
        lam = _backend.scalar(lambd, x.dtype)
        zero = _backend.scalar(0, x.dtype)
        return xp.where(x > lam, x - lam, xp.where(x < -lam, x + lam, zero))

    @staticmethod
    def vjp(g, out, x, *, lambd):
        return (ShrinkBackward.apply(g, x, lambd=lambd),)

    @staticmethod
    def jvp(x_dot, out, x, *, lambd):
        return ShrinkBackward.apply(x_dot, x, lambd=lambd)


# The backward helpers of the piecewise-linear activations: g masked or scaled by a function
# of x, one NumPy pass (as torch's hardtanh_backward, leaky_relu_backward, threshold_backward).
# Being primitives with x as an input, their result requires grad under create_graph exactly
# where torch's does; their derivative in x is zero almost everywhere.


def _zeros_for(x):  # noqa: ANN001, ANN202
    return _backend.wrap(xp.zeros_like(x._data))


class HardtanhBackward(Op):
    """out = g [min_val < x < max_val];  d out = [min_val < x < max_val] dg."""

    backward_name = "HardtanhBackwardBackward0"

    @staticmethod
    def forward(g, x, *, min_val, max_val):
        keep = (x > min_val) & (x < max_val)
        return xp.where(keep, g, _backend.scalar(0, g.dtype))

    @staticmethod
    def vjp(gg, out, g, x, *, min_val, max_val):
        return HardtanhBackward.apply(gg, x, min_val=min_val, max_val=max_val), _zeros_for(x)

    @staticmethod
    def jvp(g_dot, x_dot, out, g, x, *, min_val, max_val):
        return HardtanhBackward.apply(g_dot, x, min_val=min_val, max_val=max_val)


class LeakyReluBackward(Op):
    """out = g (1 if x > 0 else slope);  d out = (1 if x > 0 else slope) dg."""

    backward_name = "LeakyReluBackwardBackward0"

    @staticmethod
    def forward(g, x, *, negative_slope):
        return xp.where(x > 0, g, g * _backend.scalar(negative_slope, g.dtype))

    @staticmethod
    def vjp(gg, out, g, x, *, negative_slope):
        return (LeakyReluBackward.apply(gg, x, negative_slope=negative_slope), _zeros_for(x))

    @staticmethod
    def jvp(g_dot, x_dot, out, g, x, *, negative_slope):
        return LeakyReluBackward.apply(g_dot, x, negative_slope=negative_slope)


class ThresholdBackward(Op):
    """out = g [x > threshold];  d out = [x > threshold] dg."""

    backward_name = "ThresholdBackwardBackward0"

    @staticmethod
    def forward(g, x, *, threshold):
        return xp.where(x > threshold, g, _backend.scalar(0, g.dtype))

    @staticmethod
    def vjp(gg, out, g, x, *, threshold):
        return ThresholdBackward.apply(gg, x, threshold=threshold), _zeros_for(x)

    @staticmethod
    def jvp(g_dot, x_dot, out, g, x, *, threshold):
        return ThresholdBackward.apply(g_dot, x, threshold=threshold)


class Elu(Op):
    """out = scale x if x > 0 else alpha scale (exp(input_scale x) - 1);
    d out = (scale if x > 0 else alpha scale input_scale exp(input_scale x)) dx.

    One kernel serves elu, selu (scale, alpha fixed) and celu (input_scale = 1 / alpha), as
    in torch. The negative branch is evaluated at ``min(x, 0)`` so it never overflows; the
    derivative at 0 takes the negative branch, as torch.
    """

    @staticmethod
    def forward(x, *, alpha, scale, input_scale):
        # explicit out= arrays: for 0-d inputs NumPy would return scalars, not arrays
        neg = xp.minimum(x, _backend.scalar(0, x.dtype), out=xp.empty_like(x))
        neg *= _backend.scalar(input_scale, x.dtype)
        xp.expm1(neg, out=neg)
        neg *= _backend.scalar(alpha * scale, x.dtype)
        pos = x * _backend.scalar(scale, x.dtype) if scale != 1 else x
        return xp.where(x > 0, pos, neg)

    @staticmethod
    def vjp(g, out, x, *, alpha, scale, input_scale):
        if not STATE.enabled:
            xd, gd = x._data, g._data
            d = xp.minimum(xd, _backend.scalar(0, xd.dtype), out=xp.empty_like(xd))
            d *= _backend.scalar(input_scale, xd.dtype)
            xp.exp(d, out=d)
            d *= _backend.scalar(alpha * scale * input_scale, xd.dtype)
            xp.copyto(d, _backend.scalar(scale, xd.dtype), where=xd > 0)
            d *= gd
            return (_backend.wrap(d),)
        return (g * _elu_slope(x, alpha, scale, input_scale),)

    @staticmethod
    def jvp(x_dot, out, x, *, alpha, scale, input_scale):
        return x_dot * _elu_slope(x, alpha, scale, input_scale)


def _elu_slope(x, alpha, scale, input_scale):  # noqa: ANN001, ANN202
    # where(x < 0, x, 0) rather than clamp: the second derivative at 0 is 0, as torch's
    # elu_double_backward (whose mask is x < 0, while the first derivative's is x <= 0).
    neg = exp(where(x < 0, x, 0.0) * input_scale) * (alpha * scale * input_scale)
    return where(x > 0, scale, neg)


class Hardswish(Op):
    """out = x relu6(x + 3) / 6;  d out = (0 if x <= -3, x / 3 + 1/2 if x < 3, else 1) dx
    (torch's conventions at -3 and 3)."""

    @staticmethod
    def forward(x):
        out = xp.add(x, _backend.scalar(3, x.dtype), out=xp.empty_like(x))
        xp.clip(out, _backend.scalar(0, x.dtype), _backend.scalar(6, x.dtype), out=out)
        out *= x
        out /= _backend.scalar(6, x.dtype)
        return out

    @staticmethod
    def vjp(g, out, x):
        if not STATE.enabled:
            xd = x._data
            d = xp.divide(xd, _backend.scalar(3, xd.dtype), out=xp.empty_like(xd))
            d += _backend.scalar(0.5, xd.dtype)
            xp.copyto(d, _backend.scalar(0, xd.dtype), where=xd <= -3)
            xp.copyto(d, _backend.scalar(1, xd.dtype), where=xd >= 3)
            d *= g._data
            return (_backend.wrap(d),)
        return (g * _hardswish_slope(x),)

    @staticmethod
    def jvp(x_dot, out, x):
        return x_dot * _hardswish_slope(x)


def _hardswish_slope(x):  # noqa: ANN001, ANN202
    return where(x <= -3, 0.0, where(x < 3, x / 3 + 0.5, 1.0))


class ShrinkBackward(Op):
    """out = g [|x| > lambd];  d out = [|x| > lambd] dg (hardshrink's and softshrink's)."""

    @staticmethod
    def forward(g, x, *, lambd):
        return xp.where((x < -lambd) | (x > lambd), g, _backend.scalar(0, g.dtype))

    @staticmethod
    def vjp(gg, out, g, x, *, lambd):
        return ShrinkBackward.apply(gg, x, lambd=lambd), _zeros_for(x)

    @staticmethod
    def jvp(g_dot, x_dot, out, g, x, *, lambd):
        return ShrinkBackward.apply(g_dot, x, lambd=lambd)
