"""Checkpoints: atomic writes, refused when truncated or tampered with, never unpickled."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import chainrule
from chainrule import nn, optim
from chainrule.train import (
    CheckpointError,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from chainrule.train.checkpoint import capture_rng_state, restore_rng_state


def _saved(tmp_path, name="ck"):
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters())
    model(chainrule.randn(4, 3)).sum().backward()
    opt.step()
    path = tmp_path / name
    save_checkpoint(path, model=model, optimizer=opt, state={"epoch": 1, "note": "x"})
    return model, opt, path


def _tensors_file(path):
    return path.parent / json.loads(path.with_suffix(".json").read_text())["tensors"]


def test_round_trip_restores_model_and_optimizer(tmp_path) -> None:
    model, opt, path = _saved(tmp_path)
    ck = load_checkpoint(path)
    assert ck.state["epoch"] == 1 and ck.state["model_class"] == "Linear"
    other = nn.Linear(3, 2)
    other_opt = optim.Adam(other.parameters())
    ck.restore(other, other_opt)
    np.testing.assert_array_equal(other.weight.detach().numpy(), model.weight.detach().numpy())
    assert other_opt.state_dict()["state"][0]["exp_avg"].numpy().tolist() == \
        opt.state_dict()["state"][0]["exp_avg"].numpy().tolist()
    assert load_checkpoint(str(path) + ".json").state["note"] == "x"
    # the tensors file is plain safetensors: any reader opens it
    from safetensors.numpy import load_file

    assert "model.weight" in load_file(_tensors_file(path))


def test_truncated_tensors_file_is_refused(tmp_path) -> None:
    _, _, path = _saved(tmp_path)
    f = _tensors_file(path)
    f.write_bytes(f.read_bytes()[:-20])
    with pytest.raises(CheckpointError, match=rf"{f.name}: does not match the digest"):
        load_checkpoint(path)


def test_tampered_tensors_file_is_refused(tmp_path) -> None:
    _, _, path = _saved(tmp_path)
    f = _tensors_file(path)
    data = bytearray(f.read_bytes())
    data[-3] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="truncated, damaged or modified"):
        load_checkpoint(path)


@pytest.mark.parametrize("edit,message", [
    (lambda text: text[: len(text) // 2], "not valid JSON"),
    (lambda text: text.replace('"chainrule.checkpoint"', '"other"'), "not a chainrule training"),
    (lambda text: text.replace('.safetensors"', '.safetensors/../../x.safetensors"'),
     "names no valid tensors file"),
    (lambda text: text.replace('"version": 1', '"version": 9'), "version 9 is not supported"),
])
def test_bad_sidecars_are_refused(tmp_path, edit, message) -> None:
    _, _, path = _saved(tmp_path)
    sidecar = path.with_suffix(".json")
    sidecar.write_text(edit(sidecar.read_text()))
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert str(sidecar) in str(info.value)


def test_missing_files_are_named(tmp_path) -> None:
    with pytest.raises(CheckpointError, match=r"nope.json: no such checkpoint"):
        load_checkpoint(tmp_path / "nope")
    _, _, path = _saved(tmp_path)
    f = _tensors_file(path)
    f.unlink()
    with pytest.raises(CheckpointError, match=rf"{f.name}: missing"):
        load_checkpoint(path)


def test_a_crash_while_saving_leaves_the_old_checkpoint_whole(tmp_path, monkeypatch) -> None:
    model, opt, path = _saved(tmp_path)
    before = model.weight.detach().numpy().copy()
    with chainrule.no_grad():
        model.weight.add_(1.0)
    real_replace = os.replace

    def crash_on_sidecar(src, dst):
        if str(dst).endswith(".json"):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_sidecar)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model=model, optimizer=opt)
    monkeypatch.setattr(os, "replace", real_replace)
    np.testing.assert_array_equal(load_checkpoint(path).model_state["weight"].numpy(), before)
    assert not list(tmp_path.glob(".*.tmp"))
    # the orphaned tensors file of the failed save is swept by the next successful one
    save_checkpoint(path, model=model, optimizer=opt)
    assert len(list(tmp_path.glob("ck.*.safetensors"))) == 1
    np.testing.assert_array_equal(load_checkpoint(path).model_state["weight"].numpy(),
                                  before + 1)


def test_load_weights_from_checkpoints_and_state_dicts(tmp_path) -> None:
    model, _, path = _saved(tmp_path)
    for source in (path, str(path) + ".json", _tensors_file(path)):
        other = load_weights(nn.Linear(3, 2), source)
        np.testing.assert_array_equal(other.weight.detach().numpy(), model.weight.detach().numpy())
    plain = tmp_path / "plain.safetensors"
    chainrule.save(model.state_dict(), plain)
    np.testing.assert_array_equal(load_weights(nn.Linear(3, 2), plain).bias.detach().numpy(),
                                  model.bias.detach().numpy())
    with pytest.raises(CheckpointError, match=r"unexpected keys \['weight', 'bias'\]"):
        load_weights(nn.Sequential(nn.Linear(3, 2)), plain)
    with pytest.raises(CheckpointError, match="no such weights file"):
        load_weights(model, tmp_path / "missing.safetensors")


def test_rng_states_round_trip_through_a_checkpoint(tmp_path) -> None:
    import random

    g = chainrule.Generator().manual_seed(3)
    chainrule.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    state = capture_rng_state({"loader": g})
    save_checkpoint(tmp_path / "r", model=nn.Identity(), tensors={"rng": state})
    draws = (chainrule.rand(3).tolist(), np.random.rand(3).tolist(), random.random(),
             chainrule.rand(2, generator=g).tolist(), np.random.randn())
    restore_rng_state(load_checkpoint(tmp_path / "r").tensors["rng"], {"loader": g})
    again = (chainrule.rand(3).tolist(), np.random.rand(3).tolist(), random.random(),
             chainrule.rand(2, generator=g).tolist(), np.random.randn())
    assert draws == again
