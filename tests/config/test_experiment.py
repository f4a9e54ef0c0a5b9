"""Configs: the issue's exact YAML, example configs, the same model from YAML and Python."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

import chainrule
from chainrule import nn
from chainrule.config import ConfigError, load
from chainrule.train import seed_everything
from chainrule.vision.datasets import mnist_sample_root

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "examples" / "configs"

ISSUE_YAML = """\
seed: 0
data: {dataset: MNIST, root: ../data/mnist, train_subset: 2000, batch_size: 64}
model:
  - {name: flat, type: Flatten}
  - {name: fc1, type: Linear, out_features: 64}   # in_features inferred
  - {name: act, type: ReLU}
  - {name: fc2, type: Linear, out_features: 10}
loss: CrossEntropyLoss
optimizer: {type: Adam, lr: 0.001}
epochs: 1
"""


@pytest.fixture
def issue_config(tmp_path):
    data = tmp_path / "data" / "mnist"
    data.mkdir(parents=True)
    for f in Path(mnist_sample_root()).glob("*.gz"):
        (data / f.name).symlink_to(f)
    (tmp_path / "configs").mkdir()
    path = tmp_path / "configs" / "mlp.yaml"
    path.write_text(ISSUE_YAML)
    return path


def test_the_issues_yaml_loads_and_trains(issue_config, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    exp = load(issue_config)
    assert [type(m).__name__ for m in exp.model] == ["Flatten", "Linear", "ReLU", "Linear"]
    assert exp.model.fc1.in_features == 784 and exp.input_shape == (1, 28, 28)
    assert len(exp.train_loader.dataset) == 2000 and exp.val_loader is None
    assert len(exp.test_loader.dataset) == 2000  # the bundled sample's test split
    history = exp.fit(verbose=False)
    assert len(history) == 1 and history[-1]["loss"] < 1.5
    assert exp.test()["accuracy"] > 0.75


def _python_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


def _assert_same_outputs_and_grads(ours, theirs, input_shape) -> None:
    theirs.load_state_dict(dict(zip(theirs.state_dict(), ours.state_dict().values())))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, *input_shape)).astype(np.float32)
    outs = []
    for model in (ours, theirs):
        xt = chainrule.tensor(x, requires_grad=True)
        out = model(xt)
        cot = chainrule.tensor(rng.standard_normal(out.shape).astype(np.float32))
        rng = np.random.default_rng(0)  # the same cotangent for the second model
        rng.standard_normal((4, *input_shape))
        out.backward(cot)
        outs.append((out.detach().numpy(), xt.grad.numpy(),
                     [p.grad.numpy() for p in model.parameters()]))
    (o1, gx1, gp1), (o2, gx2, gp2) = outs
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(gx1, gx2)
    for a, b in zip(gp1, gp2):
        np.testing.assert_array_equal(a, b)


def test_the_same_model_from_yaml_and_from_python(issue_config) -> None:
    exp = load(issue_config, data=False)
    seed_everything(0)
    python = _python_mlp()
    # the same seed gives the same initial weights: the config draws nothing else first
    for a, b in zip(exp.model.parameters(), python.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    _assert_same_outputs_and_grads(exp.model, python, (1, 28, 28))


DAG_YAML = """\
seed: 3
model:
  input_shape: [3, 8, 8]
  layers:
    - {name: conv, type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}
    - {name: bn, type: BatchNorm2d}
    - {name: relu, type: ReLU}
    - {name: branch, type: Conv2d, inputs: input, out_channels: 4, kernel_size: 1}
    - {name: add, type: Add, inputs: [relu, branch]}
    - {name: cat, type: Concat, inputs: [add, input]}
    - {name: pool, type: AdaptiveAvgPool2d, output_size: 1}
    - {name: flat, type: Flatten}
    - {name: fc, type: Linear, out_features: 5}
