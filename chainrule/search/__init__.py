"""``chainrule.search``: hyperparameter search through Optuna, from Python or a config.

Methods: ``grid`` (every combination), ``random`` (uniform or log-uniform draws), ``tpe``
(Optuna's Bayesian TPE sampler) and ``coarse_to_fine`` (random rounds, each re-centred on the
best point so far with ranges shrunk by ``shrink``). Trials report each epoch's validation
metric, and the median pruner stops the ones worse than the median of the others at the same
epoch. Studies live in a database: SQLite by default (a file), or any SQLAlchemy URL
(PostgreSQL, MySQL) so that workers on several machines share a study. ``n_jobs`` worker
processes (``python -m chainrule.search.worker``) run trials of the same study; they find the
objective by its importable name (``"module:function"``) or the config's path, never by
unpickling. Each trial records its hyperparameters, seed, metrics, checkpoint path and
duration (Optuna user attrs); :func:`format_results` prints the table and :func:`plot` draws
it.

Needs Optuna (``pip install 'chainrule[search]'``); only :mod:`chainrule.search.space` works
without it.

Example:
    >>> from chainrule import search
    >>> search.grid_points({"lr": search.Float(0.01, 1.0, log=True), "depth": [2, 3]},
    ...                    points=3)[:2]
    [{'lr': 0.01, 'depth': 2}, {'lr': 0.01, 'depth': 3}]
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from chainrule.search.space import (
    Categorical,
    Float,
    Int,
    grid_points,
    normalize_space,
    random_points,
    shrink_space,
)

__all__ = ["run", "run_config", "results", "format_results", "plot", "Trial",
           "PruningCallback", "Float", "Int", "Categorical", "grid_points", "random_points",
           "shrink_space", "normalize_space"]

_LAZY = {"Trial", "PruningCallback", "results", "format_results", "plot"}


def _require() -> Any:
    try:
        from chainrule.search import _optuna
    except ImportError as e:
        raise ImportError("chainrule.search needs Optuna: pip install 'chainrule[search]' "
                          f"({e})") from None
    return _optuna


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(_require(), name)
    raise AttributeError(f"module 'chainrule.search' has no attribute {name!r}")


def _objective_spec(objective: Any, n_jobs: int) -> tuple[dict[str, Any], Callable | None]:
    if isinstance(objective, str) and ":" in objective and not os.path.exists(objective):
        return {"kind": "function", "target": objective}, None
    if callable(objective):
        module = getattr(objective, "__module__", None)
        name = getattr(objective, "__qualname__", "")
        if n_jobs > 1:
            if not module or module == "__main__" or "<" in name:
                raise ValueError("with n_jobs > 1 the workers import the objective by name: "
                                 "pass it as 'module:function' (defined at the top level of "
                                 "an importable module, not in __main__)")
            return {"kind": "function", "target": f"{module}:{name}"}, None
        return {"kind": "function", "target": f"{module}:{name}"}, objective
    raise TypeError("objective must be a callable, a 'module:function' string, or use "
                    "run_config for a config file")


def run(objective: Any, space: Mapping[str, Any], *, method: str = "tpe", n_trials: int = 20,
        direction: str = "minimize", storage: str | None = None, study_name: str = "search",
        n_jobs: int = 1, pruner: str = "median", seed: int = 0, grid: int = 5,
        rounds: int = 3, shrink: float = 0.5, startup_trials: int = 5,
        warmup_epochs: int = 1, output_dir: str | os.PathLike | None = None,
        verbose: bool = True) -> Any:
    """Search ``space`` for the parameters that make ``objective`` best; returns the Optuna
    study (``study.best_params``, ``study.trials``, ...).

    Args:
        objective: ``objective(trial) -> float`` (see :class:`Trial`): a function (in this
            process only) or ``"module:function"`` (any ``n_jobs``).
        space: ``{name: spec}`` (see :mod:`chainrule.search.space`).
        method: ``"grid"``, ``"random"``, ``"tpe"`` or ``"coarse_to_fine"``.
        n_trials: trials in all (for grid: the grid's size decides).
        direction: ``"minimize"`` or ``"maximize"``.
        storage: a database URL. Default: ``sqlite:///<study_name>.db`` in the current
            directory (or in ``output_dir``).
        study_name: the study's name in the database (an existing study is continued).
        n_jobs: worker processes (``1``: run in this process).
        pruner: ``"median"`` or ``"none"``.
        seed: seeds the samplers and is recorded with every trial.
        grid: values per numeric range on a grid.
        rounds, shrink: coarse-to-fine rounds and the range factor per round.
        startup_trials, warmup_epochs: the median pruner prunes nothing before this many
            trials have finished, nor before this epoch.
        output_dir: a folder for the trials' files (``trial.checkpoint_dir``).
        verbose: print one line per trial.
    """
    spec, fn = _objective_spec(objective, n_jobs)
    if storage is None:
        base = Path(output_dir) if output_dir is not None else Path.cwd()
        storage = _require().default_storage(base / f"{study_name}.db")
    return _run(spec, fn, space, method=method, n_trials=n_trials, direction=direction,
                storage=storage, study_name=study_name, n_jobs=n_jobs, pruner=pruner,
                seed=seed, grid=grid, rounds=rounds, shrink=shrink,
                startup_trials=startup_trials, warmup_epochs=warmup_epochs,
                output_dir=None if output_dir is None else str(Path(output_dir).resolve()),
                verbose=verbose)


def _run(spec: dict[str, Any], fn: Callable | None, space: Mapping[str, Any], *,
         method: str, n_trials: int, direction: str, storage: str, study_name: str,
         n_jobs: int, pruner: str, seed: int, grid: int, rounds: int, shrink: float,
         startup_trials: int, warmup_epochs: int, output_dir: str | None,
         verbose: bool, capture: bool = False) -> Any:
    if not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    if storage.startswith("sqlite://") and ":memory:" in storage:
        raise ValueError("an in-memory database cannot be shared with the workers (nor "
                         "reopened): use a file, e.g. sqlite:///search.db")
    if not re.fullmatch(r"[\w.-]+", study_name):
        raise ValueError(f"study_name {study_name!r}: use letters, digits, '.', '-', '_'")
    opt = _require()
    study = opt.create_study(objective=spec, space=space, method=method, direction=direction,
                             storage=storage, study_name=study_name, n_trials=n_trials,
                             seed=seed, pruner=pruner, startup_trials=startup_trials,
                             warmup_epochs=warmup_epochs, grid=grid, rounds=rounds,
                             shrink=shrink, output_dir=output_dir)
    out = sys.stdout if verbose else open(os.devnull, "w")
    try:
        # the workers' output when captured (a plain attribute: not stored in the database)
        study.worker_outputs = opt.run_study(study, storage, n_jobs, fn, out, capture)
    finally:
        if not verbose:
            out.close()
    return study


def run_config(path: str | os.PathLike, overrides: Sequence[str] = (), *,
               trials: int | None = None, jobs: int | None = None, method: str | None = None,
               storage: str | None = None, study_name: str | None = None,
               verbose: bool = True, capture: bool = False) -> Any:
    """Run the search a config's ``search`` section describes; each trial trains the config
    with its parameters applied as ``--set`` overrides and returns the best epoch's metric.

    Args:
        path: the config.
        overrides: ``--set`` overrides for every trial.
        trials, jobs, method, storage, study_name: override the search section.
        verbose: print one line per trial.
        capture: collect the workers' output instead of letting them print.

    Returns:
        The Optuna study; its database defaults to ``<output_dir>/search.db``.
    """
    from chainrule.config import ConfigError, load
    from chainrule.train.history import mode_for

    exp = load(path, overrides, data=False)
    if exp.search is None:
        raise ConfigError(f"{path}: no search section: add one (see docs/guides/search.md)",
                          os.fspath(path))
    if exp.config.get("data") is None:
        raise ConfigError(f"{path}: no data section: the trials have nothing to train on",
                          os.fspath(path))
    s = dict(exp.search)
    metric = s["metric"]
    direction = s["direction"] if s["direction"] != "auto" else \
        ("minimize" if mode_for(metric) == "min" else "maximize")
    output_dir = (exp.output_dir / "search").resolve()
    name = study_name or s["study_name"] or exp.name
    url = storage or s["storage"] or _require().default_storage(output_dir / "search.db")
    spec = {"kind": "config", "path": str(Path(path).resolve()), "overrides": list(overrides),
            "metric": metric, "output_dir": str(output_dir)}
    return _run(spec, None, s["params"], method=method or s["method"],
                n_trials=trials or s["trials"], direction=direction, storage=url,
                study_name=name, n_jobs=jobs or s["jobs"], pruner=s["pruner"], seed=s["seed"],
                grid=s["grid_points"], rounds=s["rounds"], shrink=s["shrink"],
                startup_trials=s["startup_trials"], warmup_epochs=s["warmup_epochs"],
                output_dir=str(output_dir), verbose=verbose, capture=capture)
