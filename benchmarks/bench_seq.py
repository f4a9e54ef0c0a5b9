"""Sequence models, chainrule vs PyTorch: an LSTM layer and a Transformer encoder layer, each
one training step (forward + backward with a random cotangent), same code on both frameworks.

Workloads (both in float32, 2 threads, fresh process per framework, see _harness.py):
  - lstm: nn.LSTM(256, 256), sequence 50, batch 32; the input needs no gradient (a first layer
    over data), all weights do. Metrics: steps/s of forward + backward, and of forward alone.
  - encoder: nn.TransformerEncoderLayer(d_model 128, nhead 4; torch's defaults otherwise:
    dim_feedforward 2048, dropout 0.1, relu, post-norm) in training mode, sequence 64, batch 32.
    Metrics: steps/s of forward + backward, and of forward alone.
Each figure is the median over ``--steps`` timed steps after warm-up. ``lstm_1t`` and
``encoder_1t`` are the same workloads on one thread (BLAS and torch): on a machine whose cores
are busy with other work, multi-threaded BLAS makes each of a recurrence's many small matrix
products wait for a core, and the one-thread figures are the steadier comparison there.

Run: python benchmarks/bench_seq.py [--quick] [--rounds 5] [--only lstm]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from _harness import Workload, main, median_time


def _steps(args: argparse.Namespace) -> int:
    return 5 if args.quick else args.steps


def run_lstm(torch: Any, args: argparse.Namespace) -> dict[str, float]:
    torch.manual_seed(0)
    model = torch.nn.LSTM(256, 256)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((50, 32, 256), dtype=np.float32))
    g = torch.from_numpy(rng.standard_normal((50, 32, 256), dtype=np.float32))

    def train_step() -> None:
        model.zero_grad()
        out, _ = model(x)
        out.backward(g)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    return {"train_steps_per_s": 1.0 / median_time(train_step, _steps(args)),
            "forward_per_s": 1.0 / median_time(forward, _steps(args))}


def run_encoder(torch: Any, args: argparse.Namespace) -> dict[str, float]:
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(d_model=128, nhead=4)
    layer.train()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((64, 32, 128), dtype=np.float32))
    g = torch.from_numpy(rng.standard_normal((64, 32, 128), dtype=np.float32))

    def train_step() -> None:
        layer.zero_grad()
        layer(x).backward(g)

    def forward() -> None:
        with torch.no_grad():
            layer(x)

    return {"train_steps_per_s": 1.0 / median_time(train_step, _steps(args)),
            "forward_per_s": 1.0 / median_time(forward, _steps(args))}


_METRICS = {"train_steps_per_s": "higher", "forward_per_s": "higher"}
_LSTM = "LSTM(256, 256), seq 50, batch 32: forward + backward"
_ENCODER = "TransformerEncoderLayer(128, 4), seq 64, batch 32, training mode: forward + backward"
WORKLOADS = {
    "lstm": Workload(run_lstm, _LSTM + " (2 threads)", _METRICS),
    "encoder": Workload(run_encoder, _ENCODER + " (2 threads)", _METRICS),
    "lstm_1t": Workload(run_lstm, _LSTM + " (1 thread)", _METRICS, threads=1),
    "encoder_1t": Workload(run_encoder, _ENCODER + " (1 thread)", _METRICS, threads=1),
}


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=20, help="timed steps per child")


if __name__ == "__main__":
    main(WORKLOADS, description=__doc__, add_arguments=_arguments)
