"""Callbacks: code that :func:`~chainrule.train.fit` runs at fixed points of training.

A callback subclasses :class:`Callback` and overrides any of its hooks; each hook receives the
:class:`~chainrule.train.Trainer` (``trainer.model``, ``.optimizer``, ``.epoch``, ``.step``,
``.logs``, ``.history``; set ``trainer.stop_training = True`` to stop). The order of one epoch::

    on_train_begin
    on_epoch_begin
        on_batch_begin -> zero_grad, forward, backward -> on_after_backward
                       -> optimizer.step -> on_batch_end          (for every batch)
    validation, scheduler step, then on_epoch_end (trainer.logs holds the epoch's metrics)
    ...
    on_train_end

Callbacks run in the order given, except that a larger ``order`` runs later (so
:class:`ModelCheckpoint`, ``order = 100``, saves the other callbacks' states after their own
``on_epoch_end``). A callback with state worth resuming implements ``state_dict`` and
``load_state_dict``: the states go into every checkpoint.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import chainrule
from chainrule.optim import lr_scheduler
from chainrule.train.history import mode_for
from chainrule.train.ranks import is_main_process, unwrap_model

__all__ = ["Callback", "LambdaCallback", "EarlyStopping", "ModelCheckpoint",
           "ReduceLROnPlateau", "CSVLogger", "JSONLLogger", "TerminateOnNaN",
           "GradientMonitor", "Timer"]


class Callback:
    """Base class of the callbacks: every hook is a no-op taking the trainer.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, trainer):
        ...         print(f"epoch {trainer.epoch}: loss {trainer.logs['loss']:.2f}")
    """

    #: callbacks with a larger order run later at every hook
    order: int = 0

    def on_train_begin(self, trainer: Any) -> None:
        """Before the first epoch (after a resume's states are loaded)."""

    def on_train_end(self, trainer: Any) -> None:
        """After the last epoch, also when stopped early or interrupted."""

    def on_epoch_begin(self, trainer: Any) -> None:
        """At the start of each epoch, ``trainer.epoch`` counting from 1."""

    def on_epoch_end(self, trainer: Any) -> None:
        """After validation and the scheduler's step; ``trainer.logs`` holds the epoch's
        metrics (``loss``, ``accuracy``..., ``val_*``, ``lr``, ``time``)."""

    def on_batch_begin(self, trainer: Any) -> None:
        """Before each step; ``trainer.batch`` is the batch."""

    def on_after_backward(self, trainer: Any) -> None:
        """After ``loss.backward()``, before ``optimizer.step()``: gradients are in ``.grad``.
        Setting ``stop_training`` here skips this step's update."""

    def on_batch_end(self, trainer: Any) -> None:
        """After the step; ``trainer.logs`` holds the epoch's running means."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of this callback (tensors, numbers, strings, containers)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s result (when resuming)."""


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda trainer: ...)``.

    Example:
        >>> cb = LambdaCallback(on_epoch_end=lambda trainer: None)
        >>> callable(cb.on_epoch_end)
        True
    """

    def __init__(self, **hooks: Any) -> None:
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


def _monitored(trainer: Any, monitor: str, who: str) -> float:
    if monitor not in trainer.logs:
        hint = " (pass val_data to fit, or monitor a training metric)" \
            if monitor.startswith("val_") else ""
        raise KeyError(f"{who}: monitor {monitor!r} is not among the epoch's metrics "
                       f"{sorted(trainer.logs)}{hint}")
    return float(trainer.logs[monitor])


def _improved(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _say(trainer: Any, text: str) -> None:
    if getattr(trainer, "verbose", True):
        print(text, file=getattr(trainer, "file", None) or sys.stdout, flush=True)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs, and put the best epoch's weights back into the model at the end.

    Note:
        Unlike Keras (where ``restore_best_weights`` applies only when training was stopped
        early), the best weights are restored whether or not the patience ran out: after
        ``fit`` the model is the best one seen, which is what a user of early stopping
        wants. Pass ``restore_best_weights=False`` to keep the last weights.

    Args:
        monitor: the metric to watch. Default: ``"val_loss"``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name). Default: ``"auto"``.
        patience: epochs without improvement before stopping. Default: ``5``.
        min_delta: the smallest change that counts as an improvement. Default: ``0``.
        restore_best_weights: see the note. Default: ``True``.

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=3)
        >>> stop.best is None
        True
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", patience: int = 5,
                 min_delta: float = 0.0, restore_best_weights: bool = True) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.mode = mode_for(monitor) if mode == "auto" else mode
        self.patience = patience
        self.min_delta = abs(min_delta)
        self.restore_best_weights = restore_best_weights
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_epoch = 0
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights: dict[str, Any] | None = None

    def on_train_begin(self, trainer: Any) -> None:
        if trainer.resumed_from is None:
            self._reset()

    def on_epoch_end(self, trainer: Any) -> None:
        value = _monitored(trainer, self.monitor, "EarlyStopping")
        if _improved(value, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch, self.wait = value, trainer.epoch, 0
            if self.restore_best_weights:
                self.best_weights = {k: v.detach().clone() for k, v in
                                     unwrap_model(trainer.model).state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = trainer.epoch
            trainer.stop_training = True
            _say(trainer, f"EarlyStopping: {self.monitor} has not improved for {self.wait} "
                          f"epoch(s) (best {self.best:.4g} at epoch {self.best_epoch}): stopping")

    def on_train_end(self, trainer: Any) -> None:
        if self.restore_best_weights and self.best_weights is not None and \
                self.best_epoch != trainer.epoch:
            unwrap_model(trainer.model).load_state_dict(self.best_weights)
            _say(trainer, f"EarlyStopping: restored the weights of epoch {self.best_epoch} "
                          f"({self.monitor} {self.best:.4g})")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.wait = state["wait"]
        self.stopped_epoch = state["stopped_epoch"]
        self.best_weights = state["best_weights"]


class ModelCheckpoint(Callback):
    """Write resumable checkpoints: ``dirpath/last`` after every epoch and ``dirpath/best``
    when ``monitor`` improves (see :mod:`chainrule.train.checkpoint`; writes are atomic).

    Args:
        dirpath: the directory (created if needed).
        monitor: the metric that decides "best". Default: ``"val_loss"``.
        mode: ``"min"``, ``"max"`` or ``"auto"``. Default: ``"auto"``.
        save_best: keep ``best``. Default: ``True``.
        save_last: keep ``last``. Default: ``True``.
        every_n_epochs: write ``last`` every this many epochs. Default: ``1``.

    Example:
        >>> import tempfile
        >>> ckpt = ModelCheckpoint(tempfile.mkdtemp())
        >>> ckpt.last_path.name, ckpt.best_path.name
        ('last', 'best')
    """

    order = 100  # after the other callbacks' on_epoch_end, so their states are current

    def __init__(self, dirpath: str | os.PathLike, monitor: str = "val_loss", mode: str = "auto",
                 save_best: bool = True, save_last: bool = True, every_n_epochs: int = 1) -> None:
        self.dirpath = Path(dirpath)
        self.monitor = monitor
        self.mode = mode_for(monitor) if mode == "auto" else mode
        self.save_best = save_best
        self.save_last = save_last
        self.every_n_epochs = every_n_epochs
        self.best: float | None = None
        self.best_epoch = 0

    @property
    def last_path(self) -> Path:
        """The ``last`` checkpoint's name (its sidecar is ``last.json``)."""
        return self.dirpath / "last"

    @property
    def best_path(self) -> Path:
        """The ``best`` checkpoint's name."""
        return self.dirpath / "best"

    def on_train_begin(self, trainer: Any) -> None:
        if is_main_process():  # the writer (trainer.save_checkpoint writes on rank 0 only)
            self.dirpath.mkdir(parents=True, exist_ok=True)
        if trainer.resumed_from is None:
            self.best, self.best_epoch = None, 0

    def on_epoch_end(self, trainer: Any) -> None:
        if self.save_best:
            value = _monitored(trainer, self.monitor, "ModelCheckpoint")
            if _improved(value, self.best, self.mode, 0.0):
                self.best, self.best_epoch = value, trainer.epoch
                trainer.save_checkpoint(self.best_path, reason=f"best {self.monitor}")
        if self.save_last and trainer.epoch % self.every_n_epochs == 0:
            trainer.save_checkpoint(self.last_path, reason="epoch end")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]


