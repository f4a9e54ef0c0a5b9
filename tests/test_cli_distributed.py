"""`chainrule train CONFIG --nproc N`: a config trained data-parallel on N MPI ranks.

The config's batch size is the global batch, so 2 ranks train the model one process trains
(up to float32 rounding); rank 0 alone prints and writes; the checkpoint loads into the plain
model; bad input is one message with exit status 2; Ctrl-C stops every rank after the same
step with a checkpoint, and --resume continues it on the ranks.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from chainrule.cli import main
from chainrule.testing import assert_close
from chainrule.train import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180  # seconds: only a guard against hangs

CONFIG = """\
seed: 0
data: {dataset: MNIST, train_subset: 400, test_subset: 200, splits: [0.75, 0.25], batch_size: 20}
model:
  - {name: flat, type: Flatten}
  - {name: fc1, type: Linear, out_features: 32}
  - {name: act, type: ReLU}
  - {name: fc2, type: Linear, out_features: 10}
loss: CrossEntropyLoss
optimizer: {type: SGD, lr: 0.05, momentum: 0.9}
callbacks: [{type: ModelCheckpoint, monitor: val_accuracy}, CSVLogger, JSONLLogger]
epochs: 1
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mlp.yaml"
    path.write_text(CONFIG)
    return path


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


