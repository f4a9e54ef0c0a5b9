"""Higher-level differentiation of functions, as ``torch.autograd.functional``.

Each function takes ``func`` and its ``inputs`` (a tensor or a tuple of tensors) and returns
results with torch's structure: a tensor where torch gives a tensor, tuples where it gives
tuples. Inputs are re-wrapped as fresh tensors that require grad, so the results are
derivatives with respect to exactly these arguments; ``create_graph=True`` keeps the results
differentiable with respect to the original inputs.

``jvp`` and ``hvp`` use the double-backward trick (as torch): the vjp is linear in its
cotangent ``u``, so differentiating ``u -> J^T u`` again, with respect to ``u``, gives ``J v``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule import _backend
from chainrule.autograd import forward_ad as fwAD
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import STATE, enable_grad, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tensor_class() -> Any:
    return _backend._tensor_class


def _zeros_like(t: Any, requires_grad: bool = False) -> Any:
    return _backend.make_tensor(_backend.xp.zeros_like(t._data), requires_grad)


class _Stack(Function):
    """Rows stacked along a new first dim, differentiably (autograd/ does not import ops/)."""

    @staticmethod
    def forward(ctx: Any, *rows: Any) -> Any:
        return _backend.make_tensor(_backend.xp.stack([r._data for r in rows]))

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return tuple(g[j] for j in range(g.shape[0]))

    @staticmethod
    def jvp(ctx: Any, *tangents: Any) -> Any:
        return _Stack.apply(*tangents)


def _as_tuple(inp: Any, arg_name: str, fn_name: str) -> tuple[bool, tuple[Any, ...]]:
    """``(was_tuple, tuple_of_tensors)``; TypeError for anything but tensors."""
    is_tuple = isinstance(inp, tuple)
    items = inp if is_tuple else (inp,)
    T = _tensor_class()
    for i, el in enumerate(items):
        if not isinstance(el, T):
            if is_tuple:
                raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                                f"tuple of Tensors but the value at index {i} has type "
                                f"{type(el)}.")
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but the given {arg_name} has type {type(el)}.")
    return is_tuple, items


def _tuple_postprocess(res: Any, to_unpack: Any) -> Any:
    """Undo :func:`_as_tuple` on a result (one flag, or ``(outer, inner)`` for nested ones)."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs: tuple[Any, ...], create_graph: bool,
                     need_graph: bool) -> tuple[Any, ...]:
    # Always new tensor objects, so derivatives are taken with respect to these arguments and
    # not to the same tensors captured by func's closure (torch issue 32576).
    res = []
    for inp in inputs:
        if create_graph and inp.requires_grad:
            res.append(inp.view_as(inp))  # differentiable: keeps the link to the caller's graph
        else:
            res.append(inp.detach().requires_grad_(need_graph))
    return tuple(res)


def _grad_postprocess(inputs: Any, create_graph: bool) -> Any:
    if isinstance(inputs[0], _tensor_class()):
        return inputs if create_graph else tuple(inp.detach() for inp in inputs)
    return tuple(_grad_postprocess(inp, create_graph) for inp in inputs)


def _validate_v(v: tuple[Any, ...], other: tuple[Any, ...], is_other_tuple: bool) -> None:
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got "
                               f"{len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.size() != el_other.size():
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {el_other.size()} but "
                               f"got {el_v.size()}.")


def _check_requires_grad(inputs: tuple[Any, ...], input_type: str, strict: bool) -> None:
    if not strict:
        return
    for i, inp in enumerate(inputs):
        if inp is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if inp.requires_grad:
            continue
        if input_type == "hessian":
            raise RuntimeError(
                f"The hessian of the user-provided function with respect to input {i} is "
                f"independent of the input. This is not allowed in strict mode. You should "
                f"ensure that your function is thrice differentiable and that the hessian "
                f"depends on the inputs.")
        if input_type == "jacobian":
            raise RuntimeError(
                f"While computing the hessian, found that the jacobian of the user-provided "
                f"function with respect to input {i} is independent of the input. This is not "
                f"allowed in strict mode. You should ensure that your function is twice "
                f"differentiable and that the jacobian depends on the inputs (this would be "
                f"violated by a linear function for example).")
        if input_type == "grad_inputs":
            raise RuntimeError(
                f"The gradient with respect to input {i} is independent of the inputs of the "
                f"user-provided function. This is not allowed in strict mode.")
        raise RuntimeError(
            f"Output {i} of the user-provided function does not require gradients. The outputs "
            f"must be computed in a differentiable manner from the input when running in strict "
            f"mode.")


