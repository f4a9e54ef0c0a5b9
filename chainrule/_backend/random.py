"""Random number generation: torch's Generator API over NumPy's PCG64 bit generator.

Note: chainrule's streams are not bit-identical to torch's (different algorithms);
reproducibility holds within chainrule: the same seed gives the same numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state"]

_MASK128 = (1 << 128) - 1


class Generator:
    """A pseudo-random number generator with torch's ``Generator`` interface.

    Args:
        device: only ``'cpu'`` is meaningful today.

    Example:
        >>> import chainrule
        >>> g = chainrule.Generator().manual_seed(0)
        >>> a = chainrule.rand(3, generator=g)
        >>> _ = g.manual_seed(0)
        >>> bool((chainrule.rand(3, generator=g) == a).all())
        True
    """

    def __init__(self, device: object = "cpu") -> None:
        self.device = device
        self._seed = 67280421310721  # torch's default initial seed
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    @property
    def np(self) -> np.random.Generator:
        """The NumPy ``Generator`` that draws the numbers."""
        return self._rng

    def manual_seed(self, seed: int) -> Generator:
        """Reset the generator to the stream of ``seed``; returns ``self`` as torch does."""
        seed = int(seed)
        if seed < 0:
            # torch accepts negative seeds by wrapping them into uint64
            seed &= (1 << 64) - 1
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self) -> int:
        """Seed from a non-deterministic source and return that seed."""
        s = int(np.random.SeedSequence().entropy) & ((1 << 63) - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed this generator was last seeded with."""
        return self._seed

    def get_state(self):  # -> Tensor
        """The full state as a ``uint8`` tensor, to restore with :meth:`set_state`."""
        from chainrule._backend import _make_tensor

        st = self._rng.bit_generator.state
        raw = (st["state"]["state"].to_bytes(16, "little")
               + st["state"]["inc"].to_bytes(16, "little")
               + bytes([st["has_uint32"]]) + int(st["uinteger"]).to_bytes(4, "little")
               + self._seed.to_bytes(8, "little"))
        return _make_tensor(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state) -> Generator:
        """Restore a state returned by :meth:`get_state`."""
        raw = bytes(np.asarray(new_state.numpy() if hasattr(new_state, "numpy") else new_state,
                               dtype=np.uint8))
        if len(raw) != 45:
            raise RuntimeError(f"Expected a state of 45 bytes, got {len(raw)}")
        bg = np.random.PCG64()
        bg.state = {"bit_generator": "PCG64",
                    "state": {"state": int.from_bytes(raw[:16], "little") & _MASK128,
                              "inc": int.from_bytes(raw[16:32], "little") & _MASK128},
                    "has_uint32": raw[32], "uinteger": int.from_bytes(raw[33:37], "little")}
        self._rng = np.random.Generator(bg)
        self._seed = int.from_bytes(raw[37:45], "little")
        return self

    def __repr__(self) -> str:
        return "<chainrule.Generator object>"


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (``torch.manual_seed``); returns it.

    Example:
        >>> import chainrule
        >>> _ = chainrule.manual_seed(0); a = chainrule.randn(2)
        >>> _ = chainrule.manual_seed(0); bool((chainrule.randn(2) == a).all())
        True
    """
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator non-deterministically and return the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state as a ``uint8`` tensor."""
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """Restore the default generator's state."""
    default_generator.set_state(new_state)


def rng(generator: Generator | None) -> np.random.Generator:
    """The NumPy generator to draw from: ``generator``'s, or the default one."""
    return (generator if generator is not None else default_generator)._rng
