"""Search spaces: what each hyperparameter may take, and the points grid, random and
coarse-to-fine search try. Plain Python and NumPy: this module needs no Optuna.

A space maps a name (for configs: a ``--set`` key such as ``optimizer.lr``) to a spec:

- a list: the choices (``[32, 64, 128]``);
- :class:`Float` / :class:`Int`: a range, uniform or log-uniform (``log=True``: every decade
  is as likely, the right prior for learning rates and weight decays), optionally on a step;
- :class:`Categorical`: the choices, spelled out.

In dict form (as in a config's ``search.params``): ``{type: float, low: 1e-4, high: 0.1,
log: true}``, ``{type: int, low: 16, high: 256, step: 16}``, ``{type: categorical, choices:
[...]}``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Float", "Int", "Categorical", "normalize_space", "grid_points", "random_points",
           "shrink_space"]


@dataclass(frozen=True)
class Float:
    """A real range ``[low, high]``; ``log=True`` samples ``exp(uniform(log low, log high))``.

    Example:
        >>> Float(1e-4, 1e-1, log=True).to_dict()
        {'type': 'float', 'low': 0.0001, 'high': 0.1, 'log': True, 'step': None}
    """

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The spec as a dict (the form a config's ``search.params`` uses)."""
        return {"type": "float", "low": float(self.low), "high": float(self.high),
                "log": self.log, "step": self.step}


