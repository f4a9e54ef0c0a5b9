"""Gradient-flow diagnostics: per-layer statistics, a training-time monitor, and plots.

The lectures' claim, made measurable: if gradients do not flow backwards properly, learning
slows or stops. ``gradient_stats`` tells, after one backward, which parameters get vanishing or
exploding gradients; ``GradientMonitor`` records the same per step during training, with the
update-to-weight ratio and the fraction of dead ReLU units; ``plot_gradient_flow`` draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["gradient_stats", "GradientStats", "GradientMonitor", "plot_gradient_flow",
           "VANISHING", "EXPLODING"]

#: default thresholds on ||grad|| / ||weight||: below VANISHING the parameter barely moves per
#: unit learning rate; above EXPLODING one SGD step with lr ~ 0.1 would change it by more than
#: itself.
VANISHING = 1e-5
EXPLODING = 10.0


def _norm(arr: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.square(arr, dtype=np.float64))))


def _flag(ratio: float, vanishing: float, exploding: float) -> str:
    if not math.isfinite(ratio) or ratio > exploding:
        return "exploding"
    if ratio < vanishing:
        return "vanishing"
    return "ok"


@dataclass
class GradientStats:
    """``gradient_stats`` result: ``rows`` (one dict per parameter) and a printable table."""

    rows: list[dict[str, Any]]

    def __str__(self) -> str:
        head = f"{'parameter':<28}{'shape':<16}{'|w|':>10}{'|grad|':>11}{'ratio':>11}  flag"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(f"{r['name']:<28}{str(r['shape']):<16}{r['weight_norm']:>10.3g}"
                         f"{r['grad_norm']:>11.3g}{r['ratio']:>11.3g}  {r['flag']}")
        return "\n".join(lines)

    __repr__ = __str__

    def flags(self) -> dict[str, str]:
        """``{parameter name: flag}``."""
        return {r["name"]: r["flag"] for r in self.rows}


def gradient_stats(model: Any, *, vanishing: float = VANISHING,
                   exploding: float = EXPLODING) -> GradientStats:
    """Per-parameter weight norm, gradient norm, their ratio and a flag, after a backward.

    ``flag`` is ``"vanishing"`` when ``||grad|| / ||weight|| < vanishing``, ``"exploding"``
    when it is above ``exploding`` (or not finite), else ``"ok"``. For biases and other
    parameters with fewer than two dims the denominator is ``max(||weight||, 1)``: they start
    near zero, and a plain ratio would call any gradient exploding. Parameters without a
    gradient get ratio 0 and flag ``"vanishing"``. Rows follow ``model.named_parameters()``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn, viz
        >>> _ = chainrule.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        >>> model(chainrule.randn(16, 4)).pow(2).mean().backward()
        >>> stats = viz.gradient_stats(model)
        >>> [r["name"] for r in stats.rows]
        ['0.weight', '0.bias', '2.weight', '2.bias']
        >>> set(stats.flags().values())
        {'ok'}
    """
    rows = []
    for name, p in model.named_parameters():
        w = _norm(p._data)
        g = _norm(p.grad._data) if p.grad is not None else 0.0
        denom = w if p._data.ndim >= 2 else max(w, 1.0)
        ratio = g / denom if denom > 0 else (math.inf if g > 0 else 0.0)
        rows.append({"name": name, "shape": tuple(p.shape), "weight_norm": w, "grad_norm": g,
                     "ratio": ratio, "flag": _flag(ratio, vanishing, exploding)})
    return GradientStats(rows)


class GradientMonitor:
    """Record gradient statistics per training step.

    Call :meth:`step` after ``loss.backward()`` and *before* ``optimizer.step()``: it records
    each parameter's gradient norm and, from the previous call's snapshot, the update-to-weight
    ratio ``||w_t - w_{t-1}|| / ||w_{t-1}||`` (a healthy value is around 1e-3). While attached,
    forward hooks on every ``nn.ReLU`` record the fraction of dead units (zero for every sample
    of the batch).

    Example:
        >>> import chainrule
        >>> from chainrule import nn, optim, viz
        >>> _ = chainrule.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        >>> opt = optim.SGD(model.parameters(), lr=0.1)
        >>> monitor = viz.GradientMonitor(model)
        >>> for _ in range(3):
        ...     opt.zero_grad()
        ...     model(chainrule.randn(16, 4)).pow(2).mean().backward()
        ...     _ = monitor.step()
        ...     opt.step()
        >>> len(monitor.history), sorted(monitor.history[-1]["dead_relu"])
        (3, ['1'])
        >>> monitor.close()
    """

    def __init__(self, model: Any, *, vanishing: float = VANISHING,
                 exploding: float = EXPLODING) -> None:
        self.model = model
        self.vanishing = vanishing
        self.exploding = exploding
        self.history: list[dict[str, Any]] = []
        self._previous: dict[str, np.ndarray] = {}
        self._dead: dict[str, float] = {}
        self._handles = []
        from chainrule.nn import ReLU

        for name, module in model.named_modules():
            if isinstance(module, ReLU):
                self._handles.append(module.register_forward_hook(self._relu_hook(name)))

    def _relu_hook(self, name: str) -> Any:
        def hook(module: Any, args: Any, out: Any) -> None:
            arr = out._data.reshape(out._data.shape[0], -1) if out._data.ndim > 1 else \
                out._data.reshape(1, -1)
            self._dead[name] = float(np.mean(~np.any(arr > 0, axis=0)))

        return hook

    def step(self) -> dict[str, Any]:
        """Record this step's statistics and return them."""
        stats = gradient_stats(self.model, vanishing=self.vanishing, exploding=self.exploding)
        update = {}
        for name, p in self.model.named_parameters():
            prev = self._previous.get(name)
            if prev is not None:
                denom = _norm(prev)
                update[name] = _norm(p._data - prev) / denom if denom > 0 else 0.0
            self._previous[name] = p._data.copy()
        record = {"step": len(self.history), "grad_norm": {r["name"]: r["grad_norm"]
                                                           for r in stats.rows},
                  "ratio": {r["name"]: r["ratio"] for r in stats.rows},
                  "flag": stats.flags(), "update_ratio": update,
                  "dead_relu": dict(self._dead)}
        self.history.append(record)
        return record

    def close(self) -> None:
        """Remove the forward hooks."""
        for h in self._handles:
            h.remove()
        self._handles = []


