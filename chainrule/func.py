"""Function transforms, as ``torch.func``: grad, grad_and_value, vjp, jvp, jacrev, jacfwd,
hessian.

Each transform takes a function and returns a function (or values) with torch.func's
signatures and result structures. Arguments may be tensors or (nested) tuples, lists and dicts
of tensors ("pytrees").

How they map onto chainrule's single tape:

- Reverse transforms (``grad``, ``vjp``, ``jacrev``) differentiate with respect to fresh
  copies of the chosen arguments and always record the backward (``create_graph``), so they
  nest: ``grad(grad(f))`` works. A result keeps its graph only when it depends on a tensor
  that requires grad outside the transform (an enclosing transform, or the caller's own
  autograd); otherwise it is returned detached, as torch.func does.
- Forward transforms (``jvp``, ``jacfwd``) use dual tensors (:mod:`chainrule.autograd.forward_ad`).
  chainrule has one forward-AD level, so inside an open level ``jvp`` falls back to the
  double-backward trick and ``jacfwd`` to reverse mode; the values are the same.
- ``hessian`` is reverse-over-reverse, ``jacrev(jacrev(f))``. torch uses forward-over-reverse
  (``jacfwd(jacrev(f))``); the Hessian is the same.

``vmap`` is not provided.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chainrule import _backend
from chainrule.autograd import forward_ad as fwAD
from chainrule.autograd import grad as _autograd_grad_fn
from chainrule.autograd.grad_mode import STATE, enable_grad
from chainrule.autograd.graph import AccumulateGrad
from chainrule.ops.movement import stack
from chainrule.tensor import Tensor

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian"]

argnums_t = int | tuple[int, ...]


# -- pytrees ---------------------------------------------------------------------------------
class _Spec:
    """The structure of a (nested) tuple/list/dict with tensor leaves."""

    __slots__ = ("kind", "keys", "children")

    def __init__(self, kind: str, keys: Any = None, children: tuple[_Spec, ...] = ()) -> None:
        self.kind = kind
        self.keys = keys
        self.children = children

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, _Spec) and self.kind == other.kind
                and self.keys == other.keys and self.children == other.children)

    def __hash__(self) -> int:
        return hash((self.kind, self.keys, self.children))

    def __repr__(self) -> str:
        if self.kind == "leaf":
            return "*"
        inner = ", ".join(repr(c) for c in self.children)
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.keys, self.children))
            return "{" + inner + "}"
        return f"({inner})" if self.kind == "tuple" else f"[{inner}]"


_LEAF = _Spec("leaf")


def tree_flatten(tree: Any) -> tuple[list[Any], _Spec]:
    """Leaves of a nested tuple/list/dict (in order) and its structure."""
    if isinstance(tree, (tuple, list)):
        leaves: list[Any] = []
        children = []
        for item in tree:
            sub, spec = tree_flatten(item)
            leaves.extend(sub)
            children.append(spec)
        return leaves, _Spec("tuple" if isinstance(tree, tuple) else "list", None,
                             tuple(children))
    if isinstance(tree, dict):
        leaves = []
        children = []
        for value in tree.values():
            sub, spec = tree_flatten(value)
            leaves.extend(sub)
            children.append(spec)
        return leaves, _Spec("dict", tuple(tree.keys()), tuple(children))
    return [tree], _LEAF


def tree_unflatten(leaves: Any, spec: _Spec) -> Any:
    """Rebuild the structure ``spec`` from ``leaves`` (the inverse of :func:`tree_flatten`)."""
    it = iter(leaves)
    return _build(it, spec)


def _build(it: Any, spec: _Spec) -> Any:
    if spec.kind == "leaf":
        return next(it)
    items = [_build(it, c) for c in spec.children]
    if spec.kind == "dict":
        return dict(zip(spec.keys, items))
    return tuple(items) if spec.kind == "tuple" else items


def _tree_map(fn: Callable[[Any], Any], tree: Any) -> Any:
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


# -- argnums ---------------------------------------------------------------------------------
def _wrap_argnum(argnum: Any, num_args: int) -> int:
    if not isinstance(argnum, int):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if 0 <= argnum < num_args:
        return argnum
    if -num_args <= argnum < 0:
        return argnum + num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _wrap_argnums(argnums: Any, num_args: int) -> Any:
    if isinstance(argnums, int):
        return _wrap_argnum(argnums, num_args)
    if isinstance(argnums, tuple):
        if len(argnums) == 0:
            raise RuntimeError("argnums must be non-empty")
        if len(set(argnums)) != len(argnums):
            raise RuntimeError(f"argnums elements must be unique, got {argnums}")
        return tuple(_wrap_argnum(a, num_args) for a in argnums)
    raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")


def _slice_argnums(args: tuple[Any, ...], argnums: Any, as_tuple: bool = True) -> Any:
    argnums = _wrap_argnums(argnums, len(args))
    if isinstance(argnums, int):
        return (args[argnums],) if as_tuple else args[argnums]
    return tuple(args[i] for i in argnums)


def _replace_args(args: tuple[Any, ...], new: Any, argnums: Any) -> tuple[Any, ...]:
    argnums = _wrap_argnums(argnums, len(args))
    if isinstance(argnums, int):
        return tuple(new if i == argnums else a for i, a in enumerate(args))
    return tuple(new[argnums.index(i)] if i in argnums else a for i, a in enumerate(args))


# -- levels ----------------------------------------------------------------------------------
def _check_tensors(leaves: list[Any], api: str, argname: str) -> None:
    if not leaves:
        raise RuntimeError(f"{api}: Expected {argname} to contain at least one Tensor.")
    for x in leaves:
        if not isinstance(x, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")


def _differentiable(t: Any) -> Any:
    """A fresh tensor to differentiate against; linked to ``t`` when ``t`` requires grad (so
    an enclosing transform sees through), carrying ``t``'s tangent if it has one."""
    if not isinstance(t, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(t)}")
    if t.requires_grad:
        return t.view_as(t)  # differentiable alias; a view also carries a forward tangent
    fresh = t.detach().requires_grad_()
    if t._fw_grad is not None and STATE.fw_level >= 0:
        fresh._fw_grad = t._fw_grad
        fwAD._register(fresh)
    return fresh


