"""Each collective on 2 ranks against a NumPy reduction of both ranks' inputs."""

from __future__ import annotations

from typing import Any

import pytest

WORLD = 2  # the worker job's size (conftest.py)

CASES = ["all_reduce", "all_reduce_small_types", "broadcast", "reduce", "all_gather",
         "all_gather_into_tensor", "gather_scatter", "reduce_scatter",
         "barrier_and_point_to_point"]


@pytest.mark.parametrize("case", CASES)
def test_collective_matches_numpy(worker: Any, case: str) -> None:
    assert worker.check(case) > 0


def test_all_reduce_covers_every_op_dtype_and_mode(worker: Any) -> None:
    labels = set(worker.reports[0]["all_reduce"]["arrays"])
    for op in ("SUM", "AVG", "MAX", "MIN", "PRODUCT"):
        for mode in ("False", "True"):
            assert f"float32/{op}/{mode}" in labels and f"float64/{op}/{mode}" in labels
    assert "int64/MAX/True" in labels and "int64/AVG/False" not in labels


def test_recv_reports_the_sender(worker: Any) -> None:
    assert [worker.facts("barrier_and_point_to_point", r)["sender"] for r in range(WORLD)] == \
        [1, 0]


def test_misuse_raises_torch_error_types_before_communicating(worker: Any) -> None:
    for rank in range(WORLD):
        assert worker.facts("collective_errors", rank) == {
            "non_contiguous": "RuntimeError", "avg_int": "ValueError",
            "band_float": "ValueError", "not_a_tensor": "TypeError",
            "list_size": "ValueError", "into_tensor_size": "ValueError",
            "bad_src": "ValueError", "send_to_self": "ValueError",
            "read_only": "RuntimeError"}


def test_in_place_result_bumps_the_version_counter(worker: Any) -> None:
    # all_reduce on a tensor saved for backward: backward must refuse the stale value
    assert all(worker.facts("version_counter", r)["raised"] for r in range(WORLD))
