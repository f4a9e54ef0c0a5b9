"""chainrule.save / chainrule.load: round trips, atomic writes, damaged files, no pickle."""

from __future__ import annotations

import collections
import io
import json
import math
import os
import pickle
import struct

import numpy as np
import pytest
import safetensors
import safetensors.numpy
import torch

import chainrule
from chainrule import serialization


def roundtrip(obj, tmp_path, name="ckpt.pt"):
    path = tmp_path / name
    chainrule.save(obj, path)
    return chainrule.load(path)


def assert_tensor_equal(a, b):
    assert isinstance(a, chainrule.Tensor) and isinstance(b, chainrule.Tensor)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_state_dict_roundtrip_all_dtypes(tmp_path):
    sd = collections.OrderedDict()
    for dt in (chainrule.float32, chainrule.float64, chainrule.float16, chainrule.int64,
               chainrule.int32, chainrule.int16, chainrule.int8, chainrule.uint8, chainrule.bool):
        sd[f"w_{dt}"] = (chainrule.randn(3, 4) * 10).to(dt)
    sd["scalar"] = chainrule.tensor(3.5)
    sd["empty"] = chainrule.zeros(0, 5)
    out = roundtrip(sd, tmp_path)
    assert type(out) is collections.OrderedDict and list(out) == list(sd)
    for k in sd:
        assert_tensor_equal(out[k], sd[k])
    assert out["scalar"].dim() == 0


def test_non_contiguous_tensors_roundtrip(tmp_path):
    base = chainrule.randn(4, 6)
    views = {"transposed": base.t(), "strided": base[:, ::2], "expanded": base[:1].expand(3, 6),
             "permuted": chainrule.randn(2, 3, 4).permute(2, 0, 1)}
    for v in views.values():
        assert not v.numpy().flags.c_contiguous
    out = roundtrip(views, tmp_path)
    for k, v in views.items():
        assert_tensor_equal(out[k], v)
    # the file itself is correct for any safetensors reader (the bug ascontiguousarray avoids)
    with safetensors.safe_open(str(tmp_path / "ckpt.pt"), framework="np") as f:
        np.testing.assert_array_equal(f.get_tensor("transposed"), base.numpy().T)


