"""The `chainrule` command: `chainrule train` runs offline on the bundled sample and learns;
with a config it trains, tests, times, summarises, draws and searches, and bad input exits 2
with one line naming the file, key or layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chainrule.cli import main, train


def test_train_one_epoch_on_bundled_sample(capsys) -> None:
    assert main(["train", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "epoch 1: train loss" in out and "test accuracy" in out
    accuracy = float(out.split("test accuracy")[1].split("%")[0])
    assert accuracy > 90.0


def test_console_script_smoke(tmp_path) -> None:
    save = tmp_path / "ckpt.safetensors"
    done = subprocess.run([sys.executable, "-m", "chainrule.cli", "train", "--epochs", "1",
                           "--optimizer", "sgd", "--batch-size", "128", "--save", str(save)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "epoch 1:" in done.stdout and save.exists()


def test_train_returns_metrics() -> None:
    result = train(epochs=1, progress=False, out=open("/dev/null", "w"))
    assert set(result) == {"train_loss", "test_loss", "test_accuracy"}
    assert result["test_loss"] < 0.5


# -- configs ------------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "examples" / "configs"

TINY = """\
seed: 0
data: {dataset: MNIST, train_subset: 600, test_subset: 300, splits: [0.8, 0.2], batch_size: 50}
model:
  - {name: flat, type: Flatten}
  - {name: fc1, type: Linear, out_features: 32}
  - {name: act, type: ReLU}
  - {name: fc2, type: Linear, out_features: 10}
loss: CrossEntropyLoss
optimizer: {type: Adam, lr: 0.003}
callbacks: [{type: ModelCheckpoint, monitor: val_accuracy}]
epochs: 2
output_dir: OUT
search:
  method: grid
  metric: val_accuracy
  params:
    optimizer.lr: [0.003, 0.01]
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.replace("OUT", str(tmp_path / "run")))
    return path


def _fails_cleanly(capsys, argv, *words) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


