"""The parts of chainrule.search that talk to Optuna (imported only when a search runs)."""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from chainrule.search.space import grid_points, normalize_space, random_points, shrink_space
from chainrule.train.callbacks import Callback

try:
    import optuna
except ImportError as exc:  # pragma: no cover - depends on the optional extra
    raise ImportError("chainrule.search needs Optuna: pip install 'chainrule[search]'") from exc

ATTR = "chainrule."  # prefix of the study's user attrs chainrule writes
QUEUED = ("grid", "random", "coarse_to_fine")


# -- the trial handed to objectives ------------------------------------------------------------
class Trial:
    """What an objective receives: the sampled ``params`` and ways to report back.

    Attributes:
        number: the trial's number in the study (from 0).
        params: ``{name: value}`` for every name in the search space.
        seed: the search's seed (use it to seed the trial's run).
        checkpoint_dir: a folder for this trial's files (``<output>/trials/<number>``), or
            ``None`` when the search has no output folder.
    """

    def __init__(self, trial: Any, params: dict[str, Any], seed: int,
                 checkpoint_dir: Path | None) -> None:
        self._trial = trial
        self.number = trial.number
        self.params = params
        self.seed = seed
        self.checkpoint_dir = checkpoint_dir

    def report(self, value: float, epoch: int) -> None:
        """Report an intermediate value (one per epoch) for pruning."""
        self._trial.report(float(value), int(epoch))

    def should_prune(self) -> bool:
        """Whether the pruner stops this trial (its values are worse than the median)."""
        return self._trial.should_prune()

    def set(self, key: str, value: Any) -> None:
        """Record ``value`` (JSON-able) with the trial, as an Optuna user attr."""
        self._trial.set_user_attr(key, json.loads(json.dumps(value, default=str)))

    def pruning_callback(self, monitor: str) -> PruningCallback:
        """A :func:`chainrule.train.fit` callback reporting ``logs[monitor]`` each epoch."""
        return PruningCallback(self, monitor)


class PruningCallback(Callback):
    """Report a metric to the trial after each epoch; raise ``optuna.TrialPruned`` when the
    pruner says this trial is worse than the median of the others at the same epoch.

    Example:
        >>> PruningCallback(None, "val_loss").monitor
        'val_loss'
    """

    def __init__(self, trial: Trial | None, monitor: str) -> None:
        self.trial = trial
        self.monitor = monitor

    def on_epoch_end(self, trainer: Any) -> None:
        if self.monitor not in trainer.logs:
            raise KeyError(f"PruningCallback: {self.monitor!r} is not among the epoch's "
                           f"metrics {sorted(trainer.logs)}")
        value = float(trainer.logs[self.monitor])
        self.trial.report(value, trainer.epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"epoch {trainer.epoch}: {self.monitor} {value:.4g} is "
                                     "worse than the median of the other trials")


# -- objectives -----------------------------------------------------------------------------
def load_objective(spec: Mapping[str, Any]) -> Callable[[Trial], float]:
    """The objective a study names: ``{"kind": "function", "target": "module:function"}`` or
    ``{"kind": "config", "path": ..., "overrides": [...]}``. Nothing is unpickled: a function
    is imported by name."""
    if spec["kind"] == "config":
        return ConfigObjective(spec["path"], spec.get("overrides", []), spec["metric"],
                               spec.get("output_dir"))
    target = spec["target"]
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"objective {target!r}: expected 'module:function'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ImportError(f"objective {target!r}: cannot import {module_name!r} ({e}); the "
                          "worker processes import it by name, so it must be importable from "
                          "the current directory or PYTHONPATH") from None
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise AttributeError(f"objective {target!r}: {module_name} has no {attr!r}")
    return obj


class ConfigObjective:
    """Train a config with the trial's parameters as ``--set`` overrides; the value is the
    best epoch's ``metric``. Each trial writes to its own ``output_dir/trials/NNNN`` (a best
    and a last checkpoint, whatever the config's callbacks log)."""

    def __init__(self, path: str, overrides: Sequence[str], metric: str,
                 output_dir: str | None) -> None:
        self.path = path
        self.overrides = list(overrides)
        self.metric = metric
        self.output_dir = output_dir

    def __call__(self, trial: Trial) -> float:
        from chainrule.config import load
        from chainrule.train import ModelCheckpoint

        folder = trial.checkpoint_dir or Path("trials") / f"{trial.number:04d}"
        sets = [*self.overrides, f"output_dir={json.dumps(str(folder))}"]
        sets += [f"{k}={json.dumps(v)}" for k, v in trial.params.items()]
        exp = load(self.path, sets)
        trial.set("seed", exp.seed)
        keep = ModelCheckpoint(folder, monitor=self.metric)
        history = exp.fit(callbacks=[trial.pruning_callback(self.metric), keep], verbose=False,
                          handle_sigint=False)
        best = history.best(self.metric)
        trial.set("metrics", best)
        trial.set("checkpoint", str(keep.best_path))
        return float(best[self.metric])


