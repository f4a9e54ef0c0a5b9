"""Intra-op parallelism (chainrule/_backend/threads.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from chainrule._backend import threads


def test_split_covers_the_range_in_order_with_sizes_within_one():
    for n in (0, 1, 5, 64, 101):
        for parts in (1, 2, 3, 8):
            ranges = threads.split(n, parts)
            assert ranges[0][0] == 0 and ranges[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
            sizes = [b - a for a, b in ranges]
            assert max(sizes) - min(sizes) <= 1
            assert len(ranges) == max(1, min(parts, n))


def test_run_parts_returns_results_in_order():
    a = np.arange(1000, dtype=np.float64)
    parts = [lambda lo=lo, hi=hi: float(a[lo:hi].sum()) for lo, hi in threads.split(1000, 4)]
    assert threads.run_parts(parts) == [float(a[lo:hi].sum()) for lo, hi in threads.split(1000, 4)]


def test_run_parts_uses_another_thread_when_the_blas_has_two(monkeypatch):
    if threads._blas() is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS whose thread count can be set")
    monkeypatch.setattr(threads, "num_threads", lambda: 2)
    seen = threads.run_parts([threading.get_ident, threading.get_ident])
    assert seen[0] == threading.get_ident() and seen[1] != seen[0]


def test_blas_runs_one_thread_inside_a_region_and_its_count_is_restored(monkeypatch):
    if threads._blas() is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS whose thread count can be set")
    setter, getter = threads._blas()
    before = getter()
    monkeypatch.setattr(threads, "num_threads", lambda: 2)
    inside = threads.run_parts([getter, getter])
    assert inside == [1, 1]
    assert getter() == before


def test_an_exception_in_a_part_reaches_the_caller_after_all_parts_ran(monkeypatch):
    monkeypatch.setattr(threads, "num_threads", lambda: 2)
    ran = []

    def bad() -> None:
        raise ValueError("part failed")

    with pytest.raises(ValueError, match="part failed"):
        threads.run_parts([bad, lambda: ran.append(1)])
    assert ran == [1]
    assert threads.run_parts([lambda: 1, lambda: 2]) == [1, 2]  # the pool still works


def test_a_part_sees_one_thread_so_nested_regions_run_serially():
    if threads._blas() is None or threads.num_threads() == 1:
        pytest.skip("needs an OpenBLAS with more than one thread")
    assert threads.run_parts([threads.num_threads, threads.num_threads]) == [1, 1]