def test_train_test_and_resume_a_config(tiny, tmp_path, capsys) -> None:
    assert main(["train", str(tiny), "--set", "epochs=1"]) == 0
    out = capsys.readouterr().out
    assert "chainrule train: tiny: Sequential of 4 layers" in out and "epoch 1/1" in out
    assert "test: loss" in out
    last = tmp_path / "run" / "last"
    assert main(["train", str(tiny), "--resume", str(last)]) == 0
    out = capsys.readouterr().out
    assert "resuming from" in out and "epoch 2/2" in out and "epoch 1/2" not in out
    assert main(["test", str(tiny), "--weights", str(tmp_path / "run" / "best")]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "(300 test samples)" in out


def test_bad_input_exits_2_with_one_line(tiny, tmp_path, capsys) -> None:
    _fails_cleanly(capsys, ["train", str(tiny), "--set", "optimizer.lrr=0.1"],
                   "tiny.yaml: --set optimizer.lrr=0.1: optimizer.lrr: Adam has no argument")
    tiny.write_text(tiny.read_text().replace("out_features: 32", "out_feature: 32"))
    _fails_cleanly(capsys, ["summary", str(tiny)], "tiny.yaml: line 5: model[1].out_feature",
                   "did you mean 'out_features'")
    tiny.write_text(tiny.read_text().replace("out_feature: 32", "out_features: 32"))
    _fails_cleanly(capsys, ["train", str(tiny), "--set", "model.fc2.in_features=64"],
                   "layer 'fc2' (Linear) cannot take an input of shape [N, 32]",
                   "[N, ..., 64]")
    _fails_cleanly(capsys, ["train", str(tiny), "--set", "data.root=no/such/dir"],
                   "data.root: no such folder")
    _fails_cleanly(capsys, ["time", str(tiny), "--set", "model.act.type=Relu"],
                   "model[2].type: unknown layer type 'Relu' (did you mean 'ReLU'?)")
    _fails_cleanly(capsys, ["train", str(tiny), "--lr", "0.1"], "--lr apply only without")
    _fails_cleanly(capsys, ["summary", str(tmp_path / "none.yaml")], "no such config file")
    nodata = tmp_path / "nodata.yaml"
    nodata.write_text("model:\n  input_shape: [4]\n  layers: [{type: Linear, out_features: 2}]\n")
    _fails_cleanly(capsys, ["train", str(nodata)], "no data section: nothing to train on")


def test_damaged_checkpoints_exit_2(tiny, tmp_path, capsys) -> None:
    assert main(["train", str(tiny), "--set", "epochs=1"]) == 0
    capsys.readouterr()
    sidecar = tmp_path / "run" / "last.json"
    tensors = next((tmp_path / "run").glob("last.*.safetensors"))
    tensors.write_bytes(tensors.read_bytes()[:-50])
    _fails_cleanly(capsys, ["test", str(tiny), "--weights", str(tmp_path / "run" / "last")],
                   tensors.name, "truncated, damaged or modified")
    _fails_cleanly(capsys, ["train", str(tiny), "--resume", str(sidecar)], tensors.name)
    _fails_cleanly(capsys, ["test", str(tiny), "--weights", str(tmp_path / "nothing")],
                   "no such weights file or checkpoint")
    with pytest.raises(Exception, match="truncated, damaged or modified"):
        main(["test", str(tiny), "--weights", str(sidecar), "--debug"])


def test_interrupted_training_exits_130(tiny, monkeypatch, capsys) -> None:
    from chainrule.config.experiment import Experiment
    from chainrule.train import History

    def interrupted(self, **kwargs):
        h = History([{"epoch": 1}])
        h.interrupted, h.checkpoint = True, "run/interrupted"
        return h

    monkeypatch.setattr(Experiment, "fit", lambda self, resume=None: interrupted(self))
    assert main(["train", str(tiny)]) == 130
    assert "--resume run/interrupted" in capsys.readouterr().out


def test_summary_time_and_draw(tmp_path, capsys, monkeypatch) -> None:
    assert main(["summary", str(CONFIGS / "resnet_small.yaml")]) == 0
    out = capsys.readouterr().out
    assert "b1_add      Add                b1_bn2, stem_pool" in out
    assert "total params: 19,706" in out
    assert main(["time", str(CONFIGS / "mnist_mlp.yaml"), "--iterations", "2",
                 "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "fc1" in out and "Average Forward-Backward" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("fc", "relu"))]
    assert len(rows) == 5 and all(float(r[2]) >= 0 and float(r[3]) >= 0 for r in rows)
    dot = tmp_path / "net.dot"
    assert main(["draw", str(CONFIGS / "resnet_small.yaml"), "-o", str(dot)]) == 0
    assert dot.read_text().startswith("digraph") and 'label="b1_add"' in dot.read_text()
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["draw", str(CONFIGS / "mnist_mlp.yaml"), "-o", str(tmp_path / "m.svg")]) == 0
    assert "Graphviz's dot is not installed" in capsys.readouterr().out
    assert (tmp_path / "m.dot").read_text().startswith("digraph")


def test_search_command(tiny, tmp_path, capsys) -> None:
    assert main(["search", str(tiny), "--set", "epochs=1", "--plot",
                 str(tmp_path / "s.png")]) == 0
    out = capsys.readouterr().out
    assert out.count("trial ") >= 2 and "best: trial" in out
    assert (tmp_path / "s.png").exists() and (tmp_path / "run" / "search" / "search.db").exists()


def test_python_dash_m_chainrule(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "chainrule", "summary",
                           str(CONFIGS / "lenet.prototxt")], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ip1" in done.stdout and "431,080" in done.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {dataset: MNIST}\nmodel:\n  - {name: a, type: Linearr}\n")
    done = subprocess.run([sys.executable, "-m", "chainrule", "train", str(bad)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "line 3: model[0].type: unknown layer type 'Linearr'" in done.stderr
