"""Helpers for launcher tests: scratch folders, child processes that own a server, process checks."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[2]

OWNER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from config.settings import StorageSettings
    from storage import EmbeddedServer

    with EmbeddedServer(Path(sys.argv[1]), StorageSettings(embedded_fsync=False)) as server:
        print("READY", json.dumps({"pid": server.pid}), flush=True)
        time.sleep(600)
    """
)


def postmasters_in(folder: Path) -> list[psutil.Process]:
    """Live (non-zombie) postmasters whose data folder is inside ``folder``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] == psutil.STATUS_ZOMBIE or "-D" not in cmdline:
            continue
        data_dir = cmdline[cmdline.index("-D") + 1] if cmdline.index("-D") + 1 < len(cmdline) else ""
        if data_dir.startswith(str(folder)):
            found.append(proc)
    return found


def child_env() -> dict[str, str]:
    """Environment for a child Python that imports the project."""
    return {**os.environ, "PYTHONPATH": str(REPO), "KLYUCH_LOGGING__LEVEL": "warning"}


class OwnerProcess:
    """A child Python process that starts the embedded server of ``data_dir`` and holds it."""

    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", OWNER_SCRIPT, str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,  # unbuffered: select() must see every line the child wrote
            cwd=REPO,
            env=child_env(),
        )
        try:
            self.info: dict[str, Any] = json.loads(read_marked_line(self.process, "READY ", timeout_s=60))
        except BaseException:
            self.close()  # never leave the child (and its server) behind
            raise

    @property
    def postmaster_pid(self) -> int:
        """Pid of the server the child started."""
        pid: int = self.info["pid"]
        return pid

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the child (not to its server, which runs in its own session)."""
        self.process.send_signal(sig)

    def close(self) -> None:
        """Make sure the child is gone."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def read_marked_line(process: subprocess.Popen[bytes], marker: str, *, timeout_s: float) -> str:
    """The rest of the first stdout line starting with ``marker`` (log lines are skipped).

    On timeout or exit the child is killed and the test fails with its output.
    """
    assert process.stdout is not None
    assert process.stderr is not None
    deadline = time.monotonic() + timeout_s
    seen = []
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while selector.select(max(0.0, deadline - time.monotonic())):
            line = process.stdout.readline().decode()
            if not line:
                break
            if line.startswith(marker):
                return line[len(marker) :]
            seen.append(line)
    process.kill()
    raise AssertionError(
        f"child said no {marker!r}; stdout:\n{''.join(seen)}stderr:\n{process.stderr.read().decode()}"
    )
