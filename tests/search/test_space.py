"""Search spaces: grids, log-uniform draws, shrinking around the best."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chainrule.search import Categorical, Float, Int, grid_points, random_points, shrink_space
from chainrule.search.space import normalize_space


def test_grid_is_the_cartesian_product() -> None:
    pts = grid_points({"lr": Float(1e-3, 1e-1, log=True), "width": Int(1, 3),
                       "opt": Categorical(("SGD", "Adam"))}, points=3)
    assert len(pts) == 3 * 3 * 2
    assert sorted({p["lr"] for p in pts}) == pytest.approx([1e-3, 1e-2, 1e-1])
    assert {p["width"] for p in pts} == {1, 2, 3} and {p["opt"] for p in pts} == {"SGD", "Adam"}
    assert len({tuple(sorted(p.items())) for p in pts}) == len(pts)
    assert all(1e-3 <= p["lr"] <= 1e-1 for p in pts)  # endpoints clipped into the range


def test_grid_of_ranges_with_steps() -> None:
    assert [p["n"] for p in grid_points({"n": Int(16, 64, step=16)})] == [16, 32, 48, 64]
    assert [p["x"] for p in grid_points({"x": Float(0.0, 1.0)}, points=3)] == [0.0, 0.5, 1.0]
    wide = [p["n"] for p in grid_points({"n": Int(1, 1000, log=True)}, points=4)]
    assert wide == [1, 10, 100, 1000]


def test_random_points_are_log_uniform_and_seeded() -> None:
    pts = random_points({"lr": Float(1e-5, 1.0, log=True), "n": Int(2, 5)}, 2000, seed=1)
    logs = np.log10([p["lr"] for p in pts])
    assert np.histogram(logs, bins=5, range=(-5, 0))[0].min() > 300  # every decade alike
    counts = np.bincount([p["n"] for p in pts])[2:]
    assert len(counts) == 4 and counts.min() > 400  # both ends as likely as the middle
    assert random_points({"lr": Float(0.1, 1.0)}, 3, seed=4) == \
        random_points({"lr": Float(0.1, 1.0)}, 3, seed=4)


def test_shrink_recentres_inside_the_bounds() -> None:
    space = normalize_space({"lr": Float(1e-4, 1.0, log=True), "x": Float(0.0, 10.0),
                             "opt": ["SGD", "Adam"]})
    small = shrink_space(space, {"lr": 1e-2, "x": 9.5, "opt": "Adam"}, 0.5)
    assert math.log10(small["lr"]["high"]) - math.log10(small["lr"]["low"]) == pytest.approx(2)
    assert small["lr"]["low"] == pytest.approx(1e-3) and small["lr"]["high"] == pytest.approx(0.1)
    assert (small["x"]["low"], small["x"]["high"]) == (5.0, 10.0)  # kept inside the bounds
    assert small["opt"] == {"type": "categorical", "choices": ["Adam"]}


@pytest.mark.parametrize("spec,words", [
    ({"type": "float", "low": 1, "high": 0}, "low must be below high"),
    ({"type": "float", "low": 0, "high": 1, "log": True}, "start above 0"),
    ([], "no choices"),
    ({"type": "normal"}, "expected a list of choices"),
    ([object()], "is not a number"),
])
def test_bad_spaces(spec, words) -> None:
    with pytest.raises(ValueError, match=words):
        normalize_space({"p": spec})