"""


class PythonDag(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.branch = nn.Conv2d(3, 4, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(7, 5)

    def forward(self, x):
        h = self.relu(self.bn(self.conv(x))) + self.branch(x)
        return self.fc(self.flat(self.pool(chainrule.cat([h, x], dim=1))))


def test_a_dag_from_yaml_equals_the_python_module(tmp_path) -> None:
    path = tmp_path / "dag.yaml"
    path.write_text(DAG_YAML)
    exp = load(path, data=False)
    assert type(exp.model).__name__ == "LayerGraph"
    assert exp.model.fc.in_features == 7 and exp.model.bn.num_features == 4
    assert [i.output_shape for i in exp.layers][-3:] == [(-1, 7, 1, 1), (-1, 7), (-1, 5)]
    seed_everything(3)
    python = PythonDag()
    for a, b in zip(exp.model.parameters(), python.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    _assert_same_outputs_and_grads(exp.model, python, (3, 8, 8))


@pytest.mark.parametrize("name", ["mnist_mlp", "mnist_cnn", "resnet_small"])
def test_example_configs_load(name) -> None:
    exp = load(CONFIGS / f"{name}.yaml")
    out = exp.model(chainrule.zeros(2, *exp.input_shape))
    assert tuple(out.shape) == (2, 10)
    assert exp.val_loader is not None and exp.callbacks


def test_resnet_config_has_residual_adds() -> None:
    exp = load(CONFIGS / "resnet_small.yaml", data=False)
    adds = [info for info in exp.layers if info.type == "Add"]
    assert [a.inputs for a in adds] == [["b1_bn2", "stem_pool"], ["b2_bn2", "b2_skip_bn"]]


def test_an_example_config_trains_briefly(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    exp = load(CONFIGS / "mnist_mlp.yaml",
               ["data.train_subset=2000", "data.batch_size=50", "epochs=2", "output_dir=out",
                "model.fc1.out_features=64",
                "model.fc2.out_features=32"])
    history = exp.fit(verbose=False)
    assert len(history) == 2 and history[-1]["val_accuracy"] > 0.8
    assert (tmp_path / "out" / "last.json").exists() and (tmp_path / "out" / "log.csv").exists()
    assert exp.test(weights=tmp_path / "out" / "best")["accuracy"] > 0.8


def test_search_section_is_validated(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(ISSUE_YAML + textwrap.dedent("""\
        search:
          method: grid
          params:
            optimizer.lr: [0.1, 0.01]
            model.fc1.out_features: {type: int, low: 8, high: 64, log: true}
        """))
    exp = load(path, data=False)
    assert exp.search["method"] == "grid"
    assert exp.search["params"]["model.fc1.out_features"] == \
        {"type": "int", "low": 8, "high": 64, "log": True, "step": None}
    path.write_text(ISSUE_YAML + "search:\n  params:\n    optimizer.lrr: [0.1]\n")
    with pytest.raises(ConfigError, match=r"line 13: search.params.optimizer.lrr"):
        load(path, data=False)
    path.write_text(ISSUE_YAML + "search:\n  method: bayes\n  params: {optimizer.lr: [1]}\n")
    with pytest.raises(ConfigError, match=r"line 12: search.method: 'bayes' is not one of"):
        load(path, data=False)


def test_schedulers_and_callbacks_are_built(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(ISSUE_YAML.replace("../data/mnist", "bundled") + textwrap.dedent("""\
        scheduler: {type: ReduceLROnPlateau, monitor: loss, patience: 1}
        callbacks: [TerminateOnNaN, {type: CSVLogger, path: logs/train.csv}, Timer]
        output_dir: runs/x
        """))
    exp = load(path, data=False)
    assert type(exp.scheduler).__name__ == "ReduceLROnPlateau"
    assert exp.scheduler_monitor == "loss"
    assert [type(c).__name__ for c in exp.callbacks] == ["TerminateOnNaN", "CSVLogger", "Timer"]
    assert exp.callbacks[1].path == Path("runs/x/logs/train.csv")


def test_missing_sample_for_other_datasets(tmp_path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(ISSUE_YAML.replace("MNIST, root: ../data/mnist", "FashionMNIST"))
    with pytest.raises(ConfigError, match=r"line 2: data.root: FashionMNIST needs a root"):
        load(path)


def test_fake_data_and_copying_configs(tmp_path) -> None:
    path = tmp_path / "fake.yaml"
    path.write_text(ISSUE_YAML.replace(
        "{dataset: MNIST, root: ../data/mnist, train_subset: 2000, batch_size: 64}",
        "{dataset: FakeData, size: 40, image_size: [1, 8, 8], splits: [0.75, 0.25]}"))
    exp = load(path)
    assert exp.input_shape == (1, 8, 8) and len(exp.val_loader.dataset) == 10
    shutil.copy(path, tmp_path / "again.yaml")
    assert load(tmp_path / "again.yaml").model.fc1.in_features == 64
