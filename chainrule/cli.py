"""The ``chainrule`` command: train, test, time, summarise, draw and search models.

``chainrule train`` with no config trains a small MLP on the MNIST sample bundled with the
package, offline, in well under a minute on two cores; ``--data DIR`` uses a full MNIST (the
four IDX .gz files, or torchvision's ``MNIST/raw`` layout) instead.

With a config file (see docs/guides/config.md), as Caffe's ``caffe train -solver``::

    chainrule train CONFIG [--resume CKPT] [--set key=value ...] [--nproc N]
    chainrule test CONFIG --weights CKPT
    chainrule time CONFIG            per-layer forward and backward milliseconds
    chainrule summary CONFIG         layers, shapes, parameters
    chainrule draw CONFIG -o net.svg the graph (DOT text when Graphviz is not installed)
    chainrule search CONFIG --trials N --jobs K

A bad config, a wrong shape, a missing data folder or a damaged checkpoint is reported in one
line naming the file, key or layer, with exit status 2; ``--debug`` shows the traceback.

``chainrule train CONFIG --nproc N`` trains data-parallel on N ranks of an MPI job: it checks
the config, then starts itself N times under ``mpiexec`` (:mod:`chainrule.distributed.launch`);
each rank joins the process group, and :func:`chainrule.config.load` gives it its share of
every batch and a DistributedDataParallel model. Started by ``mpiexec`` directly
(``mpiexec -n N python -m chainrule train CONFIG``), it does the same on the job's ranks.
The config's batch size is the global batch, so the result is that of one process.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_model", "train"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_model(name: str) -> Any:
    """The ``--model`` choices: a 784-512-256-10 ReLU MLP with dropout 0.2, or
    pytorch/examples' MNIST CNN."""
    from chainrule import nn

    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(256, 10))
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(128, 10))
    raise ValueError(f"unknown model {name!r}: choose mlp or cnn")


def _load(root: str | None, train: bool) -> Any:
    """MNIST images as normalised float tensors (N, 1, 28, 28) and int64 labels."""
    import chainrule
    from chainrule.vision.datasets import MNIST

    ds = MNIST(root, train=train) if root is not None else MNIST.bundled_sample(train=train)
    x = ds.data.float().unsqueeze(1) / 255.0
    x = (x - 0.1307) / 0.3081  # the usual MNIST mean and std
    return chainrule.utils.data.TensorDataset(x, ds.targets)