class _Level:
    """The fresh leaves of one reverse transform; results not depending on anything else are
    returned detached."""

    def __init__(self, fresh: list[Any]) -> None:
        self.fresh = {id(t) for t in fresh}

    def _depends_outside(self, node: Any) -> bool:
        """Whether ``node``'s graph reaches a leaf requiring grad that is not ours."""
        todo = [node]
        seen = {id(node)}
        while todo:
            n = todo.pop()
            if n.__class__ is AccumulateGrad:
                if id(n.variable) not in self.fresh:
                    return True
                continue
            for child in n.next:
                if child is not None and id(child) not in seen:
                    seen.add(id(child))
                    todo.append(child)
        return False

    def unwrap(self, x: Any) -> Any:
        if not isinstance(x, Tensor):
            return x
        tangent = x._fw_grad if STATE.fw_level >= 0 else None
        if tangent is not None:
            # A tangent computed from our fresh leaves carries their graph too.
            new_tangent = self.unwrap(tangent)
            if new_tangent is not tangent:
                x._fw_grad = new_tangent
        if not x.requires_grad or (x.grad_fn is not None and self._depends_outside(x.grad_fn)):
            return x
        out = x.detach()
        if x._fw_grad is not None and STATE.fw_level >= 0:
            out._fw_grad = x._fw_grad
            fwAD._register(out)
        return out

    def unwrap_tree(self, tree: Any) -> Any:
        return _tree_map(self.unwrap, tree)


