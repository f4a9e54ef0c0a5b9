"""The callbacks: early stopping restores the best weights, checkpoints, plateaus, logs, NaNs."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import chainrule
from chainrule import nn, optim
from chainrule.train import (
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
    fit,
    load_checkpoint,
    seed_everything,
)
from chainrule.utils.data import DataLoader, TensorDataset


def _problem():
    seed_everything(0)
    x = chainrule.randn(96, 4)
    y = (x[:, 0] - x[:, 2] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    val = DataLoader(TensorDataset(x[:48], y[:48]), batch_size=48)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    return model, optim.SGD(model.parameters(), lr=0.1), loader, val


class Scripted(Callback):
    """Overwrites ``val_loss`` with a scripted sequence and records the weights per epoch."""

    order = -1

    def __init__(self, values):
        self.values = values
        self.weights = {}

    def on_epoch_end(self, trainer):
        trainer.logs["val_loss"] = self.values[trainer.epoch - 1]
        self.weights[trainer.epoch] = {k: v.numpy().copy()
                                       for k, v in trainer.model.state_dict().items()}


def _assert_weights(model, expected) -> None:
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), expected[k], err_msg=k)


def test_early_stopping_triggers_and_restores_the_best_weights() -> None:
    model, opt, loader, val = _problem()
    script = Scripted([0.9, 0.5, 0.6, 0.7, 0.8, 0.4])
    stop = EarlyStopping(monitor="val_loss", patience=2)
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, val, epochs=6,
            callbacks=[script, stop], verbose=False)
    assert len(h) == 4 and stop.stopped_epoch == 4 and stop.best_epoch == 2
    _assert_weights(model, script.weights[2])


def test_early_stopping_restores_the_best_weights_without_triggering() -> None:
    model, opt, loader, val = _problem()
    script = Scripted([0.9, 0.5, 0.6, 0.7])
    stop = EarlyStopping(monitor="val_loss", patience=10)
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, val, epochs=4,
            callbacks=[script, stop], verbose=False)
    assert len(h) == 4 and stop.stopped_epoch == 0
    _assert_weights(model, script.weights[2])


def test_early_stopping_min_delta_mode_and_keep_last() -> None:
    model, opt, loader, val = _problem()
    script = Scripted([0.5, 0.499, 0.498, 0.2])
    stop = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.01,
                         restore_best_weights=False)
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, val, epochs=4,
            callbacks=[script, stop], verbose=False)
    assert len(h) == 3 and stop.best_epoch == 1
    _assert_weights(model, script.weights[3])
    assert EarlyStopping("val_accuracy").mode == "max"


def test_early_stopping_names_a_missing_metric() -> None:
    model, opt, loader, val = _problem()
    with pytest.raises(ValueError, match="EarlyStopping monitors 'val_loss', but fit has no "
                                         "val_data"):
        fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=1,
            callbacks=[EarlyStopping()], verbose=False)
    with pytest.raises(KeyError, match="monitor 'val_f1' is not among the epoch's metrics"):
        fit(model, nn.CrossEntropyLoss(), opt, loader, val, epochs=1,
            callbacks=[EarlyStopping(monitor="val_f1")], verbose=False)


def test_early_stopping_state_survives_a_resume(tmp_path) -> None:
    model, opt, loader, val = _problem()
    script = Scripted([0.9, 0.5, 0.6, 0.7, 0.8])
    fit(model, nn.CrossEntropyLoss(), opt, loader, val, epochs=3, verbose=False,
        callbacks=[script, EarlyStopping(patience=2), ModelCheckpoint(tmp_path)])
    model, opt, loader, val = _problem()
    stop = EarlyStopping(patience=2)
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, val, epochs=5, verbose=False,
            callbacks=[Scripted([0.9, 0.5, 0.6, 0.7, 0.8]), stop, ModelCheckpoint(tmp_path)],
            resume=tmp_path / "last")
    assert len(h) == 4 and stop.stopped_epoch == 4 and stop.best_epoch == 2
    _assert_weights(model, script.weights[2])


def test_model_checkpoint_keeps_best_and_last(tmp_path) -> None:
    model, opt, loader, val = _problem()
    ckpt = ModelCheckpoint(tmp_path, monitor="val_loss")
    script = Scripted([0.9, 0.5, 0.6])
    fit(model, nn.CrossEntropyLoss(), opt, loader, val, epochs=3, callbacks=[ckpt, script],
        verbose=False)
    best, last = load_checkpoint(ckpt.best_path), load_checkpoint(ckpt.last_path)
    assert best.state["epoch"] == 2 and last.state["epoch"] == 3
    for k, v in best.model_state.items():
        np.testing.assert_array_equal(v.numpy(), script.weights[2][k])
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".json") == \
        ["best.json", "last.json"]
    assert len(list(tmp_path.glob("*.safetensors"))) == 2  # old tensors files are gone
    assert not list(tmp_path.glob(".*"))  # no temporary files


def test_reduce_lr_on_plateau_callback_uses_the_optim_scheduler(capsys) -> None:
    model, opt, loader, val = _problem()
    script = Scripted([0.5, 0.6, 0.7, 0.8, 0.9])
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, val, epochs=5, callbacks=[script, cb])
    assert [e["lr"] for e in h] == [0.1, 0.1, 0.1, 0.05, 0.05]
    assert opt.param_groups[0]["lr"] == 0.025
    assert isinstance(cb.scheduler, optim.lr_scheduler.ReduceLROnPlateau)
    assert "lr 0.1 -> 0.05" in capsys.readouterr().out


def test_csv_and_jsonl_loggers(tmp_path) -> None:
    model, opt, loader, val = _problem()
    csv_path, jsonl_path = tmp_path / "log.csv", tmp_path / "log.jsonl"
    fit(model, nn.CrossEntropyLoss(), opt, loader, val, epochs=2, verbose=False,
        callbacks=[CSVLogger(csv_path), JSONLLogger(jsonl_path, every_n_steps=3),
                   ModelCheckpoint(tmp_path / "ck")])
    rows = list(csv.DictReader(open(csv_path)))
    assert [r["epoch"] for r in rows] == ["1", "2"] and "val_accuracy" in rows[0]
    records = [json.loads(line) for line in open(jsonl_path)]
    assert [r["kind"] for r in records].count("epoch") == 2
    assert [r["step"] for r in records if r["kind"] == "step"] == [3, 6, 9, 12]
    # resuming appends instead of starting over
    model, opt, loader, val = _problem()
    fit(model, nn.CrossEntropyLoss(), opt, loader, val, epochs=3, verbose=False,
        callbacks=[CSVLogger(csv_path)], resume=tmp_path / "ck" / "last")
    assert [r["epoch"] for r in csv.DictReader(open(csv_path))] == ["1", "2", "3"]


class LogOfInput(nn.Module):
    """A model that takes the log of its input: a negative input makes a NaN in 'log'."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(x.log())


