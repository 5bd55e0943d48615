"""The queue-owner lock: one process at a time runs flows from a given database."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ZiggyError

if os.name == "nt":  # pragma: no cover - exercised on Windows builds only
    import msvcrt
else:
    import fcntl


class OwnerLock:
    """An OS file lock next to the database; released automatically if the process dies,
    so a crash never leaves a stale lock behind."""

    def __init__(self, path: Path):
        self.path = path
        self._file = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            if os.name == "nt":  # pragma: no cover
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        return True

    def holder_pid(self) -> str:
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def acquire(self) -> None:
        if not self.try_acquire():
            raise ZiggyError(
                f"Another Ziggy Desktop process (pid {self.holder_pid()}) is already running flows from this "
                f"database. Close it first, or set ZIGGY_DATA_DIR / ZIGGY_DATABASE_URL to use another one.",
                code="ALREADY_RUNNING",
            )

    def release(self) -> None:
        if self._file is not None:
            if os.name != "nt":
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    @property
    def held(self) -> bool:
        return self._file is not None
