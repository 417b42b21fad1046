"""`ProcessLock`: one process at a time on a store's files.

An embedded Chroma database is not safe to open from several processes (each one caches the collections
and their index files), and consolidation reads a user's slots before it writes them. A store on local
files therefore holds an exclusive lock for as long as it is open, taken without waiting: a second
process gets a `StoreError` naming the process that holds it. Stores opened by one process share the
lock. The operating system releases it when the process ends, killed or not, so a crash never leaves a
directory locked.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from memagent.errors import StoreError

__all__ = ["ProcessLock"]

_held: dict[Path, tuple[int, int]] = {}  # lock file -> (descriptor, stores of this process holding it)
_guard = threading.Lock()


def _try_lock(fd: int) -> bool:
    """Lock ``fd`` exclusively without waiting; False when another process holds it."""
    try:
        if sys.platform == "win32":  # pragma: no cover - Windows
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _holder(fd: int) -> str:
    """The process id written by the lock's holder (or ``unknown`` when it cannot be read)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except (OSError, AttributeError):  # pragma: no cover - Windows has no pread
        return "unknown"
    return text if text.isdigit() else "unknown"


class ProcessLock:
    """An exclusive lock on the file ``path`` for this process, released by `release` (idempotent).

    Raises:
        StoreError: Another process holds it (the message names that process), or the file cannot be
            created.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path = path.expanduser().resolve()
        self._released = False
        with _guard:
            fd, holders = _held.get(self.path, (-1, 0))
            self.first = holders == 0  # no other store of this process held it: this one opened the files
            if self.first:
                fd = self._acquire(what)
            _held[self.path] = (fd, holders + 1)

    def _acquire(self, what: str) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {self.path}: {exc}") from exc
        if not _try_lock(fd):
            holder = _holder(fd)
            os.close(fd)
            raise StoreError(
                f"{what} is in use by process {holder}; one process at a time may open it (stop that "
                "process, or give each process its own store)"
            )
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        return fd

    def release(self) -> None:
        """Give the lock up (the last store of this process to release it unlocks the file)."""
        with _guard:
            if self._released:
                return
            self._released = True
            fd, holders = _held.pop(self.path)
            if holders > 1:
                _held[self.path] = (fd, holders - 1)
            else:
                os.close(fd)  # closing the descriptor releases the lock
