"""Recurrent layers: RNN, LSTM, GRU (multi-layer, bidirectional, packed sequences) and their
single-step cells, with torch's parameter names, shapes, initialisation and flags.

Each layer and direction runs as: one GEMM projecting the inputs of all time steps
(``x @ W_ih^T + b``), then one recurrent scan primitive (``chainrule.ops.rnn``) that does the
per-step GEMM with ``W_hh`` and the fused gate arithmetic, forward and backward. Between layers
the outputs of both directions are concatenated (and dropped out when training).
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from chainrule.creation import as_tensor, empty, zeros
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.nn.utils.rnn import PackedSequence, packed_positions, padded_index
from chainrule.ops.indexing import index_select
from chainrule.ops.linalg import addmm, matmul
from chainrule.ops.movement import cat, stack
from chainrule.ops.rnn import gru_scan, lstm_scan, rnn_scan
from chainrule.tensor import Tensor

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _project(x: Tensor, w_ih: Tensor, bias: Tensor | None) -> Tensor:
    """``x @ W_ih^T + bias`` for every step at once: (T, B, F) -> (T, B, G), one GEMM."""
    T, B, F_ = x.shape
    x2 = x.reshape(T * B, F_)
    out = matmul(x2, w_ih.t()) if bias is None else addmm(bias, x2, w_ih.t())
    return out.reshape(T, B, w_ih.shape[0])


def _project_gate_major(x: Tensor, w_ih: Tensor, bias: Tensor | None) -> Tensor:
    """:func:`_project` computed as ``W_ih @ x^T``: the same values, as a (T, B, G) view of
    (G, T, B)-ordered memory, the layout lstm_scan reads its steps in (see LstmScan)."""
    T, B, F_ = x.shape
    xt = x.reshape(T * B, F_).t()
    out = matmul(w_ih, xt) if bias is None else addmm(bias.unsqueeze(1), w_ih, xt)
    return out.reshape(w_ih.shape[0], T, B).permute(1, 2, 0)


class RNNBase(Module):
    r"""The shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU`: parameters named
    as torch's (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``,
    ``weight_hr_l{k}`` with a projection, each with ``_reverse`` for the second direction),
    all drawn from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``, and the layer loop.

    Args:
        mode: ``'LSTM'``, ``'GRU'``, ``'RNN_TANH'`` or ``'RNN_RELU'``.
        input_size: features of each input step.
        hidden_size: features of the hidden state.
        num_layers: stacked recurrent layers. Default: 1.
        bias: learn ``b_ih`` and ``b_hh``. Default: ``True``.
        batch_first: inputs and outputs are ``(B, T, *)`` (not the states). Default: ``False``.
        dropout: dropout on the outputs of every layer but the last. Default: 0.
        bidirectional: run a second direction from the last step back. Default: ``False``.
        proj_size: LSTM only: project ``h`` down to this size. Default: 0.

    Example:
        >>> from chainrule import nn
        >>> lstm = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
        >>> [n for n, _ in lstm.named_parameters()][:5]
        ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'weight_ih_l0_reverse']
    """

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
                     "dropout", "bidirectional", "proj_size"]

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
                or isinstance(dropout, bool)):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: "
                            f"{type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: "
                            f"{type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: "
                            f"{type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [(f"weight_ih_l{layer}{suffix}", (gate_size, layer_input)),
                          (f"weight_hh_l{layer}{suffix}", (gate_size, real_hidden))]
                if bias:
                    shapes += [(f"bias_ih_l{layer}{suffix}", (gate_size,)),
                               (f"bias_hh_l{layer}{suffix}", (gate_size,))]
                if proj_size > 0:
                    shapes.append((f"weight_hr_l{layer}{suffix}", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name, Parameter(empty(shape, device=device, dtype=dtype)))
                names = [name for name, _ in shapes]
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters per layer and direction, in torch's order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op kept for torch compatibility (torch packs the weights for cuDNN)."""

    def reset_parameters(self) -> None:
        """Redraw every weight and bias from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    # -- checks, with torch's messages ---------------------------------------------------------
    def check_input(self, input: Tensor, batch_sizes: Any) -> None:
        """Raise torch's errors for an input of the wrong dtype, rank or width."""
        w = self._flat_weights[0]
        if input.dtype != w.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({w.dtype}). Convert input: input.to({w.dtype}), or convert "
                             f"model: model.to({input.dtype})")
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if self.input_size != input.shape[-1]:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")

    def get_expected_hidden_size(self, input: Tensor, batch_sizes: Any) -> tuple[int, int, int]:
        """``(num_layers * directions, batch, proj_size or hidden_size)``."""
        if batch_sizes is not None:
            batch = int(batch_sizes[0])
        else:
            batch = input.shape[0] if self.batch_first else input.shape[1]
        directions = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * directions, batch, size)

    def check_hidden_size(self, hx: Tensor, expected_hidden_size: tuple[int, int, int],
                          msg: str = "Expected hidden size {}, got {}") -> None:
        """Raise a RuntimeError unless ``hx`` has ``expected_hidden_size``."""
        if tuple(hx.shape) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.shape)))

    def check_forward_args(self, input: Tensor, hidden: Tensor, batch_sizes: Any) -> None:
        """Check the input and the initial hidden state."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx: Tensor, permutation: Tensor | None) -> Tensor:
        """``hx`` with its batch dim reordered by ``permutation`` (None: unchanged)."""
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # -- the forward pass ----------------------------------------------------------------------
    def _prepare(self, input: Any, hx: Any) -> tuple[Any, ...]:
        """Normalise the call: returns ``(x, batch_sizes, hx, sorted, unsorted, unbatched)``
        with ``x`` the (still batch-first if so) tensor, or packed data, and ``hx`` permuted."""
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            if hx is not None:
                hx = self.permute_hidden(hx, sorted_indices)
            return data, batch_sizes, hx, sorted_indices, unsorted_indices, False
        name = "RNN" if self.mode.startswith("RNN") else self.mode
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D "
                             f"{'tensor ' if name == 'RNN' else ''}instead")
        unbatched = input.dim() == 2
        if unbatched:
            input = input.unsqueeze(0 if self.batch_first else 1)
        return input, None, hx, None, None, unbatched

    def _zeros_state(self, batch: int, size: int, like: Tensor) -> Tensor:
        directions = 2 if self.bidirectional else 1
        return zeros(self.num_layers * directions, batch, size, dtype=like.dtype)

    def _run(self, x: Tensor, batch_sizes: Tensor | None, h0: Tensor,
             c0: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        """The layers over a checked input: ``x`` is padded ``(T, B, F)`` (or ``(B, T, F)``
        with batch_first) or packed ``(N, F)``. Returns the output in the same layout as the
        input, and the stacked final states."""
        packed = batch_sizes is not None
        steps: tuple[int, ...] | None = None
        if packed:
            bs = batch_sizes.numpy().astype(np.int64)
            T, B = bs.shape[0], int(bs[0])
            # Padding positions read row 0: the scan never reads an inactive row, and the
            # gradient it sends there is zero.
            x = index_select(x, 0, as_tensor(padded_index(bs, fill=0)))
            x = x.reshape(T, B, x.shape[-1])
            if bs[-1] != B:
                steps = tuple(int(n) for n in bs)
        elif self.batch_first:
            x = x.transpose(0, 1)
        directions = 2 if self.bidirectional else 1
        all_weights = self.all_weights
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                ws = all_weights[k]
                w_ih, w_hh = ws[0], ws[1]
                b_ih, b_hh = (ws[2], ws[3]) if self.bias else (None, None)
                reverse = direction == 1
                if self.mode == "GRU":
                    ys, h = gru_scan(_project(x, w_ih, b_ih), h0[k], w_hh, b_hh,
                                     batch_sizes=steps, reverse=reverse)
                else:
                    bias = None if b_ih is None else b_ih + b_hh
                    if self.mode == "LSTM":
                        xw = _project_gate_major(x, w_ih, bias)
                        w_hr = ws[-1] if self.proj_size > 0 else None
                        ys, h, c = lstm_scan(xw, h0[k], c0[k], w_hh, w_hr,
                                             batch_sizes=steps, reverse=reverse)
                        c_n.append(c)
                    else:
                        xw = _project(x, w_ih, bias)
                        nonlin = "tanh" if self.mode == "RNN_TANH" else "relu"
                        ys, h = rnn_scan(xw, h0[k], w_hh, nonlinearity=nonlin,
                                         batch_sizes=steps, reverse=reverse)
                outs.append(ys)
                h_n.append(h)
            x = outs[0] if directions == 1 else cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        if packed:
            T, B, W = x.shape
            x = index_select(x.reshape(T * B, W), 0, as_tensor(packed_positions(bs)))
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, stack(h_n), (stack(c_n) if c_n else None)

    def _finish(self, output: Tensor, input: Any, unbatched: bool) -> Any:
        if isinstance(input, PackedSequence):
            return PackedSequence(output, input.batch_sizes, input.sorted_indices,
                                  input.unsorted_indices)
        if unbatched:
            return output.squeeze(0 if self.batch_first else 1)
        return output


class RNN(RNNBase):
    r"""Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` per layer (or ReLU).

    Args:
        input_size: features of each input step.
        hidden_size: features of the hidden state.
        num_layers: stacked layers. Default: 1.
        nonlinearity: ``'tanh'`` or ``'relu'``. Default: ``'tanh'``.
        bias: learn ``b_ih`` and ``b_hh``. Default: ``True``.
        batch_first: inputs and outputs are ``(B, T, *)``. Default: ``False``.
        dropout: dropout on the outputs of every layer but the last. Default: 0.
        bidirectional: add a direction running backwards. Default: ``False``.

    Shape:
        - Input: ``(T, B, input_size)`` (``(B, T, input_size)`` with batch_first),
          ``(T, input_size)`` unbatched, or a :class:`PackedSequence`; ``h_0``:
          ``(D * num_layers, B, hidden_size)``, zeros if omitted (``D = 2`` if bidirectional).
        - Output: ``(T, B, D * hidden_size)`` (or packed) and ``h_n`` shaped as ``h_0``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> rnn = nn.RNN(10, 20, 2)
        >>> output, h_n = rnn(chainrule.randn(5, 3, 10), chainrule.randn(2, 3, 20))
        >>> tuple(output.shape), tuple(h_n.shape)
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             f"or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input: Any, hx: Tensor | None = None) -> tuple[Any, Tensor]:
        x, batch_sizes, hx, _, unsorted, unbatched = self._prepare(input, hx)
        if hx is not None and batch_sizes is None:
            if unbatched and hx.dim() != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got "
                                   f"{hx.dim()}-D tensor")
            if not unbatched and hx.dim() != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got "
                                   f"{hx.dim()}-D tensor")
            if unbatched:
                hx = hx.unsqueeze(1)
        if hx is None:
            batch = self.get_expected_hidden_size(x, batch_sizes)[1]
            hx = self._zeros_state(batch, self.hidden_size, x)
        self.check_forward_args(x, hx, batch_sizes)
        output, h_n, _ = self._run(x, batch_sizes, hx, None)
        if unbatched:
            h_n = h_n.squeeze(1)
        return self._finish(output, input, unbatched), self.permute_hidden(h_n, unsorted)


