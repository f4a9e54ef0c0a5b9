"""Bad files, fuzzed: every damaged IDX file and checkpoint gives one clear error naming it.

Each format has one exception type (docs/reliability.md):

- IDX files (``read_idx``, ``MNIST``): ``RuntimeError`` naming the file;
- checkpoints (``chainrule.load``, then ``Module.load_state_dict`` /
  ``Optimizer.load_state_dict``): ``RuntimeError`` naming the file from ``chainrule.load``; a
  structure it returns is checked by ``load_state_dict`` with torch's errors.

"Clear" means: that type exactly, the path in the message, and no NumPy/struct/JSON
exception chained under it (``raise ... from None``). Never a crash, never a hang (every case
finishes; a hang would stop the run), and nothing in a file can run code: the structure JSON
is decoded into a closed set of types, which the last tests check against hand-made hostile
structures (with a correct checksum, as an attacker would write them).

Cases: every truncation point of each small file (exhaustive), plus hypothesis-driven bit
flips, header rewrites and random bytes (``derandomize=True``: the same cases every run).
"""

from __future__ import annotations

import collections
import copy
import gzip
import io
import json
import os
import shutil
import struct
import tempfile

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import chainrule
from chainrule import nn, optim, serialization
from chainrule.vision.datasets import MNIST
from chainrule.vision.datasets.utils import read_idx

FUZZ = settings(max_examples=300, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A directory for the damaged files: in memory (/dev/shm) where there is one, since
    rewriting a file on this machine's disk costs milliseconds and there are thousands."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        path = tempfile.mkdtemp(prefix="chainrule-fuzz-", dir="/dev/shm")
        yield type(tmp_path_factory.getbasetemp())(path)
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("fuzz")


def assert_clear_error(err, path, cls=RuntimeError):
    """One exception of type ``cls``, naming ``path``, with nothing raw chained under it."""
    assert type(err) is cls, f"{type(err).__name__}: {err}"
    assert str(path) in str(err), str(err)
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__), (
        f"a raw exception is chained under it: {err.__context__!r}")


def flip_bits(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, bit in flips:
        out[pos % len(out)] ^= 1 << bit
    return bytes(out)


flips_strategy = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 7)),
                          min_size=1, max_size=8)


# ---------------------------------------------------------------------------------------------
# IDX files


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I",
                                                                 *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


IMAGES = np.random.default_rng(0).integers(0, 256, (3, 5, 4), dtype=np.uint8)
LABELS = np.array([3, 1, 4], dtype=np.uint8)
IDX_FILES = {
    "images": idx_bytes(IMAGES),
    "labels": idx_bytes(LABELS),
    "floats": idx_bytes(np.linspace(-1, 1, 6).reshape(2, 3).astype(np.float32), 0x0D),
    "images.gz": gzip.compress(idx_bytes(IMAGES), mtime=0),
    "labels.gz": gzip.compress(idx_bytes(LABELS), mtime=0),
}


def check_idx(path):
    """read_idx either returns a native-endian array or raises the one clear error."""
    try:
        arr = read_idx(str(path))
    except Exception as e:
        assert_clear_error(e, path)
        return "error"
    assert isinstance(arr, np.ndarray) and arr.dtype.isnative
    return "ok"


@pytest.mark.parametrize("name", list(IDX_FILES))
def test_idx_every_truncation(scratch, name):
    data = IDX_FILES[name]
    path = scratch / name
    for cut in range(len(data)):  # every proper prefix, the empty file included
        path.write_bytes(data[:cut])
        assert check_idx(path) == "error"
    path.write_bytes(data)
    assert check_idx(path) == "ok"


@FUZZ
@given(name=st.sampled_from(list(IDX_FILES)), flips=flips_strategy)
def test_idx_bit_flips(scratch, name, flips):
    path = scratch / name
    path.write_bytes(flip_bits(IDX_FILES[name], flips))
    check_idx(path)


