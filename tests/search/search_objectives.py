"""Objectives the search tests' worker processes import by name (module:function)."""

from __future__ import annotations

import math
import os
import time


def quadratic(trial) -> float:
    """(log10 lr + 2)^2 + (width - 32)^2 / 1000: best at lr = 0.01, width = 32."""
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
