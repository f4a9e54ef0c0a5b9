"""``chainrule.save`` / ``chainrule.load``: checkpoints as safetensors, never pickle.

File format (one file, a valid safetensors file that any safetensors reader opens):

- every tensor (and NumPy array) in the object is one safetensors entry, named by its path in
  the object (``"fc.weight"``, ``"state.0.exp_avg"``); a state_dict's tensors thus keep their
  own names. A tensor object that appears twice is stored once.
- the header's ``__metadata__`` holds three strings:
  ``"format": "chainrule"``, ``"chainrule.object"``: the object's structure as JSON, with
  tensors replaced by ``{"__tensor__": name}`` (tagged forms keep tuples, int keys, dict order,
  non-finite floats, dtypes), and ``"chainrule.sha256"``: a digest of that JSON and of every
  entry's name, dtype, shape and bytes, so a damaged or edited file is refused instead of
  silently loading other numbers.

Loading can never run code: the JSON is decoded into a closed set of types. Writes are atomic:
a temporary file in the same directory is written, flushed, fsync-ed and renamed over the
target, so a crash leaves either the old file or the new one.

Arrays are always written through ``np.ascontiguousarray`` (reshaped back, since it turns 0-d
into 1-d): safetensors writes the memory of a non-contiguous array (a transposed weight) in
the wrong order.

A plain safetensors file (no chainrule metadata) loads as a dict of tensors.
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import os
import struct
import tempfile
from typing import IO, Any

import numpy as np
import safetensors.numpy

from chainrule import _backend
from chainrule._backend import dtypes
from chainrule.tensor import Size, Tensor

__all__ = ["save", "load"]

FileLike = str | os.PathLike | IO[bytes]

_FORMAT = "chainrule"
_OBJECT_KEY = "chainrule.object"
_DIGEST_KEY = "chainrule.sha256"


class _Encoder:
    """Turns an object into (JSON-able skeleton, {name: contiguous array})."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.names: dict[int, str] = {}  # id(tensor) -> entry name, to store shared ones once
        self.keep: list[Any] = []  # keeps ids valid while encoding

    def _name(self, path: str) -> str:
        name = path or "tensor"
        if name in self.arrays or name == "__metadata__":
            n = 1
            while f"{name}#{n}" in self.arrays:
                n += 1
            name = f"{name}#{n}"
        return name

    def _array(self, obj: Any, array: np.ndarray, path: str) -> str:
        if id(obj) in self.names:
            return self.names[id(obj)]
        name = self._name(path)
        self.arrays[name] = _contiguous(array)
        self.names[id(obj)] = name
        self.keep.append(obj)
        return name

    def encode(self, obj: Any, path: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, Tensor):
            enc: dict[str, Any] = {"__tensor__": self._array(obj, obj._data, path)}
            if obj.requires_grad:
                enc["requires_grad"] = True
            if type(obj) is not Tensor and type(obj).__name__ == "Parameter":
                enc["parameter"] = True
            return enc
        if isinstance(obj, np.ndarray):
            if obj.dtype not in dtypes._FROM_NP:
                raise TypeError(f"chainrule.save: cannot store a NumPy array of dtype {obj.dtype} "
                                f"at {path or 'the top level'}")
            return {"__ndarray__": self._array(obj, obj, path)}
        if isinstance(obj, np.generic):
            return {"__npscalar__": [obj.dtype.str, self.encode(obj.item(), path)]}
        if isinstance(obj, dtypes.dtype):
            return {"__dtype__": obj.name}
        if isinstance(obj, _backend.device):
            return {"__device__": str(obj)}
        if isinstance(obj, Size):
            return {"__size__": list(obj)}
        if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
            return {"__tuple__": [self.encode(v, _join(path, i)) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, _join(path, i)) for i, v in enumerate(obj)]
        if isinstance(obj, dict) and type(obj) in (dict, collections.OrderedDict):
            items = [[self.encode(k, path), self.encode(v, _join(path, k))]
                     for k, v in obj.items()]
            tag = "__odict__" if isinstance(obj, collections.OrderedDict) else "__dict__"
            return {tag: items}
        raise TypeError(f"chainrule.save: cannot store an object of type {type(obj).__name__} "
                        f"at {path or 'the top level'}: only tensors, NumPy arrays, numbers, "
                        "strings, None, and lists, tuples and dicts of them (chainrule never "
                        "pickles)")