class LSTM(RNNBase):
    r"""Long short-term memory: per layer ``i, f, o = sigmoid(.)``, ``g = tanh(.)`` of
    ``x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh`` (four blocks), ``c_t = f c_{t-1} + i g``,
    ``h_t = o tanh(c_t)`` (then ``h_t W_hr^T`` when ``proj_size > 0``).

    Args:
        input_size: features of each input step.
        hidden_size: features of the cell state (and of ``h`` without projection).
        num_layers: stacked layers. Default: 1.
        bias: learn ``b_ih`` and ``b_hh``. Default: ``True``.
        batch_first: inputs and outputs are ``(B, T, *)``. Default: ``False``.
        dropout: dropout on the outputs of every layer but the last. Default: 0.
        bidirectional: add a direction running backwards. Default: ``False``.
        proj_size: project ``h`` to this size (``weight_hr_l{k}``). Default: 0.

    Shape:
        - Input: ``(T, B, input_size)`` (``(B, T, input_size)`` with batch_first),
          ``(T, input_size)`` unbatched, or a :class:`PackedSequence`; ``(h_0, c_0)``:
          ``(D * num_layers, B, H_out)`` and ``(D * num_layers, B, hidden_size)``, zeros if
          omitted (``H_out = proj_size or hidden_size``).
        - Output: ``(T, B, D * H_out)`` (or packed) and ``(h_n, c_n)`` shaped as the states.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> lstm = nn.LSTM(10, 20, 2)
        >>> output, (h_n, c_n) = lstm(chainrule.randn(5, 3, 10))
        >>> tuple(output.shape), tuple(h_n.shape), tuple(c_n.shape)
        ((5, 3, 20), (2, 3, 20), (2, 3, 20))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input: Tensor, batch_sizes: Any) -> tuple[int, int, int]:
        """``(num_layers * directions, batch, hidden_size)``."""
        shape = self.get_expected_hidden_size(input, batch_sizes)
        return (shape[0], shape[1], self.hidden_size)

    def check_forward_args(self, input: Tensor, hidden: Any, batch_sizes: Any) -> None:
        """Check the input and both initial states."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx: Any, permutation: Tensor | None) -> Any:
        """Both states with their batch dim reordered by ``permutation``."""
        if permutation is None:
            return hx
        return hx[0].index_select(1, permutation), hx[1].index_select(1, permutation)

    def forward(self, input: Any, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Any, Any]:
        packed = isinstance(input, PackedSequence)
        if hx is not None and not packed:
            batched = input.dim() == 3
            dims = (hx[0].dim(), hx[1].dim())
            if batched and dims != (3, 3):
                raise RuntimeError(f"For batched 3-D input, hx and cx should also be 3-D but "
                                   f"got ({dims[0]}-D, {dims[1]}-D) tensors")
            if not batched and dims != (2, 2):
                raise RuntimeError(f"For unbatched 2-D input, hx and cx should also be 2-D but "
                                   f"got ({dims[0]}-D, {dims[1]}-D) tensors")
            if not batched:
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        x, batch_sizes, hx, _, unsorted, unbatched = self._prepare(input, hx)
        if hx is None:
            batch = self.get_expected_hidden_size(x, batch_sizes)[1]
            real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
            hx = (self._zeros_state(batch, real_hidden, x),
                  self._zeros_state(batch, self.hidden_size, x))
        self.check_forward_args(x, hx, batch_sizes)
        output, h_n, c_n = self._run(x, batch_sizes, hx[0], hx[1])
        if unbatched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return self._finish(output, input, unbatched), self.permute_hidden((h_n, c_n), unsorted)


