"""Training checkpoints: safetensors for the arrays, a JSON sidecar for the training state.

A checkpoint named ``runs/mnist/last`` is two files::

    runs/mnist/last.json                      the sidecar: epoch, step, history, progress in
                                              the current epoch, what was saved, and the name
                                              and SHA-256 of the tensors file
    runs/mnist/last.3f9c0a12.safetensors      chainrule.save of model, optimizer, scheduler,
                                              callback states and random-number-generator
                                              states (a valid safetensors file)

The sidecar is the commit record. A save writes the tensors under a fresh name first, then
replaces the sidecar atomically (temporary file in the same directory, fsync, ``os.replace``),
then deletes the tensors file the old sidecar named. A crash at any moment leaves the previous
checkpoint whole, or the new one: never half of each. Loading checks the tensors file against
the digest in the sidecar, so a truncated or edited file is refused with a message naming it.
Nothing is unpickled: the sidecar is JSON and the tensors file is read by
:func:`chainrule.load`.

The random state saved is that of chainrule's default generator (and of any ``Generator`` the
data loaders hold), NumPy's global generator and Python's ``random``: twice, at the moment of
saving and at the start of the current epoch. A loader's shuffle order is a function of those
states, so :func:`~chainrule.train.fit` resumes an interrupted epoch by redrawing the same
order from the epoch-start states, skipping the batches already done, and restoring the
current states (see :mod:`chainrule.train.loop`).
"""

from __future__ import annotations

import datetime
import glob
import hashlib
import io
import json
import os
import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import chainrule
from chainrule._backend.random import Generator
from chainrule.serialization import atomic_write
from chainrule.train.ranks import unwrap_model

__all__ = ["CheckpointError", "Checkpoint", "save_checkpoint", "load_checkpoint",
           "load_weights", "checkpoint_paths", "capture_rng_state", "restore_rng_state"]

