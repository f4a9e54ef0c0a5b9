"""The data section: roots, splits, subsets, transforms, and the errors they give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule
from chainrule.config import ConfigError, load
from chainrule.vision.datasets import mnist_sample_root

MODEL = """\
model:
  - {name: flat, type: Flatten}
  - {name: fc, type: Linear, out_features: 10}
"""


def _config(tmp_path, data: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"seed: 1\ndata: {data}\n" + MODEL)
    return path


def test_a_missing_root_names_the_key_and_line(tmp_path) -> None:
    e = pytest.raises(ConfigError, load, _config(tmp_path, "{dataset: MNIST, root: nowhere}"))
    assert str(e.value).startswith(f"{tmp_path / 'c.yaml'}: line 2: data.root: no such folder: "
                                   f"{tmp_path / 'nowhere'}")
    assert "relative to the config's folder" in str(e.value)
    (tmp_path / "empty").mkdir()
    e = pytest.raises(ConfigError, load, _config(tmp_path, "{dataset: MNIST, root: empty}"))
    assert "line 2: data.root: Dataset not found: MNIST" in str(e.value)


def test_relative_roots_follow_the_config_file(tmp_path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "mnist").symlink_to(mnist_sample_root())
    exp = load(_config(tmp_path / "sub", "{dataset: MNIST, root: ../mnist, train_subset: 100}"))
    assert len(exp.train_loader.dataset) == 100


def test_sixty_twenty_twenty_from_the_training_set(tmp_path) -> None:
    path = _config(tmp_path, "{dataset: MNIST, train_subset: 1000, splits: [0.6, 0.2, 0.2]}")
    exp = load(path)
    sets = [exp.train_loader.dataset, exp.val_loader.dataset, exp.test_loader.dataset]
    assert [len(s) for s in sets] == [600, 200, 200]
    indices = [set(s.indices) for s in sets]
    assert not (indices[0] & indices[1]) and not (indices[1] & indices[2])
    assert all(s.dataset.train for s in sets)  # the test third comes from the training set
    again = load(path)
    assert again.val_loader.dataset.indices == exp.val_loader.dataset.indices


def test_augment_applies_to_the_training_split_only(tmp_path) -> None:
    exp = load(_config(tmp_path, "{dataset: MNIST, train_subset: 50, splits: [0.8, 0.2], "
                                 "augment: [{type: RandomRotation, degrees: 10}]}"))
    train_tf = repr(exp.train_loader.dataset.dataset.transform)
    val_tf = repr(exp.val_loader.dataset.dataset.transform)
    assert "RandomRotation" in train_tf and "RandomRotation" not in val_tf
    assert "Normalize" in val_tf


def test_transforms_set_the_input_shape(tmp_path) -> None:
    exp = load(_config(tmp_path, "{dataset: MNIST, transforms: [{type: Resize, size: 14}, "
                                 "ToTensor]}"), data=False)
    assert exp.input_shape == (1, 14, 14) and exp.model.fc.in_features == 196
    e = pytest.raises(ConfigError, load, _config(tmp_path, "{dataset: MNIST, transforms: "
                                                           "[{type: Normalise, mean: [0]}]}"))
    assert "data.transforms[0].type: unknown transform type 'Normalise' (did you mean " \
           "'Normalize'?)" in str(e.value)
    e = pytest.raises(ConfigError, load, _config(tmp_path, "{dataset: MNIST, transforms: "
                                                           "[{type: Resize, size: 14}]}"))
    assert "must end in a tensor (add ToTensor)" in str(e.value)


@pytest.mark.parametrize("data,words", [
    ("{dataset: MNIST, splits: [0.5, 0.2]}", "sum to 1"),
    ("{dataset: MNIST, splits: 0.8}", "two or three fractions"),
    ("{dataset: MNIST, train_subset: 100000}", "more than the 10000 training samples"),
    ("{dataset: MNIST, batchsize: 3}", "unknown key (did you mean 'batch_size'?)"),
    ("{dataset: MNIST, size: 3}", "only FakeData takes 'size'"),
    ("[MNIST]", "data must be a mapping"),
])
def test_bad_data_sections(tmp_path, data, words) -> None:
    e = pytest.raises(ConfigError, load, _config(tmp_path, data))
    assert words in str(e.value) and e.value.line == 2


def test_data_loaders_use_the_vectorised_batch_path(tmp_path) -> None:
    exp = load(_config(tmp_path, "{dataset: MNIST, train_subset: 64, batch_size: 32}"))
    x, y = next(iter(exp.train_loader))
    assert tuple(x.shape) == (32, 1, 28, 28) and x.dtype == chainrule.float32
    mean = float(np.mean(x.numpy()))
    assert -1.0 < mean < 1.0  # normalised
