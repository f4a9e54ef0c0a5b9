"""Reading YAML with lines; errors name the file, the line and the key; --set overrides."""

from __future__ import annotations

import pytest

from chainrule.config import ConfigError, load
from chainrule.config._source import read_yaml

BASE = """\
seed: 0
data: {dataset: MNIST, batch_size: 32}
model:
  - {name: flat, type: Flatten}
  - {name: fc1, type: Linear, out_features: 16}
  - {name: act, type: ReLU}
  - {name: fc2, type: Linear, out_features: 10}
loss: CrossEntropyLoss
optimizer:
  type: SGD
  lr: 0.1
epochs: 1
"""


def _write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(path, overrides=()):
    with pytest.raises(ConfigError) as info:
        load(path, overrides, data=False)
    return info.value


def test_lines_are_kept(tmp_path) -> None:
    src = read_yaml(_write(tmp_path, BASE))
    assert src.line(("optimizer", "lr")) == 11
    assert src.line(("model", 1, "out_features")) == 5
    assert src.line(("model", 1, "no_such_key")) == 5  # the nearest known ancestor


@pytest.mark.parametrize("edit,line,key,words", [
    (("optimizer:", "optimiser:"), 9, "optimiser", "unknown key (did you mean 'optimizer'?)"),
    (("  lr: 0.1", "  lr: fast"), 11, "optimizer.lr", "expected a number, got 'fast'"),
    (("  lr: 0.1", "  lrate: 0.1"), 11, "optimizer.lrate", "SGD has no argument 'lrate'"),
    (("out_features: 16", "out_feature: 16"), 5, "model[1].out_feature",
     "Linear has no argument 'out_feature' (did you mean 'out_features'?)"),
    (("type: ReLU", "type: Relu"), 6, "model[2].type", "unknown layer type 'Relu' (did you mean "
                                                        "'ReLU'?)"),
    (("epochs: 1", "epochs: many"), 12, "epochs", "expected an integer, got str 'many'"),
    (("epochs: 1", "epochs: 0"), 12, "epochs", "must be >= 1"),
    (("batch_size: 32", "batch_size: 32.5"), 2, "data.batch_size", "expected an integer"),
    (("loss: CrossEntropyLoss", "loss: CrossEntropy"), 8, "loss",
     "unknown loss type 'CrossEntropy' (did you mean 'CrossEntropyLoss'?)"),
    (("type: SGD", "type: Adom"), 10, "optimizer.type", "unknown optimizer type 'Adom'"),
    (("dataset: MNIST", "dataset: MNIS"), 2, "data.dataset", "'MNIS' is not one of"),
    (("- {name: act, type: ReLU}", "- {name: fc1, type: ReLU}"), 6, "model[2].name",
     "a second layer named 'fc1'"),
    (("- {name: act, type: ReLU}", "- {name: act}"), 6, "model[2]", "needs a 'type'"),
    (("- {name: act, type: ReLU}", "- ReLU"), 6, "model[2]", "a layer must be a mapping"),
])
def test_bad_values_name_the_line_and_key(tmp_path, edit, line, key, words) -> None:
    assert edit[0] in BASE
    e = _error(_write(tmp_path, BASE.replace(edit[0], edit[1])))
    assert e.line == line and e.key == key, str(e)
    assert str(e).startswith(f"{tmp_path / 'c.yaml'}: line {line}: {key}: ")
    assert words in str(e)


def test_duplicate_keys_are_an_error(tmp_path) -> None:
    e = _error(_write(tmp_path, BASE + "seed: 1\n"))
    assert str(e).endswith("line 13: seed: duplicate key (first given on line 1)")


def test_not_yaml_and_unsafe_tags(tmp_path) -> None:
    e = _error(_write(tmp_path, BASE + "callbacks: [EarlyStopping\n"))
    assert e.line is not None and "not valid YAML" in str(e)
    e = _error(_write(tmp_path, BASE + "name: !!python/object/apply:os.system ['echo hi']\n"))
    assert e.line == 13 and "python/object/apply:os.system is not allowed" in str(e)
    e = _error(tmp_path / "missing.yaml")
    assert str(e) == f"{tmp_path / 'missing.yaml'}: no such config file"
    e = _error(_write(tmp_path, "- just\n- a list\n"))
    assert "must be a mapping of sections" in str(e)


def test_yaml_number_spelling_and_merge_keys(tmp_path) -> None:
    text = BASE.replace("lr: 0.1", "lr: 1e-3") + "defaults: &d {weight_decay: 1e-4}\n"
    e = _error(_write(tmp_path, text))
    assert e.key == "defaults"  # an unknown section, even when used only as an anchor
    exp = load(_write(tmp_path, BASE.replace("lr: 0.1", "lr: 1e-3")), data=False)
    assert exp.optimizer.param_groups[0]["lr"] == 1e-3  # YAML 1.1 reads 1e-3 as a string


def test_overrides(tmp_path) -> None:
    path = _write(tmp_path, BASE)
    exp = load(path, ["optimizer.lr=0.5", "model.fc1.out_features=8", "optimizer.momentum=0.9",
                      "loss.label_smoothing=0.1", "model.2.type=Tanh"], data=False)
    assert exp.optimizer.param_groups[0]["lr"] == 0.5
    assert exp.optimizer.param_groups[0]["momentum"] == 0.9
    assert exp.model.fc1.out_features == 8 and exp.model.fc2.in_features == 8
    assert exp.loss_fn.label_smoothing == 0.1 and type(exp.model.act).__name__ == "Tanh"
    assert exp.config["optimizer"]["lr"] == 0.5  # the recorded config is the overridden one


@pytest.mark.parametrize("override,words", [
    ("optimizer.lr", "expected key=value"),
    ("model.fc9.out_features=3", "model has no entry 'fc9' (did you mean"),
    ("epochs.x=3", "epochs is a int, not a mapping"),
    ("optimizer.lr=[", "the value is not valid YAML"),
    ("optimizer.lr=x", "--set optimizer.lr=x: optimizer.lr: expected a number"),
    ("optimizer..lr=1", "is not a dotted path"),
])
def test_bad_overrides_are_named(tmp_path, override, words) -> None:
    e = _error(_write(tmp_path, BASE), [override])
    assert str(e).startswith(f"{tmp_path / 'c.yaml'}: --set {override}")
    assert words in str(e)