class GRU(RNNBase):
    r"""Gated recurrent unit: per layer ``r, z = sigmoid(.)`` of ``x_t W_i^T + b_i +
    h_{t-1} W_h^T + b_h`` (their blocks), ``n = tanh(x_t W_in^T + b_in + r (h_{t-1} W_hn^T +
    b_hn))``, ``h_t = (1 - z) n + z h_{t-1}`` (torch's placement of ``r``).

    Args:
        input_size: features of each input step.
        hidden_size: features of the hidden state.
        num_layers: stacked layers. Default: 1.
        bias: learn ``b_ih`` and ``b_hh``. Default: ``True``.
        batch_first: inputs and outputs are ``(B, T, *)``. Default: ``False``.
        dropout: dropout on the outputs of every layer but the last. Default: 0.
        bidirectional: add a direction running backwards. Default: ``False``.

    Shape:
        - Input: ``(T, B, input_size)`` (``(B, T, input_size)`` with batch_first),
          ``(T, input_size)`` unbatched, or a :class:`PackedSequence`; ``h_0``:
          ``(D * num_layers, B, hidden_size)``, zeros if omitted.
        - Output: ``(T, B, D * hidden_size)`` (or packed) and ``h_n`` shaped as ``h_0``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> gru = nn.GRU(10, 20, 2, batch_first=True)
        >>> output, h_n = gru(chainrule.randn(3, 5, 10))
        >>> tuple(output.shape), tuple(h_n.shape)
        ((3, 5, 20), (2, 3, 20))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    forward = RNN.forward


# ---------------------------------------------------------------------------------------------
# Cells


class RNNCellBase(Module):
    """Parameters of a single-step cell: ``weight_ih`` ``(chunks * hidden, input)``,
    ``weight_hh`` ``(chunks * hidden, hidden)``, ``bias_ih`` and ``bias_hh``, all from
    ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``.

    Example:
        >>> from chainrule import nn
        >>> [(n, tuple(p.shape)) for n, p in nn.GRUCell(3, 2).named_parameters()][:2]
        [('weight_ih', (6, 3)), ('weight_hh', (6, 2))]
    """

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), device=device,
                                         dtype=dtype))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size),
                                         device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = self.__dict__.get("nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def reset_parameters(self) -> None:
        """Redraw every weight and bias from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _check(self, name: str, input: Tensor, states: tuple[Tensor, ...]) -> bool:
        """torch's checks; returns whether the input is batched."""
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D "
                             f"instead")
        for i, h in enumerate(states):
            if h is not None and h.dim() not in (1, 2):
                which = "hidden" if len(states) == 1 else f"hx[{i}]"
                raise ValueError(f"{name}: Expected {which} to be 1D or 2D, got {h.dim()}D "
                                 f"instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {self.input_size}")
        for i, h in enumerate(states):
            if h is not None and h.shape[-1] != self.hidden_size:
                raise RuntimeError(f"hidden{i} has inconsistent hidden_size: got "
                                   f"{h.shape[-1]}, expected {self.hidden_size}")
            if (h is not None and input.dim() == 2 and h.dim() == 2
                    and h.shape[0] != input.shape[0]):
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{i} "
                                   f"batch size {h.shape[0]}")
        return input.dim() == 2

    def _xw(self, input: Tensor, fold_hh_bias: bool) -> Tensor:
        """``input @ W_ih^T + b_ih (+ b_hh)`` as a one-step sequence ``(1, B, G)``."""
        if self.bias_ih is None:
            xw = matmul(input, self.weight_ih.t())
        else:
            b = self.bias_ih + self.bias_hh if fold_hh_bias else self.bias_ih
            xw = addmm(b, input, self.weight_ih.t())
        return xw.unsqueeze(0)