def test_terminate_on_nan_names_the_op_and_keeps_finite_weights() -> None:
    seed_everything(0)
    good = (chainrule.rand(8, 2) + 0.5, chainrule.zeros(8).long())
    bad = (chainrule.tensor([[-1.0, 1.0]] * 8), chainrule.zeros(8).long())
    model = LogOfInput()
    opt = optim.SGD(model.parameters(), lr=0.1)
    out = io.StringIO()
    cb = TerminateOnNaN()
    snapshot = {}
    keep = LambdaCallback(on_batch_end=lambda t: snapshot.update(
        {k: v.numpy().copy() for k, v in t.model.state_dict().items()}))
    h = fit(model, nn.CrossEntropyLoss(), opt, [good, good, bad, good], epochs=3,
            callbacks=[cb, keep], file=out)
    assert cb.op == "log" and cb.step == 3
    assert "produced nan values" in cb.message and "self.fc(x.log())" in cb.message
    assert "TerminateOnNaN: the loss is nan at epoch 1, batch 3" in out.getvalue()
    assert len(h) == 1
    for k, v in model.state_dict().items():
        assert np.isfinite(v.numpy()).all()
        np.testing.assert_array_equal(v.numpy(), snapshot[k])


def test_terminate_on_nan_checks_gradients_when_asked() -> None:
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)

    def loss_fn(out, y):  # value 0, but d sqrt(u)/du = inf at u = 0
        return (model.weight - model.weight.detach()).sqrt().sum()

    out = io.StringIO()
    cb = TerminateOnNaN(check_grads=True, locate=False)
    fit(model, loss_fn, opt, [(chainrule.ones(4, 2), chainrule.ones(4))], epochs=2,
        metrics=(), callbacks=[cb], file=out)
    assert cb.step == 1 and cb.op is None
    assert "the gradient of weight is not finite" in out.getvalue()
    unchecked = TerminateOnNaN(locate=False)
    fit(model, loss_fn, opt, [(chainrule.ones(4, 2), chainrule.ones(4))], epochs=1,
        metrics=(), callbacks=[unchecked], verbose=False)
    assert unchecked.step is None


def test_gradient_monitor_records_steps_and_plots(tmp_path) -> None:
    model, opt, loader, _ = _problem()
    cb = GradientMonitor(every_n_steps=2, plot=tmp_path / "flow.png")
    fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=2, callbacks=[cb], verbose=False)
    assert len(cb.history) == 6  # 12 steps, every second one
    assert set(cb.history[0]["grad_norm"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert (tmp_path / "flow.png").read_bytes()[:4] == b"\x89PNG"
    assert not cb.monitor._handles  # hooks removed


def test_timer_records_epochs_and_stops_on_its_budget() -> None:
    model, opt, loader, _ = _problem()
    timer = Timer()
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=2, callbacks=[timer],
            verbose=False)
    assert len(timer.epoch_times) == 2 and timer.elapsed >= sum(timer.epoch_times)
    assert h[-1]["elapsed"] > 0
    model, opt, loader, _ = _problem()
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=5, callbacks=[Timer(0.0)],
            verbose=False)
    assert len(h) == 1


def test_callback_order_and_lambda_hooks() -> None:
    model, opt, loader, _ = _problem()
    calls = []

    class Late(Callback):
        order = 10

        def on_epoch_end(self, trainer):
            calls.append("late")

    hooks = LambdaCallback(on_train_begin=lambda t: calls.append("begin"),
                           on_epoch_end=lambda t: calls.append("early"),
                           on_after_backward=lambda t: calls.append("backward")
                           if t.model[0].weight.grad is not None else None)
    fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=1, callbacks=[Late(), hooks],
        verbose=False)
    assert calls[0] == "begin" and calls[-2:] == ["early", "late"]
    assert calls.count("backward") == len(loader)
    with pytest.raises(TypeError, match="unknown hook 'on_epoch_ending'"):
        LambdaCallback(on_epoch_ending=print)
