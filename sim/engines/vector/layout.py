"""The layout of the event loop's arrays (:mod:`sim.engines.vector.loop`).

The action codes (the low four bits of an event's payload), the queue kinds, the columns
of the state tables (per case, per branch, per queue node: each row padded to one 64-byte
cache line), the branch states and case phases, the scalar state kept between calls, the
heap's base offset ``HB``, and the cache-aligned allocation the tables and the heap are
made with (:func:`_aligned`; :func:`_double` grows them). The overview of the engine is
the docstring of :mod:`sim.engines.vector`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.results.records import AUDIT, POOL, SUBMISSION

# actions (low 4 bits of an event payload)
A_ARRIVE, A_ROUTE, A_STAGE, A_NEXT, A_BEGIN, A_JOIN, A_SVC_END = 0, 1, 2, 3, 4, 5, 6
A_RENEGE, A_BDONE, A_WORK, A_STAGE_END, A_AUDIT_END, A_LAG_END, A_RESULT = (
    7, 8, 9, 10, 11, 12, 13)
A_SCHED = 14  # a schedule's count change (target: its index in the list of changes)
A_SESSION = 15  # a review session opens (target: its index in the list of sessions)
# queue kinds
K_SUB, K_AUDIT, K_POOL = SUBMISSION, AUDIT, POOL
# case int state columns
CI_STAGE, CI_PENDING, CI_BEST, CI_ABANDON, CI_POOL, CI_PVROW, CI_REFS, CI_PHASE = range(8)
NCI = 8
# case float state columns
CF_WEND, CF_SUPP, CF_BEND, CF_S, CF_Q, CF_A = range(6)
NCF = 8  # padded: a row is one aligned cache line
# branch int state columns
BI_POS, BI_ITEM, BI_ATT, BI_STATE, BI_NODE, BI_VROW, BI_LEVEL = range(7)
NBI = 8  # padded: a row is one aligned cache line
# branch float state columns
BF_A, BF_START, BF_S, BF_Q, BF_AP, BF_PEND, BF_SEND = range(7)
NBF = 8  # padded: a row is one aligned cache line
# branch states
B_IDLE, B_DELAY, B_WAIT, B_SERVICE, B_FIX, B_RENEGED, B_LAG = 0, 1, 2, 3, 4, 5, 6
# case phases (what holds the case's critical-path triple while it is open)
P_NONE, P_SEQ, P_PAR = 0, 1, 2
# queue node columns
ND_CASE, ND_SLOT, ND_KIND, ND_REF, ND_VROW, ND_NEXT, ND_PREV = range(7)
NND = 8  # padded: a row is one aligned cache line
# scalar state
(SC_HSIZE, SC_NEXT, SC_FREE, SC_NCOUNT, SC_NV, SC_LO, SC_EVENTS, SC_SP, SC_NDIRTY, SC_MID,
 SC_DI, SC_SCHED, SC_SES) = range(13)
NSC = 13  # SC_SCHED (SC_SES): 1 once the first schedule change (session) is on the heap

# the heap's node i is at index HB + i: children 8i+1 .. 8i+8 then start a cache line
HB = 7


def _aligned(shape: tuple[int, ...], dtype: Any, line: int = 64) -> np.ndarray:
    """Zeros of ``shape`` starting on a cache-line boundary: rows of 64 bytes (the state
    tables) then sit on one line each instead of straddling two."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(size + line, dtype=np.uint8)
    skip = -raw.ctypes.data % line
    return raw[skip:skip + size].view(dtype).reshape(shape)


def _double(a: np.ndarray) -> np.ndarray:
    b = _aligned((2 * a.shape[0], *a.shape[1:]), a.dtype)
    b[: a.shape[0]] = a
    return b
