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
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

if sys.platform != "win32":
    import fcntl

from sim.errors import UsageError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _target(path: str | Path) -> Path:
    """``path`` checked as a place to write a file: its folder exists, and it is not a
    folder, a device or a pipe (renaming over those would replace them: as root, /dev/null
    itself)."""
    p = Path(path)
    folder = p.parent
    if not folder.exists():
        raise UsageError(f"{p}: the folder {folder} does not exist")
    if p.is_dir():
        raise UsageError(f"{p}: is a folder, not a file")
    if p.exists() and not p.is_symlink() and not p.is_file():
        raise UsageError(f"{p}: is not a regular file (a device or a pipe?): not replaced")
    return p


@contextlib.contextmanager
def open_atomic(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary file to write that becomes ``path`` only if the block ends without an
    error (then flushed, synced and renamed over it); otherwise nothing is left behind."""
    p = _target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as exc:
        raise UsageError(f"{p}: cannot write in {p.parent} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
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


def folder_target(path: str | Path, flag: str = "--out") -> Path:
    """``path`` checked as a folder to write (it may not exist yet; it may not be a file)."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{flag} {out}: exists and is not a folder")
    return out


def make_folder(path: str | Path, flag: str = "--out") -> Path:
    """``path`` as a folder that exists (created with its parents), or a clear error."""
    out = folder_target(path, flag)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{flag} {out}: cannot create the folder ({exc.strerror})") from None
    return out


@contextlib.contextmanager
def atomic_folder(path: str | Path, flag: str = "--out") -> Iterator[Path]:
    """A folder to fill whose files appear in ``path`` only if the block ends without an
    error. The block writes into a temporary sibling folder; at the end each file is
    renamed into ``path`` (created if need be), replacing a file of the same name and
    leaving any other file there alone; after an error the temporary folder is removed and
    ``path`` is as it was."""
    out = folder_target(path, flag)
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise UsageError(f"{flag} {out}: cannot create the folder ({exc.strerror})") from None
    try:
        yield tmp
        for src in sorted(tmp.rglob("*")):
            if src.is_dir():
                continue
            dst = out / src.relative_to(tmp)
            if dst.is_dir():
                raise UsageError(f"{flag} {out}: {dst} is a folder, not replaced by a file")
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(src, 0o666 & ~_umask())
            os.replace(src, dst)
    except OSError as exc:
        raise UsageError(f"{flag} {out}: cannot write the folder ({exc.strerror})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class FolderLock:
    """An exclusive lock on a folder for one writer (``flock`` on a lock file in it, which
    says who holds it). The system drops the lock when its holder exits, killed or not."""

    def __init__(self, folder: Path, name: str = ".govsim.lock", flag: str = "--out") -> None:
        self.path = folder / name
        try:
            self.fh: IO[str] | None = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"{flag} {folder}: cannot lock the folder ({exc.strerror})") \
                from None
        if sys.platform == "win32":  # pragma: no cover - no flock: the folder is not locked
            return
        try:
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "another process"
            self.fh.close()
            self.fh = None
            raise UsageError(f"{flag} {folder}: in use by {holder}; wait for it to finish or "
                             "choose another folder") from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        self.fh.flush()

    def release(self) -> None:
        if self.fh is not None:
            self.fh.close()  # closing the file drops the lock
            self.fh = None


def unreadable(path: str | Path, max_bytes: int) -> str | None:
    """Why ``path`` is not a file govsim reads (missing, a folder, a pipe or a device, or
    past ``max_bytes``), as a rule to show; None when it may be read. A FIFO would block
    and a device such as /dev/zero never ends, so only regular files are read."""
    p = Path(path)
    if not p.exists():
        return "file not found"
    if p.is_dir():
        return "is a directory, not a file"
    if not p.is_file():
        return "is not a regular file (a pipe or a device?)"
    try:
        size = p.stat().st_size
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    if size > max_bytes:
        return f"is {size:,} bytes: the file must be at most {max_bytes:,} bytes"
    return None


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` whole or not at all."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with open_atomic(path) as fh:
        fh.write(payload)


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
