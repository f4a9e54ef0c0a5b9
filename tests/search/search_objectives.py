"""Objectives the search tests' worker processes import by name (module:function)."""

from __future__ import annotations

import math
import os
import time


def _barrier() -> None:
    """With CHAINRULE_TEST_BARRIER (a folder): wait until two processes have started a trial,
    so that a test of two workers does not depend on how fast each one starts."""
    folder = os.environ.get("CHAINRULE_TEST_BARRIER")
    if not folder:
        return
    open(os.path.join(folder, str(os.getpid())), "w").close()
    deadline = time.monotonic() + 60
    while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)


def quadratic(trial) -> float:
    """(log10 lr + 2)^2 + (width - 32)^2 / 1000: best at lr = 0.01, width = 32."""
    _barrier()
    time.sleep(float(os.environ.get("CHAINRULE_TEST_SLEEP", "0")))
    lr, width = trial.params["lr"], trial.params.get("width", 32)
    trial.set("metrics", {"pid": os.getpid()})
    return (math.log10(lr) + 2) ** 2 + (width - 32) ** 2 / 1000


def curve(trial) -> float:
    """Reports a falling curve per 'epoch'; trials with a large offset get pruned."""
    value = 0.0
    for epoch in range(1, 6):
        value = trial.params["offset"] + 1.0 / epoch
        trial.report(value, epoch)
        if trial.should_prune():
            import optuna

            raise optuna.TrialPruned()
    return value
