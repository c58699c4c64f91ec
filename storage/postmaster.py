"""Read ``postmaster.pid`` and stop a postmaster by pid, whoever started it.

``postmaster.pid`` (PostgreSQL 10+) holds, one per line: pid, data folder, start time (epoch s), port,
first socket folder, first listen address, shared memory key, status (``starting``/``ready``/
``stopping``). A pid alone proves nothing (pids are reused, and an orphan that nobody reaps lingers as
a zombie), so a postmaster counts as running only when a live, non-zombie process with that pid
started within a few seconds of the recorded start time.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

PID_FILE = "postmaster.pid"
"""Lock file PostgreSQL writes into its data folder."""

START_TIME_SLACK_S = 3.0
"""How far the recorded start time may differ from the process's start time (clock rounding)."""


@dataclass(frozen=True, slots=True)
class PostmasterInfo:
    """The parsed ``postmaster.pid`` of a data folder."""

    pid: int
    """Process id of the postmaster."""
    start_time: float
    """When it started (epoch seconds)."""
    port: int
    """Port number (names the socket file even with no TCP listener)."""
    socket_dir: Path | None
    """First unix socket folder, if any."""
    status: str
    """``starting``, ``ready``, ``stopping`` or ``standby``; empty while the line is not written yet."""

    @classmethod
    def read(cls, data_dir: Path) -> PostmasterInfo | None:
        """Parse the file, or None when it is absent or still being written."""
        try:
            lines = (data_dir / PID_FILE).read_text().split("\n")
        except FileNotFoundError:
            return None
        try:
            return cls(
                pid=int(lines[0]),
                start_time=float(lines[2]),
                port=int(lines[3]),
                socket_dir=Path(lines[4]) if lines[4].strip() else None,
                status=lines[7].strip() if len(lines) > 7 else "",
            )
        except (IndexError, ValueError):
            return None  # PostgreSQL writes the file in steps; a reader may see a partial one

    def is_running(self) -> bool:
        """True when the recorded postmaster process is alive (and is that process, not a reused pid)."""
        return process_alive(self.pid, started_at=self.start_time)


def process_alive(pid: int, *, started_at: float | None = None) -> bool:
    """True when ``pid`` is a live, non-zombie process (started near ``started_at`` when given)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started_at is None or abs(proc.create_time() - started_at) <= START_TIME_SLACK_S
    except psutil.NoSuchProcess:
        return False


def stop_postmaster(pid: int, *, started_at: float | None, timeout_s: float) -> None:
    """Stop a postmaster: fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL as a last resort.

    Fast shutdown rolls back open transactions and checkpoints, exactly like ``pg_ctl -m fast stop``.
    """
    for sig, wait_s in ((signal.SIGINT, timeout_s), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        if not process_alive(pid, started_at=started_at):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if wait_gone(pid, started_at=started_at, timeout_s=wait_s):
            return


def wait_gone(pid: int, *, started_at: float | None, timeout_s: float) -> bool:
    """Wait until ``pid`` is no longer a live process; False on timeout."""
    deadline = time.monotonic() + timeout_s
    while process_alive(pid, started_at=started_at):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True
