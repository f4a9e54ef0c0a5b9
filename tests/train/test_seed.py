"""seed_everything and the lectures' 60/20/20 split."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

import chainrule
from chainrule.train import seed_everything
from chainrule.utils.data import random_split


def test_seed_everything_fixes_every_generator() -> None:
    def draw():
        return chainrule.randn(3).tolist(), np.random.rand(2).tolist(), random.random()

    assert seed_everything(42) == 42
    a = draw()
    seed_everything(42)
    assert draw() == a and os.environ["PYTHONHASHSEED"] == "42"
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(1.5)


def test_sixty_twenty_twenty_split_is_seeded_and_disjoint() -> None:
    splits = random_split(range(1001), (0.6, 0.2, 0.2),
                          generator=chainrule.Generator().manual_seed(0))
    assert [len(s) for s in splits] == [601, 200, 200]  # the remainder goes round-robin
    seen = [i for s in splits for i in s]
    assert sorted(seen) == list(range(1001))
    again = random_split(range(1001), (0.6, 0.2, 0.2),
                         generator=chainrule.Generator().manual_seed(0))
    assert [list(s) for s in again] == [list(s) for s in splits]
