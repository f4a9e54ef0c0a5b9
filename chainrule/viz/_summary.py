"""summary: a table of a model's layers, output shapes and parameter counts (as Keras')."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["summary", "ModelSummary"]


@dataclass
class ModelSummary:
    """The result of :func:`summary`: ``rows`` plus totals; ``print()`` gives the table, whose
    first line says how the input was given (``convention``)."""

    rows: list[dict[str, Any]]
    total_params: int
    trainable_params: int
    convention: str = ""

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        width = max([len(r["layer"]) for r in self.rows] + [18]) + 2
        head = f"{'Layer (type)':<{width}}{'Output Shape':<24}{'Param #':>12}"
        rule = "=" * len(head)
        lines = [self.convention] if self.convention else []
        lines += [rule, head, rule]
        for r in self.rows:
            lines.append(f"{r['layer']:<{width}}{str(r['output_shape']):<24}"
                         f"{r['params']:>12,}")
        lines += [rule, f"Total params: {self.total_params:,}",
                  f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.non_trainable_params:,}", rule]
        return "\n".join(lines)

    __repr__ = __str__


def _shapes(size: Any) -> list[tuple[int, ...]]:
    """One shape, or a list of shapes for a model with several inputs."""
    if isinstance(size[0], int):
        return [tuple(size)]
    return [tuple(s) for s in size]


def summary(model: Any, size: Sequence[int] | Sequence[Sequence[int]] | None = None, /, *,
            input_size: Sequence[int] | Sequence[Sequence[int]] | None = None,
            input_data: Any = None, batch_dim: int | None = None, batch_size: int = 2,
            dtypes: Any = None, device: Any = None) -> ModelSummary:
    """Run one forward pass of ``model`` and tabulate its layers.

    Three ways to give the input, as the two libraries people know do:

    - ``summary(model, (1, 28, 28))``: a shape without the batch dimension (torchsummary's
      and Keras's convention); a probe batch of ``batch_size`` zeros runs and the batch is
      shown as ``-1``.
    - ``summary(model, input_size=(64, 1, 28, 28))``: torchinfo's convention, the shape *with*
      the batch dimension (``batch_dim=0`` means it has none, and a batch of 1 is added);
      output shapes show the real batch.
    - ``summary(model, input_data=x)``: torchinfo's, with real input tensors (one, or a list).

    The printed table's first line names the convention that was used.

    Args:
        model: an ``nn.Module``.
        size: positional only: the shape of one input without the batch dimension, or a list
            of such shapes for a model with several inputs.
        input_size: keyword only: torchinfo's shape(s), with the batch dimension.
        input_data: keyword only: the input tensor(s) to run.
        batch_dim: with ``input_size``: torchinfo's ``batch_dim=0`` (the shape lacks the
            batch dimension).
        batch_size: the probe batch for the positional form (shown as ``-1``).
        dtypes: the input dtype(s) for the shape forms; default float32.
        device: accepted for torchinfo's signature; only the CPU exists here.

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
        >>> t = chainrule.summary(model, input_size=(64, 1, 28, 28))  # torchinfo's form
        >>> t.rows[-1]["output_shape"], t.convention.split(":")[0]
        ([64, 10], "torchinfo's convention")
    """
    import chainrule

    given = [size is not None, input_size is not None, input_data is not None]
    if sum(given) != 1:
        raise TypeError("summary() takes exactly one of: a positional input shape without the "
                        "batch dimension, input_size= (torchinfo's, with the batch dimension) "
                        "or input_data=")
    if device is not None:
        chainrule._backend.check_device(device)
    keep_batch = True
    if input_data is not None:
        inputs = list(input_data) if isinstance(input_data, (list, tuple)) else [input_data]
        convention = ("torchinfo's convention: input_data, tensors of shape " +
                      ", ".join(str(list(x.shape)) for x in inputs))
    else:
        if size is not None:
            sizes = [(batch_size,) + s for s in _shapes(size)]
            keep_batch = False
            convention = (f"torchsummary's convention: input shape {_shown(size)} without "
                          f"the batch dimension (a probe batch of {batch_size}, shown as -1)")
        else:
            sizes = _shapes(input_size)
            if batch_dim is not None:
                sizes = [s[:batch_dim] + (1,) + s[batch_dim:] for s in sizes]
            convention = (f"torchinfo's convention: input_size={_shown(input_size)} "
                          + ("with the batch dimension" if batch_dim is None else
                             f"without the batch dimension (batch_dim={batch_dim}, batch 1)"))
        if dtypes is None:
            dtypes = [chainrule.float32] * len(sizes)
        elif not isinstance(dtypes, (list, tuple)):
            dtypes = [dtypes] * len(sizes)
        inputs = [chainrule.zeros(s, dtype=d) for s, d in zip(sizes, dtypes)]
    rows: list[dict[str, Any]] = []
    handles = []

    def shape_of(out: Any) -> Any:
        if isinstance(out, chainrule.Tensor):
            return list(out.shape) if keep_batch else [-1] + list(out.shape[1:])
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
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return ModelSummary(rows, total, trainable, convention)


def _shown(size: Any) -> str:
    return str(tuple(size)) if isinstance(size[0], int) else str([tuple(s) for s in size])