def _chainrule(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``python -m chainrule ARGS`` in a fresh process, output captured."""
    return subprocess.run([sys.executable, "-m", "chainrule", *args], cwd=ROOT,
                          env=_environment(), capture_output=True, text=True, timeout=TIMEOUT,
                          **kwargs)


def _weights(checkpoint: Path) -> dict:
    return {k: v.numpy() for k, v in load_checkpoint(checkpoint).model_state.items()}


def test_two_ranks_train_the_one_process_model_and_write_it_once(config, tmp_path,
                                                                  capsys) -> None:
    two, one = tmp_path / "two", tmp_path / "one"
    done = _chainrule("train", str(config), "--nproc", "2", "--set", f"output_dir={two}")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    out = done.stdout
    # rank 0 alone prints: one header (with the batch split), one epoch line, one test line
    assert out.count("chainrule train: mlp: Sequential of 4 layers") == 1
    assert "batch 20 (10 on each of 2 ranks)" in out
    assert out.count("epoch 1/1:") == 1 and out.count("test: loss") == 1
    assert "Traceback" not in done.stderr
    # one set of checkpoints and logs
    names = sorted(p.name for p in two.iterdir())
    assert [n for n in names if not n.endswith(".safetensors")] == \
        ["best.json", "last.json", "log.csv", "log.jsonl"]
    assert sum(n.endswith(".safetensors") for n in names) == 2
    assert len((two / "log.csv").read_text().splitlines()) == 2
    assert len((two / "log.jsonl").read_text().splitlines()) == 1

    # the same config in one process: the same weights and metrics, up to float32 rounding
    assert main(["train", str(config), "--set", f"output_dir={one}"]) == 0
    capsys.readouterr()
    got, want = _weights(two / "last"), _weights(one / "last")
    assert sorted(got) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]
    for key in want:
        assert_close(got[key], want[key], msg=key)
    logged = [json.loads((d / "log.jsonl").read_text()) for d in (two, one)]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert logged[0][key] == pytest.approx(logged[1][key], rel=1e-5), key

    # `chainrule test` loads the 2-rank checkpoint into the plain model, and finds what the
    # ranks found on their shares of the test split
    assert main(["test", str(config), "--weights", str(two / "last")]) == 0
    tested = capsys.readouterr().out
    accuracy = out.split("test: ")[1].split("accuracy ")[1].split()[0]
    assert f"accuracy {accuracy}" in tested and "(200 test samples)" in tested


def _one_line(capsys, argv: list[str], *words: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err


def test_bad_input_under_nproc_exits_2_with_one_message(config, tmp_path, capsys) -> None:
    # checked before any rank starts
    _one_line(capsys, ["train", str(config), "--nproc", "2", "--set", "optimizer.lrr=0.1"],
              "mlp.yaml: --set optimizer.lrr=0.1: optimizer.lrr: SGD has no argument")
    _one_line(capsys, ["train", str(config), "--nproc", "3"],
              "mlp.yaml: line 2: data.batch_size: 20 does not split over 3 ranks",
              "choose a multiple of 3")
    _one_line(capsys, ["train", str(config), "--nproc", "0"], "--nproc must be at least 1")
    _one_line(capsys, ["train", "--nproc", "2"], "--nproc needs a config file")
    # found by the ranks (the data is read there): still one message, from rank 0, and
    # the job's status is 2, with no rank aborted
    done = _chainrule("train", str(config), "--nproc", "2", "--set", "data.root=no/such/dir",
                      "--set", f"output_dir={tmp_path / 'run'}")
    assert done.returncode == 2, done.stdout + done.stderr
    err = done.stderr.strip()
    assert len(err.splitlines()) == 1 and "data.root: no such folder" in err, err
    assert not (tmp_path / "run").exists()


def test_nproc_starts_the_same_command_on_the_ranks(config, monkeypatch) -> None:
    from chainrule.distributed import launch

    calls = []
    monkeypatch.setattr(launch, "launch", lambda n, argv, **kw: calls.append((n, argv, kw)) or 0)
    argv = ["train", str(config), "--nproc", "4", "--hosts", "a,b", "--set", "epochs=2"]
    assert main(argv) == 0
    assert calls == [(4, ["-m", "chainrule.cli", *argv], {"hosts": "a,b", "hostfile": None})]


def _lines(stream) -> queue.Queue:
    """The lines of ``stream`` as they come, read by a thread."""
    q: queue.Queue = queue.Queue()

    def read() -> None:
        for line in stream:
            q.put(line)
        q.put(None)

    threading.Thread(target=read, daemon=True).start()
    return q


def test_ctrl_c_stops_every_rank_with_a_checkpoint_and_resume_continues(config, tmp_path,
                                                                          capsys) -> None:
    run = tmp_path / "run"
    job = subprocess.Popen([sys.executable, "-m", "chainrule", "train", str(config), "--nproc",
                            "2", "--set", "epochs=100", "--set", f"output_dir={run}"],
                           cwd=ROOT, env=_environment(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        lines, seen = _lines(job.stdout), []
        while not any(line.startswith("epoch 2/") for line in seen):
            line = lines.get(timeout=TIMEOUT)
            assert line is not None, "".join(seen) + job.stderr.read()
            seen.append(line)
        os.killpg(job.pid, signal.SIGINT)  # Ctrl-C in a terminal: to the whole group
        assert job.wait(timeout=TIMEOUT) == 130
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    while (line := lines.get(timeout=TIMEOUT)) is not None:
        seen.append(line)
    out = "".join(seen)
    assert out.count(f"--nproc 2 --resume {run / 'interrupted'}") == 1, out
    assert "rank" not in job.stderr.read()  # no rank failed or was aborted
    state = load_checkpoint(run / "interrupted").state
    epochs = state["epoch"] + 1  # the epoch Ctrl-C stopped in (or the next one)

    # --resume on 2 ranks continues the run; the result is one process's run
    done = _chainrule("train", str(config), "--nproc", "2", "--set", f"epochs={epochs}",
                      "--set", f"output_dir={run}", "--resume", str(run / "interrupted"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "resuming from" in done.stdout and f"epoch {epochs}/{epochs}:" in done.stdout
    assert main(["train", str(config), "--set", f"epochs={epochs}",
                 "--set", f"output_dir={tmp_path / 'one'}"]) == 0
    capsys.readouterr()
    got, want = _weights(run / "last"), _weights(tmp_path / "one" / "last")
    for key in want:
        assert_close(got[key], want[key], msg=key)
