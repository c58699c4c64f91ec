"""Which Klyuch process owns the embedded server of a data folder.

The owner holds an exclusive ``flock`` on the data folder itself for as long as the server runs.
The kernel drops the lock when the owner dies, however it dies (SIGKILL included), so "the lock can be
taken" means "no live owner": a postmaster still running then is a stale server left behind. Because
the lock is on the folder, nothing has to exist inside it before ``initdb`` (which needs it empty).

The owner also writes ``klyuch-owner.pid`` next to ``postmaster.pid`` (its pid and process start
time, one per line) so a second process can say who holds the folder; the file is informational,
the lock is the authority. The descriptor is close-on-exec, so servers the owner spawns never
inherit the lock (a forked child that does not exec does, and keeps the folder owned while it lives).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

import psutil

from storage.errors import EmbeddedServerBusyError

OWNER_FILE = "klyuch-owner.pid"
"""Name of the owner file inside the data folder."""


class OwnerLock:
    """An exclusive, process-lifetime claim on a data folder."""

    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        """The claimed data folder."""
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> OwnerLock:
        """Take the claim or raise ``EmbeddedServerBusyError`` naming the live owner."""
        fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            owner = read_owner_pid(data_dir)
            who = f"Klyuch process {owner}" if owner is not None else "another Klyuch process"
            raise EmbeddedServerBusyError(
                f"the embedded PostgreSQL in {data_dir} is owned by {who}; stop it first, or connect to "
                f"its server instead of starting one (open_database attaches automatically)",
                owner_pid=owner,
            ) from None
        return cls(data_dir, fd)

    @staticmethod
    def is_held(data_dir: Path) -> bool:
        """True when a live process holds the claim on ``data_dir``."""
        try:
            fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops a lock we may have just taken
        return False

    def write_owner_file(self) -> None:
        """Record this process as the owner (pid and start time)."""
        me = psutil.Process()
        path = self.data_dir / OWNER_FILE
        tmp = path.with_name(f".{OWNER_FILE}.{os.getpid()}")
        tmp.write_text(f"{me.pid}\n{me.create_time():.2f}\n")
        tmp.replace(path)

    def release(self) -> None:
        """Remove the owner file and drop the claim; safe to call twice."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / OWNER_FILE).unlink()
        fd, self._fd = self._fd, None
        os.close(fd)


def read_owner_pid(data_dir: Path) -> int | None:
    """Pid recorded in the owner file, or None when absent or unreadable."""
    try:
        first = (data_dir / OWNER_FILE).read_text().split("\n", 1)[0]
        return int(first)
    except (OSError, ValueError):
        return None