def test_optimizer_like_state_roundtrip(tmp_path):
    # a real optimizer state from torch, rebuilt with chainrule tensors
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))
    model(torch.randn(4, 3)).pow(2).sum().backward()
    opt.step()
    state = opt.state_dict()

    def convert(o):
        if isinstance(o, torch.Tensor):
            return chainrule.from_numpy(o.detach().numpy().copy())
        if isinstance(o, dict):
            return {k: convert(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return type(o)(convert(v) for v in o)
        return o

    ours = convert(state)
    out = roundtrip(ours, tmp_path)
    assert out.keys() == ours.keys()
    assert list(out["state"]) == [0, 1]  # int keys stay ints
    assert out["param_groups"] == ours["param_groups"]  # tuples, floats, bools, None, lists
    assert isinstance(out["param_groups"][0]["betas"], tuple)
    for i in (0, 1):
        for k, v in ours["state"][i].items():
            assert_tensor_equal(out["state"][i][k], v)


def test_nested_python_values(tmp_path):
    obj = {"none": None, "t": True, "i": -3, "big": 2**62, "f": 0.1, "inf": math.inf,
           "ninf": -math.inf, "nan": math.nan, "s": "héllo", "list": [1, [2, (3, "x")]],
           "tuple_key": {(1, 2): "a", 5: "b", "5": "c"}, "dtype": chainrule.float16,
           "size": chainrule.Size([2, 3]), "device": chainrule.device("cpu"),
           "np": np.arange(3, dtype=np.int16), "np_scalar": np.float32(1.25),
           "__tensor__": "not a tensor"}
    out = roundtrip(obj, tmp_path)
    assert math.isnan(out.pop("nan")) and math.isnan(obj.pop("nan"))
    np.testing.assert_array_equal(out.pop("np"), obj.pop("np"))
    assert type(out["np_scalar"]) is np.float32
    assert out == obj
    assert list(out["tuple_key"]) == [(1, 2), 5, "5"]
    assert isinstance(out["size"], chainrule.Size)


def test_shared_tensors_and_requires_grad(tmp_path):
    w = chainrule.randn(2, 2, requires_grad=True)
    out = roundtrip({"a": w, "b": [w], "c": w.detach()}, tmp_path)
    assert out["a"] is out["b"][0]
    assert out["a"].requires_grad and not out["c"].requires_grad
    assert_tensor_equal(out["c"], w.detach())
    with safetensors.safe_open(str(tmp_path / "ckpt.pt"), framework="np") as f:
        assert sorted(f.keys()) == ["a", "c"]  # stored once, named by the first path


def test_file_objects_and_plain_safetensors(tmp_path):
    buf = io.BytesIO()
    chainrule.save({"x": chainrule.arange(4)}, buf)
    buf.seek(0)
    assert chainrule.load(buf)["x"].tolist() == [0, 1, 2, 3]
    plain = tmp_path / "plain.safetensors"
    plain.write_bytes(safetensors.numpy.save({"w": np.ones((2, 2), np.float32)}))
    out = chainrule.load(plain)
    assert list(out) == ["w"] and out["w"].dtype == chainrule.float32
    out["w"].add_(1)  # loaded arrays are writable


def test_errors_on_unsupported_objects_and_devices(tmp_path):
    target = tmp_path / "keep.pt"
    chainrule.save({"v": 1}, target)
    before = target.read_bytes()
    with pytest.raises(TypeError, match="cannot store an object of type object at opt.x"):
        chainrule.save({"opt": {"x": object()}}, target)
    with pytest.raises(TypeError, match="never pickles"):
        chainrule.save(lambda: 0, target)
    assert target.read_bytes() == before
    with pytest.raises(RuntimeError, match="CUDA"):
        chainrule.load(target, map_location="cuda")
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(chainrule.zeros(2))


def test_atomic_write(tmp_path, monkeypatch):
    target = tmp_path / "model.pt"
    chainrule.save({"w": chainrule.zeros(3)}, target)
    before = target.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(serialization.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        chainrule.save({"w": chainrule.ones(3)}, target)
    monkeypatch.undo()
    assert target.read_bytes() == before  # the old checkpoint survives
    assert os.listdir(tmp_path) == ["model.pt"]  # and no temporary file is left
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(serialization.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    chainrule.save({"w": chainrule.ones(3)}, target)
    assert synced and chainrule.load(target)["w"].tolist() == [1.0, 1.0, 1.0]


def make_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    chainrule.save({"w": chainrule.arange(64.0), "b": chainrule.ones(4), "step": 7}, path)
    return path, path.read_bytes()


@pytest.mark.parametrize("cut", [0, 4, 8, 20, -1, -100])
def test_truncated_file_names_the_file(tmp_path, cut):
    path, data = make_checkpoint(tmp_path)
    path.write_bytes(data[:cut])
    with pytest.raises(RuntimeError) as err:
        chainrule.load(path)
    assert str(path) in str(err.value)


def test_tampered_files(tmp_path):
    path, data = make_checkpoint(tmp_path)
    (n,) = struct.unpack("<Q", data[:8])
    # one byte of tensor data changed: same size, valid format, wrong numbers
    changed = bytearray(data)
    changed[8 + n + 10] ^= 0x01
    path.write_bytes(bytes(changed))
    with pytest.raises(RuntimeError, match="checksum mismatch") as err:
        chainrule.load(path)
    assert str(path) in str(err.value)
    # the structure metadata edited (step 7 -> 9), the header kept the same length
    header = json.loads(data[8:8 + n])
    skeleton = header["__metadata__"]["chainrule.object"]
    assert skeleton.count('"step",7]') == 1
    header["__metadata__"]["chainrule.object"] = skeleton.replace('"step",7]', '"step",9]')
    new_header = json.dumps(header, separators=(",", ":")).encode().ljust(n)
    assert len(new_header) == n
    path.write_bytes(data[:8] + new_header + data[8 + n:])
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        chainrule.load(path)
    # a header that is not JSON
    path.write_bytes(data[:8] + b"{" * n + data[8 + n:])
    with pytest.raises(RuntimeError, match="corrupt safetensors header"):
        chainrule.load(path)
    path.write_bytes(b"not a checkpoint at all, just some text")
    with pytest.raises(RuntimeError, match=str(path)):
        chainrule.load(path)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned_by_pickle",))


def test_pickle_files_are_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": _Exploit()}))
    with pytest.raises(RuntimeError, match="evil.pt"):
        chainrule.load(path)
    torch_file = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2)}, torch_file)
    with pytest.raises(RuntimeError, match="torch.pt"):
        chainrule.load(torch_file)
    assert not (tmp_path / "pwned_by_pickle").exists()
