"""How a ``govsim`` command process starts and ends (the console script, ``python -m sim``).

Two things a command-line process can skip that a notebook cannot:

* **Giving memory back between replications.** glibc returns large freed blocks to the
  system at once, so each replication faults the same hundreds of megabytes in again
  (on a virtual machine that hands freed pages back to its host, every one of them
  slowly). :func:`keep_freed_memory` lets the process keep up to 1 GiB of freed heap for
  the next replication; the pool's workers are forked from it and inherit the setting.
* **Tearing the interpreter down.** After the command has written everything, the
  interpreter would spend a third of a second destroying the objects of numba, pandas
  and the model one by one. :func:`finish` flushes the output, runs the exit handlers
  (temporary folders, logging), and ends the process with the command's code.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import sys
from typing import NoReturn

# mallopt(3) parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: blocks up to this size come from the heap (glibc's own adaptive bound is 32 MiB)
MMAP_THRESHOLD = 64 << 20
#: free heap kept at its top before it is given back to the system
TRIM_THRESHOLD = 1 << 30


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse (see the module's text); False
    where there is no glibc (macOS, Windows, musl's no-op is harmless)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def finish(code: int) -> NoReturn:
    """End the process with ``code`` once its output is out, without tearing the
    interpreter down (see the module's text)."""
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (`govsim ... | head`) or a closed stream: nothing more to write
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)