def evaluate(model: Any, loader: Any) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over ``loader``."""
    import chainrule
    import chainrule.nn.functional as F

    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    with chainrule.no_grad():
        for x, y in loader:
            out = model(x)
            loss_sum += F.cross_entropy(out, y, reduction="sum").item()
            correct += int((out.argmax(1) == y).sum().item())
            total += len(y)
    model.train()
    return loss_sum / total, correct / total


def train(model: str = "mlp", data: str | None = None, epochs: int = 8,
          batch_size: int = 64, lr: float | None = None, optimizer: str = "adam",
          seed: int = 0, save: str | None = None, progress: bool = True,
          out: Any = None) -> dict[str, float]:
    """Train and evaluate; returns the final train loss, test loss and test accuracy.

    Example:
        >>> from chainrule.cli import train
        >>> result = train(epochs=1, progress=False, out=open("/dev/null", "w"))
        >>> result["test_accuracy"] > 0.9
        True
    """
    import chainrule
    import chainrule.nn.functional as F
    from chainrule import optim
    from chainrule.utils.data import DataLoader

    out = out or sys.stdout
    chainrule.manual_seed(seed)
    train_set, test_set = _load(data, True), _load(data, False)
    g = chainrule.Generator().manual_seed(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=g)
    test_loader = DataLoader(test_set, batch_size=1000)
    net = build_model(model)
    if optimizer == "adam":
        opt = optim.Adam(net.parameters(), lr=lr if lr is not None else 1e-3)
    elif optimizer == "sgd":
        opt = optim.SGD(net.parameters(), lr=lr if lr is not None else 0.05, momentum=0.9)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}: choose sgd or adam")
    # Cosine decay to zero over the run: the last epochs take small steps, which steadies the
    # test accuracy of a small network trained on a small sample.
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(train_loader))
    print(f"chainrule train: {model} on {len(train_set)} training and {len(test_set)} test "
          f"images ({'bundled sample' if data is None else data}), {optimizer}, "
          f"batch {batch_size}, {epochs} epoch(s)", file=out)
    train_loss = float("nan")
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        running, seen = 0.0, 0
        batches = _progress(train_loader, epoch, epochs, progress, out)
        for x, y in batches:
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            schedule.step()
            running += loss.item() * len(y)
            seen += len(y)
            if hasattr(batches, "set_postfix"):
                batches.set_postfix(loss=f"{running / seen:.4f}", refresh=False)
        train_loss = running / seen
        test_loss, acc = evaluate(net, test_loader)
        print(f"epoch {epoch}: train loss {train_loss:.4f}  test loss {test_loss:.4f}  "
              f"test accuracy {acc:.2%}  ({time.perf_counter() - start:.1f}s)", file=out)
    if save:
        chainrule.save({"model": net.state_dict(), "optimizer": opt.state_dict()}, save)
        print(f"saved model and optimizer state to {save}", file=out)
    return {"train_loss": train_loss, "test_loss": test_loss, "test_accuracy": acc}


def _progress(loader: Any, epoch: int, epochs: int, enabled: bool, out: Any) -> Any:
    """A tqdm bar on a terminal; plain iteration (one line per epoch is printed) otherwise."""
    if not enabled or not getattr(out, "isatty", lambda: False)():
        return loader
    from tqdm import tqdm

    return tqdm(loader, desc=f"epoch {epoch}/{epochs}", file=out, leave=False, unit="batch")


def _add_common(p: argparse.ArgumentParser, config_required: bool = True) -> None:
    if config_required:
        p.add_argument("config", help="the experiment's YAML config (or a Caffe .prototxt)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optimizer.lr=0.01 (repeatable)")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chainrule", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a config (or, without one, an MLP on MNIST)")
    p.add_argument("config", nargs="?", default=None,
                   help="a config file; without one, train the built-in MNIST model")
    p.add_argument("--resume", default=None, metavar="CKPT",
                   help="continue from a checkpoint (e.g. runs/NAME/last)")
    p.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="train data-parallel on N MPI ranks (the config's batch_size is the "
                        "global batch: each rank takes batch_size/N)")
    p.add_argument("--hosts", default=None, help="with --nproc: comma-separated hosts "
                                                 "(mpiexec -hosts); default: this machine")
    p.add_argument("--hostfile", default=None, help="with --nproc: a file of hosts "
                                                    "(mpiexec -hostfile)")
    _add_common(p, config_required=False)
    legacy = p.add_argument_group("without a config")
    legacy.add_argument("--model", choices=["mlp", "cnn"], default=None)
    legacy.add_argument("--data", default=None, help="MNIST root (default: the bundled sample)")
    legacy.add_argument("--epochs", type=int, default=None,
                        help="epochs (default 8; with a config: overrides epochs)")
    legacy.add_argument("--batch-size", type=int, default=None)
    legacy.add_argument("--lr", type=float, default=None,
                        help="learning rate (default: 1e-3 for adam, 0.05 for sgd)")
    legacy.add_argument("--optimizer", choices=["sgd", "adam"], default=None)
    legacy.add_argument("--seed", type=int, default=None,
                        help="seed (default 0; with a config: overrides seed)")
    legacy.add_argument("--save", default=None, help="save model and optimizer state here")

    p = sub.add_parser("test", help="evaluate a config's model on its test split")
    _add_common(p)
    p.add_argument("--weights", required=True, metavar="CKPT",
                   help="a checkpoint (runs/NAME/best) or a safetensors state_dict")

    p = sub.add_parser("time", help="per-layer forward and backward times (as caffe time)")
    _add_common(p)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=None,
                   help="default: the config's batch size")

    p = sub.add_parser("summary", help="the model's layers, shapes and parameter counts")
    _add_common(p)

    p = sub.add_parser("draw", help="draw the model's graph (SVG/PNG, or DOT)")
    _add_common(p)
    p.add_argument("-o", "--output", default=None,
                   help="net.svg, net.png or net.dot (default: <name>.svg)")

    p = sub.add_parser("search", help="hyperparameter search from the config's search section")
    _add_common(p)
    p.add_argument("--trials", type=int, default=None)
    p.add_argument("--jobs", type=int, default=None, help="worker processes")
    p.add_argument("--method", choices=["grid", "random", "tpe", "coarse_to_fine"],
                   default=None)
    p.add_argument("--storage", default=None, help="database URL (default: SQLite file)")
    p.add_argument("--study-name", default=None)
    p.add_argument("--plot", default=None, help="write a plot of the trials here (PNG)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chainrule`` console script (and ``python -m chainrule``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv  # what --nproc starts again on every rank
    from chainrule import distributed as dist
    from chainrule.train.ranks import is_main_process

    try:
        status = _COMMANDS[args.command](args)
    except _user_errors() as e:
        if getattr(args, "debug", False):
            raise
        if is_main_process():  # the ranks of a job fail alike: one message, not N
            print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        status = EXIT_USAGE
    if status and dist.is_initialized():
        # The ranks all stopped here, on the same error or after the same step (Ctrl-C):
        # they end together, so that the job's status is this one and no rank is aborted.
        dist.exit_job(status)
    return status


class UsageError(ValueError):
    """A command line that cannot be carried out (reported without a traceback)."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from chainrule.config import ConfigError
    from chainrule.train import CheckpointError

    return (ConfigError, CheckpointError, UsageError)