def _autograd_grad(outputs: tuple[Any, ...], inputs: tuple[Any, ...],
                   grad_outputs: tuple[Any, ...] | None = None, create_graph: bool = False,
                   retain_graph: bool | None = None) -> tuple[Any, ...]:
    """``autograd.grad`` that skips outputs not requiring grad (and accepts ``None`` ones)."""
    from chainrule.autograd import grad

    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    new_outputs = []
    new_grad_outputs = []
    for out, g in zip(outputs, grad_outputs):
        if out is not None and out.requires_grad:
            new_outputs.append(out)
            new_grad_outputs.append(g)
    if not new_outputs:
        return (None,) * len(inputs)
    return grad(new_outputs, inputs, new_grad_outputs, allow_unused=True,
                create_graph=create_graph, retain_graph=retain_graph)


_ZERO_MESSAGES = {
    "back": "The output of the user-provided function is independent of input {i}. This is "
            "not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _fill_in_zeros(grads: tuple[Any, ...], refs: tuple[Any, ...], strict: bool,
                   create_graph: bool, stage: str) -> tuple[Any, ...]:
    """Replace ``None`` gradients by zeros (the mathematical value) or raise in strict mode."""
    res = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_ZERO_MESSAGES[stage].format(i=i))
            g = _zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode when "
                               f"create_graph=True.")
        res.append(g)
    return tuple(res)


def vjp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), v^T J)``: the vector-Jacobian product of ``func`` at ``inputs``.

    Args:
        func: takes the input tensors, returns a tensor or a tuple of tensors.
        inputs: a tensor or a tuple of tensors.
        v: cotangent(s) shaped like the output(s); may be omitted for a one-element output.
        create_graph: make the results differentiable (for higher-order derivatives).
        strict: raise when an output is independent of an input instead of giving zeros.

    Returns:
        ``(func_output, vjp)``; ``vjp`` is shaped (and tupled) like ``inputs``.

    Example:
        >>> import chainrule
        >>> from chainrule.autograd.functional import vjp
        >>> x = chainrule.tensor([1.0, 2.0])
        >>> vjp(lambda x: x ** 2, x, chainrule.tensor([1.0, 10.0]))
        (tensor([1., 4.]), tensor([ 2., 40.]))
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "vjp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].nelement() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
    with set_grad_enabled(True if create_graph else STATE.enabled):
        grad_res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "back")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return (_tuple_postprocess(outputs, is_outputs_tuple),
            _tuple_postprocess(result, is_inputs_tuple))


def jvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), J v)``: the Jacobian-vector product of ``func`` at ``inputs``.

    Computed with the double-backward trick, as torch: ``J v = d/du <J^T u, v>``.

    Args:
        func: takes the input tensors, returns a tensor or a tuple of tensors.
        inputs: a tensor or a tuple of tensors.
        v: tangent(s) shaped like the input(s); may be omitted for a one-element input.
        create_graph: make the results differentiable.
        strict: raise when an output is independent of an input instead of giving zeros.

    Returns:
        ``(func_output, jvp)``; ``jvp`` is shaped (and tupled) like the output.

    Example:
        >>> import chainrule
        >>> from chainrule.autograd.functional import jvp
        >>> x = chainrule.tensor([1.0, 2.0])
        >>> jvp(lambda x: x ** 2, x, chainrule.tensor([1.0, 10.0]))
        (tensor([1., 4.]), tensor([ 2., 40.]))
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        if v is not None:
            _, v = _as_tuple(v, "v", "jvp")
            v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
            _validate_v(v, inputs, is_inputs_tuple)
        elif len(inputs) != 1 or inputs[0].nelement() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "jvp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        # The vjp is linear in its cotangent, so its value does not matter: zeros are safe.
        grad_outputs = tuple(_zeros_like(out, requires_grad=True) for out in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict=strict)
    with set_grad_enabled(True if create_graph else STATE.enabled):
        grad_res = _autograd_grad(grad_inputs, grad_outputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, outputs, strict, create_graph, "back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return (_tuple_postprocess(outputs, is_outputs_tuple),
            _tuple_postprocess(result, is_outputs_tuple))