@FUZZ
@given(name=st.sampled_from(["images", "labels", "floats"]),
       header=st.binary(min_size=0, max_size=24), keep=st.integers(0, 24))
def test_idx_wrong_headers(scratch, name, header, keep):
    # any bytes in place of the header (magic, type code, rank, sizes), then the data
    data = IDX_FILES[name]
    path = scratch / name
    path.write_bytes(header + data[keep:])
    check_idx(path)
    path.write_bytes(gzip.compress(header + data[keep:], mtime=0))
    check_idx(path)


@settings(FUZZ, max_examples=100)
@given(data=st.binary(min_size=0, max_size=200))
def test_idx_random_bytes(scratch, data):
    path = scratch / "random-idx3-ubyte"
    path.write_bytes(data)
    check_idx(path)


def test_idx_huge_sizes_are_refused_before_allocating(scratch):
    # a rank-8 header of sizes 2**32 - 1: the product overflows int64; nothing is allocated
    path = scratch / "huge-idx"
    path.write_bytes(bytes([0, 0, 8, 8]) + b"\xff" * 32 + b"\x00" * 16)
    with pytest.raises(RuntimeError) as err:
        read_idx(str(path))
    assert_clear_error(err.value, path)
    assert "truncated" in str(err.value)


def write_mnist(root, images=IMAGES, labels=LABELS):
    (root / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images), mtime=0))
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels), mtime=0))


@settings(FUZZ, max_examples=150)
@given(which=st.sampled_from(["images", "labels"]), flips=flips_strategy,
       gz=st.booleans())
def test_mnist_with_a_damaged_file(scratch, which, flips, gz):
    root = scratch / f"mnist-{which}-{gz}"
    root.mkdir(exist_ok=True)
    write_mnist(root)
    path = root / f"t10k-{which}-idx{3 if which == 'images' else 1}-ubyte.gz"
    raw = idx_bytes(IMAGES if which == "images" else LABELS)
    path.write_bytes(flip_bits(gzip.compress(raw, mtime=0) if gz else raw, flips))
    try:
        ds = MNIST(str(root), train=False)
    except Exception as e:
        assert type(e) is RuntimeError and str(root) in str(e), f"{type(e).__name__}: {e}"
        assert e.__cause__ is None and (e.__context__ is None or e.__suppress_context__)
        return
    assert len(ds) == 3 and all(0 <= int(t) < 10 for t in ds.targets)


def test_mnist_mismatched_and_out_of_range_files(scratch):
    write_mnist(scratch, labels=np.array([3, 1], dtype=np.uint8))
    with pytest.raises(RuntimeError, match="holds 3 images but .* holds 2 labels"):
        MNIST(str(scratch), train=False)
    write_mnist(scratch, labels=np.array([3, 1, 200], dtype=np.uint8))
    with pytest.raises(RuntimeError, match="label 200 is out of range"):
        MNIST(str(scratch), train=False)
    write_mnist(scratch, images=IMAGES.reshape(3, 20))  # rank 2: not images
    with pytest.raises(RuntimeError, match="expected uint8 images of rank 3"):
        MNIST(str(scratch), train=False)


# ---------------------------------------------------------------------------------------------
# Checkpoints: chainrule.save's safetensors files, plain safetensors files, and the structure
# JSON (model and optimizer state) in the header's metadata.


def training_state():
    """A small model and an Adam optimizer with state, as a training run would save them."""
    chainrule.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    model(chainrule.randn(5, 3)).square().mean().backward()
    opt.step()
    return model, opt


def checkpoint_bytes():
    model, opt = training_state()
    buf = io.BytesIO()
    chainrule.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
                   buf)
    return buf.getvalue()


CHECKPOINT = checkpoint_bytes()
PLAIN = safetensors.numpy.save({"weight": np.arange(6, dtype=np.float32).reshape(2, 3),
                                "bias": np.ones(2, dtype=np.float32)})


