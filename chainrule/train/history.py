"""History: what :func:`~chainrule.train.fit` returns, one dict of metrics per epoch."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["History", "mode_for"]


def mode_for(metric: str) -> str:
    """``"min"`` for a metric where lower is better (a loss, an error, a time), else ``"max"``.

    Example:
        >>> mode_for("val_loss"), mode_for("val_accuracy")
        ('min', 'max')
    """
    lowered = metric.lower()
    if any(word in lowered for word in ("loss", "error", "mse", "mae", "time", "perplexity")):
        return "min"
    return "max"


class History:
    """Per-epoch metrics of a training run: ``history.epochs[i]`` is epoch ``i + 1``'s dict
    (``epoch``, ``loss``, the metrics, ``val_*``, ``lr``, ``time``).

    Example:
        >>> h = History([{"epoch": 1, "val_loss": 0.5}, {"epoch": 2, "val_loss": 0.3},
        ...              {"epoch": 3, "val_loss": 0.4}])
        >>> h["val_loss"]
        [0.5, 0.3, 0.4]
        >>> h.best("val_loss")["epoch"]
        2
    """

    def __init__(self, epochs: Iterable[dict[str, Any]] = ()) -> None:
        self.epochs: list[dict[str, Any]] = [dict(e) for e in epochs]
        #: ``True`` when fit stopped on SIGINT (or ``trainer.interrupt()``).
        self.interrupted = False
        #: the checkpoint written when fit was interrupted, else ``None``.
        self.checkpoint: str | None = None

    def append(self, logs: dict[str, Any]) -> None:
        """Add one epoch's dict (kept, not copied: callbacks may still add to it)."""
        self.epochs.append(logs)

    def __len__(self) -> int:
        return len(self.epochs)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.epochs)

    def __getitem__(self, key: str | int) -> Any:
        """``history["val_loss"]``: that metric over the epochs; ``history[-1]``: an epoch."""
        if isinstance(key, int):
            return self.epochs[key]
        if not any(key in e for e in self.epochs):
            raise KeyError(f"no metric {key!r} in the history (it has {self.keys()})")
        return [e.get(key) for e in self.epochs]

    def keys(self) -> list[str]:
        """Every metric name that occurs, in first-seen order."""
        seen: dict[str, None] = {}
        for e in self.epochs:
            seen.update(dict.fromkeys(e))
        return list(seen)

    def best(self, metric: str, mode: str = "auto") -> dict[str, Any]:
        """The epoch dict with the best ``metric`` (lowest for ``mode="min"``, highest for
        ``"max"``; ``"auto"`` decides from the name: see :func:`mode_for`). Ties go to the
        earlier epoch; NaN never wins."""
        values = self[metric]
        if mode == "auto":
            mode = mode_for(metric)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
        best_i = None
        for i, v in enumerate(values):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            if best_i is None or (v < values[best_i] if mode == "min" else v > values[best_i]):
                best_i = i
        if best_i is None:
            raise ValueError(f"no finite value of {metric!r} in the history")
        return self.epochs[best_i]

    def to_list(self) -> list[dict[str, Any]]:
        """A copy of the per-epoch dicts (JSON-able)."""
        return [dict(e) for e in self.epochs]

    def plot(self, path: str | os.PathLike, metrics: Sequence[str] | None = None) -> Path:
        """Write a PNG of the metrics over epochs: losses on the left, the rest on the right,
        training and validation curves of a metric in the same colour. Needs matplotlib."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise ImportError("History.plot needs matplotlib: pip install 'chainrule[viz]'") \
                from exc
        skip = ("epoch", "time", "lr", "elapsed")
        names = list(metrics) if metrics is not None else \
            [k for k in self.keys() if k not in skip and not k.startswith("val_")]
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        epochs = [e.get("epoch", i + 1) for i, e in enumerate(self.epochs)]
        for i, name in enumerate(names):
            ax = axes[0] if mode_for(name) == "min" else axes[1]
            colour = f"C{i}"
            for key, style in ((name, "-"), (f"val_{name}", "--")):
                if any(key in e for e in self.epochs):
                    ax.plot(epochs, [e.get(key, float("nan")) for e in self.epochs], style,
                            color=colour, label=key)
        for ax, title in zip(axes, ("loss", "metrics")):
            ax.set_xlabel("epoch")
            ax.set_title(title)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def __repr__(self) -> str:
        return f"History({len(self.epochs)} epochs, metrics {self.keys()})"
