"""A character-level LSTM language model on Shakespeare (The Tempest and Macbeth, shipped with
chainrule), trained with truncated backpropagation through time; then it writes new text.

    python examples/char_lm.py                      # chainrule, about 3 minutes
    python examples/char_lm.py --backend torch      # the same code on PyTorch
    python examples/char_lm.py --minutes 10 --temperature 0.6

The text is one long stream of characters, cut into ``--batch-size`` parallel columns. Each step
trains on the next ``--bptt`` characters of every column; the LSTM state is carried from one
chunk to the next but detached, so gradients flow back at most ``--bptt`` steps (truncated
BPTT) while the model still sees an unbroken stream. Gradients are clipped to a total norm of
``--clip`` (LSTMs occasionally produce huge ones). Sampling feeds the model its own output one
character at a time, drawing from ``softmax(logits / temperature)``: low temperatures are
safer and more repetitive, high ones more inventive and misspelt.
"""

from __future__ import annotations

import argparse
import importlib
import math
import time
from pathlib import Path
from typing import Any

import numpy as np


def load_text(path: str | Path | None = None) -> str:
    """The training text (default: the Shakespeare sample shipped with chainrule)."""
    if path is None:
        import chainrule

        path = Path(chainrule.__file__).parent / "_data" / "shakespeare" / "tempest_macbeth.txt"
    return Path(path).read_text(encoding="utf-8")


class Vocab:
    """Characters to integer ids and back."""

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids: Any) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def build(torch: Any, vocab_size: int, embed: int, hidden: int, layers: int,
          dropout: float) -> Any:
    nn = torch.nn

    class CharLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab_size, embed)
            self.lstm = nn.LSTM(embed, hidden, layers, dropout=dropout if layers > 1 else 0.0)
            self.drop = nn.Dropout(dropout)
            self.head = nn.Linear(hidden, vocab_size)

        def forward(self, x: Any, state: Any = None) -> tuple[Any, Any]:
            out, state = self.lstm(self.embed(x), state)  # x: (T, B) ids
            return self.head(self.drop(out)), state

    return CharLSTM()


def batchify(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """The stream cut into ``batch_size`` columns: ``(T, B)``, column b continues row-wise."""
    n = len(ids) // batch_size
    return ids[:n * batch_size].reshape(batch_size, n).T.copy()


def detach(state: Any) -> Any:
    """The state as values only: the graph of earlier chunks is dropped (truncated BPTT)."""
    return tuple(s.detach() for s in state)


def sample(torch: Any, model: Any, vocab: Vocab, prompt: str, length: int,
           temperature: float) -> str:
    """Continue ``prompt`` by ``length`` characters drawn from the model."""
    model.eval()
    out = list(prompt)
    with torch.no_grad():
        x = torch.from_numpy(vocab.encode(prompt)).reshape(-1, 1)
        logits, state = model(x)
        for _ in range(length):
            probs = torch.softmax(logits[-1, 0] / temperature, dim=0)
            nxt = int(torch.multinomial(probs, 1).item())
            out.append(vocab.chars[nxt])
            logits, state = model(torch.tensor([[nxt]]), state)
    model.train()
    return "".join(out)


def train(torch: Any, args: argparse.Namespace) -> tuple[float, str]:
    """Train within the time and step budget; returns (last loss, a sample)."""
    F = torch.nn.functional
    torch.manual_seed(args.seed)
    text = load_text(args.text)
    vocab = Vocab(text)
    data = batchify(vocab.encode(text), args.batch_size)
    model = build(torch, len(vocab), args.embed, args.hidden, args.layers, args.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(f"[{args.backend}] {len(text):,} characters, {len(vocab)} distinct; "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")
    start = time.perf_counter()
    state = None
    step = pos = 0
    smooth = None
    while step < args.steps and time.perf_counter() - start < args.minutes * 60:
        if pos + args.bptt + 1 > len(data):
            pos, state = 0, None  # start the next pass over the text
        chunk = data[pos:pos + args.bptt + 1]
        pos += args.bptt
        x = torch.from_numpy(chunk[:-1])
        y = torch.from_numpy(chunk[1:])
        logits, state = model(x, state)
        state = detach(state)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        step += 1
        value = float(loss.item())
        smooth = value if smooth is None else 0.95 * smooth + 0.05 * value
        if step % args.log_every == 0:
            elapsed = time.perf_counter() - start
            print(f"[{args.backend}] step {step}: loss {smooth:.3f} (perplexity "
                  f"{math.exp(smooth):.1f})  {elapsed:.0f}s")
    elapsed = time.perf_counter() - start
    print(f"[{args.backend}] {step} steps in {elapsed:.0f}s, final loss {smooth:.3f}")
    text_out = sample(torch, model, vocab, args.prompt, args.sample_len, args.temperature)
    return float(smooth), text_out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["chainrule", "torch"], default="chainrule")
    p.add_argument("--text", default=None, help="a text file (default: the bundled sample)")
    p.add_argument("--minutes", type=float, default=3.0, help="training time budget")
    p.add_argument("--steps", type=int, default=10**9, help="training step budget")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--bptt", type=int, default=64, help="characters per truncated BPTT chunk")
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=1.0, help="max total gradient norm")
    p.add_argument("--prompt", default="PROSPERO.\n")
    p.add_argument("--sample-len", type=int, default=400)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2,
                   help="torch's threads (for chainrule's BLAS, set OPENBLAS_NUM_THREADS before "
                        "starting)")
    return p


def main(argv: list[str] | None = None) -> tuple[float, str]:
    args = parser().parse_args(argv)
    torch = importlib.import_module(args.backend)
    if args.backend == "torch":
        torch.set_num_threads(args.threads)
    loss, text = train(torch, args)
    print(f"[{args.backend}] sample (temperature {args.temperature}):\n{text}")
    return loss, text


if __name__ == "__main__":
    main()
