"""sort, argsort, topk, unique, meshgrid, diag, diagonal, repeat_interleave against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule
from chainrule.testing import OpSpec, assert_close, check_against_torch, check_gradients


def _distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> list[np.ndarray]:
    # a permutation of distinct values: no ties, so every gradient is well defined
    return [rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 + 0.05]


# Composites: the primitives they use (gather, index, index_put, index_select) have their own
# specs; these check the composition against torch, values, vjp, jvp and gradcheck.
SPECS = [
    OpSpec("gather", lambda x: chainrule.sort(x, dim=1).values,
           lambda x: torch.sort(x, dim=1).values, make_inputs=lambda r: _distinct(r, (3, 4)),
           variant="sort"),
    OpSpec("gather", lambda x: chainrule.sort(x, dim=0, descending=True).values,
           lambda x: torch.sort(x, dim=0, descending=True).values,
           make_inputs=lambda r: _distinct(r, (3, 4)), variant="sort_desc"),
    OpSpec("gather", lambda x: chainrule.topk(x, 2, dim=1).values,
           lambda x: torch.topk(x, 2, dim=1).values, make_inputs=lambda r: _distinct(r, (3, 5)),
           variant="topk"),
    OpSpec("gather", lambda x: chainrule.topk(x, 3, largest=False).values,
           lambda x: torch.topk(x, 3, largest=False).values,
           make_inputs=lambda r: _distinct(r, (6,)), variant="topk_smallest"),
    OpSpec("index", lambda x: chainrule.diagonal(x, 1), lambda x: torch.diagonal(x, 1),
           shapes=[(3, 4)], variant="diagonal"),
    OpSpec("index", lambda x: chainrule.diagonal(x, -1, 1, 2),
           lambda x: torch.diagonal(x, -1, 1, 2), shapes=[(2, 3, 4)], variant="diagonal_3d"),
    OpSpec("index_put", lambda x: chainrule.diag(x, 1), lambda x: torch.diag(x, 1),
           shapes=[(3,)], variant="diag_embed"),
    OpSpec("index_select", lambda x: chainrule.repeat_interleave(x, 2, dim=1),
           lambda x: torch.repeat_interleave(x, 2, dim=1), shapes=[(2, 3)],
           variant="repeat_interleave"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_against_torch(spec: OpSpec) -> None:
    check_against_torch(spec)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_gradients(spec: OpSpec) -> None:
    check_gradients(spec)


def test_sort_indices_and_ties_match_torch() -> None:
    a = np.array([[3.0, 1.0, 3.0, 2.0], [0.0, 0.0, -1.0, 5.0]])
    for descending in (False, True):
        ours = chainrule.sort(chainrule.tensor(a), dim=1, descending=descending, stable=True)
        theirs = torch.sort(torch.tensor(a), dim=1, descending=descending, stable=True)
        assert ours.indices.tolist() == theirs.indices.tolist()
        assert_close(ours.values, theirs.values)
        assert chainrule.argsort(chainrule.tensor(a), descending=descending).tolist() == \
            torch.argsort(torch.tensor(a), descending=descending, stable=True).tolist()
    # topk's order among ties is unspecified in torch: compare on distinct values
    b = np.array([[3.0, 1.0, 4.0, 2.0], [0.5, 0.0, -1.0, 5.0]])
    assert chainrule.topk(chainrule.tensor(b), 2).indices.tolist() == \
        torch.topk(torch.tensor(b), 2).indices.tolist()


def test_unique_matches_torch() -> None:
    a = np.array([3, 1, 3, 2, 1, 1])
    ours = chainrule.unique(chainrule.tensor(a), return_inverse=True, return_counts=True)
    theirs = torch.unique(torch.tensor(a), return_inverse=True, return_counts=True)
    for o, t in zip(ours, theirs):
        assert o.tolist() == t.tolist()


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_torch(indexing: str) -> None:
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])
    ours = chainrule.meshgrid(chainrule.tensor(a), chainrule.tensor(b), indexing=indexing)
    theirs = torch.meshgrid(torch.tensor(a), torch.tensor(b), indexing=indexing)
    for o, t in zip(ours, theirs):
        assert_close(o, t)


def test_diag_of_matrix_and_errors() -> None:
    m = np.arange(12.0).reshape(3, 4)
    assert_close(chainrule.diag(chainrule.tensor(m), -1), torch.diag(torch.tensor(m), -1))
    with pytest.raises(RuntimeError):
        chainrule.diag(chainrule.zeros(2, 2, 2))
    with pytest.raises(RuntimeError):
        torch.diag(torch.zeros(2, 2, 2))
    with pytest.raises(RuntimeError):
        chainrule.topk(chainrule.ones(3), 4)


def test_cuda_namespace_reports_no_device() -> None:
    assert chainrule.cuda.is_available() is torch.cuda.is_available() is False