FORMAT = "chainrule.checkpoint"
VERSION = 1
_TENSORS_NAME = re.compile(r"^[^/\\]+\.[0-9a-f]{8}\.safetensors$")


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or does not fit: the message names the file and the reason.

    Example:
        >>> try:
        ...     load_checkpoint("/nonexistent/last")
        ... except CheckpointError as e:
        ...     print(str(e).split(":")[0])
        /nonexistent/last.json
    """


def checkpoint_paths(path: str | os.PathLike) -> Path:
    """The sidecar of the checkpoint ``path`` names: ``path + '.json'`` (``path`` may already
    end in ``.json``).

    Example:
        >>> str(checkpoint_paths("runs/last")), str(checkpoint_paths("runs/last.json"))
        ('runs/last.json', 'runs/last.json')
    """
    p = os.fspath(path)
    return Path(p if p.endswith(".json") else p + ".json")


# -- random states ---------------------------------------------------------------------------
def capture_rng_state(generators: Mapping[str, Generator] | None = None) -> dict[str, Any]:
    """The states of chainrule's generators, NumPy's global one and Python's ``random``.

    Args:
        generators: named chainrule generators to include besides the default one.

    Returns:
        A dict of arrays and numbers that :func:`chainrule.save` can store.

    Example:
        >>> s = capture_rng_state()
        >>> a = chainrule.rand(2)
        >>> restore_rng_state(s)
        >>> bool((chainrule.rand(2) == a).all())
        True
    """
    gens = {"default": chainrule.default_generator, **(generators or {})}
    _, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    version, internal, gauss_next = random.getstate()
    return {
        "chainrule": {name: g.get_state().numpy() for name, g in gens.items()},
        # uint32 words stored as int64 (chainrule.save's dtypes); converted back on restore
        "numpy": {"keys": np.asarray(keys, dtype=np.int64), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": int(version), "state": np.asarray(internal, dtype=np.int64),
                   "gauss_next": gauss_next},
    }


def restore_rng_state(state: Mapping[str, Any],
                      generators: Mapping[str, Generator] | None = None) -> None:
    """Restore what :func:`capture_rng_state` returned (the same named generators)."""
    gens = {"default": chainrule.default_generator, **(generators or {})}
    saved = state["chainrule"]
    for name, g in gens.items():
        if name in saved:
            g.set_state(np.asarray(saved[name], dtype=np.uint8))
    npst = state["numpy"]
    np.random.set_state(("MT19937", np.asarray(npst["keys"], dtype=np.uint32), int(npst["pos"]),
                         int(npst["has_gauss"]), float(npst["cached_gaussian"])))
    py = state["python"]
    random.setstate((int(py["version"]), tuple(int(v) for v in np.asarray(py["state"])),
                     py["gauss_next"]))


# -- writing ---------------------------------------------------------------------------------
def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (tuple, set)):
        return list(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to a checkpoint sidecar")


def save_checkpoint(path: str | os.PathLike, *, model: Any, optimizer: Any = None,
                    scheduler: Any = None, state: Mapping[str, Any] | None = None,
                    tensors: Mapping[str, Any] | None = None) -> Path:
    """Write a checkpoint: ``path.<id>.safetensors`` and the sidecar ``path.json``, atomically.

    Args:
        path: the checkpoint's name, e.g. ``"runs/mnist/last"`` (directories are created).
        model: its ``state_dict()`` is saved (a DistributedDataParallel's inner module's, so
            that the checkpoint loads into the model without DDP).
        optimizer: its ``state_dict()`` is saved, when given.
        scheduler: its ``state_dict()`` is saved, when given.
        state: JSON-able training state for the sidecar (epoch, step, history...).
        tensors: more objects for the tensors file (anything :func:`chainrule.save` takes).

    Returns:
        The sidecar's path.

    Example:
        >>> import os, tempfile
        >>> from chainrule import nn
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt")
        >>> sidecar = save_checkpoint(path, model=nn.Linear(2, 1), state={"epoch": 3})
        >>> load_checkpoint(path).state["epoch"]
        3
    """
    sidecar = checkpoint_paths(path)
    directory = sidecar.parent
    directory.mkdir(parents=True, exist_ok=True)
    base = sidecar.name[:-len(".json")]
    model = unwrap_model(model)  # a DDP model's checkpoint fits the plain model
    obj = {"model": model.state_dict(),
           "optimizer": optimizer.state_dict() if optimizer is not None else None,
           "scheduler": scheduler.state_dict() if scheduler is not None else None,
           **dict(tensors or {})}
    buf = io.BytesIO()
    chainrule.save(obj, buf)
    data = buf.getvalue()
    tensors_name = f"{base}.{uuid.uuid4().hex[:8]}.safetensors"
    atomic_write(directory / tensors_name, data)
    meta = {"format": FORMAT, "version": VERSION, "tensors": tensors_name,
            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "saved_at": datetime.datetime.now().isoformat(timespec="seconds"),
            "chainrule": chainrule.__version__,
            "model_class": type(model).__name__,
            "optimizer_class": type(optimizer).__name__ if optimizer is not None else None,
            "scheduler_class": type(scheduler).__name__ if scheduler is not None else None,
            **dict(state or {})}
    text = json.dumps(meta, indent=1, default=_json_default)
    atomic_write(sidecar, text.encode())
    # Only now is the old tensors file unreferenced; also sweep files a crashed save left.
    ours = re.compile(re.escape(base) + r"\.[0-9a-f]{8}\.safetensors$")
    for stale in glob.glob(os.path.join(glob.escape(str(directory)),
                                        glob.escape(base) + ".*.safetensors")):
        name = os.path.basename(stale)
        if name != tensors_name and ours.match(name):
            try:
                os.unlink(stale)
            except OSError:
                pass
    return sidecar


# -- reading ---------------------------------------------------------------------------------
@dataclass
class Checkpoint:
    """A loaded checkpoint: ``state`` is the sidecar (a dict), ``tensors`` what the tensors
    file holds (``model``, ``optimizer``, ``scheduler`` and the rest)."""

    path: Path
    state: dict[str, Any]
    tensors: dict[str, Any] = field(repr=False)

    @property
    def model_state(self) -> dict[str, Any]:
        """The model's ``state_dict``."""
        return self.tensors["model"]

    @property
    def optimizer_state(self) -> dict[str, Any] | None:
        """The optimizer's ``state_dict`` (``None`` if none was saved)."""
        return self.tensors.get("optimizer")

    @property
    def scheduler_state(self) -> dict[str, Any] | None:
        """The scheduler's ``state_dict`` (``None`` if none was saved)."""
        return self.tensors.get("scheduler")

    def restore(self, model: Any, optimizer: Any = None, scheduler: Any = None) -> None:
        """Load the saved states into ``model`` (and ``optimizer``, ``scheduler``); a mismatch
        raises :class:`CheckpointError` naming the file and the keys or shapes.

        Example:
            >>> import os, tempfile
            >>> from chainrule import nn
            >>> path = os.path.join(tempfile.mkdtemp(), "ckpt")
            >>> _ = save_checkpoint(path, model=nn.Linear(2, 1))
            >>> try:
            ...     load_checkpoint(path).restore(nn.Linear(3, 1))
            ... except CheckpointError as e:
            ...     print("size mismatch" in str(e))
            True
        """
        _load_model_state(model, self.model_state, self.path)
        if optimizer is not None:
            if self.optimizer_state is None:
                raise CheckpointError(f"{self.path}: holds no optimizer state")
            try:
                optimizer.load_state_dict(self.optimizer_state)
            except (ValueError, KeyError, RuntimeError, TypeError) as e:
                raise CheckpointError(f"{self.path}: the optimizer state does not fit this "
                                      f"{type(optimizer).__name__}: {e}") from None
        if scheduler is not None:
            if self.scheduler_state is None:
                raise CheckpointError(f"{self.path}: holds no scheduler state")
            scheduler.load_state_dict(self.scheduler_state)


