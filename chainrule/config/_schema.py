"""Checking config values: types, allowed keys, and objects built from ``{type: ..., **kwargs}``.

Every check raises :class:`~chainrule.config.ConfigError` through ``Source.error``, so the
message names the file, the line and the key.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from chainrule.config._source import PathT, Source, did_you_mean

_MISSING = object()


def mapping(src: Source, path: PathT, value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise src.error(path, f"{what} must be a mapping (key: value lines), got "
                              f"{_kind(value)}")
    return value


def check_keys(src: Source, path: PathT, value: Mapping, allowed: Iterable[str],
               what: str) -> None:
    allowed = list(allowed)
    for key in value:
        if key not in allowed:
            raise src.error(path + (key,), f"unknown key{did_you_mean(key, allowed)}; "
                                           f"{what} takes {', '.join(allowed)}")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, (int, float, str)):
        return f"{type(value).__name__} {value!r}"
    return f"a {type(value).__name__}"


def get_int(src: Source, path: PathT, value: Mapping, key: str, default: Any = _MISSING, *,
            minimum: int | None = None) -> Any:
    if key not in value or value[key] is None and default is not _MISSING:
        if default is _MISSING:
            raise src.error(path + (key,), "missing (an integer is required)")
        return default
    v = value[key]
    if not isinstance(v, int) or isinstance(v, bool):
        raise src.error(path + (key,), f"expected an integer, got {_kind(v)}")
    if minimum is not None and v < minimum:
        raise src.error(path + (key,), f"must be >= {minimum}, got {v}")
    return v


def get_float(src: Source, path: PathT, value: Mapping, key: str, default: Any = _MISSING, *,
              minimum: float | None = None) -> Any:
    if key not in value:
        if default is _MISSING:
            raise src.error(path + (key,), "missing (a number is required)")
        return default
    v = value[key]
    if isinstance(v, str):
        try:
            v = float(v)  # YAML 1.1 reads 1e-3 (no dot) as a string
        except ValueError:
            pass
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise src.error(path + (key,), f"expected a number, got {_kind(v)}")
    if minimum is not None and v < minimum:
        raise src.error(path + (key,), f"must be >= {minimum}, got {v}")
    return v


def get_str(src: Source, path: PathT, value: Mapping, key: str, default: Any = _MISSING, *,
            choices: Iterable[str] | None = None) -> Any:
    if key not in value or value[key] is None and default is not _MISSING:
        if default is _MISSING:
            raise src.error(path + (key,), "missing (a string is required)")
        return default
    v = value[key]
    if not isinstance(v, str):
        raise src.error(path + (key,), f"expected a string, got {_kind(v)}")
    if choices is not None:
        choices = list(choices)
        if v not in choices:
            raise src.error(path + (key,), f"{v!r} is not one of {', '.join(choices)}"
                                           f"{did_you_mean(v, choices)}")
    return v


def get_bool(src: Source, path: PathT, value: Mapping, key: str, default: Any = _MISSING) -> Any:
    if key not in value:
        if default is _MISSING:
            raise src.error(path + (key,), "missing (true or false is required)")
        return default
    v = value[key]
    if not isinstance(v, bool):
        raise src.error(path + (key,), f"expected true or false, got {_kind(v)}")
    return v


def numeric(value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` (no dot) as a string: make such strings floats, recursively;
    lists become tuples (``kernel_size: [3, 3]``, ``betas: [0.9, 0.99]``)."""
    if isinstance(value, str):
        try:
            return float(value) if any(c in value.lower() for c in "e.") and \
                value.strip().lower() not in ("e",) else value
        except ValueError:
            return value
    if isinstance(value, list):
        return tuple(numeric(v) for v in value)
    return value


def parameters(cls: type, skip: Iterable[str] = ("self",)) -> dict[str, inspect.Parameter] | None:
    """The constructor's named parameters, or ``None`` if it takes ``**kwargs``."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return None
    out = {}
    for name, p in sig.parameters.items():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if p.kind is inspect.Parameter.VAR_POSITIONAL or name in skip:
            continue
        out[name] = p
    return out


def type_spec(src: Source, path: PathT, spec: Any, what: str) -> tuple[str, dict]:
    """``"Adam"`` or ``{type: Adam, lr: 0.1}`` -> ``("Adam", {"lr": 0.1})``."""
    if isinstance(spec, str):
        return spec, {}
    if not isinstance(spec, dict):
        raise src.error(path, f"{what} must be a type name or a mapping with 'type', got "
                              f"{_kind(spec)}")
    if "type" not in spec:
        raise src.error(path, f"{what} needs a 'type'")
    if not isinstance(spec["type"], str):
        raise src.error(path + ("type",), f"expected a type name, got {_kind(spec['type'])}")
    return spec["type"], {k: v for k, v in spec.items() if k != "type"}


def lookup(src: Source, path: PathT, name: str, registry: Mapping[str, type], what: str) -> type:
    if name not in registry:
        raise src.error(path, f"unknown {what} type {name!r}{did_you_mean(name, registry)}")
    return registry[name]


def check_kwargs(src: Source, path: PathT, cls: type, kwargs: Mapping[str, Any],
                 skip: Iterable[str] = ("self",), required: bool = True) -> None:
    params = parameters(cls, skip)
    if params is None:
        return
    for key in kwargs:
        if key not in params:
            raise src.error(path + (key,), f"{cls.__name__} has no argument {key!r}"
                                           f"{did_you_mean(key, params)}; it takes "
                                           f"{', '.join(params) or 'no arguments'}")
    if required:
        for name, p in params.items():
            if p.default is inspect.Parameter.empty and name not in kwargs:
                raise src.error(path, f"{cls.__name__} needs the argument {name!r}")


def construct(src: Source, path: PathT, cls: type, kwargs: Mapping[str, Any], *args: Any) -> Any:
    try:
        return cls(*args, **kwargs)
    except (TypeError, ValueError, KeyError, RuntimeError) as e:
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise src.error(path, f"{cls.__name__}({shown}) failed: {e}") from None