def _zeros_like(t: Any) -> Any:
    return Tensor._make(_backend.xp.zeros_like(t._data))


def _grads(outputs: list[Any], inputs: list[Any], cotangents: list[Any] | None = None,
           retain_graph: bool = True) -> list[Any]:
    """d outputs / d inputs with zeros for unused inputs, recording the backward."""
    outs = []
    cots = []
    for i, o in enumerate(outputs):
        if o.requires_grad:
            outs.append(o)
            cots.append(None if cotangents is None else cotangents[i])
    if not outs:
        return [_zeros_like(t) for t in inputs]
    res = _autograd_grad_fn(outs, inputs, cots, retain_graph=retain_graph, create_graph=True,
                            allow_unused=True)
    return [g if g is not None else _zeros_like(t) for g, t in zip(res, inputs)]


# -- grad ------------------------------------------------------------------------------------
def grad_and_value(func: Callable[..., Any], argnums: argnums_t = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """A function returning ``(grad, value)``: the gradient of the scalar ``func`` with respect
    to the arguments ``argnums``, and ``func``'s value (``(grad, (value, aux))`` with
    ``has_aux``).

    Example:
        >>> import chainrule
        >>> from chainrule.func import grad_and_value
        >>> grad_and_value(lambda x: (x ** 2).sum())(chainrule.tensor([1.0, 3.0]))
        (tensor([2., 6.]), tensor(10.))
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with enable_grad():
            diff_args = _slice_argnums(args, argnums, as_tuple=False)
            flat, spec = tree_flatten(diff_args)
            fresh = [_differentiable(t) for t in flat]
            level = _Level(fresh)
            args = _replace_args(args, tree_unflatten(fresh, spec), argnums)
            output = func(*args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(output, tuple) and len(output) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should "
                                       "be a tuple: (output, aux) if has_aux is True")
                output, aux = output
            if not isinstance(output, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"Tensor, got {type(output)}")
            if output.dim() != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"scalar Tensor, got tensor with {output.dim()} dims. Maybe "
                                   f"you wanted to use the vjp or jacrev APIs instead?")
            grads = _grads([output], fresh)
            grad_input = level.unwrap_tree(tree_unflatten(grads, spec))
            output = level.unwrap(output)
            if has_aux:
                return grad_input, (output, level.unwrap_tree(aux))
            return grad_input, output

    return wrapper


def grad(func: Callable[..., Any], argnums: argnums_t = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """A function computing the gradient of the scalar ``func`` with respect to the
    arguments ``argnums`` (``(grad, aux)`` with ``has_aux``). Transforms nest.

    Example:
        >>> import chainrule
        >>> from chainrule.func import grad
        >>> x = chainrule.tensor(2.0)
        >>> grad(lambda x: x ** 3)(x), grad(grad(lambda x: x ** 3))(x)
        (tensor(12.), tensor(12.))
    """
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g, value = inner(*args, **kwargs)
        if has_aux:
            return g, value[1]
        return g

    return wrapper


# -- vjp -------------------------------------------------------------------------------------
def vjp(func: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` returns ``v^T J``, one entry per
    primal (a tuple), for cotangents shaped like the output. ``(out, vjp_fn, aux)`` with
    ``has_aux``. ``vjp_fn`` may be called many times.

    Example:
        >>> import chainrule
        >>> from chainrule.func import vjp
        >>> out, vjp_fn = vjp(lambda x: x ** 2, chainrule.tensor([1.0, 2.0]))
        >>> out, vjp_fn(chainrule.tensor([1.0, 10.0]))
        (tensor([1., 4.]), (tensor([ 2., 40.]),))
    """
    return _vjp_with_argnums(func, primals, None, has_aux)


def _vjp_with_argnums(func: Callable[..., Any], primals: tuple[Any, ...], argnums: Any,
                      has_aux: bool) -> tuple[Any, ...]:
    with enable_grad():
        diff = primals if argnums is None else _slice_argnums(primals, argnums, as_tuple=False)
        flat, spec = tree_flatten(diff)
        fresh = [_differentiable(t) for t in flat]
        level = _Level(fresh)
        new = tree_unflatten(fresh, spec)
        args = new if argnums is None else _replace_args(primals, new, argnums)
        out = func(*args)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError("vjp(f, *primals): output of function f should be a tuple: "
                                   "(output, aux) if has_aux is True")
            out, aux = out
        flat_out, out_spec = tree_flatten(out)
        _check_tensors(flat_out, "vjp(f, *primals)", "outputs")
        for o in flat_out:
            if not o.is_floating_point():
                raise RuntimeError(f"vjp(f, ...): All outputs of f must be floating-point or "
                                   f"complex Tensors, got Tensor with dtype {o.dtype}")

    def vjp_fn(cotangents: Any, retain_graph: bool = True, create_graph: bool | None = None
               ) -> Any:
        flat_cot, cot_spec = tree_flatten(cotangents)
        if cot_spec != out_spec:
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function. cotangents: "
                               f"{cot_spec!r}, primal output: {out_spec!r}")
        for c, o in zip(flat_cot, flat_out):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of "
                                   f"{c.shape} and output[0] has a shape of {o.shape}.")
        with enable_grad():
            grads = _grads(flat_out, fresh, flat_cot, retain_graph=retain_graph)
        return level.unwrap_tree(tree_unflatten(grads, spec))

    results = level.unwrap_tree(out)
    if has_aux:
        return results, vjp_fn, level.unwrap_tree(aux)
    return results, vjp_fn


