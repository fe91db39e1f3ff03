"""Action codes and branch numbers of the event loop, and the prefetch they drive.

An action code packs ``target << sh | (item << kb | attempt) << 4 | action`` in one
int64, with field widths from :func:`_bits`; branch ``g`` is slot ``g & (W - 1)`` of
case ``g >> log2(W)`` (:func:`_branch_at`). :func:`_warm` decodes the code of the next
event and prefetches (:func:`_prefetch`, an LLVM intrinsic) the rows it will read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from sim.engines.vector.kernels import F64, I64, _inline, _u, no_nrt
from sim.engines.vector.layout import (
    A_JOIN,
    A_LAG_END,
    A_SVC_END,
    BI_ATT,
    BI_ITEM,
    NBF,
    NBI,
    NCF,
    NCI,
)


def _prefetch_typer(typingctx: Any, arr: Any, idx: Any) -> Any:
    """``_prefetch(arr, idx)``: ask the CPU to bring ``arr.flat[idx]`` (C order) into cache.

    It computes nothing: a prefetch never faults and has no visible effect, so an index
    that is off (or out of bounds) only wastes the hint; the records cannot depend on it.
    """
    sig = types.void(arr, types.intp)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        i8p = builder.bitcast(builder.gep(ary.data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [i8p, i32(0), i32(3), i32(1)])  # read, keep in all levels, data
        return context.get_dummy_value()

    return sig, codegen


# called from compiled code as ``_prefetch(arr, idx)`` (numba supplies ``typingctx``)
_prefetch: Callable[[Any, int], None] = intrinsic(_prefetch_typer)  # type: ignore[assignment]


@_inline
def _branch_at(br_i: I64, item_station: I64, base: int, wb: int,
               g: int) -> tuple[int, int, int, int, int]:
    """Branch ``g``'s case, its input row, item, attempt and the item's station."""
    i = g >> wb
    j = br_i[_u(g), BI_ITEM]
    return i, i - base, j, br_i[_u(g), BI_ATT], item_station[_u(j)]


@no_nrt
def _bits(m: int) -> int:
    """Bits that hold the values ``0 .. m - 1``."""
    b = 0
    while (1 << b) < m:
        b += 1
    return b


@_inline
def _warm(code: int, sh: int, kb: int, wb: int, base: int, J: int, K: int, has_pat: bool,
          br_i: I64, br_f: F64, cs_i: I64, cs_f: F64, visit: Any, service0: F64,
          patience: Any, deficient0: Any, run_item: Any, delay: F64) -> None:
    """Prefetch what the action ``code`` will read: its branch's and case's state rows and
    the inputs of its item and attempt.

    The heap's top is usually the next action, and its data (rows of large arrays, read
    in no useful order) would otherwise be fetched from memory one miss after another
    while the loop waits; prefetched during the current action, they overlap with it.
    """
    act = code & 15
    if act != A_JOIN and act != A_SVC_END and act != A_LAG_END:
        return
    g = code >> sh
    jk = (code >> 4) & ((1 << (sh - 4)) - 1)
    j = jk >> kb
    k = jk & ((1 << kb) - 1)
    i = g >> wb
    ij = (i - base) * J + j
    _prefetch(br_i, g * NBI)
    _prefetch(br_f, g * NBF)
    _prefetch(cs_i, i * NCI)
    _prefetch(cs_f, i * NCF)
    if act == A_JOIN:
        _prefetch(visit, ij)
        if k == 0:  # (a later submission's row is found when it is served)
            _prefetch(service0, ij)
        if has_pat:
            _prefetch(patience, ij * K + k)
    else:  # the result, then (often) the next item
        if k == 0:
            _prefetch(deficient0, ij)
        _prefetch(run_item, ij)
        _prefetch(delay, ij + 1)
        _prefetch(service0, ij + 1)