class RNNCell(RNNCellBase):
    r"""One step of an Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or ReLU).

    Args:
        input_size: features of the input.
        hidden_size: features of the hidden state.
        bias: learn ``b_ih`` and ``b_hh``. Default: ``True``.
        nonlinearity: ``'tanh'`` or ``'relu'``. Default: ``'tanh'``.

    Shape:
        - Input: ``(B, input_size)`` or ``(input_size)``; hidden ``(B, hidden_size)`` or
          ``(hidden_size)``, zeros if omitted.
        - Output: ``(B, hidden_size)`` or ``(hidden_size)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> cell = nn.RNNCell(10, 20)
        >>> hx = chainrule.randn(3, 20)
        >>> for x in chainrule.randn(6, 3, 10):
        ...     hx = cell(x, hx)
        >>> tuple(hx.shape)
        (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device,
                         dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if input.dim() in (1, 2) and self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        batched = self._check("RNNCell", input, (hx,))
        if not batched:
            input = input.unsqueeze(0)
            hx = None if hx is None else hx.unsqueeze(0)
        if hx is None:
            hx = zeros(input.shape[0], self.hidden_size, dtype=input.dtype)
        _, h = rnn_scan(self._xw(input, True), hx, self.weight_hh,
                        nonlinearity=self.nonlinearity)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    r"""One LSTM step: ``i, f, o = sigmoid(.)``, ``g = tanh(.)`` of ``x W_ih^T + b_ih +
    h W_hh^T + b_hh``, ``c' = f c + i g``, ``h' = o tanh(c')``.

    Args:
        input_size: features of the input.
        hidden_size: features of the hidden and cell states.
        bias: learn ``b_ih`` and ``b_hh``. Default: ``True``.

    Shape:
        - Input: ``(B, input_size)`` or ``(input_size)``; ``(h, c)`` each ``(B, hidden_size)``
          or ``(hidden_size)``, zeros if omitted.
        - Output: ``(h', c')`` shaped as the states.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> cell = nn.LSTMCell(10, 20)
        >>> hx, cx = chainrule.randn(3, 20), chainrule.randn(3, 20)
        >>> for x in chainrule.randn(2, 3, 10):
        ...     hx, cx = cell(x, (hx, cx))
        >>> tuple(hx.shape), tuple(cx.shape)
        ((3, 20), (3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device,
                         dtype=dtype)

    def forward(self, input: Tensor,
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        batched = self._check("LSTMCell", input, tuple(hx) if hx is not None else (None,))
        if not batched:
            input = input.unsqueeze(0)
            hx = None if hx is None else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        if hx is None:
            z = zeros(input.shape[0], self.hidden_size, dtype=input.dtype)
            hx = (z, z)
        _, h, c = lstm_scan(self._xw(input, True), hx[0], hx[1], self.weight_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    r"""One GRU step: ``r, z = sigmoid(.)``, ``n = tanh(x W_in^T + b_in + r (h W_hn^T +
    b_hn))``, ``h' = (1 - z) n + z h``.

    Args:
        input_size: features of the input.
        hidden_size: features of the hidden state.
        bias: learn ``b_ih`` and ``b_hh``. Default: ``True``.

    Shape:
        - Input: ``(B, input_size)`` or ``(input_size)``; hidden ``(B, hidden_size)`` or
          ``(hidden_size)``, zeros if omitted.
        - Output: ``(B, hidden_size)`` or ``(hidden_size)``.

    Example:
        >>> import chainrule
        >>> from chainrule import nn
        >>> cell = nn.GRUCell(10, 20)
        >>> tuple(cell(chainrule.randn(3, 10)).shape)
        (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device,
                         dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        batched = self._check("GRUCell", input, (hx,))
        if not batched:
            input = input.unsqueeze(0)
            hx = None if hx is None else hx.unsqueeze(0)
        if hx is None:
            hx = zeros(input.shape[0], self.hidden_size, dtype=input.dtype)
        _, h = gru_scan(self._xw(input, False), hx, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