def _cmd_train(args: argparse.Namespace) -> int:
    if args.config is None:
        given = [f"--{n}" for n in ("resume", "nproc", "hosts", "hostfile")
                 if getattr(args, n) is not None] + (["--set"] if args.overrides else [])
        if given:
            raise UsageError(f"{', '.join(given)} need{'s' if len(given) == 1 else ''} a "
                             "config file")
        train(model=args.model or "mlp", data=args.data, epochs=args.epochs or 8,
              batch_size=args.batch_size or 64, lr=args.lr, optimizer=args.optimizer or "adam",
              seed=args.seed if args.seed is not None else 0, save=args.save)
        return 0
    given = [f"--{n.replace('_', '-')}" for n in ("model", "data", "batch_size", "lr",
                                                   "optimizer", "save")
             if getattr(args, n) is not None]
    if given:
        raise UsageError(f"{', '.join(given)} apply only without a config: use --set "
                         "(e.g. --set optimizer.lr=0.01) instead")
    if args.nproc is not None and args.nproc < 1:
        raise UsageError(f"--nproc must be at least 1, got {args.nproc}")
    overrides = list(args.overrides)
    if args.epochs is not None:
        overrides.append(f"epochs={args.epochs}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    from chainrule import distributed as dist
    from chainrule.config import load
    from chainrule.distributed.launch import in_mpi_job
    from chainrule.train.ranks import is_main_process, unwrap_model

    if in_mpi_job():  # a rank of a job (started by --nproc below, or by mpiexec directly)
        dist.init_process_group("mpi")
        if args.nproc is not None and args.nproc != dist.get_world_size():
            raise UsageError(f"--nproc {args.nproc}, but this MPI job has "
                             f"{dist.get_world_size()} ranks")
    elif args.nproc is not None and args.nproc > 1:
        return _train_on_ranks(args, overrides)
    world = dist.get_world_size() if dist.is_initialized() else 1
    say = print if is_main_process() else (lambda *a, **k: None)

    exp = load(args.config, overrides)
    if exp.train_loader is None:
        raise UsageError(f"{args.config}: the config has no data section: nothing to train on")
    n_params = sum(p.numel() for p in exp.model.parameters())
    val = f", {len(exp.val_loader.dataset)} validation" if exp.val_loader is not None else ""
    batch = f"batch {exp.batch_size}" + (f" ({exp.batch_size // world} on each of {world} "
                                         f"ranks)" if world > 1 else "")
    say(f"chainrule train: {exp.name}: {type(unwrap_model(exp.model)).__name__} of "
        f"{len(exp.layers)} layers ({n_params:,} parameters) on "
        f"{len(exp.train_loader.dataset)} training{val} samples, {type(exp.optimizer).__name__}, "
        f"{batch}, {exp.epochs} epoch(s); output in {exp.output_dir}")
    history = exp.fit(resume=args.resume)
    if history.interrupted:
        again = f" --nproc {world}" if world > 1 else ""
        say(f"stopped: resume with  chainrule train {args.config}{again} --resume "
            f"{history.checkpoint}")
        return EXIT_INTERRUPTED
    result = exp.test()
    say("test: " + "  ".join(f"{k} {v:.4f}" for k, v in result.items())
        + f"  ({len(exp.test_loader.dataset)} samples)")
    return 0


def _train_on_ranks(args: argparse.Namespace, overrides: list[str]) -> int:
    """``chainrule train CONFIG --nproc N``: check the config (without reading data), then run
    this same command on N ranks. (Errors the ranks meet, such as a missing data folder or
    a checkpoint that does not fit, are reported once too, by rank 0.)"""
    from chainrule.config import load
    from chainrule.distributed.launch import launch

    exp = load(args.config, overrides, data=False, world_size=args.nproc)  # reads no data
    if exp.config.get("data") is None:
        raise UsageError(f"{args.config}: the config has no data section: nothing to train on")
    try:
        return launch(args.nproc, ["-m", "chainrule.cli", *args.argv], hosts=args.hosts,
                      hostfile=args.hostfile)
    except RuntimeError as e:  # no mpiexec
        raise UsageError(str(e)) from None


def _cmd_test(args: argparse.Namespace) -> int:
    from chainrule.config import load

    exp = load(args.config, args.overrides)
    if exp.test_loader is None:
        raise UsageError(f"{args.config}: the config has no data section: nothing to test on")
    result = exp.test(weights=args.weights)
    print(f"chainrule test: {exp.name} with {args.weights}: "
          + "  ".join(f"{k} {v:.4f}" for k, v in result.items())
          + f"  ({len(exp.test_loader.dataset)} test samples)")
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from chainrule.config import load

    exp = load(args.config, args.overrides, data=False)
    dag = any(info.inputs != [prev.name] for info, prev in zip(exp.layers[1:], exp.layers))
    rows = [["layer", "type", *(["inputs"] if dag else []), "output shape", "params"]]
    for info in exp.layers:
        rows.append([info.name, info.type, *([", ".join(info.inputs)] if dag else []),
                     str(list(info.output_shape)).replace("-1", "N"), f"{info.params:,}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"{exp.name}: input {['N', *exp.input_shape]}")
    for i, r in enumerate(rows):
        cells = [c.ljust(w) if j < len(r) - 1 else c.rjust(w)
                 for j, (c, w) in enumerate(zip(r, widths))]
        print("  ".join(cells))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    total = sum(p.numel() for p in exp.model.parameters())
    trainable = sum(p.numel() for p in exp.model.parameters() if p.requires_grad)
    print(f"total params: {total:,} (trainable {trainable:,})")
    sched = type(exp.scheduler).__name__ if exp.scheduler is not None else "none"
    print(f"loss {type(exp.loss_fn).__name__}, optimizer {type(exp.optimizer).__name__} "
          f"(lr {exp.optimizer.param_groups[0]['lr']:g}), scheduler {sched}, "
          f"{exp.epochs} epoch(s), batch {exp.batch_size}, seed {exp.seed}")
    return 0


def _cmd_draw(args: argparse.Namespace) -> int:
    import chainrule
    from chainrule import viz
    from chainrule.config import load

    exp = load(args.config, args.overrides, data=False)
    output = Path(args.output or f"{exp.name}.svg")
    model = exp.model.eval()
    with viz.record(model):
        out = model(chainrule.zeros(1, *exp.input_shape))
    graph = viz.draw_graph(out, params=dict(model.named_parameters()), collapse_modules=True,
                           show_values=False, show_grads=False)
    if output.suffix == ".dot":
        graph.save(output)
        print(f"wrote {output} (DOT)")
        return 0
    try:
        graph.render(output)
    except viz.GraphvizNotFound:
        dot = output.with_suffix(".dot")
        graph.save(dot)
        print(f"Graphviz's dot is not installed: wrote the DOT text to {dot} instead (render it "
              f"with  dot -T{output.suffix.lstrip('.') or 'svg'} {dot} -o {output})")
        return 0
    except ValueError as e:
        raise UsageError(str(e)) from None
    print(f"wrote {output}")
    return 0


def _cmd_time(args: argparse.Namespace) -> int:
    from chainrule.config import load

    exp = load(args.config, args.overrides, data=False)
    batch = args.batch_size or exp.batch_size
    if args.iterations < 1 or batch < 1:
        raise UsageError("--iterations and --batch-size must be positive")
    rows, totals = time_layers(exp, batch, args.iterations)
    print(f"chainrule time: {exp.name}, batch {batch}, {args.iterations} iterations "
          "(milliseconds per iteration, averaged)")
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'layer':<{width}}{'type':<20}{'forward':>10}{'backward':>10}")
    for name, kind, fwd, bwd in rows:
        print(f"{name:<{width}}{kind:<20}{fwd:>10.3f}{bwd:>10.3f}")
    print(f"Average Forward pass: {totals['forward']:.3f} ms")
    print(f"Average Backward pass: {totals['backward']:.3f} ms")
    print(f"Average Forward-Backward: {totals['forward'] + totals['backward']:.3f} ms")
    return 0


def time_layers(exp: Any, batch: int, iterations: int) -> tuple[list, dict[str, float]]:
    """Per-layer forward and backward milliseconds (module hooks), as ``caffe time``.

    The forward time of a layer runs from its forward pre-hook to its forward hook; the
    backward time from its full-backward pre-hook (the gradient of its output is ready) to
    its full-backward hook (the gradients of its inputs are). Two warm-up iterations are not
    counted.
    """
    import numpy as np

    import chainrule
    from chainrule import nn

    model = exp.model.train()
    layers = list(model.named_children())
    fwd = {name: 0.0 for name, _ in layers}
    bwd = {name: 0.0 for name, _ in layers}
    starts: dict[tuple[str, str], float] = {}
    handles = []
    counting = [False]

    def hooks(name: str) -> tuple:
        def pre(mod: Any, inputs: Any) -> None:
            starts[(name, "f")] = time.perf_counter()

        def post(mod: Any, inputs: Any, out: Any) -> None:
            if counting[0]:
                fwd[name] += time.perf_counter() - starts[(name, "f")]

        def bpre(mod: Any, grad_out: Any) -> None:
            starts[(name, "b")] = time.perf_counter()

        def bpost(mod: Any, grad_in: Any, grad_out: Any) -> None:
            if counting[0] and (name, "b") in starts:
                bwd[name] += time.perf_counter() - starts[(name, "b")]

        return pre, post, bpre, bpost

    for name, module in layers:
        pre, post, bpre, bpost = hooks(name)
        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post),
                    module.register_full_backward_pre_hook(bpre),
                    module.register_full_backward_hook(bpost)]
    rng = np.random.default_rng(0)
    x = chainrule.tensor(rng.standard_normal((batch, *exp.input_shape)).astype(np.float32),
                         requires_grad=True)  # so that the first layer's backward hook runs
    with chainrule.no_grad():
        out_shape = model(x).shape
    if isinstance(exp.loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)):
        target = chainrule.tensor(rng.integers(0, out_shape[1], batch))
    else:
        target = chainrule.tensor(rng.standard_normal(tuple(out_shape)).astype(np.float32))
    total_f = total_b = 0.0
    try:
        for i in range(iterations + 2):
            counting[0] = i >= 2
            model.zero_grad()
            x.grad = None
            t0 = time.perf_counter()
            loss = exp.loss_fn(model(x), target)
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            if counting[0]:
                total_f += t1 - t0
                total_b += t2 - t1
    finally:
        for h in handles:
            h.remove()
    ms = 1000.0 / iterations
    rows = [(name, type(m).__name__, fwd[name] * ms, bwd[name] * ms) for name, m in layers]
    return rows, {"forward": total_f * ms, "backward": total_b * ms}


def _cmd_search(args: argparse.Namespace) -> int:
    from chainrule import search

    try:
        study = search.run_config(args.config, args.overrides, trials=args.trials,
                                  jobs=args.jobs, method=args.method, storage=args.storage,
                                  study_name=args.study_name)
    except ImportError as e:
        raise UsageError(str(e)) from None
    except ValueError as e:
        if args.debug:
            raise
        raise UsageError(str(e)) from None
    print(search.format_results(study))
    if args.plot:
        print(f"plot: {search.plot(study, args.plot)}")
    return 0


_COMMANDS = {"train": _cmd_train, "test": _cmd_test, "time": _cmd_time,
             "summary": _cmd_summary, "draw": _cmd_draw, "search": _cmd_search}


if __name__ == "__main__":
    raise SystemExit(main())