def _contiguous(a: np.ndarray) -> np.ndarray:
    # np.ascontiguousarray returns at least 1-d: reshape keeps a 0-d tensor 0-d
    return np.ascontiguousarray(a).reshape(a.shape)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _digest(skeleton: str, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(skeleton.encode())
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(_contiguous(a).data)
    return h.hexdigest()


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not supported on this platform or file system: the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(obj: Any, f: FileLike) -> None:
    """Write ``obj`` (a state_dict or nested dicts/lists/tuples of tensors, numbers, strings)
    to ``f`` as a safetensors file with the structure in its metadata; atomic for paths.

    Args:
        obj: what to save.
        f: a path, or a binary file object opened for writing.

    Example:
        >>> import chainrule, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.pt")
        >>> chainrule.save({"w": chainrule.ones(2, 2).t(), "step": 3}, path)
        >>> chainrule.load(path)
        {'w': tensor([[1., 1.],
                [1., 1.]]), 'step': 3}
    """
    enc = _Encoder()
    skeleton = json.dumps(enc.encode(obj, ""), separators=(",", ":"), allow_nan=False)
    metadata = {"format": _FORMAT, _OBJECT_KEY: skeleton,
                _DIGEST_KEY: _digest(skeleton, enc.arrays)}
    data = safetensors.numpy.save(enc.arrays, metadata=metadata)
    if not isinstance(f, (str, os.PathLike)):
        f.write(data)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], where: str) -> None:
        self.arrays = arrays
        self.tensors: dict[str, Any] = {}
        self.where = where

    def _entry(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise RuntimeError(f"{self.where}: the structure names a tensor {name!r} that the "
                               "file does not hold: the file is corrupt")
        return self.arrays[name]

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise RuntimeError(f"{self.where}: unreadable structure entry {node!r}")
        if "__tensor__" in node:
            return self._tensor(node)
        tag, value = next(iter(node.items()))
        if tag == "__ndarray__":
            return self._entry(value)
        if tag == "__float__" and value in ("nan", "inf", "-inf"):
            return float(value)
        if tag == "__tuple__":
            return tuple(self.decode(v) for v in value)
        if tag in ("__dict__", "__odict__"):
            pairs = [(_hashable(self.decode(k)), self.decode(v)) for k, v in value]
            return collections.OrderedDict(pairs) if tag == "__odict__" else dict(pairs)
        if tag == "__npscalar__":
            return np.dtype(value[0]).type(self.decode(value[1]))
        if tag == "__dtype__" and value in {d.name for d in dtypes.ALL}:
            return dtypes.to_dtype(value)
        if tag == "__device__":
            return _backend.device(value)
        if tag == "__size__":
            return Size(int(v) for v in value)
        raise RuntimeError(f"{self.where}: unreadable structure entry {node!r}")

    def _tensor(self, node: dict) -> Any:
        name = node["__tensor__"]
        key = (name, bool(node.get("requires_grad")), bool(node.get("parameter")))
        if key in self.tensors:
            return self.tensors[key]  # a tensor saved once and referenced twice stays shared
        t = Tensor._make(self._entry(name))
        if node.get("parameter"):
            from chainrule.nn.parameter import Parameter  # the nn layer, only when needed
            t = Parameter(t, requires_grad=bool(node.get("requires_grad")))
        elif node.get("requires_grad"):
            t.requires_grad_(True)
        self.tensors[key] = t
        return t


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def _read(f: FileLike) -> tuple[bytes, str]:
    if isinstance(f, (str, os.PathLike)):
        where = os.fspath(f)
        with open(where, "rb") as fh:
            return fh.read(), where
    where = getattr(f, "name", None) or "<file object>"
    return f.read(), str(where)


def load(f: FileLike, map_location: Any = None, *, weights_only: bool = True,
         mmap: Any = None) -> Any:
    """Read an object written by :func:`save` (or a plain safetensors file, as a dict).

    Args:
        f: a path, or a binary file object opened for reading.
        map_location: ``None`` or ``'cpu'`` (the only device in this build).
        weights_only: accepted for torch compatibility; loading never runs code anyway.
        mmap: accepted for torch compatibility; the file is read into memory.

    Raises:
        RuntimeError: the file is truncated, corrupt or was modified after it was written;
            the message names the file.

    Example:
        >>> import chainrule, io
        >>> buf = io.BytesIO()
        >>> chainrule.save([chainrule.arange(3), (1.5, "adam")], buf)
        >>> _ = buf.seek(0)
        >>> chainrule.load(buf)
        [tensor([0, 1, 2]), (1.5, 'adam')]
    """
    if map_location is not None and not callable(map_location) \
            and not isinstance(map_location, dict):
        _backend.check_device(map_location)
    data, where = _read(f)
    metadata = _header_metadata(data, where)
    try:
        arrays = safetensors.numpy.load(data)
    except Exception as e:
        raise RuntimeError(f"{where}: not a readable checkpoint (truncated or corrupt "
                           f"safetensors data: {e})") from None
    arrays = {k: a if a.flags.writeable else a.copy() for k, a in arrays.items()}
    if metadata is None or metadata.get("format") != _FORMAT or _OBJECT_KEY not in metadata:
        return {k: Tensor._make(a) for k, a in arrays.items()}
    skeleton = metadata[_OBJECT_KEY]
    if _digest(skeleton, arrays) != metadata.get(_DIGEST_KEY):
        raise RuntimeError(f"{where}: checksum mismatch: the file was damaged or modified after "
                           "chainrule.save wrote it")
    try:
        tree = json.loads(skeleton)
    except ValueError as e:
        raise RuntimeError(f"{where}: the structure metadata is not valid JSON ({e})") from None
    return _Decoder(arrays, where).decode(tree)


def _header_metadata(data: bytes, where: str) -> dict | None:
    """The ``__metadata__`` of a safetensors header, with errors that name the file."""
    if len(data) < 8:
        raise RuntimeError(f"{where}: not a chainrule checkpoint: {len(data)} bytes is too short "
                           "for a safetensors header (truncated file?)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise RuntimeError(f"{where}: truncated or not a safetensors file: the header claims "
                           f"{n} bytes but only {len(data) - 8} follow")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError as e:
        raise RuntimeError(f"{where}: corrupt safetensors header ({e})") from None
    if not isinstance(header, dict):
        raise RuntimeError(f"{where}: corrupt safetensors header (not a JSON object)")
    meta = header.get("__metadata__")
    return meta if isinstance(meta, dict) else None