# -- storage and the claim lock -------------------------------------------------------------
def default_storage(path: str | os.PathLike) -> str:
    """``sqlite:///<absolute path>`` (folders created)."""
    p = Path(path).resolve()
    p.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{p}"


def _sqlite_file(storage: str) -> str | None:
    if storage.startswith("sqlite:///"):
        return storage[len("sqlite:///"):]
    return None


@contextlib.contextmanager
def claim_lock(storage: str) -> Iterator[None]:
    """Serialise "find the next trial and claim it" among the processes sharing an SQLite
    file: SQLite ignores SELECT ... FOR UPDATE, so two workers could otherwise both pop the
    same queued trial. Server databases lock the row themselves (Optuna's pop is atomic
    there)."""
    db = _sqlite_file(storage)
    if db is None or db == ":memory:":
        yield
        return
    import fcntl

    with open(db + ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- creating a study -----------------------------------------------------------------------
def _pruner(name: str, startup: int, warmup: int) -> Any:
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup)
    return optuna.pruners.NopPruner()


def _sampler(method: str, seed: int, worker: int, startup: int) -> Any:
    if method == "tpe":
        # constant_liar: running trials count as bad, so parallel workers spread out
        return optuna.samplers.TPESampler(seed=seed + 1000 * worker, constant_liar=True,
                                          n_startup_trials=startup)
    return optuna.samplers.RandomSampler(seed=seed + 1000 * worker)


def create_study(*, objective: Mapping[str, Any], space: Mapping[str, Any], method: str,
                 direction: str, storage: str, study_name: str, n_trials: int, seed: int,
                 pruner: str, startup_trials: int, warmup_epochs: int, grid: int,
                 rounds: int, shrink: float, output_dir: str | None) -> Any:
    """Create (or reopen) the study and write everything the workers need into its user
    attrs: the objective by name, the space, the method and its settings."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if method not in ("grid", "random", "tpe", "coarse_to_fine"):
        raise ValueError(f"unknown search method {method!r}: grid, random, tpe or "
                         "coarse_to_fine")
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    space = normalize_space(space)
    study = optuna.create_study(study_name=study_name, storage=storage, direction=direction,
                                load_if_exists=True)
    settings = {"objective": dict(objective), "space": space, "method": method,
                "n_trials": n_trials, "seed": seed, "pruner": pruner,
                "startup_trials": startup_trials, "warmup_epochs": warmup_epochs,
                "grid_points": grid, "rounds": rounds, "shrink": shrink,
                "output_dir": output_dir}
    old = study.user_attrs.get(ATTR + "settings")
    if old is not None and study.trials:
        keep = ("space", "method", "objective")
        if any(json.dumps(old.get(k), sort_keys=True) != json.dumps(settings[k], sort_keys=True)
               for k in keep):
            raise ValueError(f"study {study_name!r} in {storage} already holds a different "
                             "search (space, method or objective): choose another study_name")
        if method == "coarse_to_fine":
            raise ValueError(f"study {study_name!r} already has trials: a coarse-to-fine "
                             "search starts from an empty study (choose another study_name)")
    study.set_user_attr(ATTR + "settings", json.loads(json.dumps(settings)))
    return study


def enqueue(study: Any, points: Sequence[Mapping[str, Any]], round_index: int = 0) -> int:
    """Queue the points no trial of the study has tried yet; returns how many were queued."""
    seen = {json.dumps(t.system_attrs.get("fixed_params", t.params), sort_keys=True)
            for t in study.get_trials(deepcopy=False)}
    n = 0
    for p in points:
        key = json.dumps(dict(p), sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        study.enqueue_trial(dict(p), user_attrs={ATTR + "round": round_index})
        n += 1
    return n


# -- running trials -------------------------------------------------------------------------
def _suggest(trial: Any, name: str, spec: Mapping[str, Any]) -> Any:
    if spec["type"] == "categorical":
        return trial.suggest_categorical(name, spec["choices"])
    if spec["type"] == "int":
        return trial.suggest_int(name, int(spec["low"]), int(spec["high"]),
                                 step=int(spec["step"] or 1), log=spec["log"])
    return trial.suggest_float(name, spec["low"], spec["high"], step=spec["step"],
                               log=spec["log"])


def _has_waiting(study: Any) -> bool:
    return bool(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))


def work(storage: str, study_name: str, worker: int = 0,
         objective: Callable[[Trial], float] | None = None, out: Any = None) -> int:
    """Run trials of the study until its queue is empty (grid, random, coarse-to-fine) or it
    holds ``n_trials`` trials (TPE); returns how many this worker ran."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = out or sys.stdout
    probe = optuna.load_study(study_name=study_name, storage=storage)
    settings = probe.user_attrs[ATTR + "settings"]
    method = settings["method"]
    study = optuna.load_study(
        study_name=study_name, storage=storage,
        sampler=_sampler(method, settings["seed"], worker, settings["startup_trials"]),
        pruner=_pruner(settings["pruner"], settings["startup_trials"],
                       settings["warmup_epochs"]))
    fn = objective or load_objective(settings["objective"])
    space = settings["space"]
    done = 0
    while True:
        with claim_lock(storage):
            if method in QUEUED:
                if not _has_waiting(study):
                    break
            elif len(study.get_trials(deepcopy=False)) >= settings["n_trials"]:
                break
            trial = study.ask()
        if method in QUEUED and ATTR + "round" not in trial.user_attrs:
            # another process took the last queued point between our check and our ask
            # (possible only on server databases, which have no shared lock file)
            trial.set_user_attr(ATTR + "skipped", "the queue was empty")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            break
        _run_one(study, trial, fn, space, settings, worker, out)
        done += 1
    return done


