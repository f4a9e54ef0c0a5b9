"""fit, evaluate, predict: the training loop, written with public pieces only.

One training step of :func:`fit` is exactly the loop a PyTorch user writes::

    optimizer.zero_grad()
    output = model(x)
    loss = loss_fn(output, y)
    loss.backward()
    optimizer.step()

so ``fit`` and a hand-written loop over the same data give bit-identical parameters (a test
checks it). Around the step, fit keeps running means of the loss and the metrics (under
``no_grad``, from the same outputs), validates once per epoch, steps the scheduler, calls the
callbacks (:mod:`chainrule.train.callbacks`), and handles Ctrl-C: the first SIGINT finishes
the current step, writes a checkpoint and returns; a second one aborts at once.

Resuming (``fit(..., resume=path)``) restores the model, optimizer, scheduler, callback states,
history, counters and random states. Mid-epoch it restores the random states of the epoch's
start, re-creates the data iterator (which redraws the same shuffle), skips the batches already
done and restores the random states of the moment of saving, so the run continues as if it had
never stopped: 2 epochs equal 1 epoch + resume + 1 epoch, bit for bit.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import chainrule
from chainrule._backend.random import Generator
from chainrule.optim.lr_scheduler import ReduceLROnPlateau
from chainrule.tensor import Tensor
from chainrule.train.checkpoint import (
    CheckpointError,
    capture_rng_state,
    checkpoint_paths,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from chainrule.train.history import History
from chainrule.train.metrics import batch_size, resolve_metrics
from chainrule.train.ranks import (
    any_rank,
    in_lockstep,
    is_main_process,
    is_sharded,
    samplers,
    shards,
    sum_over_ranks,
)

__all__ = ["fit", "evaluate", "predict", "Trainer"]

_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin",
          "on_after_backward", "on_batch_end")


def _split(batch: Any, where: str) -> tuple[Any, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    kind = f"a {type(batch).__name__}" + (f" of length {len(batch)}"
                                          if isinstance(batch, (tuple, list)) else "")
    raise TypeError(f"{where}: each batch must be a pair (inputs, targets), got {kind}")


def _generators(*datas: Any) -> dict[str, Generator]:
    """The chainrule Generators a data loader draws its order from (besides the global one)."""
    found: dict[str, Generator] = {}
    seen = {id(chainrule.default_generator)}
    for role, data in zip(("train", "val"), datas):
        for path in ("generator", "sampler.generator", "batch_sampler.sampler.generator",
                     "batch_sampler.generator"):
            obj: Any = data
            for attr in path.split("."):
                obj = getattr(obj, attr, None)
            if isinstance(obj, Generator) and id(obj) not in seen:
                seen.add(id(obj))
                found[f"{role}.{path}"] = obj
    return found


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if (abs(value) < 1e-3 or abs(value) >= 1e4) and value != 0 \
            else f"{value:.4f}"
    return str(value)


class Trainer:
    """The state of a :func:`fit` run, handed to every callback hook.

    Attributes:
        model, loss_fn, optimizer, scheduler, train_data, val_data: what fit was given.
        epochs: the epoch to train up to.
        epoch: the current epoch, counting from 1.
        step: optimizer steps taken so far, over all epochs.
        batch_index: index of the current batch within the epoch, from 0.
        batch, output, loss: the current batch, the model's output and the loss tensor
            (set during a step).
        logs: the running means of the epoch's loss and metrics (at batch end), then the
            epoch's full dict (at epoch end: ``loss``, metrics, ``val_*``, ``lr``, ``time``).
        history: the :class:`~chainrule.train.History` so far.
        stop_training: set it to ``True`` to stop after this step (from
            ``on_after_backward``: before this step's update) or after this epoch.
        resumed_from: the checkpoint this run resumed from, or ``None``.
        hparams: the hyperparameters recorded in every checkpoint (a JSON-able dict).
    """

    def __init__(self, model: Any, loss_fn: Any, optimizer: Any, train_data: Iterable,
                 val_data: Iterable | None, *, epochs: int, metrics: Any,
                 callbacks: Sequence[Any], scheduler: Any, scheduler_interval: str,
                 scheduler_monitor: str | None, checkpoint: str | None, progress: bool | None,
                 verbose: bool, file: IO[str] | None, hparams: Mapping[str, Any] | None,
                 handle_sigint: bool) -> None:
        if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
            raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError("fit: scheduler_interval must be 'epoch' or 'step', got "
                             f"{scheduler_interval!r}")
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.scheduler_interval = scheduler_interval
        self.scheduler_monitor = scheduler_monitor
        self.train_data = train_data
        self.val_data = val_data
        self.epochs = epochs
        self.metrics = resolve_metrics(metrics)
        # stable sort: callbacks with a larger ``order`` run later (ModelCheckpoint last)
        indexed = sorted(enumerate(callbacks), key=lambda ic: (getattr(ic[1], "order", 0), ic[0]))
        self.callbacks = [cb for _, cb in indexed]
        self._callback_keys = _callback_keys(callbacks)
        self._hooks = {h: [getattr(cb, h) for cb in self.callbacks
                           if _overrides(cb, h)] for h in _HOOKS}
        self.hparams = dict(hparams or {})
        self.verbose = verbose and is_main_process()  # on several ranks, rank 0 speaks
        self.file = file
        self.progress = progress
        self.handle_sigint = handle_sigint
        self.checkpoint_path = checkpoint
        self.epoch = 0
        self.step = 0
        self.batch_index = 0
        self.batch: Any = None
        self.output: Any = None
        self.loss: Any = None
        self.logs: dict[str, Any] = {}
        self.history = History()
        self.stop_training = False
        self.resumed_from: Path | None = None
        self._done_epochs = 0
        self._interrupt = False
        self._partial: dict[str, Any] | None = None  # progress inside the current epoch
        self._resume_partial: dict[str, Any] | None = None
        self._resume_rng: dict[str, Any] | None = None
        self._epoch_start_rng: dict[str, Any] | None = None
        self._generators = _generators(train_data, val_data)
        self._lockstep = in_lockstep(model)  # DDP on several ranks: they stop together

    # -- public helpers for callbacks -------------------------------------------------------
    def interrupt(self) -> None:
        """Stop after the current step and write a checkpoint (what Ctrl-C does)."""
        self._interrupt = True

    def save_checkpoint(self, path: str | Path, reason: str = "") -> Path:
        """Write everything needed to resume this run to the checkpoint ``path``
        (see :mod:`chainrule.train.checkpoint`); returns the sidecar's path.

        On several ranks, call it on every rank: in the middle of an epoch the running sums
        of the metrics are summed over the ranks first; then rank 0 writes (the others return
        the same path)."""
        partial = self._partial if self._partial and self._partial["batches"] else None
        if partial:  # the epoch so far, over all the ranks' shares
            partial = dict(partial)
            partial["sums"], partial["seen"] = _total(self.train_data, partial["sums"],
                                                      partial["seen"])
        if not is_main_process():
            return checkpoint_paths(path)
        state = {
            "reason": reason, "epoch": self._done_epochs, "epochs": self.epochs,
            "step": self.step, "batch": partial["batches"] if partial else 0,
            "partial": ({"seen": partial["seen"], "sums": partial["sums"]} if partial else None),
            "train_batches": _length(self.train_data), "metrics": list(self.metrics),
            "history": self.history.to_list(), "hparams": self.hparams,
        }
        callbacks = {key: cb.state_dict() for key, cb in self._callback_keys.items()
                     if hasattr(cb, "state_dict")}
        tensors = {"rng": capture_rng_state(self._generators),
                   "rng_epoch_start": self._epoch_start_rng if partial else None,
                   "callbacks": callbacks}
        return save_checkpoint(path, model=self.model, optimizer=self.optimizer,
                               scheduler=self.scheduler, state=state, tensors=tensors)

    # -- the run ----------------------------------------------------------------------------
    def _print(self, text: str) -> None:
        if self.verbose:
            print(text, file=self.file or sys.stdout, flush=True)

    def _call(self, hook: str) -> None:
        for fn in self._hooks[hook]:
            fn(self)

    def run(self, resume: str | Path | None = None) -> History:
        """Train (see :func:`fit`)."""
        previous = None
        install = self.handle_sigint and threading.current_thread() is threading.main_thread()
        if install:
            previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            self._check_monitors()
            if resume is not None:
                self._restore(resume)
            self._call("on_train_begin")
            if self._resume_rng is not None:
                # after on_train_begin, as the saved run had drawn nothing there since
                restore_rng_state(self._resume_rng, self._generators)
                self._resume_rng = None
            for epoch in range(self._done_epochs + 1, self.epochs + 1):
                self.epoch = epoch
                self._call("on_epoch_begin")
                started = time.perf_counter()
                if not self._train_epoch():
                    self._write_interrupt_checkpoint()
                    break
                self._end_epoch(started)
                self._agree()
                if self._interrupt:
                    self._write_interrupt_checkpoint()
                    break
                if self.stop_training:
                    break
            else:
                if self._done_epochs >= self.epochs and self.epoch == 0:
                    self._print(f"nothing to do: the checkpoint has {self._done_epochs} of "
                                f"{self.epochs} epochs done")
            self._call("on_train_end")
        finally:
            if install:
                signal.signal(signal.SIGINT, previous)
        return self.history

    def _agree(self) -> None:
        """On ranks training in lockstep (DDP), one rank's stop or Ctrl-C stops them all, after
        the same step: a rank that stopped alone would leave the others waiting in their next
        all-reduce (see :mod:`chainrule.train.ranks`). One process: nothing to do."""
        if self._lockstep:
            self._interrupt, self.stop_training = any_rank(self._interrupt, self.stop_training)

    def _check_monitors(self) -> None:
        """A callback watching ``val_*`` without validation data fails now, not after the
        first epoch's training."""
        if self.val_data is not None:
            return
        watchers = [(type(cb).__name__, getattr(cb, "monitor", None)) for cb in self.callbacks]
        if isinstance(self.scheduler, ReduceLROnPlateau):
            watchers.append(("scheduler_monitor", self.scheduler_monitor))
        for who, monitor in watchers:
            if isinstance(monitor, str) and monitor.startswith("val_"):
                raise ValueError(f"fit: {who} monitors {monitor!r}, but fit has no val_data "
                                 "(pass val_data, or monitor a training metric such as "
                                 "'loss')")

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._interrupt:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self._interrupt = True
        if is_main_process():
            print("\ninterrupt: finishing this step, then writing a checkpoint "
                  "(press Ctrl-C again to abort at once)", file=sys.stderr, flush=True)

    def _interrupt_path(self) -> Path:
        if self.checkpoint_path is not None:
            return Path(self.checkpoint_path)
        for cb in self.callbacks:
            dirpath = getattr(cb, "dirpath", None)
            if dirpath is not None and hasattr(cb, "save_best"):
                return Path(dirpath) / "interrupted"
        return Path("interrupted")

    def _write_interrupt_checkpoint(self) -> None:
        path = self._interrupt_path()
        sidecar = self.save_checkpoint(path, reason="interrupt")
        self.history.interrupted = True
        self.history.checkpoint = str(path)
        where = (f"step {self._partial['batches']} of epoch {self.epoch}"
                 if self._partial and self._partial["batches"] else f"epoch {self._done_epochs}")
        self._print(f"interrupted after {where}: checkpoint written to {sidecar} "
                    f"(resume with resume={str(path)!r})")

    def _train_epoch(self) -> bool:
        """One pass over the training data; ``False`` when interrupted (checkpoint pending)."""
        model, optimizer, loss_fn = self.model, self.optimizer, self.loss_fn
        metrics = list(self.metrics.items())
        model.train()
        for sampler in samplers(self.train_data):  # as torch users do by hand each epoch
            if callable(getattr(sampler, "set_epoch", None)):
                sampler.set_epoch(self.epoch - 1)  # (a DistributedSampler's new order)
        resume = self._resume_partial
        self._resume_partial = None
        if resume is not None:
            restore_rng_state(resume["rng_epoch_start"], self._generators)
            self._epoch_start_rng = resume["rng_epoch_start"]
            it = iter(self.train_data)
            for i in range(resume["batches"]):
                try:
                    next(it)
                except StopIteration:
                    raise CheckpointError(
                        f"{self.resumed_from}: the checkpoint was taken after batch "
                        f"{resume['batches']} of epoch {self.epoch}, but the training data "
                        f"has only {i} batches now") from None
            restore_rng_state(resume["rng"], self._generators)
            sums = dict(resume["sums"])
            seen, batches = resume["seen"], resume["batches"]
        else:
            self._epoch_start_rng = capture_rng_state(self._generators)
            it = iter(self.train_data)
            sums = {"loss": 0.0, **{name: 0.0 for name, _ in metrics}}
            seen, batches = 0, 0
        partial = self._partial = {"sums": sums, "seen": seen, "batches": batches}
        bar = self._bar(it, batches)
        want_logs = bool(self._hooks["on_batch_end"]) or bar is not it
        on_batch_begin, on_after_backward = self._hooks["on_batch_begin"], \
            self._hooks["on_after_backward"]
        on_batch_end = self._hooks["on_batch_end"]
        step_scheduler = self.scheduler is not None and self.scheduler_interval == "step"
        try:
            for batch in bar:
                self.batch = batch
                self.batch_index = batches
                for fn in on_batch_begin:
                    fn(self)
                x, y = _split(batch, "fit")
                # -- the step, exactly as a hand-written loop ------------------------------
                optimizer.zero_grad()
                output = model(x)
                loss = loss_fn(output, y)
                loss.backward()
                self.output, self.loss = output, loss
                for fn in on_after_backward:
                    fn(self)
                if on_after_backward:
                    self._agree()
                if self.stop_training:
                    break  # e.g. TerminateOnNaN: keep the last good weights
                optimizer.step()
                if step_scheduler:
                    self.scheduler.step()
                # -- bookkeeping -----------------------------------------------------------
                self.step += 1
                batches += 1
                n = batch_size(batch)
                seen += n
                sums["loss"] += loss.item() * n
                for name, fn in metrics:
                    sums[name] += fn(output, y) * n
                partial["seen"], partial["batches"] = seen, batches
                if want_logs:
                    self.logs = {k: v / seen for k, v in sums.items()}
                    if bar is not it and batches % 10 == 0:
                        bar.set_postfix(loss=f"{self.logs['loss']:.4f}", refresh=False)
                for fn in on_batch_end:
                    fn(self)
                self._agree()
                if self._interrupt:
                    return False
                if self.stop_training:
                    break
        finally:
            if bar is not it:
                bar.close()
            self.batch = self.output = self.loss = None
        return True

    def _bar(self, it: Any, initial: int) -> Any:
        out = self.file or sys.stdout
        show = self.progress if self.progress is not None else \
            (self.verbose and getattr(out, "isatty", lambda: False)())
        if not show or not is_main_process():
            return it
        from tqdm import tqdm

        return tqdm(it, total=_length(self.train_data), initial=initial, file=out, leave=False,
                    desc=f"epoch {self.epoch}/{self.epochs}", unit="batch", dynamic_ncols=True)

    def _end_epoch(self, started: float) -> None:
        partial = self._partial or {"sums": {"loss": 0.0}, "seen": 0}
        sums, seen = _total(self.train_data, partial["sums"], partial["seen"])
        logs: dict[str, Any] = {"epoch": self.epoch}
        for k, v in sums.items():
            logs[k] = v / seen if seen else math.nan
        if self.val_data is not None:
            for k, v in evaluate(self.model, self.loss_fn, self.val_data,
                                 metrics=self.metrics).items():
                logs[f"val_{k}"] = v
        logs["lr"] = self.optimizer.param_groups[0]["lr"]
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            if isinstance(self.scheduler, ReduceLROnPlateau):
                monitor = self.scheduler_monitor or ("val_loss" if self.val_data is not None
                                                     else "loss")
                if monitor not in logs:
                    raise KeyError(f"fit: scheduler_monitor {monitor!r} is not among the "
                                   f"epoch's metrics {sorted(logs)}")
                self.scheduler.step(logs[monitor])
            else:
                self.scheduler.step()
        logs["time"] = time.perf_counter() - started
        self.logs = logs
        self._partial = None
        self._done_epochs = self.epoch
        self.history.append(logs)
        self._print(f"epoch {self.epoch}/{self.epochs}: " + "  ".join(
            f"{k} {_fmt(v)}" for k, v in logs.items() if k not in ("epoch", "time"))
            + f"  ({logs['time']:.1f}s)")
        self._call("on_epoch_end")

    def _restore(self, resume: str | Path) -> None:
        ckpt = load_checkpoint(resume)
        st = ckpt.state
        where = ckpt.path
        for key in ("epoch", "step", "batch"):
            if not isinstance(st.get(key), int) or st[key] < 0:
                raise CheckpointError(f"{where}: '{key}' must be a non-negative integer, "
                                      f"found {st.get(key)!r}")
        if not isinstance(st.get("history"), list):
            raise CheckpointError(f"{where}: 'history' must be a list")
        saved_len, own_len = st.get("train_batches"), _length(self.train_data)
        if saved_len is not None and own_len is not None and saved_len != own_len:
            raise CheckpointError(f"{where}: the checkpoint was taken with {saved_len} training "
                                  f"batches per epoch, this training data has {own_len}")
        if self.scheduler is not None and ckpt.scheduler_state is None:
            raise CheckpointError(f"{where}: holds no scheduler state, but fit was given a "
                                  f"{type(self.scheduler).__name__}")
        ckpt.restore(self.model, self.optimizer,
                     self.scheduler if ckpt.scheduler_state is not None else None)
        saved_callbacks = ckpt.tensors.get("callbacks") or {}
        for key, cb in self._callback_keys.items():
            if key in saved_callbacks and hasattr(cb, "load_state_dict"):
                cb.load_state_dict(saved_callbacks[key])
        self.history = History(st["history"])
        self._done_epochs = st["epoch"]
        self.step = st["step"]
        self.resumed_from = where
        rng = ckpt.tensors.get("rng")
        if rng is None:
            raise CheckpointError(f"{where}: holds no random state")
        if st["batch"] > 0:
            partial = st.get("partial") or {}
            if ckpt.tensors.get("rng_epoch_start") is None or "sums" not in partial:
                raise CheckpointError(f"{where}: a mid-epoch checkpoint without the epoch's "
                                      "start state")
            share = shards(self.train_data)  # each rank resumes with its share of the sums
            self._resume_partial = {"batches": st["batch"], "seen": partial["seen"] / share,
                                    "sums": {k: v / share for k, v in partial["sums"].items()},
                                    "rng": rng,
                                    "rng_epoch_start": ckpt.tensors["rng_epoch_start"]}
        else:
            self._resume_rng = rng
        done = f"{st['epoch']} epoch(s)" + (f" and {st['batch']} batch(es)" if st["batch"]
                                            else "")
        self._print(f"resuming from {where}: {done} done, step {st['step']}")


def _total(data: Any, sums: dict[str, float], seen: int) -> tuple[dict[str, float], int]:
    """The sums and the sample count over the whole of ``data``: summed over the ranks when
    a DistributedSampler splits it between them."""
    if not is_sharded(data):
        return sums, seen
    *values, count = sum_over_ranks([*sums.values(), seen])
    return dict(zip(sums, values)), round(count)


def _length(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:
        return None


def _overrides(cb: Any, hook: str) -> bool:
    """Whether ``cb`` implements ``hook`` (the base class's no-ops are skipped)."""
    fn = getattr(cb, hook, None)
    if fn is None:
        return False
    from chainrule.train.callbacks import Callback

    return getattr(fn, "__func__", fn) is not getattr(Callback, hook, None)


def _callback_keys(callbacks: Sequence[Any]) -> dict[str, Any]:
    """Stable names for the callbacks' saved states: the class name, numbered if repeated."""
    keys: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for cb in callbacks:
        name = type(cb).__name__
        n = counts.get(name, 0)
        counts[name] = n + 1
        keys[name if n == 0 else f"{name}#{n}"] = cb
    return keys


def fit(model: Any, loss_fn: Any, optimizer: Any, train_data: Iterable,
        val_data: Iterable | None = None, *, epochs: int,
        metrics: Any = ("accuracy",), callbacks: Sequence[Any] = (), scheduler: Any = None,
        scheduler_interval: str = "epoch", scheduler_monitor: str | None = None,
        resume: str | Path | None = None, checkpoint: str | Path | None = None,
        progress: bool | None = None, verbose: bool = True, file: IO[str] | None = None,
        hparams: Mapping[str, Any] | None = None, handle_sigint: bool = True) -> History:
    """Train ``model`` for ``epochs`` epochs; returns the per-epoch metrics as a History.

    Each step is ``zero_grad(); loss_fn(model(x), y).backward(); optimizer.step()``. After
    each epoch: validation on ``val_data`` (``val_*`` metrics), the scheduler's step, the
    callbacks' ``on_epoch_end``, and one printed line (a tqdm bar runs during the epoch when
    the output is a terminal).

    Args:
        model: the ``nn.Module`` to train.
        loss_fn: ``loss_fn(output, target)`` returns the batch's mean loss (e.g.
            ``nn.CrossEntropyLoss()``).
        optimizer: an optimizer over the model's parameters.
        train_data: batches ``(x, y)``: a DataLoader or any re-iterable iterable.
        val_data: validation batches, evaluated after each epoch. Default: none.
        epochs: the epoch to train up to (counting epochs already done when resuming).
        metrics: names (``"accuracy"``, ``"top5_accuracy"``, ``"mse"``, ``"mae"``), functions
            ``(output, target) -> float``, or a dict of them. Default: ``("accuracy",)``.
        callbacks: :class:`~chainrule.train.callbacks.Callback` objects.
        scheduler: a learning-rate scheduler, stepped after each epoch (or each step).
            A ``ReduceLROnPlateau`` is stepped with ``scheduler_monitor``.
        scheduler_interval: ``"epoch"`` or ``"step"``. Default: ``"epoch"``.
        scheduler_monitor: the metric a ``ReduceLROnPlateau`` watches. Default:
            ``"val_loss"`` with validation data, else ``"loss"``.
        resume: a checkpoint to continue from (model, optimizer, scheduler, callbacks,
            history, random states, the position in the epoch).
        checkpoint: where Ctrl-C writes its checkpoint. Default: ``interrupted`` in a
            ModelCheckpoint's directory, else in the current directory.
        progress: show a tqdm bar; default: only when ``file`` is a terminal.
        verbose: print one line per epoch. Default: ``True``.
        file: where to print. Default: ``sys.stdout``.
        hparams: hyperparameters to record in every checkpoint.
        handle_sigint: catch Ctrl-C as described (main thread only). Default: ``True``.

    Returns:
        A :class:`~chainrule.train.History`; ``history.interrupted`` tells whether Ctrl-C
        stopped the run and ``history.checkpoint`` where its checkpoint went.

    Example:
        >>> import chainrule
        >>> from chainrule import nn, optim
        >>> from chainrule.utils.data import DataLoader, TensorDataset
        >>> _ = chainrule.manual_seed(0)
        >>> x = chainrule.randn(256, 2)
        >>> y = (x[:, 0] * x[:, 1] > 0).long()          # XOR-like classes
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
        >>> model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2))
        >>> history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05),
        ...               loader, loader, epochs=20, verbose=False)
        >>> len(history), history.best("val_accuracy")["val_accuracy"] > 0.9
        (20, True)
    """
    trainer = Trainer(model, loss_fn, optimizer, train_data, val_data, epochs=epochs,
                      metrics=metrics, callbacks=callbacks, scheduler=scheduler,
                      scheduler_interval=scheduler_interval, scheduler_monitor=scheduler_monitor,
                      checkpoint=None if checkpoint is None else str(checkpoint),
                      progress=progress, verbose=verbose, file=file, hparams=hparams,
                      handle_sigint=handle_sigint)
    return trainer.run(resume)


def evaluate(model: Any, loss_fn: Any, data: Iterable, metrics: Any = ("accuracy",),
             ) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``data`` (eval mode, no gradients).

    Args:
        model: the model.
        loss_fn: the loss (returning batch means), or ``None`` for metrics only.
        data: batches ``(x, y)``.
        metrics: as in :func:`fit`.

    Returns:
        ``{"loss": ..., metric: ...}``, each the mean over samples.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> model = nn.Linear(2, 2)
        >>> with chainrule.no_grad():
        ...     _ = model.weight.copy_(chainrule.eye(2)); _ = model.bias.zero_()
        >>> batches = [(chainrule.tensor([[1., 0.], [0., 1.]]), chainrule.tensor([0, 0]))]
        >>> evaluate(model, None, batches)
        {'accuracy': 0.5}
    """
    fns = resolve_metrics(metrics)
    was_training = model.training
    model.eval()
    sums = {"loss": 0.0} if loss_fn is not None else {}
    sums.update({name: 0.0 for name in fns})
    seen = 0
    try:
        with chainrule.no_grad():
            for batch in data:
                x, y = _split(batch, "evaluate")
                out = model(x)
                n = batch_size(batch)
                seen += n
                if loss_fn is not None:
                    sums["loss"] += loss_fn(out, y).item() * n
                for name, fn in fns.items():
                    sums[name] += fn(out, y) * n
    finally:
        model.train(was_training)
    sums, seen = _total(data, sums, seen)
    return {k: (v / seen if seen else math.nan) for k, v in sums.items()}


def predict(model: Any, data: Any, *, batch_size: int | None = None) -> Tensor:
    """The model's outputs for ``data`` (eval mode, no gradients), concatenated.

    Args:
        model: the model.
        data: a tensor of inputs, or batches: ``(x, y)`` pairs (``y`` is ignored) or inputs.
        batch_size: with a tensor, run it in chunks of this size. Default: all at once.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> predict(nn.Identity(), [(chainrule.ones(2, 3), None), (chainrule.zeros(1, 3), None)])
        tensor([[1., 1., 1.],
                [1., 1., 1.],
                [0., 0., 0.]])
    """
    if isinstance(data, Tensor):
        step = batch_size or max(int(data.shape[0]), 1)
        data = [data[i:i + step] for i in range(0, int(data.shape[0]), step)]
    was_training = model.training
    model.eval()
    outs = []
    try:
        with chainrule.no_grad():
            for batch in data:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                outs.append(model(x))
    finally:
        model.train(was_training)
    if not outs:
        raise ValueError("predict: the data yielded no batches")
    return chainrule.cat(outs)