@dataclass(frozen=True)
class Int:
    """An integer range ``[low, high]`` (both included), on ``step``, or log-uniform.

    Example:
        >>> Int(16, 256, log=True).to_dict()["type"]
        'int'
    """

    low: int
    high: int
    log: bool = False
    step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The spec as a dict (the form a config's ``search.params`` uses)."""
        return {"type": "int", "low": int(self.low), "high": int(self.high), "log": self.log,
                "step": self.step}


@dataclass(frozen=True)
class Categorical:
    """One of ``choices`` (numbers, strings, booleans or None).

    Example:
        >>> Categorical(["SGD", "Adam"]).to_dict()
        {'type': 'categorical', 'choices': ['SGD', 'Adam']}
    """

    choices: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        """The spec as a dict (the form a config's ``search.params`` uses)."""
        return {"type": "categorical", "choices": list(self.choices)}


def normalize_space(space: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every spec as a checked dict (lists become categorical).

    Example:
        >>> normalize_space({"lr": Float(0.01, 1.0, log=True), "width": [8, 16]})["width"]
        {'type': 'categorical', 'choices': [8, 16]}
    """
    if not isinstance(space, Mapping) or not space:
        raise ValueError("a search space is a non-empty dict {name: spec}")
    out = {}
    for name, spec in space.items():
        if isinstance(spec, (Float, Int, Categorical)):
            spec = spec.to_dict()
        elif isinstance(spec, (list, tuple)):
            spec = {"type": "categorical", "choices": list(spec)}
        if not isinstance(spec, Mapping) or spec.get("type") not in ("float", "int",
                                                                      "categorical"):
            raise ValueError(f"search space {name!r}: expected a list of choices, Float, Int, "
                             f"Categorical or a dict with type float/int/categorical, got "
                             f"{spec!r}")
        spec = dict(spec)
        if spec["type"] == "categorical":
            if not spec.get("choices"):
                raise ValueError(f"search space {name!r}: no choices")
            for c in spec["choices"]:
                if not (c is None or isinstance(c, (bool, int, float, str))):
                    raise ValueError(f"search space {name!r}: choice {c!r} is not a number, "
                                     "string, boolean or None")
        else:
            spec.setdefault("log", False)
            spec.setdefault("step", None)
            if not spec["low"] < spec["high"]:
                raise ValueError(f"search space {name!r}: low must be below high")
            if spec["log"] and spec["low"] <= 0:
                raise ValueError(f"search space {name!r}: a log range must start above 0")
            if spec["log"] and spec["step"] is not None:
                raise ValueError(f"search space {name!r}: a log range takes no step")
        out[name] = spec
    return out


def _clip(value: float, spec: dict[str, Any]) -> Any:
    """Into ``[low, high]`` and onto the step grid; ints rounded."""
    low, high = spec["low"], spec["high"]
    if spec["step"]:
        value = low + round((value - low) / spec["step"]) * spec["step"]
    value = min(max(value, low), high)
    return int(round(value)) if spec["type"] == "int" else float(value)


def _axis(spec: dict[str, Any], n: int) -> list[Any]:
    """Up to ``n`` evenly spread values of one parameter (log-evenly for log ranges)."""
    if spec["type"] == "categorical":
        return list(spec["choices"])
    low, high = spec["low"], spec["high"]
    if spec["type"] == "int" and spec["step"] is None and not spec["log"] and high - low < n:
        return list(range(int(low), int(high) + 1))
    if spec["step"]:
        count = int(math.floor((high - low) / spec["step"])) + 1
        if count <= n:
            return [_clip(low + i * spec["step"], spec) for i in range(count)]
    raw = np.geomspace(low, high, n) if spec["log"] else np.linspace(low, high, n)
    values = []
    for v in raw:
        v = _clip(float(v), spec)
        if v not in values:
            values.append(v)
    return values


def grid_points(space: Mapping[str, dict[str, Any]], points: int = 5) -> list[dict[str, Any]]:
    """The Cartesian product of every parameter's values: its choices, or ``points`` values
    spread over its range.

    Example:
        >>> pts = grid_points({"lr": Float(0.001, 0.1, log=True), "opt": ["SGD", "Adam"]},
        ...                   points=3)
        >>> len(pts), pts[:2]
        (6, [{'lr': 0.001, 'opt': 'SGD'}, {'lr': 0.001, 'opt': 'Adam'}])
    """
    space = normalize_space(space)
    axes = {name: _axis(spec, points) for name, spec in space.items()}
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def random_points(space: Mapping[str, dict[str, Any]], n: int, seed: int = 0
                  ) -> list[dict[str, Any]]:
    """``n`` points drawn independently: uniform, log-uniform or a uniform choice.

    Example:
        >>> pts = random_points({"lr": Float(1e-4, 1.0, log=True)}, 1000, seed=0)
        >>> decades = np.histogram(np.log10([p["lr"] for p in pts]), bins=4)[0]
        >>> bool(decades.min() > 200)     # each decade about equally often
        True
    """
    space = normalize_space(space)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        point = {}
        for name, spec in space.items():
            if spec["type"] == "categorical":
                point[name] = spec["choices"][int(rng.integers(len(spec["choices"])))]
                continue
            low, high = spec["low"], spec["high"]
            if spec["log"]:
                value = math.exp(rng.uniform(math.log(low), math.log(high)))
            elif spec["type"] == "int":
                value = low + rng.uniform(0, high - low + 1) - 0.5
            else:
                value = rng.uniform(low, high)
            point[name] = _clip(value, spec)
        out.append(point)
    return out


def shrink_space(space: Mapping[str, dict[str, Any]], center: Mapping[str, Any], factor: float,
                 bounds: Mapping[str, dict[str, Any]] | None = None
                 ) -> dict[str, dict[str, Any]]:
    """A smaller space around ``center``: each range's width (in log space for log ranges)
    times ``factor``, centred on the value there and kept inside ``bounds`` (the original
    space); categorical parameters are fixed to the centre's value.

    Example:
        >>> s = shrink_space({"x": Float(0.0, 1.0).to_dict()}, {"x": 0.9}, 0.5)
        >>> s["x"]["low"], s["x"]["high"]
        (0.5, 1.0)
    """
    space = normalize_space(space)
    bounds = normalize_space(bounds) if bounds is not None else space
    out = {}
    for name, spec in space.items():
        c = center[name]
        if spec["type"] == "categorical":
            out[name] = {"type": "categorical", "choices": [c]}
            continue
        lo_b, hi_b = bounds[name]["low"], bounds[name]["high"]
        tr = math.log if spec["log"] else (lambda v: v)
        inv = math.exp if spec["log"] else (lambda v: v)
        half = (tr(spec["high"]) - tr(spec["low"])) * factor / 2
        low, high = tr(c) - half, tr(c) + half
        if low < tr(lo_b):
            low, high = tr(lo_b), tr(lo_b) + 2 * half
        if high > tr(hi_b):
            low, high = max(tr(hi_b) - 2 * half, tr(lo_b)), tr(hi_b)
        new = dict(spec, low=inv(low), high=inv(high))
        if spec["type"] == "int":
            new["low"], new["high"] = int(math.floor(new["low"])), int(math.ceil(new["high"]))
            if new["low"] >= new["high"]:
                new["high"] = new["low"] + 1
        new["low"], new["high"] = max(new["low"], lo_b), min(new["high"], hi_b)
        if not new["low"] < new["high"]:
            out[name] = {"type": "categorical", "choices": [c]}
            continue
        out[name] = new
    return out
