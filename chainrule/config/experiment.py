"""``chainrule.config.load``: a YAML config -> an :class:`Experiment` ready to ``fit``.

Sections (every key is checked: an unknown one is an error naming its line)::

    name: mnist-mlp          # default: the file's name
    seed: 0                  # seed_everything(seed) before anything is built
    data: {...}              # see chainrule.config.data
    model: [...]             # see chainrule.config.model; or {layers, input_shape, output,
                             # prototxt}
    loss: CrossEntropyLoss   # or {type: CrossEntropyLoss, label_smoothing: 0.1}
    optimizer: {type: Adam, lr: 0.001}          # default: Adam, lr 0.001
    scheduler: {type: StepLR, step_size: 5, interval: epoch}
                             # interval: epoch (default) or step; a ReduceLROnPlateau
                             # takes monitor (default val_loss)
    callbacks: [EarlyStopping, {type: ModelCheckpoint, monitor: val_accuracy}]
    metrics: [accuracy]
    epochs: 10
    output_dir: runs/mnist   # checkpoints and logs; default runs/<name>
    search: {...}            # for `chainrule search` (see chainrule.search)

Every object is built from the class of the same name (``chainrule.nn``, ``chainrule.optim``,
``chainrule.optim.lr_scheduler``, ``chainrule.train.callbacks``) with the given keyword
arguments, so the config and eager code make the same objects.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chainrule
from chainrule import distributed as dist
from chainrule import nn, optim
from chainrule.config import _schema as schema
from chainrule.config._source import ConfigError, PathT, Source, read_yaml
from chainrule.config.data import build_data
from chainrule.config.model import LayerInfo, build_model
from chainrule.nn.parallel import DistributedDataParallel
from chainrule.optim import lr_scheduler
from chainrule.train import callbacks as cbs
from chainrule.train import evaluate, fit, load_weights, seed_everything
from chainrule.train.checkpoint import capture_rng_state, restore_rng_state
from chainrule.train.history import History

__all__ = ["Experiment", "load", "build", "TOP_KEYS", "SEARCH_KEYS"]

TOP_KEYS = ("name", "seed", "data", "model", "loss", "optimizer", "scheduler", "callbacks",
            "metrics", "epochs", "output_dir", "search")
MODEL_KEYS = ("layers", "input_shape", "output", "prototxt")
SEARCH_KEYS = ("method", "metric", "direction", "trials", "jobs", "storage", "study_name",
               "pruner", "params", "rounds", "shrink", "seed", "grid_points", "startup_trials",
               "warmup_epochs")
SEARCH_METHODS = ("grid", "random", "tpe", "coarse_to_fine")


@dataclass
class Experiment:
    """Everything a config describes, built: call :meth:`fit`.

    Attributes:
        path: the config file.
        config: the config's data after overrides (recorded in every checkpoint).
        name, seed, epochs, metrics: from the config.
        model: the ``nn.Module`` (an ``nn.Sequential`` of named layers, or a LayerGraph;
            wrapped in a DistributedDataParallel on the ranks of a data-parallel run).
        layers: one :class:`~chainrule.config.model.LayerInfo` per layer (shapes, params).
        loss_fn, optimizer, scheduler, callbacks: built from their sections.
        train_loader, val_loader, test_loader: the data (``None`` when loaded without data),
            each split by a DistributedSampler (over the ranks of a job, else one).
        input_shape: one input's shape, without the batch dimension.
        output_dir: where checkpoints and logs go.
        search: the validated ``search`` section, or ``None``.
        batch_size: the global batch size (each of N ranks loads ``batch_size / N``).
    """

    path: Path
    config: dict[str, Any]
    name: str
    seed: int
    epochs: int
    metrics: list[Any]
    model: nn.Module
    layers: list[LayerInfo]
    loss_fn: Any
    optimizer: Any
    scheduler: Any
    scheduler_interval: str
    scheduler_monitor: str | None
    callbacks: list[Any]
    train_loader: Any
    val_loader: Any
    test_loader: Any
    input_shape: tuple[int, ...]
    output_dir: Path
    search: dict[str, Any] | None = None
    batch_size: int = 64

    def fit(self, resume: str | os.PathLike | None = None, callbacks: Any = (),
            **kwargs: Any) -> History:
        """Train with :func:`chainrule.train.fit` (Ctrl-C writes ``output_dir/interrupted``)."""
        if self.train_loader is None:
            raise RuntimeError(f"{self.path}: no data to train on (the config has no data "
                               "section, or it was loaded with data=False)")
        kwargs.setdefault("checkpoint", self.output_dir / "interrupted")
        return fit(self.model, self.loss_fn, self.optimizer, self.train_loader,
                   self.val_loader, epochs=self.epochs, metrics=self.metrics,
                   callbacks=[*self.callbacks, *callbacks], scheduler=self.scheduler,
                   scheduler_interval=self.scheduler_interval,
                   scheduler_monitor=self.scheduler_monitor, resume=resume,
                   hparams=self.config, **kwargs)

    def test(self, weights: str | os.PathLike | None = None) -> dict[str, float]:
        """Loss and metrics on the test split (after loading ``weights``, if given)."""
        if weights is not None:
            load_weights(self.model, weights)
        if self.test_loader is None:
            raise RuntimeError(f"{self.path}: no data to test on (the config has no data "
                               "section, or it was loaded with data=False)")
        return evaluate(self.model, self.loss_fn, self.test_loader, metrics=self.metrics)

    def summary(self) -> Any:
        """``chainrule.summary`` of the model on this config's input shape."""
        return chainrule.summary(self.model, self.input_shape)


