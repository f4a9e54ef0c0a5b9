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


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part:
    a temporary file in the same directory, flushed, fsync-ed, then ``os.replace``.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
        >>> atomic_write(path, b"saved")
        >>> open(path, "rb").read()
        b'saved'
    """
    path = os.fspath(path)
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
    atomic_write(f, data)


class _Decoder:
    """Rebuilds the object from the structure JSON, into a closed set of types.

    The JSON may come from anywhere (a checksum is no signature: whoever edits a file can
    recompute it), so every tag's value is checked before it is used, and anything that does
    not fit raises :class:`_Unreadable`, which ``load`` reports naming the file.
    """

    # NumPy scalar kinds chainrule.save writes: bool, int, uint, float, str (never object,
    # void, bytes or dates)
    _SCALAR_KINDS = "biufU"

    def __init__(self, arrays: dict[str, np.ndarray], where: str) -> None:
        self.arrays = arrays
        self.tensors: dict[tuple, Any] = {}
        self.where = where

    def _entry(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise _Unreadable(f"the structure names a tensor {name!r} that the file does not "
                              "hold")
        return self.arrays[name]

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise _Unreadable(f"unreadable structure entry {_short(node)}")
        if "__tensor__" in node:
            return self._tensor(node)
        if len(node) != 1:
            raise _Unreadable(f"unreadable structure entry {_short(node)}")
        tag, value = next(iter(node.items()))
        if tag == "__ndarray__":
            return self._entry(value)
        if tag == "__float__" and isinstance(value, str) and value in ("nan", "inf", "-inf"):
            return float(value)
        if tag == "__tuple__" and isinstance(value, list):
            return tuple(self.decode(v) for v in value)
        if tag in ("__dict__", "__odict__") and isinstance(value, list) and all(
                isinstance(kv, list) and len(kv) == 2 for kv in value):
            pairs = [(self._key(k), self.decode(v)) for k, v in value]
            return collections.OrderedDict(pairs) if tag == "__odict__" else dict(pairs)
        if tag == "__npscalar__" and isinstance(value, list) and len(value) == 2 \
                and isinstance(value[0], str):
            return self._scalar(*value)
        if tag == "__dtype__" and isinstance(value, str) and value in {d.name for d in
                                                                       dtypes.ALL}:
            return dtypes.to_dtype(value)
        if tag == "__device__" and isinstance(value, str):
            try:
                return _backend.device(value)
            except (RuntimeError, ValueError) as e:
                raise _Unreadable(f"unreadable device {value!r} ({e})") from None
        if tag == "__size__" and isinstance(value, list) and all(
                type(v) is int and v >= 0 for v in value):
            return Size(value)
        raise _Unreadable(f"unreadable structure entry {_short(node)}")

    def _key(self, node: Any) -> Any:
        key = _hashable(self.decode(node))
        try:
            hash(key)
        except TypeError:
            raise _Unreadable(f"a dict key that cannot be a key: {_short(node)}") from None
        return key

    def _scalar(self, dtype_str: str, node: Any) -> Any:
        try:
            dt = np.dtype(dtype_str)
        except TypeError:
            dt = None
        if dt is None or dt.kind not in self._SCALAR_KINDS:
            raise _Unreadable(f"a NumPy scalar of unsupported dtype {dtype_str!r}")
        value = self.decode(node)
        if not isinstance(value, (bool, int, float, str)):
            raise _Unreadable(f"a NumPy scalar holding {_short(node)}")
        try:
            return dt.type(value)
        except (TypeError, ValueError, OverflowError) as e:
            raise _Unreadable(f"a NumPy {dt} scalar of {value!r} ({e})") from None

    def _tensor(self, node: dict) -> Any:
        name = node["__tensor__"]
        if not set(node) <= {"__tensor__", "requires_grad", "parameter"}:
            raise _Unreadable(f"unreadable tensor entry {_short(node)}")
        array = self._entry(name)
        key = (name, bool(node.get("requires_grad")), bool(node.get("parameter")))
        if key in self.tensors:
            return self.tensors[key]  # a tensor saved once and referenced twice stays shared
        t = Tensor._make(array)
        try:
            if node.get("parameter"):
                from chainrule.nn.parameter import Parameter  # the nn layer, only when needed
                t = Parameter(t, requires_grad=bool(node.get("requires_grad")))
            elif node.get("requires_grad"):
                t.requires_grad_(True)
        except RuntimeError as e:  # requires_grad on an integer tensor
            raise _Unreadable(f"tensor {name!r}: {e}") from None
        self.tensors[key] = t
        return t


class _Unreadable(Exception):
    """A structure entry that chainrule.save cannot have written."""


def _short(node: Any, limit: int = 80) -> str:
    text = repr(node)
    return text if len(text) <= limit else text[:limit - 3] + "..."


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
    for name, a in arrays.items():
        if a.dtype not in dtypes._FROM_NP:
            raise RuntimeError(f"{where}: entry {name!r} has dtype {a.dtype}, which chainrule "
                               "tensors cannot hold")
    if not _is_chainrule(metadata, where):
        return {k: Tensor._make(a) for k, a in arrays.items()}
    skeleton = metadata[_OBJECT_KEY]
    if _digest(skeleton, arrays) != metadata[_DIGEST_KEY]:
        raise RuntimeError(f"{where}: checksum mismatch: the file was damaged or modified after "
                           "chainrule.save wrote it")
    try:
        tree = json.loads(skeleton)
        return _Decoder(arrays, where).decode(tree)
    except ValueError as e:  # json's errors (UnicodeDecodeError too)
        raise RuntimeError(f"{where}: the structure metadata is not valid JSON ({e})") from None
    except RecursionError:
        raise RuntimeError(f"{where}: the structure metadata is nested too deeply: the file is "
                           "corrupt") from None
    except _Unreadable as e:
        raise RuntimeError(f"{where}: {e}: the file is corrupt, or was not written by "
                           "chainrule.save") from None


def _is_chainrule(metadata: dict | None, where: str) -> bool:
    """Whether the metadata is chainrule's, complete; a part of it means a damaged file."""
    if metadata is None:
        return False
    keys = (_OBJECT_KEY, _DIGEST_KEY)
    if metadata.get("format") != _FORMAT and not any(k.startswith("chainrule.")
                                                     for k in metadata):
        return False  # a plain safetensors file
    if metadata.get("format") != _FORMAT or not all(isinstance(metadata.get(k), str)
                                                    for k in keys):
        raise RuntimeError(f"{where}: damaged chainrule checkpoint: its metadata holds "
                           f"{sorted(metadata)} (format {metadata.get('format')!r}); expected "
                           f"'format': {_FORMAT!r} and {', '.join(map(repr, keys))}")
    return True


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
    except (ValueError, RecursionError) as e:
        raise RuntimeError(f"{where}: corrupt safetensors header ({e})") from None
    if not isinstance(header, dict):
        raise RuntimeError(f"{where}: corrupt safetensors header (not a JSON object)")
    meta = header.get("__metadata__")
    return meta if isinstance(meta, dict) else None