def check_checkpoint(path):
    """chainrule.load returns the training state or raises the one clear error; what it
    returns goes into fresh Module and Optimizer objects, or raises torch's errors."""
    try:
        obj = chainrule.load(str(path))
    except Exception as e:
        assert_clear_error(e, path)
        return "error"
    if not (isinstance(obj, dict) and set(obj) == {"model", "optimizer", "epoch"}):
        return "ok"  # a plain safetensors file: a dict of tensors
    model, opt = training_state()
    model.load_state_dict(obj["model"])
    opt.load_state_dict(obj["optimizer"])
    return "ok"


def test_checkpoint_every_truncation(scratch):
    path = scratch / "ckpt.pt"
    for cut in range(len(CHECKPOINT)):
        path.write_bytes(CHECKPOINT[:cut])
        assert check_checkpoint(path) == "error"
    path.write_bytes(CHECKPOINT)
    assert check_checkpoint(path) == "ok"


def test_plain_safetensors_every_truncation(scratch):
    path = scratch / "plain.safetensors"
    for cut in range(len(PLAIN)):
        path.write_bytes(PLAIN[:cut])
        assert check_checkpoint(path) == "error"


@settings(FUZZ, max_examples=500)
@given(flips=flips_strategy)
def test_checkpoint_bit_flips(scratch, flips):
    # the checksum covers the structure and every entry: any flip is refused, none loads
    data = flip_bits(CHECKPOINT, flips)
    assume(data != CHECKPOINT)  # two flips of one bit cancel out
    path = scratch / "ckpt.pt"
    path.write_bytes(data)
    assert check_checkpoint(path) == "error"


@FUZZ
@given(flips=flips_strategy)
def test_plain_safetensors_bit_flips(scratch, flips):
    # no checksum in a plain file: a flip in the numbers loads; one in the header is refused
    path = scratch / "plain.safetensors"
    data = flip_bits(PLAIN, flips)
    path.write_bytes(data)
    result = check_checkpoint(path)
    header_len = struct.unpack("<Q", PLAIN[:8])[0] + 8
    if all(pos % len(PLAIN) >= header_len for pos, _ in flips):
        assert result == "ok"


@FUZZ
@given(header=st.binary(max_size=64), keep=st.integers(0, 64))
def test_checkpoint_wrong_headers(scratch, header, keep):
    path = scratch / "ckpt.pt"
    path.write_bytes(header + CHECKPOINT[keep:])
    check_checkpoint(path)


def rewrite_metadata(data: bytes, edit) -> bytes:
    """The checkpoint with its header's metadata edited and the checksum made right again."""
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header["__metadata__"]
    edit(meta)
    arrays = safetensors.numpy.load(data)
    if isinstance(meta.get(serialization._OBJECT_KEY), str):
        meta[serialization._DIGEST_KEY] = serialization._digest(meta[serialization._OBJECT_KEY],
                                                                arrays)
    return safetensors.numpy.save(arrays, metadata=meta)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["__tensor__", "__tuple__", "__dict__",
                                              "__odict__", "__ndarray__", "__npscalar__",
                                              "__dtype__", "__device__", "__size__",
                                              "__float__", "0.weight", "state", "nan",
                                              "float32", "cpu", "<f4", "O", "V8"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["__tensor__", "__tuple__", "__dict__", "__odict__",
                                       "__ndarray__", "__npscalar__", "__dtype__",
                                       "__device__", "__size__", "__float__", "requires_grad",
                                       "parameter", "x"]) | st.text(max_size=6),
                      inner, max_size=3),
    max_leaves=12)