def _registry(module: Any, base: type) -> dict[str, type]:
    return {n: o for n, o in vars(module).items()
            if isinstance(o, type) and issubclass(o, base) and o is not base
            and not n.startswith("_")}


def load(path: str | os.PathLike, overrides: Any = (), *, data: bool = True,
         world_size: int | None = None) -> Experiment:
    """Read a config file (YAML, or a Caffe ``.prototxt`` net) into an :class:`Experiment`.

    Args:
        path: the config file.
        overrides: ``"key.path=value"`` strings applied on top (as ``--set``).
        data: build the data loaders (``False``: only the model and optimizer, reading no
            data files: what ``chainrule summary``, ``draw`` and ``time`` need).
        world_size: split the data over this many ranks (the global batch into
            ``batch_size / world_size`` per rank). Default: the process group's size once
            :func:`chainrule.distributed.init_process_group` has run, else 1. Under a process
            group of several ranks the model is also wrapped in
            :class:`~chainrule.nn.parallel.DistributedDataParallel`: ``load`` then builds
            one rank's share of a data-parallel run (see docs/guides/distributed.md).

    Raises:
        ConfigError: the message names the file, the line and the key (or the override).

    Example:
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "mlp.yaml")
        >>> _ = open(p, "w").write('''
        ... data: {dataset: MNIST, train_subset: 500, batch_size: 50}
        ... model:
        ...   - {name: flat, type: Flatten}
        ...   - {name: fc1, type: Linear, out_features: 32}
        ...   - {name: act, type: ReLU}
        ...   - {name: fc2, type: Linear, out_features: 10}
        ... loss: CrossEntropyLoss
        ... optimizer: {type: Adam, lr: 0.001}
        ... epochs: 1
        ... ''')
        >>> exp = load(p)
        >>> exp.model.fc1
        Linear(in_features=784, out_features=32, bias=True)
        >>> len(exp.train_loader.dataset)
        500
    """
    file = os.fspath(path)
    if file.endswith(".prototxt"):
        from chainrule.config.prototxt import source_from_prototxt

        src = source_from_prototxt(file)
    else:
        src = read_yaml(file)
    if not isinstance(src.data, dict):
        raise ConfigError(f"{file}: the config must be a mapping of sections "
                          f"({', '.join(TOP_KEYS)})", file, 1)
    for text in ([overrides] if isinstance(overrides, str) else overrides):
        src.override(text)
    return build(src, data=data, world_size=world_size)


