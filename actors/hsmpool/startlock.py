"""A cross-process lock that serialises unit starts on one PKCS#11 token.

SoftHSM2 (and, by report, some vendor modules) can fail ``C_Initialize`` or the token lookup when
several processes open the same token at the very same moment: the unit then reports a
configuration failure (``no PKCS#11 token labelled ...``, ``cannot load PKCS#11 module``) that is
really a race. Holding an ``flock`` on a file under ``home`` from spawn to READY makes the units of
one token start one after another — across the pools of every worker process of this node — while
they still run side by side afterwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import trio

_POLL_S: Final = 0.02


@asynccontextmanager
async def start_lock(path: Path | None, *, wait: float) -> AsyncIterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created 0600) for the block; no lock when ``path`` is None.

    Gives up waiting after ``wait`` seconds and runs the block anyway: a stuck holder must not stop
    a unit from ever starting (the race this avoids is only a chance of failure).
    """
    if path is None:
        yield
        return
    fd = await trio.to_thread.run_sync(_open, path)
    try:
        with trio.move_on_after(wait):
            # flock has no file descriptor to wait on, and a blocking call in a thread could not be
            # cancelled: poll.
            while True:
                if _try_lock(fd):
                    break
                await trio.sleep(_POLL_S)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _open(path: Path) -> int:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _try_lock(fd: int) -> bool:
    with contextlib.suppress(BlockingIOError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    return False