def _jacfwd(func: Callable[..., Any], inputs: Any, strict: bool) -> Any:
    """The Jacobian one column at a time, with forward-mode AD (dual tensors)."""
    if strict:
        raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and '
                           '`strategy="forward-mode"` are not supported together (yet). Please '
                           'either set `strict=False` or `strategy="reverse-mode"`.')
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    xp = _backend.xp
    make = _backend.make_tensor
    columns: list[list[list[Any]]] = []  # [input][output] -> list of columns
    outputs: tuple[Any, ...] = ()
    is_outputs_tuple = False
    for i, inp in enumerate(inputs):
        per_output: list[list[Any]] | None = None
        for j in range(inp.numel()):
            with fwAD.dual_level():
                duals = []
                for k, other in enumerate(inputs):
                    tangent = xp.zeros_like(other._data)
                    if k == i:
                        tangent.reshape(-1)[j] = 1
                    duals.append(fwAD.make_dual(other.detach(), make(tangent)))
                is_outputs_tuple, dual_outs = _as_tuple(
                    func(*duals), "outputs of the user-provided function", "jacobian")
                unpacked = [fwAD.unpack_dual(o) for o in dual_outs]
            outputs = tuple(u.primal for u in unpacked)
            if per_output is None:
                per_output = [[] for _ in outputs]
            for k, u in enumerate(unpacked):
                tangent = u.tangent if u.tangent is not None else _zeros_like(u.primal)
                per_output[k].append(tangent.detach().reshape(-1))
        columns.append(per_output or [])
    if not outputs:  # every input is empty: evaluate once for the output shapes
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided "
                                              "function", "jacobian")
    jac = []
    for k, out in enumerate(outputs):
        row = []
        for i, inp in enumerate(inputs):
            cols = columns[i][k] if columns[i] else []
            if cols:
                block = make(xp.stack([c._data for c in cols], axis=1).reshape(
                    tuple(out.shape) + tuple(inp.shape)))
            else:
                block = make(xp.zeros(tuple(out.shape) + tuple(inp.shape), out._data.dtype))
            row.append(block)
        jac.append(row)
    # Lists, not tuples, where both are tuples: torch's forward-mode result has this structure.
    return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def jacobian(func: Callable[..., Any], inputs: Any, create_graph: bool = False,
             strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode") -> Any:
    """The Jacobian ``d func(inputs)_k / d inputs_i``, shaped ``out_k.shape + in_i.shape``.

    Structure as torch: one tensor for one input and one output; a tuple over inputs, or over
    outputs; a tuple (outputs) of tuples (inputs) when both are tuples.

    Args:
        func: takes the input tensors, returns a tensor or a tuple of tensors.
        inputs: a tensor or a tuple of tensors.
        create_graph: make the Jacobian differentiable.
        strict: raise when an output is independent of an input instead of giving zeros.
        vectorize: accepted for compatibility; rows are always computed one vjp at a time.
        strategy: ``"reverse-mode"`` (one vjp per output element) or ``"forward-mode"`` (one
            jvp per input element, with dual tensors).

    Note:
        torch computes ``strategy="forward-mode"`` only with ``vectorize=True``; chainrule
        computes it column by column either way.

    Example:
        >>> import chainrule
        >>> from chainrule.autograd.functional import jacobian
        >>> jacobian(lambda x: x ** 2, chainrule.tensor([1.0, 2.0]))
        tensor([[2., 0.],
                [0., 4.]])
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                             'Hint: If your function has more outputs than inputs, '
                             '"forward-mode" tends to be more performant. Otherwise, prefer to '
                             'use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                'torch.autograd.functional.jacobian: `create_graph=True` and '
                '`strategy="forward-mode"` are not supported together (yet). Please either set '
                '`create_graph=False` or `strategy="reverse-mode"`.')
        return _jacfwd(func, inputs, strict)
    if strict and vectorize:
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                           "`vectorized=True` are not supported together. Please either set "
                           "`strict=False` or `vectorize=False`.")
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "jacobian")
        _check_requires_grad(outputs, "outputs", strict=strict)
        jac = []
        for i, out in enumerate(outputs):
            rows: list[list[Any]] = [[] for _ in inputs]
            flat = out.reshape(-1)
            for j in range(out.nelement()):
                vj = _autograd_grad((flat[j],), inputs, retain_graph=True,
                                    create_graph=create_graph)
                for el_idx, (vj_el, inp_el) in enumerate(zip(vj, inputs)):
                    if vj_el is not None:
                        if strict and create_graph and not vj_el.requires_grad:
                            raise RuntimeError(
                                f"The jacobian of the user-provided function is independent "
                                f"of input {i}. This is not allowed in strict mode when "
                                f"create_graph=True.")
                        rows[el_idx].append(vj_el)
                    else:
                        if strict:
                            raise RuntimeError(
                                f"Output {i} of the user-provided function is independent of "
                                f"input {el_idx}. This is not allowed in strict mode.")
                        rows[el_idx].append(_zeros_like(inp_el))
            blocks = []
            for el_idx, r in enumerate(rows):
                shape = tuple(out.shape) + tuple(inputs[el_idx].shape)
                if r:
                    blocks.append(_Stack.apply(*r).view(shape))
                else:  # an empty output: its Jacobian has no rows
                    blocks.append(_backend.make_tensor(
                        _backend.xp.zeros(shape, inputs[el_idx]._data.dtype)))
            jac.append(tuple(blocks))
        result = _grad_postprocess(tuple(jac), create_graph)
        return _tuple_postprocess(result, (is_outputs_tuple, is_inputs_tuple))


def hessian(func: Callable[..., Any], inputs: Any, create_graph: bool = False,
            strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian ``d^2 func / d inputs_i d inputs_j`` of a scalar function.

    One tensor shaped ``in.shape + in.shape`` for one input; a tuple of tuples for several.

    Example:
        >>> import chainrule
        >>> from chainrule.autograd.functional import hessian
        >>> hessian(lambda x: (x ** 3).sum(), chainrule.tensor([1.0, 2.0]))
        tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def ensure_single_output_function(*inp: Any) -> Any:
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function",
                                        "hessian")
        _check_requires_grad(t_out, "outputs", strict=strict)
        if is_out_tuple or not isinstance(out, _tensor_class()):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.nelement() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        return out.squeeze()

    def jac_func(*inp: Any) -> Any:
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        jac = jacobian(ensure_single_output_function, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def _scalar_output(outputs: tuple[Any, ...], is_tuple: bool, fn_name: str) -> None:
    if is_tuple or not isinstance(outputs[0], _tensor_class()):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].nelement() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                           f"contain a single element")


def _prepare_v(v: Any, inputs: tuple[Any, ...], is_inputs_tuple: bool, create_graph: bool,
               fn_name: str) -> Any:
    if v is not None:
        _, v = _as_tuple(v, "v", fn_name)
        v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
        _validate_v(v, inputs, is_inputs_tuple)
    elif len(inputs) != 1 or inputs[0].nelement() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided "
                           "function is a single Tensor with a single element.")
    return v


def vhp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), v^T H)``: a vector-Hessian product of a scalar function.

    Example:
        >>> import chainrule
        >>> from chainrule.autograd.functional import vhp
        >>> x = chainrule.tensor([1.0, 2.0])
        >>> vhp(lambda x: (x ** 3).sum(), x, chainrule.tensor([1.0, 1.0]))
        (tensor(9.), tensor([ 6., 12.]))
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, "vhp")
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "vhp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        _scalar_output(outputs, is_outputs_tuple, "vhp")
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
    with set_grad_enabled(True if create_graph else STATE.enabled):
        grad_res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return (_tuple_postprocess(outputs, is_outputs_tuple),
            _tuple_postprocess(result, is_inputs_tuple))


def hvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), H v)``: a Hessian-vector product of a scalar function.

    Computed with the double-backward trick, as torch (equal to :func:`vhp` for a symmetric H).

    Example:
        >>> import chainrule
        >>> from chainrule.autograd.functional import hvp
        >>> x = chainrule.tensor([1.0, 2.0])
        >>> hvp(lambda x: (x ** 3).sum(), x, chainrule.tensor([1.0, 1.0]))
        (tensor(9.), tensor([ 6., 12.]))
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, "hvp")
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "hvp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        _scalar_output(outputs, is_outputs_tuple, "hvp")
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
        grad_jac = tuple(_zeros_like(inp, requires_grad=True) for inp in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
        _check_requires_grad(jac, "hessian", strict=strict)
    with set_grad_enabled(True if create_graph else STATE.enabled):
        grad_res = _autograd_grad(double_back, grad_jac, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return (_tuple_postprocess(outputs, is_outputs_tuple),
            _tuple_postprocess(result, is_inputs_tuple))