class ReduceLROnPlateau(Callback):
    """Divide the learning rate when a validation metric stops improving: drives
    :class:`chainrule.optim.lr_scheduler.ReduceLROnPlateau` with ``logs[monitor]``.

    Args:
        monitor: the metric. Default: ``"val_loss"``.
        mode: ``"min"``, ``"max"`` or ``"auto"``. Default: ``"auto"``.
        factor, patience, threshold, threshold_mode, cooldown, min_lr, eps: as the scheduler's.

    Example:
        >>> cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)
        >>> cb.kwargs["factor"]
        0.5
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8) -> None:
        self.monitor = monitor
        self.kwargs = dict(mode=mode_for(monitor) if mode == "auto" else mode, factor=factor,
                           patience=patience, threshold=threshold,
                           threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr,
                           eps=eps)
        self.scheduler: lr_scheduler.ReduceLROnPlateau | None = None
        self._pending: dict[str, Any] | None = None

    def on_train_begin(self, trainer: Any) -> None:
        self.scheduler = lr_scheduler.ReduceLROnPlateau(trainer.optimizer, **self.kwargs)
        if self._pending is not None and trainer.resumed_from is not None:
            self.scheduler.load_state_dict(self._pending)
        self._pending = None

    def on_epoch_end(self, trainer: Any) -> None:
        value = _monitored(trainer, self.monitor, "ReduceLROnPlateau")
        before = [g["lr"] for g in trainer.optimizer.param_groups]
        self.scheduler.step(value)
        after = [g["lr"] for g in trainer.optimizer.param_groups]
        if after != before:
            _say(trainer, f"ReduceLROnPlateau: {self.monitor} plateaued: lr {before[0]:.3g} -> "
                          f"{after[0]:.3g}")

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._pending = dict(state) if state else None


class _EpochLogger(Callback):
    def __init__(self, path: str | os.PathLike, append: bool) -> None:
        self.path = Path(path)
        self.append = append

    def on_train_begin(self, trainer: Any) -> None:
        if not is_main_process():  # on several ranks, rank 0 keeps the logs
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not (self.append or trainer.resumed_from is not None):
            self.path.write_text("")


class CSVLogger(_EpochLogger):
    """Append one row per epoch (the epoch's logs) to a CSV file; the first row is the header.

    Args:
        path: the file; emptied at the start of training unless ``append`` (or resuming).
        separator: the field separator. Default: ``","``.
        append: keep the rows already there. Default: ``False``.

    Example:
        >>> import os, tempfile
        >>> CSVLogger(os.path.join(tempfile.mkdtemp(), "log.csv")).path.suffix
        '.csv'
    """

    def __init__(self, path: str | os.PathLike, separator: str = ",",
                 append: bool = False) -> None:
        super().__init__(path, append)
        self.separator = separator

    def on_epoch_end(self, trainer: Any) -> None:
        if not is_main_process():
            return
        logs = trainer.logs
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if fresh:
            self.keys = list(logs)
        elif not hasattr(self, "keys"):
            with open(self.path, newline="") as f:
                self.keys = next(csv.reader(f, delimiter=self.separator), list(logs))
        with open(self.path, "a", newline="") as f:
            writer = csv.writer(f, delimiter=self.separator)
            if fresh:
                writer.writerow(self.keys)
            writer.writerow([logs.get(k, "") for k in self.keys])


class JSONLLogger(_EpochLogger):
    """Append one JSON object per epoch (and, with ``every_n_steps``, per n steps) to a file.

    Args:
        path: the file; emptied at the start of training unless ``append`` (or resuming).
        every_n_steps: also log the running metrics every this many steps. Default: never.
        append: keep the lines already there. Default: ``False``.

    Example:
        >>> import os, tempfile
        >>> JSONLLogger(os.path.join(tempfile.mkdtemp(), "log.jsonl")).every_n_steps is None
        True
    """

    def __init__(self, path: str | os.PathLike, every_n_steps: int | None = None,
                 append: bool = False) -> None:
        super().__init__(path, append)
        self.every_n_steps = every_n_steps

    def _write(self, record: dict[str, Any]) -> None:
        if not is_main_process():
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def on_batch_end(self, trainer: Any) -> None:
        if self.every_n_steps and trainer.step % self.every_n_steps == 0:
            self._write({"kind": "step", "epoch": trainer.epoch, "step": trainer.step,
                         **trainer.logs})

    def on_epoch_end(self, trainer: Any) -> None:
        self._write({"kind": "epoch", "step": trainer.step, **trainer.logs})


class TerminateOnNaN(Callback):
    """Stop at the first step whose loss (or, with ``check_grads``, a gradient) is NaN or
    infinite, before that step's update, and name the op that made it.

    To find the op, the step's forward and backward are run once more under
    :class:`chainrule.autograd.detect_anomaly` from the same weights and the same random
    state (the model's state is put back afterwards); ``self.op`` is the op's name,
    ``self.message`` anomaly mode's report with the line of user code that called it.

    Args:
        check_grads: also check every parameter's gradient (one pass over them per step).
            Default: ``False``.
        locate: re-run the step under anomaly mode to name the op. Default: ``True``.

    Example:
        >>> TerminateOnNaN().op is None
        True
    """

    order = -100  # first at every hook: nothing else should see the bad step

    def __init__(self, check_grads: bool = False, locate: bool = True) -> None:
        self.check_grads = check_grads
        self.locate = locate
        self.op: str | None = None
        self.message: str | None = None
        self.step: int | None = None
        self._rng: Any = None

    def on_batch_begin(self, trainer: Any) -> None:
        if self.locate:
            self._rng = chainrule.default_generator.get_state()

    def on_after_backward(self, trainer: Any) -> None:
        value = trainer.loss.item()
        what = None
        if not math.isfinite(value):
            what = f"the loss is {value}"
        elif self.check_grads:
            for name, p in trainer.model.named_parameters():
                if p.grad is not None and not np.isfinite(p.grad.numpy()).all():
                    what = f"the gradient of {name} is not finite"
                    break
        if what is None:
            return
        trainer.stop_training = True
        self.step = trainer.step + 1
        self.message = self._locate(trainer) if self.locate else None
        found = re.search(r"Function '([^']+)'", self.message or "")
        self.op = found.group(1) if found else None
        where = f"epoch {trainer.epoch}, batch {trainer.batch_index + 1} (step {self.step})"
        detail = f"\n{self.message}" if self.message else ""
        _say(trainer, f"TerminateOnNaN: {what} at {where}; stopping before the update, "
                      f"keeping the last finite weights.{detail}")

    def _locate(self, trainer: Any) -> str:
        from chainrule.autograd import detect_anomaly

        model = unwrap_model(trainer.model)  # a DDP forward here would be a lone collective
        saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        rng_now = chainrule.default_generator.get_state()
        if self._rng is not None:
            chainrule.default_generator.set_state(self._rng)
        x, y = trainer.batch
        try:
            with detect_anomaly():
                trainer.optimizer.zero_grad()
                trainer.loss_fn(model(x), y).backward()
            return "(anomaly mode found no NaN or Inf when the step was run again)"
        except RuntimeError as e:
            return str(e)
        finally:
            chainrule.default_generator.set_state(rng_now)
            model.load_state_dict(saved)


class GradientMonitor(Callback):
    """Record gradient statistics during training with :class:`chainrule.viz.GradientMonitor`
    (gradient norms, update-to-weight ratios, dead ReLUs) and warn about vanishing or
    exploding gradients once per epoch.

    Args:
        every_n_steps: record every this many steps. Default: ``1``.
        plot: write :func:`chainrule.viz.plot_gradient_flow`'s PNG here at the end.
        vanishing, exploding: thresholds on ``||grad|| / ||weight||`` (see chainrule.viz).

    Example:
        >>> GradientMonitor(every_n_steps=10).history
        []
    """

    def __init__(self, every_n_steps: int = 1, plot: str | os.PathLike | None = None,
                 vanishing: float | None = None, exploding: float | None = None) -> None:
        from chainrule import viz

        self.every_n_steps = every_n_steps
        self.plot = plot
        self.thresholds = {"vanishing": vanishing if vanishing is not None else viz.VANISHING,
                           "exploding": exploding if exploding is not None else viz.EXPLODING}
        self.monitor: Any = None

    @property
    def history(self) -> list[dict[str, Any]]:
        """The per-step records of the underlying ``viz.GradientMonitor``."""
        return self.monitor.history if self.monitor is not None else []

    def on_train_begin(self, trainer: Any) -> None:
        from chainrule import viz

        self.monitor = viz.GradientMonitor(trainer.model, **self.thresholds)
        self._flagged: dict[str, str] = {}

    def on_after_backward(self, trainer: Any) -> None:
        if trainer.step % self.every_n_steps == 0:
            record = self.monitor.step()
            for name, flag in record["flag"].items():
                if flag != "ok":
                    self._flagged[name] = flag

    def on_epoch_end(self, trainer: Any) -> None:
        if self._flagged:
            text = ", ".join(f"{n} ({f})" for n, f in self._flagged.items())
            _say(trainer, f"GradientMonitor: epoch {trainer.epoch}: {text}")
        self._flagged = {}

    def on_train_end(self, trainer: Any) -> None:
        self.monitor.close()
        if self.plot is not None and self.monitor.history and is_main_process():
            from chainrule import viz

            viz.plot_gradient_flow(self.monitor, self.plot)


class Timer(Callback):
    """Time the run: ``epoch_times`` (seconds per epoch) and ``elapsed``; with ``duration``,
    stop once that many seconds have passed (checked after every step).

    Args:
        duration: a time budget in seconds, counting the time before a resume. Default: none.

    Example:
        >>> Timer(duration=3600).duration
        3600
    """

    def __init__(self, duration: float | None = None) -> None:
        self.duration = duration
        self.epoch_times: list[float] = []
        self._before = 0.0
        self._start = 0.0
        self._epoch_start = 0.0

    @property
    def elapsed(self) -> float:
        """Seconds of training so far, over resumes."""
        return self._before + (time.perf_counter() - self._start if self._start else 0.0)

    def on_train_begin(self, trainer: Any) -> None:
        if trainer.resumed_from is None:
            self._before = 0.0
            self.epoch_times = []
        self._start = time.perf_counter()

    def on_epoch_begin(self, trainer: Any) -> None:
        self._epoch_start = time.perf_counter()

    def on_batch_end(self, trainer: Any) -> None:
        if self.duration is not None and self.elapsed > self.duration:
            trainer.stop_training = True

    def on_epoch_end(self, trainer: Any) -> None:
        self.epoch_times.append(time.perf_counter() - self._epoch_start)
        trainer.logs["elapsed"] = self.elapsed
        if self.duration is not None and self.elapsed > self.duration:
            if not trainer.stop_training:
                _say(trainer, f"Timer: {self.elapsed:.1f}s of {self.duration}s used: stopping")
            trainer.stop_training = True

    def on_train_end(self, trainer: Any) -> None:
        self._before = self.elapsed
        self._start = 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"elapsed": self.elapsed, "epoch_times": list(self.epoch_times)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._before = float(state["elapsed"])
        self.epoch_times = [float(t) for t in state["epoch_times"]]