def _load_model_state(model: Any, state: Mapping[str, Any], where: Any) -> None:
    model = unwrap_model(model)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    for k, v in own.items():
        if k in state and tuple(getattr(state[k], "shape", ())) != tuple(v.shape):
            problems.append(f"size mismatch for {k}: the checkpoint has "
                            f"{list(state[k].shape)}, the model {list(v.shape)}")
    if problems:
        raise CheckpointError(f"{where}: the weights do not fit this {type(model).__name__}: "
                              + "; ".join(problems))
    model.load_state_dict(state)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (``path`` with or without
    ``.json``), checking the tensors file against the sidecar's digest.

    Raises:
        CheckpointError: a file is missing, truncated, not a checkpoint, or was modified.
    """
    sidecar = checkpoint_paths(path)
    try:
        text = sidecar.read_text()
    except FileNotFoundError:
        raise CheckpointError(f"{sidecar}: no such checkpoint (expected the sidecar "
                              f"{sidecar.name} and its .safetensors file)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{sidecar}: cannot read the checkpoint sidecar ({e})") from None
    try:
        state = json.loads(text)
    except ValueError as e:
        raise CheckpointError(f"{sidecar}: the sidecar is not valid JSON (truncated or "
                              f"edited?): {e}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{sidecar}: not a chainrule training checkpoint (no "
                              f"'format': '{FORMAT}')")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{sidecar}: checkpoint version {state.get('version')!r} is not "
                              f"supported (this chainrule reads version {VERSION})")
    name = state.get("tensors")
    if not isinstance(name, str) or not _TENSORS_NAME.match(name):
        raise CheckpointError(f"{sidecar}: the sidecar names no valid tensors file "
                              f"({name!r})")
    tensors_path = sidecar.parent / name
    try:
        data = tensors_path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{tensors_path}: missing: the sidecar {sidecar.name} points to "
                              "it, but it is not there") from None
    if hashlib.sha256(data).hexdigest() != state.get("sha256"):
        raise CheckpointError(f"{tensors_path}: does not match the digest in {sidecar.name} "
                              f"({len(data)} bytes, {state.get('bytes')} expected): the file "
                              "was truncated, damaged or modified")
    try:
        tensors = chainrule.load(io.BytesIO(data))
    except RuntimeError as e:
        raise CheckpointError(f"{tensors_path}: {e}") from None
    if not isinstance(tensors, dict) or "model" not in tensors:
        raise CheckpointError(f"{tensors_path}: holds no model state")
    return Checkpoint(sidecar, state, tensors)


def load_weights(model: Any, path: str | os.PathLike) -> Any:
    """Load weights into ``model`` from a training checkpoint (``last``, ``last.json``), its
    ``.safetensors`` file, or a file holding a plain ``state_dict``; returns ``model``.

    Example:
        >>> import os, tempfile
        >>> from chainrule import nn
        >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
        >>> a, b = nn.Linear(2, 1), nn.Linear(2, 1)
        >>> chainrule.save(a.state_dict(), path)
        >>> bool((load_weights(b, path).weight == a.weight).all())
        True
    """
    p = os.fspath(path)
    if p.endswith(".json") or (not os.path.exists(p) and os.path.exists(p + ".json")):
        load_checkpoint(p).restore(model)
        return model
    if not os.path.exists(p):
        raise CheckpointError(f"{p}: no such weights file or checkpoint")
    try:
        obj = chainrule.load(p)
    except RuntimeError as e:
        raise CheckpointError(str(e)) from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{p}: holds no state_dict")
    _load_model_state(model, obj, p)
    return model