def build(src: Source, *, data: bool = True, world_size: int | None = None) -> Experiment:
    """Build an :class:`Experiment` from an already read (and overridden) :class:`Source`
    (``data`` and ``world_size`` as in :func:`load`)."""
    cfg = src.data
    schema.check_keys(src, (), cfg, TOP_KEYS, "a config")
    config_copy = json.loads(json.dumps(copy.deepcopy(cfg), default=str))
    name = schema.get_str(src, (), cfg, "name", Path(src.file).stem)
    seed = schema.get_int(src, (), cfg, "seed", 0, minimum=0)
    epochs = schema.get_int(src, (), cfg, "epochs", 1, minimum=1)
    metrics = _metrics(src, cfg.get("metrics", ["accuracy"]))
    out_value = schema.get_str(src, (), cfg, "output_dir", None)
    output_dir = Path(out_value) if out_value is not None else Path("runs") / name
    search = _search(src, cfg.get("search"))
    seed_everything(seed)

    data_spec = None
    if cfg.get("data") is not None:
        data_spec = build_data(src, cfg["data"], seed, load=data, world_size=world_size)
    model, layers, input_shape = _model(src, cfg.get("model"), data_spec)
    loss_fn = _loss(src, cfg.get("loss", "CrossEntropyLoss"))
    optimizer = _optimizer(src, cfg.get("optimizer", {"type": "Adam", "lr": 1e-3}), model)
    has_val = data_spec is not None and data_spec.has_val
    scheduler, interval, monitor = _scheduler(src, cfg.get("scheduler"), optimizer, has_val)
    callbacks = _callbacks(src, cfg.get("callbacks", []), output_dir, has_val)
    if search is not None and search["metric"] is None:
        search["metric"] = "val_loss" if has_val else "loss"
    if search is not None and search["metric"].startswith("val_") and not has_val:
        raise src.error(("search", "metric"), f"{search['metric']!r} needs a validation split: "
                                              "add data.splits (e.g. [0.9, 0.1])")
    batch_size = cfg["data"].get("batch_size", 64) if isinstance(cfg.get("data"), dict) else 64
    if data and dist.is_initialized() and dist.get_world_size() > 1:
        # one rank of a data-parallel run: every rank built the same model from the same seed
        model = DistributedDataParallel(model)
    if search is not None:
        # after the rest is known to be right, so that an error is blamed on the right key;
        # the probes build models: keep the random state the experiment starts from
        state = capture_rng_state()
        for key, spec in search["params"].items():
            _check_param(src, ("search", "params", key), key, spec)
        restore_rng_state(state)
    return Experiment(
        path=Path(src.file), config=config_copy, name=name, seed=seed, epochs=epochs,
        metrics=metrics, model=model, layers=layers, loss_fn=loss_fn, optimizer=optimizer,
        scheduler=scheduler, scheduler_interval=interval, scheduler_monitor=monitor,
        callbacks=callbacks,
        train_loader=data_spec.train if data_spec else None,
        val_loader=data_spec.val if data_spec else None,
        test_loader=data_spec.test if data_spec else None,
        input_shape=tuple(input_shape), output_dir=output_dir, search=search,
        batch_size=batch_size)


def _metrics(src: Source, value: Any) -> list[Any]:
    from chainrule.train.metrics import resolve_metrics

    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise src.error(("metrics",), "expected a list of metric names, e.g. [accuracy]")
    try:
        resolve_metrics(value)
    except ValueError as e:
        raise src.error(("metrics",), str(e)) from None
    return value


def _model(src: Source, spec: Any, data_spec: Any) -> tuple[nn.Module, list[LayerInfo], tuple]:
    path: PathT = ("model",)
    if spec is None:
        raise src.error((), "missing the model section (a list of layers)")
    output = None
    layers_path = path
    input_shape = data_spec.input_shape if data_spec is not None else None
    if isinstance(spec, dict):
        schema.check_keys(src, path, spec, MODEL_KEYS, "model")
        if "prototxt" in spec:
            from chainrule.config.prototxt import layers_from_prototxt

            if "layers" in spec:
                raise src.error(path + ("prototxt",), "give layers or prototxt, not both")
            proto = spec["prototxt"]
            if not isinstance(proto, str):
                raise src.error(path + ("prototxt",), "expected a file name")
            proto_src, layers = layers_from_prototxt(src.resolve_path(path + ("prototxt",),
                                                                      proto))
            model, infos = build_model(proto_src, (), layers, _shape_or_fail(src, input_shape))
            return model, infos, input_shape
        if "input_shape" in spec:
            given = spec["input_shape"]
            if not isinstance(given, list) or not all(isinstance(d, int) and d > 0
                                                      for d in given):
                raise src.error(path + ("input_shape",), "expected a list of positive sizes, "
                                                         "e.g. [1, 28, 28]")
            if input_shape is not None and tuple(given) != tuple(input_shape):
                raise src.error(path + ("input_shape",), f"{given} differs from the data's "
                                                         f"input shape {list(input_shape)}")
            input_shape = tuple(given)
        output = spec.get("output")
        if output is not None and not isinstance(output, str):
            raise src.error(path + ("output",), "expected a layer name")
        if "layers" not in spec:
            raise src.error(path, "the model mapping needs 'layers' (or 'prototxt')")
        spec, layers_path = spec["layers"], path + ("layers",)
    model, infos = build_model(src, layers_path, spec, _shape_or_fail(src, input_shape),
                               output)
    return model, infos, input_shape


def _shape_or_fail(src: Source, input_shape: Any) -> tuple[int, ...]:
    if input_shape is None:
        raise src.error(("model",), "the input shape is unknown: give a data section or "
                                    "model.input_shape")
    return tuple(input_shape)