# -- jvp -------------------------------------------------------------------------------------
_JVP = "jvp(f, primals, tangents)"


def jvp(func: Callable[..., Any], primals: Any, tangents: Any, *, strict: bool = False,
        has_aux: bool = False) -> tuple[Any, ...]:
    """``(func(*primals), J v)`` for tangents ``v`` shaped like ``primals``: forward mode.

    Example:
        >>> import chainrule
        >>> from chainrule.func import jvp
        >>> x = chainrule.tensor([1.0, 2.0])
        >>> jvp(lambda x: x ** 2, (x,), (chainrule.tensor([1.0, 10.0]),))
        (tensor([1., 4.]), tensor([ 2., 40.]))
    """
    return _jvp_with_argnums(func, primals, tangents, None, strict=strict, has_aux=has_aux)


def _jvp_with_argnums(func: Callable[..., Any], primals: Any, tangents: Any, argnums: Any, *,
                      strict: bool = False, has_aux: bool) -> tuple[Any, ...]:
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{_JVP}: Expected primals to be a tuple. E.g. it should be valid to "
                           f"call f(*primals).")
    diff = primals if argnums is None else _slice_argnums(primals, argnums)
    flat_primals, primals_spec = tree_flatten(diff)
    flat_tangents, tangents_spec = tree_flatten(tangents)
    if primals_spec != tangents_spec:
        raise RuntimeError(f"{_JVP}: Expected primals and tangents to have the same python "
                           f"structure. For example, if primals is a tuple of 3 tensors, "
                           f"tangents also must be. Got primals with structure {primals_spec!r} "
                           f"and tangents with structure {tangents_spec!r}")
    _check_tensors(flat_primals, _JVP, "primals")
    _check_tensors(flat_tangents, _JVP, "tangents")
    if STATE.fw_level >= 0:  # one forward level only: nested inside another, go by reverse
        return _jvp_by_double_backward(func, primals, flat_primals, flat_tangents,
                                       primals_spec, argnums, has_aux)
    with fwAD.dual_level():
        duals = tree_unflatten([fwAD.make_dual(p, t) for p, t in
                                zip(flat_primals, flat_tangents)], primals_spec)
        args = duals if argnums is None else _replace_args(
            primals, duals if isinstance(argnums, tuple) else duals[0], argnums)
        out = func(*args)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError(f"{_JVP}: output of function f should be a tuple: (output, "
                                   f"aux) if has_aux is True")
            out, aux = out
            aux = _tree_map(_strip_tangent, aux)
        flat_out, out_spec = tree_flatten(out)
        _check_tensors(flat_out, _JVP, "outputs")
        primals_out = []
        tangents_out = []
        for o in flat_out:
            p, t = fwAD.unpack_dual(o)
            if t is None:
                t = _zeros_like(p)
            primals_out.append(_strip_tangent(p))
            tangents_out.append(t)
    result = (tree_unflatten(primals_out, out_spec), tree_unflatten(tangents_out, out_spec))
    return result + (aux,) if has_aux else result