def _run_one(study: Any, trial: Any, fn: Callable[[Trial], float], space: Mapping[str, Any],
             settings: Mapping[str, Any], worker: int, out: Any) -> None:
    params = {name: _suggest(trial, name, spec) for name, spec in space.items()}
    folder = None
    if settings.get("output_dir"):
        folder = Path(settings["output_dir"]) / "trials" / f"{trial.number:04d}"
    wrapped = Trial(trial, params, settings["seed"], folder)
    trial.set_user_attr("seed", settings["seed"])
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()} (#{worker})")
    start = time.perf_counter()
    state, value, note = optuna.trial.TrialState.COMPLETE, None, ""
    try:
        value = float(fn(wrapped))
        if not math.isfinite(value):
            state, note = optuna.trial.TrialState.FAIL, f"objective returned {value}"
    except optuna.TrialPruned as e:
        state, note = optuna.trial.TrialState.PRUNED, str(e)
    except Exception as e:  # a failing trial must not stop the search: record it
        state, note = optuna.trial.TrialState.FAIL, f"{type(e).__name__}: {e}"
        trial.set_user_attr("error", traceback.format_exc()[-4000:])
    seconds = time.perf_counter() - start
    trial.set_user_attr("duration_s", round(seconds, 3))
    study.tell(trial, value if state == optuna.trial.TrialState.COMPLETE else None,
               state=state)
    shown = ", ".join(f"{k}={_short(v)}" for k, v in params.items())
    result = f"value {value:.4g}" if state == optuna.trial.TrialState.COMPLETE else \
        f"{state.name.lower()}" + (f" ({note})" if note else "")
    print(f"trial {trial.number} [worker {worker}]: {shown} -> {result} ({seconds:.1f}s)",
          file=out, flush=True)


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def spawn_workers(storage: str, study_name: str, n: int, *, capture: bool = False) -> list[str]:
    """Start ``n`` ``python -m chainrule.search.worker`` processes on the study and wait for
    them; returns their outputs when ``capture`` (else they print to this terminal)."""
    paths = [os.getcwd()] + [p for p in sys.path if p and os.path.isdir(p)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)))
    procs = []
    for i in range(n):
        cmd = [sys.executable, "-m", "chainrule.search.worker", "--storage", storage,
               "--study-name", study_name, "--worker", str(i)]
        pipe = subprocess.PIPE if capture else None
        procs.append(subprocess.Popen(cmd, env=env, stdout=pipe, stderr=pipe, text=True))
    outputs, failed = [], []
    for i, p in enumerate(procs):
        stdout, stderr = p.communicate()
        outputs.append((stdout or "") + (stderr or ""))
        if p.returncode != 0:
            failed.append(f"worker {i} exited with status {p.returncode}"
                          + (f":\n{(stderr or '')[-2000:]}" if stderr else ""))
    if failed:
        raise RuntimeError("search workers failed: " + "\n".join(failed))
    return outputs