def plot_gradient_flow(model_or_monitor: Any, path: str | Path, *,
                       title: str = "Gradient flow") -> Path:
    """Write a PNG of per-layer gradient magnitudes on a log scale.

    For a model: one bar per weight (after a backward). For a :class:`GradientMonitor`: one
    line per weight over the recorded steps. Needs matplotlib (``pip install chainrule[viz]``).

    Example:
        >>> import chainrule, tempfile, os
        >>> from chainrule import nn, viz
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 1))
        >>> model(chainrule.randn(16, 4)).sum().backward()
        >>> path = viz.plot_gradient_flow(model, os.path.join(tempfile.mkdtemp(), "flow.png"))
        >>> open(path, "rb").read(8) == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("plot_gradient_flow needs matplotlib: pip install 'chainrule[viz]'") \
            from exc
    path = Path(path)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if isinstance(model_or_monitor, GradientMonitor):
        history = model_or_monitor.history
        if not history:
            raise ValueError("plot_gradient_flow: the monitor has recorded no steps")
        names = [n for n in history[0]["grad_norm"] if n.endswith("weight")] or \
            list(history[0]["grad_norm"])
        steps = [h["step"] for h in history]
        for n in names:
            ax.plot(steps, [max(h["grad_norm"][n], 1e-30) for h in history], label=n)
        ax.set_xlabel("step")
        if len(names) <= 12:
            ax.legend(fontsize=7)
    else:
        rows = [r for r in gradient_stats(model_or_monitor).rows
                if r["name"].endswith("weight")] or gradient_stats(model_or_monitor).rows
        ax.bar(range(len(rows)), [max(r["grad_norm"], 1e-30) for r in rows], color="#2563eb")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r["name"] for r in rows], rotation=70, fontsize=7)
        ax.set_xlabel("layer (input side on the left)")
    ax.set_yscale("log")
    ax.set_ylabel("gradient norm")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
