"""The Optimizer base class: parameter groups, per-parameter state, step, state_dict.

Subclasses validate their hyperparameters, pass them as ``defaults`` and implement
``_update(p, g, state, group)``: one parameter's update, in place, on NumPy arrays. The base
class owns everything else with ``torch.optim.Optimizer``'s semantics and data structures:

- ``param_groups``: a list of dicts, each with ``"params"`` (a list of tensors) and every
  hyperparameter (the defaults filled in);
- ``state``: a ``defaultdict(dict)`` from parameter to its state dict, created lazily at the
  first step that sees a gradient, holding Tensors under torch's key names (``"step"`` is a
  0-dim float32 tensor, as torch);
- ``state_dict()`` / ``load_state_dict()``: torch's exact structure, so a torch optimizer's
  state_dict with its tensors converted to chainrule tensors (or NumPy arrays) loads and
  continues with the same numbers.

Updates run on the arrays (``p._data``, ``p.grad._data``): no graph is recorded and no Tensor
is created per step. Each updated parameter's version counter is bumped, so a backward that
saved the old value raises, as in torch.
"""

from __future__ import annotations

import functools
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any, TypeAlias, cast

import numpy as np

from chainrule._backend import dtypes
from chainrule._backend import threads as _threads
from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.tensor import Tensor

__all__ = ["Optimizer", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]

ParamsT: TypeAlias = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]
StateDict: TypeAlias = dict[str, Any]


class _RequiredParameter:
    """Marks a hyperparameter without a default: each group must give it."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class _HookHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict) -> None:
        self._hooks = hooks
        self.id = _HookHandle._next_id
        _HookHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)


_global_optimizer_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_optimizer_post_hooks: OrderedDict[int, Callable] = OrderedDict()


def register_optimizer_step_pre_hook(hook: Callable) -> _HookHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run before every optimizer's ``step``.

    The hook may return ``(new_args, new_kwargs)`` to replace the step's arguments.

    Example:
        >>> import chainrule
        >>> from chainrule.optim.optimizer import register_optimizer_step_pre_hook
        >>> handle = register_optimizer_step_pre_hook(lambda opt, args, kwargs: None)
        >>> handle.remove()
    """
    handle = _HookHandle(_global_optimizer_pre_hooks)
    _global_optimizer_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook: Callable) -> _HookHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run after every optimizer's ``step``.

    Example:
        >>> import chainrule
        >>> from chainrule.optim.optimizer import register_optimizer_step_post_hook
        >>> handle = register_optimizer_step_post_hook(lambda opt, args, kwargs: None)
        >>> handle.remove()
    """
    handle = _HookHandle(_global_optimizer_post_hooks)
    _global_optimizer_post_hooks[handle.id] = hook
    return handle


def _hooked_step(step: Callable) -> Callable:
    """Wrap a ``step`` method so the step hooks run around it (once, even when nested)."""

    @functools.wraps(step)
    def wrapper(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        if self.__dict__.get("_in_step"):  # a subclass's step calling super().step()
            return step(self, *args, **kwargs)
        # Read by LRScheduler to warn when the scheduler steps before the optimizer.
        self._opt_called = True
        for pre_hook in chain(_global_optimizer_pre_hooks.values(),
                              self._optimizer_step_pre_hooks.values()):
            result = pre_hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(f"{step} must return None or a tuple of "
                                       f"(new_args, new_kwargs), but got {result}.")
        self._in_step = True
        try:
            out = step(self, *args, **kwargs)
        finally:
            self._in_step = False
        for post_hook in chain(self._optimizer_step_post_hooks.values(),
                               _global_optimizer_post_hooks.values()):
            post_hook(self, args, kwargs)
        return out

    wrapper.hooked = True  # type: ignore[attr-defined]
    return wrapper


def _scalar(x: Any) -> Any:
    """A hyperparameter as a Python number (torch allows a 1-element Tensor lr or beta)."""
    return x.item() if isinstance(x, Tensor) else x


def _step_dtype() -> np.dtype:
    """The dtype of ``state["step"]``: float64 when the default dtype is, else float32."""
    return np.dtype(np.float64) if dtypes.get_default_dtype() is dtypes.float64 else (
        np.dtype(np.float32))


def _new_step() -> np.ndarray:
    """A fresh ``state["step"]`` array: 0-dim, zero, torch's scalar dtype."""
    return np.zeros((), dtype=_step_dtype())


def _typename(obj: Any) -> str:
    if isinstance(obj, Tensor):
        return obj.type()
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module == "builtins" else f"{module}.{name}"


