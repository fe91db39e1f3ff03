"""Keyed streams of uniforms, the contract behind common random numbers (the module text
of :mod:`sim.inputs`): each stream a PCG64 generator seeded by ``SeedSequence(seed,
spawn_key=KEY)``, read at fixed places (number ``slot * SPAN + k`` for the case of key
``k``) by jumping ahead, never by drawing what lies before."""

from __future__ import annotations

import zlib

import numpy as np
from numpy.typing import NDArray

# stream codes (never renumber: seeds depend on them)
Q_ARRIVAL, Q_CHANNEL, Q_STAGE, Q_ITEM, Q_RECORDED, Q_ATTRIBUTE, Q_PATH = 1, 2, 3, 14, 15, 16, 17
#: numbers of one quantity slot in a stream: more than any class's cases (counts <= 1e9)
SPAN = 1 << 40
# the slots of an item's stream: one each, then one per submission (max_attempts <= 1,000)
S_SKIP, S_DELAY, S_AUDIT, S_AUDIT_SERVICE, S_REVOKE = 0, 1, 2, 3, 4
S_SERVICE, S_DEFICIENT, S_FIX, S_PATIENCE, S_LAG = 8, 1032, 2056, 3080, 4104  # + submission
_PERIOD = 1 << 128

F64 = NDArray[np.float64]


def _h(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Stream:
    """One keyed stream of uniforms, read at fixed places (see the module's text)."""

    def __init__(self, seed: int, key: tuple[int, ...]) -> None:
        self._bits = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key))
        self._gen = np.random.Generator(self._bits)
        self._at = 0

    def take(self, slot: int, k0: int, k1: int, out: F64 | None = None) -> F64:
        """The uniforms of cases ``k0 .. k1 - 1`` in quantity slot ``slot`` (written into
        ``out``, contiguous, of that length, when given)."""
        start = slot * SPAN + k0
        if start != self._at:
            self._bits.advance((start - self._at) % _PERIOD)  # modulo the period: back too
        n = max(0, k1 - k0)
        out = self._gen.random(n) if out is None else self._gen.random(out=out)
        self._at = start + n
        return out

    def attempt_rows(self, slot: int, k0: int, k1: int, attempts: int) -> F64:
        """(attempts, k1 - k0) uniforms: row k, submission k's, from slot ``slot + k``."""
        out = np.empty((attempts, max(0, k1 - k0)))
        for k in range(attempts):
            self.take(slot + k, k0, k1, out[k])
        return out

    def attempts(self, slot: int, k0: int, k1: int, attempts: int) -> F64:
        """(k1 - k0, attempts) uniforms: submission k from slot ``slot + k`` (a view of
        :meth:`attempt_rows`)."""
        return self.attempt_rows(slot, k0, k1, attempts).T
