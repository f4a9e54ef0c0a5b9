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


@pytest.fixture
def fake_blas(monkeypatch):
    """A BLAS library with two threads whose count the module sets and reads (the tests do
    not depend on the machine's BLAS or on how many threads pytest gives it)."""
    count = {"threads": 2}

    def set_threads(n: int) -> None:
        count["threads"] = n

    monkeypatch.setattr(threads, "_blas", lambda: (set_threads, lambda: count["threads"]))
    return count


def test_run_parts_uses_another_thread(fake_blas):
    assert threads.num_threads() == 2
    seen = threads.run_parts([threading.get_ident, threading.get_ident])
    assert seen[0] == threading.get_ident() and seen[1] != seen[0]


def test_blas_runs_one_thread_inside_a_region_and_its_count_is_restored(fake_blas):
    inside = threads.run_parts([lambda: fake_blas["threads"]] * 2)
    assert inside == [1, 1]
    assert fake_blas["threads"] == 2


def test_a_part_sees_one_thread_so_nested_regions_run_serially(fake_blas):
    assert threads.run_parts([threads.num_threads, threads.num_threads]) == [1, 1]

    def nested() -> list:
        return threads.run_parts([threading.get_ident, threading.get_ident])

    for idents in threads.run_parts([nested, nested]):
        assert idents[0] == idents[1]  # both parts of a nested region on one thread


def test_over_range_and_in_parts_cover_everything_once(fake_blas):
    assert threads.over_range(10, lambda a, b: (a, b)) == [(0, 5), (5, 10)]
    assert threads.over_range(10, lambda a, b: (a, b), worth_it=False) == [(0, 10)]
    x = np.arange(10.0)
    out = np.zeros(10)
    threads.in_parts(lambda x, out: np.multiply(x, 3, out=out), x, out, min_size=0)
    np.testing.assert_array_equal(out, x * 3)


def test_an_exception_in_a_part_reaches_the_caller_after_all_parts_ran(monkeypatch):
    monkeypatch.setattr(threads, "num_threads", lambda: 2)
    ran = []

    def bad() -> None:
        raise ValueError("part failed")

    with pytest.raises(ValueError, match="part failed"):
        threads.run_parts([bad, lambda: ran.append(1)])
    assert ran == [1]
    assert threads.run_parts([lambda: 1, lambda: 2]) == [1, 2]  # the pool still works


def test_regions_from_two_python_threads_keep_their_own_results(fake_blas):
    errors = []

    def caller(tag: int) -> None:
        for i in range(200):
            got = threads.run_parts([lambda i=i: (tag, i, 0), lambda i=i: (tag, i, 1)])
            if got != [(tag, i, 0), (tag, i, 1)]:
                errors.append(got)

    others = [threading.Thread(target=caller, args=(tag,)) for tag in range(3)]
    for t in others:
        t.start()
    for t in others:
        t.join()
    assert not errors
    assert fake_blas["threads"] == 2


@pytest.mark.parametrize("shapes", [((6, 5), (5, 9)), ((9, 5), (5, 4)), ((3, 6, 5), (3, 5, 7)),
                                    ((2, 3, 6, 5), (3, 5, 7)), ((6, 5), (5,)), ((4, 4), (4, 4))])
def test_matmul_split_over_threads_equals_numpy(shapes, fake_blas, monkeypatch):
    monkeypatch.setattr(threads, "_BLAS_THREADS_FROM", 0)
    monkeypatch.setattr(threads, "_PARALLEL_FLOP", 0)
    monkeypatch.setattr(threads, "_OWN_RECENT_S", float("inf"))  # always split
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    out = threads.matmul(a, b)
    expected = np.matmul(a, b)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    if expected.ndim:  # into a given array (row- or column-major), as np.matmul's out=
        for given in (np.empty_like(expected), np.asfortranarray(np.empty_like(expected))):
            assert threads.matmul(a, b, out=given) is given
            np.testing.assert_allclose(given, expected, rtol=1e-6, atol=1e-6)
    assert fake_blas["threads"] == 2
    ints = threads.matmul(np.arange(12).reshape(3, 4), np.arange(8).reshape(4, 2))
    np.testing.assert_array_equal(ints, np.arange(12).reshape(3, 4) @ np.arange(8).reshape(4, 2))


def test_matmul_splits_only_after_other_work_was_split(fake_blas, monkeypatch):
    # GEMMs are left to the BLAS's own threads, unless chainrule split other work lately.
    monkeypatch.setattr(threads, "_BLAS_THREADS_FROM", 0)
    monkeypatch.setattr(threads, "_PARALLEL_FLOP", 0)
    monkeypatch.setattr(threads, "_last_own", float("-inf"))
    regions = []
    real = threads.run_parts
    monkeypatch.setattr(threads, "run_parts", lambda parts, gemm=False: regions.append(
        (len(parts), gemm)) or real(parts, gemm))
    a, b = np.ones((8, 4)), np.ones((4, 8))
    threads.matmul(a, b)
    assert regions == []
    threads.over_range(4, lambda lo, hi: None)  # other work, split over two threads
    threads.matmul(a, b)
    assert regions[-1] == (2, True)
