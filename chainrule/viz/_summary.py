"""summary: a table of a model's layers, output shapes and parameter counts (as Keras')."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["summary", "ModelSummary"]


@dataclass
class ModelSummary:
    """The result of :func:`summary`: ``rows`` plus totals; ``print()`` gives the table."""

    rows: list[dict[str, Any]]
    total_params: int
    trainable_params: int

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        width = max([len(r["layer"]) for r in self.rows] + [18]) + 2
        head = f"{'Layer (type)':<{width}}{'Output Shape':<24}{'Param #':>12}"
        rule = "=" * len(head)
        lines = [rule, head, rule]
        for r in self.rows:
            lines.append(f"{r['layer']:<{width}}{str(r['output_shape']):<24}"
                         f"{r['params']:>12,}")
        lines += [rule, f"Total params: {self.total_params:,}",
                  f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.non_trainable_params:,}", rule]
        return "\n".join(lines)

    __repr__ = __str__


def summary(model: Any, input_size: Sequence[int] | Sequence[Sequence[int]], *,
            batch_size: int = 2, dtypes: Any = None) -> ModelSummary:
    """Run one forward pass of ``model`` on zeros and tabulate its layers.

    Args:
        model: an ``nn.Module``.
        input_size: the shape of one input without the batch dimension, e.g. ``(1, 28, 28)``,
            or a list of such shapes for a model with several inputs.
        batch_size: the batch used for the probe forward pass (shown as ``-1``).
        dtypes: the input dtype(s); default float32.

    Each row is a leaf module (one with no children) in call order: its name and type, its
    output shape, and the number of parameters it owns. The totals count every parameter once.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
        >>> s = chainrule.summary(model, (1, 28, 28))
        >>> for r in s.rows:
        ...     print(r["layer"], r["output_shape"], r["params"])
        0 (Flatten) [-1, 784] 0
        1 (Linear) [-1, 32] 25120
        2 (ReLU) [-1, 32] 0
        3 (Linear) [-1, 10] 330
        >>> s.total_params
        25450
    """
    import chainrule

    sizes = [tuple(input_size)] if isinstance(input_size[0], int) else \
        [tuple(s) for s in input_size]  # type: ignore[arg-type]
    if dtypes is None:
        dtypes = [chainrule.float32] * len(sizes)
    elif not isinstance(dtypes, (list, tuple)):
        dtypes = [dtypes] * len(sizes)
    rows: list[dict[str, Any]] = []
    handles = []

    def shape_of(out: Any) -> Any:
        if isinstance(out, chainrule.Tensor):
            return [-1] + list(out.shape[1:])
        if isinstance(out, (tuple, list)):
            return [shape_of(o) for o in out]
        return None

    for name, module in model.named_modules():
        if any(True for _ in module.children()) or module is model and name == "" and \
                any(True for _ in model.children()):
            continue

        def hook(mod: Any, args: Any, out: Any, name: str = name) -> None:
            count = sum(p.numel() for p in mod.parameters(recurse=False))
            label = f"{name} ({type(mod).__name__})" if name else type(mod).__name__
            rows.append({"layer": label, "output_shape": shape_of(out), "params": count})

        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with chainrule.no_grad():
            inputs = [chainrule.zeros((batch_size,) + s, dtype=d) for s, d in zip(sizes, dtypes)]
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return ModelSummary(rows, total, trainable)