@FUZZ
@given(value=json_values, where=st.integers(0, 1 << 16))
def test_structure_json_edited_with_a_valid_checksum(scratch, value, where):
    """A hostile structure (its checksum recomputed, as an attacker would): loads into the
    closed set of types or raises the one clear error; the loaded state then goes through
    load_state_dict, which raises torch's errors if it does not fit."""
    def edit(meta):
        tree = json.loads(meta[serialization._OBJECT_KEY])
        nodes = []

        def walk(node):
            nodes.append(node)
            children = node.values() if isinstance(node, dict) else (
                node if isinstance(node, list) else [])
            for child in children:
                walk(child)

        walk(tree)
        target = nodes[where % len(nodes)]
        if isinstance(target, dict) and target:
            key = sorted(target)[where % len(target)]
            target[key] = value
        elif isinstance(target, list) and target:
            target[where % len(target)] = value
        else:
            tree = value
        meta[serialization._OBJECT_KEY] = json.dumps(tree)

    path = scratch / "ckpt.pt"
    path.write_bytes(rewrite_metadata(CHECKPOINT, edit))
    try:
        obj = chainrule.load(str(path))
    except Exception as e:
        assert_clear_error(e, path)
        return
    assert_closed_types(obj)
    if not (isinstance(obj, dict) and "model" in obj and "optimizer" in obj):
        return
    # what loaded goes into a model, in chainrule and in torch: the same outcome (success,
    # or the same exception type); into an optimizer: success or one of torch's error types
    # (torch's own errors for a mangled optimizer state are incidental: a KeyError from
    # Adam.__setstate__, a TypeError from a comparison; no parity is claimed there)
    model, opt, tmodel, _ = twins()
    assert outcome(model.load_state_dict, obj["model"]) == outcome(tmodel.load_state_dict,
                                                                   to_torch(obj["model"]))
    assert outcome(opt.load_state_dict, obj["optimizer"]) in (
        "ok", "RuntimeError", "ValueError", "KeyError", "TypeError", "IndexError")


def outcome(fn, *args):
    try:
        fn(*args)
    except Exception as e:
        return type(e).__name__
    return "ok"


_TWINS = []


def twins():
    """chainrule's and torch's model and optimizer, built once (torch's Adam takes 0.1 s to
    set up) and reset to their saved state on every call."""
    if not _TWINS:
        model, opt = training_state()
        tmodel, topt = torch_training_state()
        saved = [(x, copy.deepcopy(x.state_dict())) for x in (model, opt, tmodel, topt)]
        _TWINS.extend([(model, opt, tmodel, topt), saved])
    for x, state in _TWINS[1]:
        x.load_state_dict(state)
    return _TWINS[0]


def torch_training_state():
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    # no step: load_state_dict needs none, and torch's first Adam step imports its compiler
    return model, torch.optim.Adam(model.parameters(), lr=1e-2)


