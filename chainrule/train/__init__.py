"""``chainrule.train``: the training loop with callbacks, checkpoints and resume.

- :func:`fit` trains a model (the same step a hand-written loop takes), validates, schedules
  the learning rate, runs callbacks and returns a :class:`History`; :func:`evaluate` and
  :func:`predict` run a model over data.
- :mod:`~chainrule.train.callbacks`: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau,
  CSVLogger, JSONLLogger, TerminateOnNaN, GradientMonitor, Timer.
- :mod:`~chainrule.train.checkpoint`: checkpoints in safetensors with a JSON sidecar, written
  atomically; ``fit(..., resume=path)`` continues a run bit for bit.
- :func:`seed_everything` seeds chainrule, NumPy and Python at once.

Example:
    >>> import chainrule
    >>> from chainrule import nn, optim
    >>> from chainrule.train import fit, seed_everything
    >>> _ = seed_everything(0)
    >>> x = chainrule.randn(64, 3); y = x.sum(1, keepdim=True)
    >>> model = nn.Linear(3, 1)
    >>> h = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), [(x, y)],
    ...         epochs=30, metrics=(), verbose=False)
    >>> h[-1]["loss"] < 1e-3
    True
"""

from __future__ import annotations

from chainrule.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientMonitor,
    JSONLLogger,
    LambdaCallback,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
    Timer,
)
from chainrule.train.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from chainrule.train.history import History
from chainrule.train.loop import Trainer, evaluate, fit, predict
from chainrule.train.seed import seed_everything

__all__ = ["fit", "evaluate", "predict", "Trainer", "History", "seed_everything",
           "Callback", "LambdaCallback", "EarlyStopping", "ModelCheckpoint",
           "ReduceLROnPlateau", "CSVLogger", "JSONLLogger", "TerminateOnNaN",
           "GradientMonitor", "Timer", "Checkpoint", "CheckpointError", "save_checkpoint",
           "load_checkpoint", "load_weights"]
