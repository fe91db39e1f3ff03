"""Writing files: the one atomic writer (text or bytes) and JSON-safe values.

Every file govsim writes goes through :func:`write_atomic`: a temporary file with a
random name in the target's folder (``mkstemp``: never a fixed name a planted symlink
could redirect), flushed, given the usual file mode, then renamed over the target. A
reader sees the old file or the new one, never half of one, and a failed write leaves
nothing behind. Errors a user can cause (a missing folder, a read-only one, a full
disk, a directory in the way) are :class:`~sim.errors.UsageError`\\ s naming the path.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import UsageError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` whole or not at all."""
    p = Path(path)
    folder = p.parent
    if not folder.exists():
        raise UsageError(f"{p}: the folder {folder} does not exist")
    if p.is_dir():
        raise UsageError(f"{p}: is a folder, not a file")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"{p}: cannot write in {folder} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: a result is for sharing
        os.replace(tmp, p)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise UsageError(f"{p}: cannot write the file ({exc.strerror})") from None
        raise


def json_safe(obj: Any) -> Any:
    """JSON-safe values: NaN/inf -> None, numpy scalars and arrays -> Python, tuples -> lists."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def json_text(data: Any) -> str:
    """``data`` as indented JSON text (non-finite numbers as null), ending in a newline."""
    return json.dumps(json_safe(data), indent=2, ensure_ascii=False, allow_nan=False,
                      default=str) + "\n"


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as JSON, atomically (see :func:`write_atomic`)."""
    write_atomic(path, json_text(data))
