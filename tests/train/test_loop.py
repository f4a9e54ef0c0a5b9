"""fit equals a hand-written loop bit for bit, resumes bit for bit, and stops cleanly on SIGINT."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule
from chainrule import nn, optim
from chainrule.train import (
    CheckpointError,
    LambdaCallback,
    ModelCheckpoint,
    evaluate,
    fit,
    load_checkpoint,
    predict,
    seed_everything,
)
from chainrule.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[2]


def _setup(generator: bool = False, workers: int = 0):
    """Data with a shuffled loader, a model with dropout, Adam and a StepLR, all from seed 0."""
    seed_everything(0)
    x = chainrule.randn(120, 6)
    y = (x[:, 0] + x[:, 1] > 0).long()
    ds = TensorDataset(x, y)
    g = chainrule.Generator().manual_seed(5) if generator else None
    kw = {"num_workers": workers, "multiprocessing_context": "fork"} if workers else {}
    train = DataLoader(ds, batch_size=16, shuffle=True, generator=g, **kw)
    val = DataLoader(ds, batch_size=40)
    model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Dropout(0.3), nn.Linear(12, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    return model, opt, sched, train, val


def _params(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def _assert_same(a, b) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _fit(model, opt, sched, train, val, **kw):
    return fit(model, nn.CrossEntropyLoss(), opt, train, val, scheduler=sched, verbose=False,
               **kw)


def test_fit_equals_a_hand_written_loop() -> None:
    model, opt, sched, train, val = _setup()
    history = _fit(model, opt, sched, train, val, epochs=3)
    ours = _params(model)

    model, opt, sched, train, val = _setup()
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(3):
        model.train()
        for x, y in train:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        model.eval()
        with chainrule.no_grad():
            for x, _y in val:
                model(x)
        sched.step()
    _assert_same(ours, _params(model))
    assert [e["epoch"] for e in history] == [1, 2, 3]
    assert history[-1]["lr"] == pytest.approx(0.01 * 0.25)
    assert set(history.keys()) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}


def test_epoch_metrics_are_sample_means() -> None:
    model, opt, _, train, val = _setup()
    history = fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=1, verbose=False)
    assert history[-1]["val_loss"] == pytest.approx(
        evaluate(model, nn.CrossEntropyLoss(), val)["loss"])
    x = val.dataset.tensors[0]
    pred = predict(model, x, batch_size=50).argmax(1)
    acc = float((pred == val.dataset.tensors[1]).float().mean().item())
    assert history[-1]["val_accuracy"] == pytest.approx(acc)


@pytest.mark.parametrize("generator", [False, True], ids=["global-rng", "loader-generator"])
def test_resume_at_epoch_boundary_is_bit_identical(tmp_path, generator) -> None:
    model, opt, sched, train, val = _setup(generator)
    full = _fit(model, opt, sched, train, val, epochs=2)
    reference = _params(model)

    model, opt, sched, train, val = _setup(generator)
    _fit(model, opt, sched, train, val, epochs=1, callbacks=[ModelCheckpoint(tmp_path)])
    # a fresh process would start from other weights and other random states
    model, opt, sched, train, val = _setup(generator)
    chainrule.manual_seed(123)
    np.random.seed(7)
    resumed = _fit(model, opt, sched, train, val, epochs=2, resume=tmp_path / "last")
    _assert_same(reference, _params(model))
    assert [e["loss"] for e in resumed] == [e["loss"] for e in full]
    assert resumed[-1]["val_accuracy"] == full[-1]["val_accuracy"]


@pytest.mark.parametrize("workers", [0, 2], ids=["main-process", "two-workers"])
def test_resume_mid_epoch_is_bit_identical(tmp_path, workers) -> None:
    model, opt, sched, train, val = _setup(workers=workers)
    full = _fit(model, opt, sched, train, val, epochs=2)
    reference = _params(model)

    def stop(trainer):
        if trainer.epoch == 2 and trainer.batch_index == 3:
            trainer.interrupt()

    model, opt, sched, train, val = _setup(workers=workers)
    cut = _fit(model, opt, sched, train, val, epochs=2, checkpoint=tmp_path / "cut",
               callbacks=[LambdaCallback(on_batch_end=stop)])
    assert cut.interrupted and cut.checkpoint == str(tmp_path / "cut")
    assert load_checkpoint(tmp_path / "cut").state["batch"] == 4
    model, opt, sched, train, val = _setup(workers=workers)
    chainrule.manual_seed(99)
    resumed = _fit(model, opt, sched, train, val, epochs=2, resume=tmp_path / "cut")
    _assert_same(reference, _params(model))
    assert [e["loss"] for e in resumed] == [e["loss"] for e in full]
    assert not resumed.interrupted


def test_resume_refuses_other_data(tmp_path) -> None:
    model, opt, sched, train, val = _setup()
    _fit(model, opt, sched, train, val, epochs=1, callbacks=[ModelCheckpoint(tmp_path)])
    small = DataLoader(TensorDataset(chainrule.randn(20, 6), chainrule.zeros(20).long()),
                       batch_size=16)
    with pytest.raises(CheckpointError, match="taken with 8 training batches per epoch, this training data has 2"):
        _fit(model, opt, sched, small, None, epochs=2, resume=tmp_path / "last")


def test_resume_into_a_different_model_names_the_mismatch(tmp_path) -> None:
    model, opt, sched, train, val = _setup()
    _fit(model, opt, sched, train, val, epochs=1, callbacks=[ModelCheckpoint(tmp_path)])
    other = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2))
    with pytest.raises(CheckpointError, match=r"size mismatch for 0.weight.*\[12, 6\].*\[8, 6\]"):
        fit(other, nn.CrossEntropyLoss(), optim.Adam(other.parameters()), train, epochs=2,
            resume=tmp_path / "last", verbose=False)


def test_resume_when_already_done_trains_nothing(tmp_path) -> None:
    model, opt, sched, train, val = _setup()
    _fit(model, opt, sched, train, val, epochs=1, callbacks=[ModelCheckpoint(tmp_path)])
    before = _params(model)
    out = io.StringIO()
    h = fit(model, nn.CrossEntropyLoss(), opt, train, epochs=1, scheduler=sched,
            resume=tmp_path / "last", file=out)
    _assert_same(before, _params(model))
    assert len(h) == 1 and "nothing to do" in out.getvalue()


def test_one_line_per_epoch_without_a_terminal() -> None:
    model, opt, _, train, val = _setup()
    out = io.StringIO()
    fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=2, file=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2: loss ")
    assert "val_accuracy" in lines[1]


def test_progress_bar_when_asked() -> None:
    model, opt, _, train, _ = _setup()
    out = io.StringIO()
    fit(model, nn.CrossEntropyLoss(), opt, train, epochs=1, file=out, progress=True)
    assert "epoch 1/1" in out.getvalue() and "batch" in out.getvalue()


def test_bad_batches_and_arguments() -> None:
    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"pair \(inputs, targets\), got a tuple of length 3"):
        fit(model, nn.CrossEntropyLoss(), opt, [(1, 2, 3)], epochs=1, verbose=False)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fit(model, nn.CrossEntropyLoss(), opt, [], epochs=0)
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        fit(model, nn.CrossEntropyLoss(), opt, [], epochs=1, metrics=["acuracy"])


def test_plateau_scheduler_steps_on_the_monitored_metric() -> None:
    model, opt, _, train, val = _setup()
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=10.0)
    h = fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=3, scheduler=sched,
            verbose=False)
    assert [e["lr"] for e in h] == [0.01, 0.005, 0.0025]


def test_step_interval_scheduler() -> None:
    model, opt, _, train, _ = _setup()
    sched = optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 / (1 + step))
    fit(model, nn.CrossEntropyLoss(), opt, train, epochs=1, scheduler=sched,
        scheduler_interval="step", verbose=False)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01 / (1 + len(train)))


def test_predict_accepts_loaders_and_tensors() -> None:
    model, _, _, _, val = _setup()
    a = predict(model, val)
    b = predict(model, val.dataset.tensors[0])
    assert tuple(a.shape) == (120, 2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert model.training


_SIGINT_SCRIPT = textwrap.dedent("""
    import os, sys, time
    import chainrule
    from chainrule import nn, optim
    from chainrule.train import fit, seed_everything, LambdaCallback
    from chainrule.utils.data import DataLoader, TensorDataset

    seed_everything(0)
    x = chainrule.randn(64, 4); y = (x[:, 0] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    def slow(trainer):
        if trainer.step == 3:
            print("READY", flush=True)
        time.sleep(0.05)
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=1000, checkpoint=sys.argv[1],
            callbacks=[LambdaCallback(on_batch_end=slow)], verbose=False)
    print("STOPPED", h.interrupted, h.checkpoint, flush=True)
""")


def test_sigint_stops_after_the_step_and_writes_a_usable_checkpoint(tmp_path) -> None:
    script = tmp_path / "train.py"
    script.write_text(_SIGINT_SCRIPT)
    ckpt = tmp_path / "ckpt" / "interrupted"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"STOPPED True {ckpt}" in out
    assert "finishing this step" in err
    loaded = load_checkpoint(ckpt)
    assert loaded.state["reason"] == "interrupt" and loaded.state["step"] >= 4
    assert not list(ckpt.parent.glob(".*.tmp"))
    # the checkpoint resumes: the same data, a fresh model, the run goes on from its step
    seed_everything(0)
    x = chainrule.randn(64, 4)
    y = (x[:, 0] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    done = loaded.state["epoch"]
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=done + 1, resume=ckpt,
            verbose=False)
    assert len(h) == done + 1
    assert h.to_list()[:done] == loaded.state["history"]