def to_torch(obj):
    """The same structure with chainrule tensors as torch tensors."""
    import torch

    if isinstance(obj, chainrule.Tensor):
        return torch.from_numpy(obj.detach().numpy().copy())
    if isinstance(obj, (chainrule.dtype, chainrule.device)):
        return getattr(torch, str(obj).split(".")[-1], None) if isinstance(
            obj, chainrule.dtype) else torch.device(str(obj))
    if isinstance(obj, chainrule.Size):
        return torch.Size(obj)
    if isinstance(obj, dict):
        return type(obj)((to_torch(k), to_torch(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_torch(v) for v in obj)
    return obj


CLOSED_TYPES = (type(None), bool, int, float, str, list, tuple, dict, collections.OrderedDict,
                chainrule.Tensor, np.ndarray, np.generic, chainrule.dtype, chainrule.device,
                chainrule.Size)


def assert_closed_types(obj):
    assert isinstance(obj, CLOSED_TYPES), type(obj)
    if isinstance(obj, np.ndarray):
        assert obj.dtype != object
    if isinstance(obj, np.generic):
        assert not isinstance(obj, np.object_)
    if isinstance(obj, (list, tuple)) and not isinstance(obj, chainrule.Size):
        for v in obj:
            assert_closed_types(v)
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert_closed_types(k)
            assert_closed_types(v)


@pytest.mark.parametrize("meta", [
    {"format": "chainrule"},  # the structure and its checksum are gone
    {"format": "chainrule", "chainrule.object": "{}"},
    {"format": "chainrulf", "chainrule.object": "{}", "chainrule.sha256": "0"},
    {"chainrule.object": "[]", "chainrule.sha256": "x"},
])
def test_damaged_chainrule_metadata_is_not_read_as_a_plain_file(scratch, meta):
    # a chainrule checkpoint whose metadata lost a key must not load as "a dict of tensors"
    path = scratch / "ckpt.pt"
    path.write_bytes(safetensors.numpy.save({"w": np.ones(2, np.float32)}, metadata=meta))
    with pytest.raises(RuntimeError) as err:
        chainrule.load(str(path))
    assert_clear_error(err.value, path)


@pytest.mark.parametrize("node", [
    {"__npscalar__": ["O", 1]},                # an object scalar: could hold anything
    {"__npscalar__": ["|V8", 0]},
    {"__npscalar__": ["not a dtype", 1]},
    {"__npscalar__": 5},
    {"__dict__": [[{"__dict__": []}, 1]]},     # an unhashable key
    {"__dict__": [[1]]},
    {"__size__": ["a"]},
    {"__size__": 7},
    {"__device__": ["cpu"]},
    {"__tuple__": 3},
    {"__tensor__": ["0.weight"]},
    {"__dtype__": "object"},
    {"__float__": "1e999"},
    {"__ndarray__": 0},
    {"__dtype__": []},
    {"__tensor__": "0.weight", "code": "import os"},
    {"__tuple__": [], "__dict__": []},
    "[" * 5000 + "]" * 5000,  # nested past the recursion limit
])
def test_hostile_structure_entries(scratch, node):
    def edit(meta):
        meta[serialization._OBJECT_KEY] = node if isinstance(node, str) else json.dumps(node)

    path = scratch / "ckpt.pt"
    path.write_bytes(rewrite_metadata(CHECKPOINT, edit))
    with pytest.raises(RuntimeError) as err:
        chainrule.load(str(path))
    assert_clear_error(err.value, path)


@pytest.mark.parametrize("node, expected", [
    ({"__npscalar__": ["<U3", "abc"]}, np.str_("abc")),  # chainrule.save writes these
    ({"__device__": "cuda:1"}, chainrule.device("cuda:1")),  # a device is only a name
    ({"__size__": [2, 3]}, chainrule.Size([2, 3])),
])
def test_unusual_but_valid_structure_entries(scratch, node, expected):
    def edit(meta):
        meta[serialization._OBJECT_KEY] = json.dumps(node)

    path = scratch / "ckpt.pt"
    path.write_bytes(rewrite_metadata(CHECKPOINT, edit))
    got = chainrule.load(str(path))
    assert type(got) is type(expected) and got == expected


# ---------------------------------------------------------------------------------------------
# Nothing that loads a file can run code: the package's source holds no way to.

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "chainrule")
CODE_LOADING_MODULES = {"pickle", "_pickle", "cPickle", "marshal", "shelve", "dill",
                        "cloudpickle", "joblib", "importlib", "runpy", "code", "codeop"}
CODE_RUNNING_BUILTINS = {"eval", "exec", "compile", "__import__", "execfile"}
UNSAFE_YAML = {"load", "load_all", "unsafe_load", "unsafe_load_all", "full_load",
               "full_load_all", "Loader", "UnsafeLoader", "FullLoader"}
# The only unpickling in chainrule: the DataLoader's own workers send their batches through a
# pipe between processes of the same program (as torch's DataLoader does); no file involved.
ALLOWED = {
    ("utils/data/dataloader.py", "import pickle"): "DataLoader worker results (pipe)",
    ("utils/data/dataloader.py", "pickle.loads"): "DataLoader worker results (pipe)",
    ("utils/data/_worker.py", "import pickle"): "exception classes a worker reports",
    ("utils/data/_worker.py", "pickle.loads"): "round trip of an exception class, in-process",
    ("utils/data/_worker.py", "pickle.dumps"): "round trip of an exception class, in-process",
    # The user's own code, named by the user: a search objective 'module:function' imported in
    # each worker process, and the script a launched MPI rank runs. Nothing read from a file is
    # executed; a name can only reach code already importable.
    ("search/_optuna.py", "import importlib"): "search objective imported by name",
    ("search/_optuna.py", "importlib.import_module"): "search objective imported by name",
    ("distributed/_bootstrap.py", "import runpy"): "the rank's script, as python would run it",
    ("distributed/_bootstrap.py", "runpy.run_module"): "the rank's script, as python -m",
    ("distributed/_bootstrap.py", "runpy.run_path"): "the rank's script, as python script.py",
    # chainrule.jit generates Python source from a traced graph (generated value names only,
    # never text from a file) and compiles it: the fused kernels and the graph executors.
    ("jit/_codegen.py", "compile()"): "graph executor generated from the traced graph",
    ("jit/_codegen.py", "exec()"): "graph executor generated from the traced graph",
    ("jit/_fuse.py", "compile()"): "fused element-wise kernel generated from the graph",
    ("jit/_fuse.py", "exec()"): "fused element-wise kernel generated from the graph",
    ("jit/_compile.py", "compile()"): "chainrule.compile used as a decorator calls itself",
}


def code_loading_uses(source: str):
    """(what, line) for every import of a code-loading module, call of a code-running
    builtin, unsafe YAML loader, or ``allow_pickle=True`` in ``source``."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(f"import {a.name}", node.lineno) for a in node.names
                      if a.name.split(".")[0] in CODE_LOADING_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in CODE_LOADING_MODULES:
                found.append((f"from {node.module} import", node.lineno))
            if node.module.split(".")[0] == "yaml":
                found += [(f"from yaml import {a.name}", node.lineno) for a in node.names
                          if a.name in UNSAFE_YAML]
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in CODE_RUNNING_BUILTINS:
                found.append((f"{f.id}()", node.lineno))
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                if f.value.id in CODE_LOADING_MODULES:
                    found.append((f"{f.value.id}.{f.attr}", node.lineno))
                if f.value.id == "yaml" and f.attr in UNSAFE_YAML:
                    found.append((f"yaml.{f.attr}", node.lineno))
                if f.value.id == "builtins" and f.attr in CODE_RUNNING_BUILTINS:
                    found.append((f"builtins.{f.attr}", node.lineno))
            for kw in node.keywords:
                if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant)
                                                     and kw.value.value is False):
                    found.append(("allow_pickle=...", node.lineno))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "yaml" and node.attr in UNSAFE_YAML:
            found.append((f"yaml.{node.attr}", node.lineno))
    return found


def test_the_scan_finds_what_it_looks_for():
    bad = """
import pickle, marshal
from importlib import import_module
import yaml
x = pickle.loads(b"")
y = eval("1")
exec("z = 1")
compile("1", "f", "eval")
yaml.load(s, Loader=yaml.Loader)
np.load(f, allow_pickle=True)
"""
    kinds = {what for what, _ in code_loading_uses(bad)}
    assert kinds == {"import pickle", "import marshal", "from importlib import",
                     "pickle.loads", "eval()", "exec()", "compile()", "yaml.load",
                     "yaml.Loader", "allow_pickle=..."}
    assert code_loading_uses("yaml.safe_load(s)\nnp.load(f, allow_pickle=False)\n") == []


def test_package_source_never_loads_code():
    offending, used = [], set()
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, PACKAGE).replace(os.sep, "/")
            with open(path, encoding="utf-8") as fh:
                for what, line in code_loading_uses(fh.read()):
                    if (rel, what) in ALLOWED:
                        used.add((rel, what))
                    else:
                        offending.append(f"chainrule/{rel}:{line}: {what}")
    assert offending == [], "\n".join(offending)
    assert used == set(ALLOWED)  # the allowances are all still needed (none left over)


def test_tensors_refuse_plain_pickle():
    import pickle

    with pytest.raises(Exception, match="not picklable: use chainrule.save"):
        pickle.dumps(chainrule.ones(2))