def _loss(src: Source, spec: Any) -> Any:
    path: PathT = ("loss",)
    name, kwargs = schema.type_spec(src, path, spec, "loss")
    registry = {n: c for n, c in _registry(nn, nn.Module).items() if n.endswith("Loss")}
    cls = schema.lookup(src, path + (("type",) if isinstance(spec, dict) else ()), name,
                        registry, "loss")
    kwargs = {k: schema.numeric(v) for k, v in kwargs.items()}
    schema.check_kwargs(src, path, cls, kwargs)
    return schema.construct(src, path, cls, kwargs)


def _optimizer(src: Source, spec: Any, model: nn.Module) -> Any:
    path: PathT = ("optimizer",)
    name, kwargs = schema.type_spec(src, path, spec, "optimizer")
    cls = schema.lookup(src, path + (("type",) if isinstance(spec, dict) else ()), name,
                        _registry(optim, optim.Optimizer), "optimizer")
    kwargs = {k: schema.numeric(v) for k, v in kwargs.items()}
    schema.check_kwargs(src, path, cls, kwargs, skip=("self", "params"))
    for key, value in kwargs.items():
        if key in ("lr", "momentum", "weight_decay", "eps") and \
                (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise src.error(path + (key,), f"expected a number, got {value!r}")
    return schema.construct(src, path, cls, kwargs, model.parameters())


def _no_val(src: Source, where: PathT, who: str, monitor: str) -> ConfigError:
    return src.error(where, f"{who} monitors {monitor!r}, but the data has no validation "
                            "split: add data.splits (e.g. [0.9, 0.1]) or monitor a training "
                            "metric such as 'loss'")


def _scheduler(src: Source, spec: Any, optimizer: Any,
               has_val: bool = True) -> tuple[Any, str, str | None]:
    if spec is None:
        return None, "epoch", None
    path: PathT = ("scheduler",)
    name, kwargs = schema.type_spec(src, path, spec, "scheduler")
    interval = kwargs.pop("interval", "epoch")
    if interval not in ("epoch", "step"):
        raise src.error(path + ("interval",), f"expected epoch or step, got {interval!r}")
    monitor = kwargs.pop("monitor", None)
    registry = _registry(lr_scheduler, lr_scheduler.LRScheduler)
    cls = schema.lookup(src, path + (("type",) if isinstance(spec, dict) else ()), name,
                        registry, "scheduler")
    if monitor is not None and cls is not lr_scheduler.ReduceLROnPlateau:
        raise src.error(path + ("monitor",), "only ReduceLROnPlateau takes a monitor")
    if isinstance(monitor, str) and monitor.startswith("val_") and not has_val:
        raise _no_val(src, path + ("monitor",), name, monitor)
    kwargs = {k: schema.numeric(v) for k, v in kwargs.items()}
    schema.check_kwargs(src, path, cls, kwargs, skip=("self", "optimizer"))
    return schema.construct(src, path, cls, kwargs, optimizer), interval, monitor


_CALLBACK_PATHS = {"ModelCheckpoint": ("dirpath", "."), "CSVLogger": ("path", "log.csv"),
                   "JSONLLogger": ("path", "log.jsonl"), "GradientMonitor": ("plot", None)}


def _callbacks(src: Source, spec: Any, output_dir: Path, has_val: bool = True) -> list[Any]:
    path: PathT = ("callbacks",)
    if not isinstance(spec, list):
        raise src.error(path, "expected a list of callbacks, e.g. [EarlyStopping, {type: "
                              "ModelCheckpoint, monitor: val_accuracy}]")
    registry = {n: getattr(cbs, n) for n in cbs.__all__
                if n not in ("Callback", "LambdaCallback")}
    out = []
    for i, item in enumerate(spec):
        where = path + (i,)
        name, kwargs = schema.type_spec(src, where, item, "a callback")
        cls = schema.lookup(src, where + (("type",) if isinstance(item, dict) else ()), name,
                            registry, "callback")
        kwargs = {k: schema.numeric(v) if not isinstance(v, str) or k not in
                  ("dirpath", "path", "plot") else v for k, v in kwargs.items()}
        if name in _CALLBACK_PATHS:
            key, default = _CALLBACK_PATHS[name]
            value = kwargs.get(key, default)
            if value is not None:
                if not isinstance(value, str):
                    raise src.error(where + (key,), "expected a path")
                kwargs[key] = output_dir / value if not os.path.isabs(value) else Path(value)
        schema.check_kwargs(src, where, cls, kwargs)
        if "monitor" in (schema.parameters(cls) or {}) and not has_val:
            monitor = kwargs.get("monitor")
            if monitor is None:
                kwargs["monitor"] = "loss"  # no validation split: watch the training loss
            elif isinstance(monitor, str) and monitor.startswith("val_"):
                raise _no_val(src, where + ("monitor",), name, monitor)
        out.append(schema.construct(src, where, cls, kwargs))
    return out


def _search(src: Source, spec: Any) -> dict[str, Any] | None:
    if spec is None:
        return None
    path: PathT = ("search",)
    spec = schema.mapping(src, path, spec, "search")
    schema.check_keys(src, path, spec, SEARCH_KEYS, "search")
    out: dict[str, Any] = {
        "method": schema.get_str(src, path, spec, "method", "tpe", choices=SEARCH_METHODS),
        "metric": schema.get_str(src, path, spec, "metric", None),
        "direction": schema.get_str(src, path, spec, "direction", "auto",
                                    choices=("auto", "minimize", "maximize")),
        "trials": schema.get_int(src, path, spec, "trials", 20, minimum=1),
        "jobs": schema.get_int(src, path, spec, "jobs", 1, minimum=1),
        "storage": schema.get_str(src, path, spec, "storage", None),
        "study_name": schema.get_str(src, path, spec, "study_name", None),
        "pruner": schema.get_str(src, path, spec, "pruner", "median",
                                 choices=("median", "none")),
        "rounds": schema.get_int(src, path, spec, "rounds", 3, minimum=1),
        "shrink": schema.get_float(src, path, spec, "shrink", 0.5),
        "seed": schema.get_int(src, path, spec, "seed", 0, minimum=0),
        "grid_points": schema.get_int(src, path, spec, "grid_points", 5, minimum=2),
        "startup_trials": schema.get_int(src, path, spec, "startup_trials", 5, minimum=0),
        "warmup_epochs": schema.get_int(src, path, spec, "warmup_epochs", 1, minimum=0),
    }
    if not 0 < out["shrink"] < 1:
        raise src.error(path + ("shrink",), f"must be between 0 and 1, got {out['shrink']}")
    params = schema.mapping(src, path + ("params",), spec.get("params"), "search.params")
    if not params:
        raise src.error(path + ("params",), "name at least one hyperparameter to search")
    out["params"] = {}
    for key, value in params.items():
        where = path + ("params", key)
        out["params"][key] = _param_spec(src, where, value)
    return out


def _check_param(src: Source, where: PathT, key: str, spec: dict[str, Any]) -> None:
    """Build the model and optimizer with the parameter set to one of its values, so a typo'd
    key or an unusable value is reported now, with the search section's line."""
    data = copy.deepcopy(src.data)
    data.pop("search", None)
    data.pop("callbacks", None)
    probe = Source(src.file, data, {}, src.base_dir)
    value = spec["choices"][0] if spec["type"] == "categorical" else spec["low"]
    try:
        probe.override(f"{key}={json.dumps(value)}")
        build(probe, data=False)
    except ConfigError as e:
        problem = str(e).split(f"--set {key}={json.dumps(value)}: ", 1)[-1]
        raise src.error(where, f"cannot be searched: {problem}") from None


def _param_spec(src: Source, where: PathT, value: Any) -> dict[str, Any]:
    """``[a, b, c]`` -> categorical; ``{type: float|int, low, high, log?, step?}``."""
    if isinstance(value, list):
        if not value:
            raise src.error(where, "an empty list of choices")
        return {"type": "categorical", "choices": list(value)}
    value = schema.mapping(src, where, value, "a search parameter")
    kind = schema.get_str(src, where, value, "type", "float",
                          choices=("float", "int", "categorical"))
    if kind == "categorical":
        schema.check_keys(src, where, value, ("type", "choices"), "a categorical parameter")
        choices = value.get("choices")
        if not isinstance(choices, list) or not choices:
            raise src.error(where + ("choices",), "expected a non-empty list")
        return {"type": kind, "choices": choices}
    schema.check_keys(src, where, value, ("type", "low", "high", "log", "step"),
                      f"a {kind} parameter")
    get = schema.get_float if kind == "float" else schema.get_int
    low, high = get(src, where, value, "low"), get(src, where, value, "high")
    log = schema.get_bool(src, where, value, "log", False)
    step = get(src, where, value, "step", None)
    if not low < high:
        raise src.error(where, f"low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise src.error(where + ("low",), "a log range must start above 0")
    if log and step is not None:
        raise src.error(where + ("step",), "a log range takes no step")
    return {"type": kind, "low": low, "high": high, "log": log, "step": step}