def _strip_tangent(x: Any) -> Any:
    if isinstance(x, Tensor) and x._fw_grad is not None:
        y = x.view_as(x) if x.requires_grad else x.detach()
        y._fw_grad = None
        return y
    return x


def _jvp_by_double_backward(func: Callable[..., Any], primals: tuple[Any, ...],
                            flat_primals: list[Any], flat_tangents: list[Any], spec: _Spec,
                            argnums: Any, has_aux: bool) -> tuple[Any, ...]:
    """``J v = d/du <J^T u, v>``: the vjp is linear in ``u``, so reverse mode twice."""
    with enable_grad():
        fresh = [_differentiable(t) for t in flat_primals]
        level = _Level(fresh)
        new = tree_unflatten(fresh, spec)
        args = new if argnums is None else _replace_args(
            primals, new if isinstance(argnums, tuple) else new[0], argnums)
        out = func(*args)
        aux = None
        if has_aux:
            out, aux = out
        flat_out, out_spec = tree_flatten(out)
        us = [Tensor._make(_backend.xp.zeros_like(o._data), True) for o in flat_out]
        vjps = _grads(flat_out, fresh, us)
        level_u = _Level(fresh + us)
        tangents = _grads(vjps, us, flat_tangents)
        tangents = [level_u.unwrap(t) for t in tangents]
    result = (level.unwrap_tree(tree_unflatten(flat_out, out_spec)),
              tree_unflatten(tangents, out_spec))
    return result + (level.unwrap_tree(aux),) if has_aux else result


# -- Jacobians -------------------------------------------------------------------------------
def jacrev(func: Callable[..., Any], argnums: argnums_t = 0, *, has_aux: bool = False,
           chunk_size: int | None = None, _preallocate_and_copy: bool = False
           ) -> Callable[..., Any]:
    """A function computing the Jacobian of ``func`` with respect to ``argnums`` by reverse
    mode, one vjp per output element. Each block is shaped ``out.shape + in.shape``; the
    result is structured like the output, each output holding the ``argnums`` structure.

    Example:
        >>> import chainrule
        >>> from chainrule.func import jacrev
        >>> jacrev(lambda x: x ** 2)(chainrule.tensor([1.0, 2.0]))
        tensor([[2., 0.],
                [0., 4.]])
    """
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        with enable_grad():
            diff = _slice_argnums(args, argnums, as_tuple=False)
            flat, spec = tree_flatten(diff)
            fresh = [_differentiable(t) for t in flat]
            level = _Level(fresh)
            new_args = _replace_args(args, tree_unflatten(fresh, spec), argnums)
            out = func(*new_args)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("jacrev(f, ...)(*args): output of function f should be a "
                                       "tuple: (output, aux) if has_aux is True")
                out, aux = out
            flat_out, out_spec = tree_flatten(out)
            _check_tensors(flat_out, "jacrev(f, ...)(*args)", "outputs")
            blocks = []
            for o in flat_out:
                rows: list[list[Any]] = [[] for _ in fresh]
                o_flat = o.reshape(-1)
                for j in range(o.numel()):
                    for k, g in enumerate(_grads([o_flat[j]], fresh)):
                        rows[k].append(g)
                per_input = []
                for k, t in enumerate(fresh):
                    shape = tuple(o.shape) + tuple(t.shape)
                    if rows[k]:
                        per_input.append(level.unwrap(stack(rows[k]).reshape(shape)))
                    else:
                        per_input.append(Tensor._make(_backend.xp.zeros(shape, t._data.dtype)))
                blocks.append(tree_unflatten(per_input, spec))
        result = tree_unflatten(blocks, out_spec)
        if has_aux:
            return result, level.unwrap_tree(aux)
        return result

    return wrapper


