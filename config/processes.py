"""What the server's child processes share: their environment, dying with their parent, being reaped.

The worker spawns HSM units (``actors.hsm.launcher``) and a writer (``storage.writer.link``); the
master spawns workers. This module imports only the standard library (``reaped`` imports trio when
called), so a unit process can use it without loading the settings model (pydantic costs a unit
~130 ms of start-up, measured with ``-X importtime``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Final

PROJECT_ROOT: Final = Path(__file__).resolve().parents[1]
"""The code base's root: a child imports it from here even when it is not installed (tests, a checkout)."""

MASTER_PID_ENV: Final = "KLYUCH_MASTER_PID"
"""Set by ``klyuch serve`` for its workers: the process a worker must find as its parent at start."""

_PR_SET_PDEATHSIG: Final = 1


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus ``extra``, with :data:`PROJECT_ROOT` first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env.update(extra or {})
    paths = [os.fspath(PROJECT_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def die_with_parent(parent_pid: int | None = None) -> bool:
    """Ask the kernel for SIGTERM when the thread that spawned this process ends (``PR_SET_PDEATHSIG``).

    False when the parent died before the request took effect: this process's parent is no
    longer ``parent_pid`` (it was handed to init or a subreaper). Without ``parent_pid`` there is
    nothing to compare with: True. The caller decides whether to exit.
    """
    with contextlib.suppress(OSError, AttributeError):  # not Linux: nothing to ask for
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    return parent_pid is None or os.getppid() == parent_pid


def expected_parent(variable: str) -> int | None:
    """The parent pid a spawning process left in the environment ``variable`` (None: unset or not a pid)."""
    value = os.environ.get(variable, "")
    return int(value) if value.isdigit() else None


async def reaped(process: subprocess.Popen[bytes]) -> int:
    """Wait for ``process`` to exit without blocking the trio loop, reap it, and return its status."""
    import trio  # here, not at the top: child processes import this module without trio

    if process.returncode is not None:
        return process.returncode
    pidfd = os.pidfd_open(process.pid)
    try:
        await trio.lowlevel.wait_readable(pidfd)
    finally:
        os.close(pidfd)
    return process.wait()