def run_study(study: Any, storage: str, n_jobs: int,
              objective: Callable[[Trial], float] | None, out: Any = None,
              capture: bool = False) -> list[str]:
    """Drive the study: queue points (grid, random, coarse-to-fine rounds) and run trials in
    this process (``n_jobs == 1``) or in ``n_jobs`` worker processes."""
    settings = study.user_attrs[ATTR + "settings"]
    method = settings["method"]
    space = settings["space"]
    outputs: list[str] = []

    def drain() -> None:
        if n_jobs == 1:
            work(storage, study.study_name, 0, objective, out)
        else:
            outputs.extend(spawn_workers(storage, study.study_name, n_jobs, capture=capture))

    if method == "grid":
        enqueue(study, grid_points(space, settings["grid_points"]))
    elif method == "random":
        enqueue(study, random_points(space, settings["n_trials"], settings["seed"]))
    if method != "coarse_to_fine":
        drain()
        return outputs
    per_round = max(1, math.ceil(settings["n_trials"] / settings["rounds"]))
    current = normalize_space(space)
    for r in range(settings["rounds"]):
        enqueue(study, random_points(current, per_round, settings["seed"] + r), round_index=r)
        drain()
        complete = [t for t in study.get_trials(deepcopy=False)
                    if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            raise RuntimeError(f"coarse-to-fine round {r}: no trial completed")
        best = study.best_trial
        current = shrink_space(current, best.params, settings["shrink"], bounds=space)
        print(f"round {r}: best {best.value:.4g} at "
              + ", ".join(f"{k}={_short(v)}" for k, v in best.params.items())
              + (" -> narrowing the ranges" if r + 1 < settings["rounds"] else ""),
              file=out or sys.stdout, flush=True)
    return outputs


# -- results --------------------------------------------------------------------------------
def results(study: Any) -> list[dict[str, Any]]:
    """One dict per trial: number, state, value, params, seed, duration, checkpoint, and the
    recorded metrics (a pruned trial's value is its last reported one)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        value = t.value
        if value is None and t.intermediate_values:
            value = t.intermediate_values[max(t.intermediate_values)]
        rows.append({"number": t.number, "state": t.state.name, "value": value,
                     "params": dict(t.params), "seed": t.user_attrs.get("seed"),
                     "duration_s": t.user_attrs.get("duration_s"),
                     "checkpoint": t.user_attrs.get("checkpoint"),
                     "metrics": t.user_attrs.get("metrics"),
                     "round": t.user_attrs.get(ATTR + "round")})
    return rows


def format_results(study: Any, top: int | None = None) -> str:
    """The trials as a text table, best first."""
    rows = results(study)
    direction = study.direction.name.lower()
    finished = [r for r in rows if r["state"] == "COMPLETE"]
    finished.sort(key=lambda r: r["value"], reverse=direction == "maximize")
    others = [r for r in rows if r["state"] != "COMPLETE"]
    ordered = finished + others
    if top is not None:
        ordered = ordered[:top]
    names = list(dict.fromkeys(k for r in rows for k in r["params"]))
    head = ["#", "state", "value", *names, "seconds"]
    table = [head]
    for r in ordered:
        value = "" if r["value"] is None else f"{r['value']:.4g}"
        table.append([str(r["number"]), r["state"].lower(), value,
                      *[_short(r["params"].get(n, "")) for n in names],
                      "" if r["duration_s"] is None else f"{r['duration_s']:.1f}"])
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if finished:
        best = finished[0]
        lines.append(f"best: trial {best['number']}, value {best['value']:.4g}"
                     + (f", checkpoint {best['checkpoint']}" if best["checkpoint"] else ""))
    return "\n".join(lines)


def plot(study: Any, path: str | os.PathLike) -> Path:
    """A PNG: the objective per trial with the best so far, and the objective against each
    numeric hyperparameter (log axes for log ranges). Needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("search.plot needs matplotlib: pip install 'chainrule[viz]'") from exc
    settings = study.user_attrs.get(ATTR + "settings", {})
    space = settings.get("space", {})
    rows = [r for r in results(study) if r["value"] is not None]
    numeric = [n for n, s in space.items() if s["type"] != "categorical"][:3]
    fig, axes = plt.subplots(1, 1 + len(numeric), figsize=(5 * (1 + len(numeric)), 4),
                             squeeze=False)
    ax = axes[0][0]
    maximize = study.direction.name == "MAXIMIZE"
    for state, colour in (("COMPLETE", "#2563eb"), ("PRUNED", "#9ca3af")):
        pts = [(r["number"], r["value"]) for r in rows if r["state"] == state]
        if pts:
            ax.scatter(*zip(*pts), s=18, color=colour, label=state.lower())
    done = sorted((r["number"], r["value"]) for r in rows if r["state"] == "COMPLETE")
    if done:
        best, line = None, []
        for n, v in done:
            best = v if best is None else (max(best, v) if maximize else min(best, v))
            line.append((n, best))
        ax.step(*zip(*line), where="post", color="#b91c1c", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("objective")
    ax.legend(fontsize=8)
    for ax, name in zip(axes[0][1:], numeric):
        pts = [(r["params"][name], r["value"]) for r in rows
               if r["state"] == "COMPLETE" and name in r["params"]]
        if pts:
            ax.scatter(*zip(*pts), s=18, color="#2563eb")
        if space[name].get("log"):
            ax.set_xscale("log")
        ax.set_xlabel(name)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