class Optimizer:
    """Base class for all optimizers (``torch.optim.Optimizer``).

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts defining
            parameter groups (each with a ``"params"`` entry and optional hyperparameters).
        defaults: the hyperparameters a group gets when it does not specify them.

    A subclass implements ``_update(p, g, state, group)``: update the array ``p`` in place
    from its gradient array ``g``. ``state`` maps the parameter's state keys to arrays
    (created lazily by ``_update``: new entries are kept, and exported as Tensors); ``group``
    is the parameter's group dict.

    Note:
        A group whose ``"params"`` is a ``set`` is refused (its order changes between runs),
        as in torch.
        ``load_state_dict`` copies the loaded tensors (torch may alias them), so two
        optimizers loaded from one state_dict never share state.

    Example:
        >>> import numpy as np
        >>> import chainrule
        >>> class SignSGD(chainrule.optim.Optimizer):
        ...     def __init__(self, params, lr=0.1):
        ...         super().__init__(params, dict(lr=lr))
        ...     def _update(self, p, g, state, group):
        ...         p -= group["lr"] * np.sign(g)
        >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = SignSGD([w])
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_state_dict_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_state_dict_post_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_load_state_dict_post_hooks: OrderedDict[int, Callable] = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(cast(dict, param_group))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "hooked", False):
            cls.step = _hooked_step(step)  # type: ignore[method-assign]

    # -- pickling and printing ------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self.defaults.setdefault("differentiable", False)
        # Checkpoints from older versions may lack newer options or hold a float step.
        for group in self.param_groups:
            for key, default in self.defaults.items():
                if key != "params" and default is not required:
                    group.setdefault(key, default)
        for param_state in self.state.values():
            if isinstance(param_state, dict) and "step" in param_state and not isinstance(
                    param_state["step"], Tensor):
                param_state["step"] = Tensor._make(
                    np.array(float(param_state["step"]), dtype=_step_dtype()))

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # -- parameter groups -----------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group (a dict with ``"params"`` and optional hyperparameters).

        Missing hyperparameters take the optimizer's defaults. A parameter may belong to one
        group only.

        Example:
            >>> import chainrule
            >>> a = chainrule.zeros(2, requires_grad=True)
            >>> b = chainrule.zeros(3, requires_grad=True)
            >>> opt = chainrule.optim.SGD([a], lr=0.1)
            >>> opt.add_param_group({"params": [b], "lr": 0.01})
            >>> [g["lr"] for g in opt.param_groups]
            [0.1, 0.01]
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)

        tensors = []
        names = []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names

        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not self.defaults.get("differentiable", None) and not (
                    param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)

        if len({id(p) for p in tensors}) != len(tensors):
            import warnings

            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)

        seen: set[int] = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if any(id(p) in seen for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # -- gradients and steps --------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors: ``p.grad = None`` or zeros.

        Args:
            set_to_none: set the grads to ``None`` instead of filling them with zeros.
                Default: ``True``. (Optimizers skip a parameter whose grad is ``None``, but
                step one whose grad is zero: weight decay and momentum still move it.)

        Example:
            >>> import chainrule
            >>> w = chainrule.ones(2, requires_grad=True)
            >>> opt = chainrule.optim.SGD([w])
            >>> (2 * w).sum().backward()
            >>> opt.zero_grad(set_to_none=False)
            >>> w.grad
            tensor([0., 0.])
            >>> opt.zero_grad()
            >>> w.grad is None
            True
        """
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if grad.grad_fn is not None:
                    grad.detach_()
                else:
                    grad.requires_grad_(False)
                if grad._data.flags.writeable:
                    grad._data[...] = 0
                else:  # a read-only broadcast view from the engine: give it its own zeros
                    grad._data = np.zeros(grad._data.shape, dtype=grad._data.dtype)
                grad._bump()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step; return ``closure()``'s loss (or ``None``).

        Args:
            closure: re-evaluates the model and returns the loss; it runs with gradient
                recording enabled, before the update.

        Example:
            >>> import chainrule
            >>> w = chainrule.tensor([3.0], requires_grad=True)
            >>> opt = chainrule.optim.SGD([w], lr=0.25)
            >>> def closure():
            ...     opt.zero_grad()
            ...     loss = (w * w).sum()
            ...     loss.backward()
            ...     return loss
            >>> opt.step(closure)
            tensor(9., grad_fn=<SumBackward0>)
            >>> w
            tensor([1.5000], requires_grad=True)
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    grad = p.grad
                    if grad is not None:
                        self._step_param(p, grad, group)
        return loss

    def _step_param(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        """Run ``_update`` on one parameter's arrays and keep the state it creates."""
        state = self.state.get(p)
        fresh = state is None
        if fresh:
            state = {}
        arrays = {k: (v._data if isinstance(v, Tensor) else v) for k, v in state.items()}
        before = dict(arrays)
        self._update(p._data, grad._data, arrays, group)
        for key, value in arrays.items():
            if before.get(key) is not value:
                state[key] = Tensor._make(value) if isinstance(value, np.ndarray) else value
        if fresh and state:
            self.state[p] = state
        p._bump()

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        """Update one parameter array ``p`` in place from its gradient ``g``.

        ``state`` holds this parameter's state as arrays: update them in place, or add new
        entries (create arrays with ``np.zeros_like(p)`` / ``np.array(g)`` so a 0-dim parameter
        keeps 0-dim arrays). Never write into ``g``: it is the parameter's ``.grad``.
        """
        raise NotImplementedError

    # -- state_dict -----------------------------------------------------------------------------
    def state_dict(self) -> StateDict:
        """The optimizer's state as torch's dict: ``{"state": {...}, "param_groups": [...]}``.

        ``state`` maps each parameter's index (in order of appearance across the groups) to its
        state dict; ``param_groups`` lists each group's hyperparameters with ``"params"`` as
        those indices. The tensors are the live state, not copies (as torch).

        Example:
            >>> import chainrule
            >>> w = chainrule.ones(2, requires_grad=True)
            >>> opt = chainrule.optim.SGD([w], lr=0.1, momentum=0.9)
            >>> (w * w).sum().backward()
            >>> opt.step()
            >>> sd = opt.state_dict()
            >>> sd["state"]
            {0: {'momentum_buffer': tensor([2., 2.])}}
            >>> sd["param_groups"][0]["params"]
            [0]
        """
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        mapping: dict[int, int] = {}
        start = 0

        def pack_group(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Load a state from :meth:`state_dict` (ours, or torch's with converted tensors).

        The loaded groups replace the current hyperparameters; parameters are matched by
        position. State tensors are copied and cast to their parameter's dtype (``"step"``
        keeps its own); NumPy arrays are accepted in place of tensors.

        Example:
            >>> import chainrule
            >>> w = chainrule.ones(2, requires_grad=True)
            >>> opt = chainrule.optim.SGD([w], lr=0.1)
            >>> opt2 = chainrule.optim.SGD([w], lr=0.5)
            >>> opt2.load_state_dict(opt.state_dict())
            >>> opt2.param_groups[0]["lr"]
            0.1
        """
        state_dict = state_dict.copy()
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        state: defaultdict[Any, Any] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = _cast(param, value)
            else:
                state[key] = value

        def update_group(group: dict[str, Any], new_group: dict[str, Any]) -> dict[str, Any]:
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    # -- hooks ----------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook: Callable) -> _HookHandle:
        """Register ``hook(optimizer, args, kwargs)`` to run before this optimizer's ``step``.

        Example:
            >>> import chainrule
            >>> opt = chainrule.optim.SGD([chainrule.zeros(1, requires_grad=True)])
            >>> calls = []
            >>> handle = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
            >>> opt.step(); calls
            ['pre']
        """
        handle = _HookHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable) -> _HookHandle:
        """Register ``hook(optimizer, args, kwargs)`` to run after this optimizer's ``step``.

        Example:
            >>> import chainrule
            >>> opt = chainrule.optim.SGD([chainrule.zeros(1, requires_grad=True)])
            >>> calls = []
            >>> handle = opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
            >>> opt.step(); calls
            ['post']
        """
        handle = _HookHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> _HookHandle:
        """Register ``hook(optimizer)`` to run before :meth:`state_dict`.

        Example:
            >>> import chainrule
            >>> opt = chainrule.optim.SGD([chainrule.zeros(1, requires_grad=True)])
            >>> handle = opt.register_state_dict_pre_hook(lambda o: None)
            >>> handle.remove()
        """
        return _register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> _HookHandle:
        """Register ``hook(optimizer, state_dict) -> state_dict or None`` after :meth:`state_dict`.

        Example:
            >>> import chainrule
            >>> opt = chainrule.optim.SGD([chainrule.zeros(1, requires_grad=True)])
            >>> handle = opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
            >>> opt.state_dict()["extra"]
            1
        """
        return _register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable,
                                          prepend: bool = False) -> _HookHandle:
        """Register ``hook(optimizer, state_dict) -> state_dict or None`` before loading.

        Example:
            >>> import chainrule
            >>> opt = chainrule.optim.SGD([chainrule.zeros(1, requires_grad=True)])
            >>> handle = opt.register_load_state_dict_pre_hook(lambda o, sd: None)
            >>> handle.remove()
        """
        return _register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable,
                                           prepend: bool = False) -> _HookHandle:
        """Register ``hook(optimizer)`` to run after :meth:`load_state_dict`.

        Example:
            >>> import chainrule
            >>> opt = chainrule.optim.SGD([chainrule.zeros(1, requires_grad=True)])
            >>> handle = opt.register_load_state_dict_post_hook(lambda o: None)
            >>> handle.remove()
        """
        return _register(self._optimizer_load_state_dict_post_hooks, hook, prepend)


Optimizer.step = _hooked_step(Optimizer.step)  # type: ignore[method-assign]


def _register(hooks: OrderedDict, hook: Callable, prepend: bool) -> _HookHandle:
    handle = _HookHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def _cast(param: Tensor, value: Any, key: Any = None) -> Any:
    """A copy of a loaded state value; tensors other than ``step`` take the param's dtype."""
    if isinstance(value, np.ndarray) and not isinstance(value, Tensor):
        value = Tensor._make(value)
    if isinstance(value, Tensor):
        arr = value._data
        if key != "step" and param.dtype.is_floating_point:
            arr = arr.astype(param._data.dtype)  # astype copies
        else:
            arr = arr.copy()
        return Tensor._make(arr)
    if isinstance(value, dict):
        return {k: _cast(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v) for v in value)
    return value




# Elementwise helpers named after the torch ops each update is written with, so the updates
# read like torch's single-tensor code and keep its order of operations. Python numbers combine
# with arrays in the array's dtype (NumPy 2's weak scalars), as torch casts its scalars.
# torch's CPU kernels fuse ``add(alpha=)``, ``addcmul`` and ``lerp`` into FMA instructions (one
# rounding where these round twice) and take float32 square roots through MKL: results agree
# with torch's to a few float32 ulps, not bit for bit. Emulating the FMA through float64
# costs 3-5x in time per update, for no change a training run can see.


# Parameters with at least this many elements have their update split over the threads: each
# thread runs the same element-wise passes on its own contiguous part (NumPy releases the GIL
# in ufuncs; chainrule/_backend/threads.py). Below it the ~55 us wake-up of a second thread
# costs more than the split saves (SGD with momentum: ~0.25 ms per million elements).
_PARALLEL_ELEMENTS = 1 << 20


def _in_parts(kernel: Callable[..., None], *arrays: np.ndarray) -> None:
    """``kernel(*arrays)``, an element-wise update in place, on one part of the arrays per
    thread when they are large (see ``threads.in_parts``)."""
    _threads.in_parts(kernel, *arrays, min_size=_PARALLEL_ELEMENTS)


def _add(g: np.ndarray, alpha: float, x: np.ndarray) -> np.ndarray:
    """torch's ``g.add(x, alpha=alpha)``: ``g + alpha * x`` (a new array)."""
    return g + alpha * x


def _add_(y: np.ndarray, alpha: float, x: np.ndarray) -> None:
    """torch's ``y.add_(x, alpha=alpha)`` in place."""
    if alpha == 1:  # 1 * x == x exactly: skip a pass and a temporary (SGD's dampening 0)
        y += x
    else:
        y += alpha * x


def _addcmul_(y: np.ndarray, value: float, t1: np.ndarray, t2: np.ndarray) -> None:
    """torch's ``y.addcmul_(t1, t2, value=value)``: ``y += (value * t1) * t2``."""
    tmp = np.multiply(t1, value)  # (one temporary, reused: large parameters are memory-bound)
    tmp *= t2
    y += tmp


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """torch's ``start.lerp_(end, weight)``: ``start + weight * (end - start)`` in place.

    For weights of 0.5 and above torch computes ``end + (weight - 1) * (end - start)`` (more
    accurate near 1), with ``weight - 1`` in the array's dtype.
    """
    w = start.dtype.type(weight)
    d = np.subtract(end, start)  # (one temporary, reused: large parameters are memory-bound)
    if abs(w) < 0.5:
        d *= w
        start += d
    else:
        d *= w - start.dtype.type(1)
        np.add(end, d, out=start)