def jacfwd(func: Callable[..., Any], argnums: argnums_t = 0, has_aux: bool = False, *,
           randomness: str = "error") -> Callable[..., Any]:
    """A function computing the Jacobian of ``func`` with respect to ``argnums`` by forward
    mode, one jvp per input element; same structure as :func:`jacrev`.

    Example:
        >>> import chainrule
        >>> from chainrule.func import jacfwd
        >>> jacfwd(lambda x: x.sin())(chainrule.tensor([0.0, 0.0]))
        tensor([[1., 0.],
                [0., 1.]])
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        if STATE.fw_level >= 0:  # one forward level only: nested inside another, go by reverse
            return jacrev(func, argnums, has_aux=has_aux)(*args)
        primals = _slice_argnums(args, argnums)  # a tuple, even for an int argnums
        flat, spec = tree_flatten(primals)
        _check_tensors(flat, "jacfwd(f, ...)(*args)", "primals")
        xp = _backend.xp
        columns: list[list[list[Any]]] = [[] for _ in flat]  # [input][output] -> columns
        out = aux = None
        for k, p in enumerate(flat):
            for j in range(p.numel()):
                tangents = []
                for k2, other in enumerate(flat):
                    arr = xp.zeros_like(other._data)
                    if k2 == k:
                        arr.reshape(-1)[j] = 1
                    tangents.append(Tensor._make(arr))
                res = _jvp_with_argnums(func, args, tree_unflatten(tangents, spec), argnums,
                                        has_aux=has_aux)
                out, t_out = res[0], res[1]
                if has_aux:
                    aux = res[2]
                flat_t, _ = tree_flatten(t_out)
                if not columns[k]:
                    columns[k] = [[] for _ in flat_t]
                for i, t in enumerate(flat_t):
                    columns[k][i].append(t.reshape(-1))
        if out is None:  # every differentiated input is empty: evaluate once for shapes
            out = func(*args)
            if has_aux:
                out, aux = out
        flat_out, out_spec = tree_flatten(out)
        blocks = []
        for i, o in enumerate(flat_out):
            per_input = []
            for k, p in enumerate(flat):
                shape = tuple(o.shape) + tuple(p.shape)
                cols = columns[k][i] if columns[k] else []
                if cols:
                    per_input.append(stack(cols, dim=-1).reshape(shape))
                else:
                    per_input.append(Tensor._make(xp.zeros(shape, o._data.dtype)))
            jac_ins = tree_unflatten(per_input, spec)
            blocks.append(jac_ins if isinstance(argnums, tuple) else jac_ins[0])
        result = tree_unflatten(blocks, out_spec)
        if has_aux:
            return result, aux
        return result

    return wrapper


def hessian(func: Callable[..., Any], argnums: argnums_t = 0) -> Callable[..., Any]:
    """A function computing the Hessian of the scalar ``func`` with respect to ``argnums``.

    Note:
        Computed reverse-over-reverse, ``jacrev(jacrev(func))``; torch composes
        ``jacfwd(jacrev(func))`` (forward-over-reverse). The values agree.

    Example:
        >>> import chainrule
        >>> from chainrule.func import hessian
        >>> hessian(lambda x: (x ** 3).sum())(chainrule.tensor([1.0, 2.0]))
        tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    return jacrev(jacrev(func, argnums), argnums)
