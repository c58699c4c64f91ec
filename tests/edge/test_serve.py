"""``klyuch serve`` as an operator runs it: a real process tree on loopback with embedded PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

READY_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """One ``python -m edge serve`` process and what it started."""

    def __init__(self, home: Path) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "KLYUCH_HOME": str(home),
            "KLYUCH_SERVER__PORT": str(self.port),
            "KLYUCH_STORAGE__EMBEDDED_FSYNC": "false",
            "KLYUCH_LOGGING__LEVEL": "warning",
        }
        self.process = subprocess.Popen([sys.executable, "-m", "edge", "serve"], env=env)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, workers: int = 1) -> float:
        """Seconds until ``workers`` distinct worker processes answered ``/readyz`` with 200.

        Each probe is a fresh connection, which the kernel gives to any worker; each worker starts
        its HSM units on its own, so one ready answer says nothing about the others.
        """
        start = time.monotonic()
        ready: set[int] = set()
        while time.monotonic() - start < READY_TIMEOUT_S:
            assert self.process.poll() is None, f"server exited with {self.process.returncode}"
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=1.0)
                if response.status_code == 200:
                    ready.add(response.json()["worker"])
                    if len(ready) >= workers:
                        return time.monotonic() - start
                    time.sleep(0.02)  # soon: the next connection may reach another worker
                    continue
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{len(ready)} of {workers} workers ready in time")

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)


def _postgres_processes(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "postgres" in (proc.info["name"] or "") and str(home) in cmdline:
            found.append(proc)
    return found


def _all_gone(processes: list[psutil.Process], timeout: float = 10.0) -> bool:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return not alive


@pytest.fixture
def home() -> Iterator[Path]:
    # Not pytest's tmp_path: as root, PostgreSQL runs as an unprivileged account that must traverse
    # every parent folder, and pytest's base folder is private (0700).
    path = Path(tempfile.mkdtemp(prefix="klyuch-serve-"))
    path.chmod(0o711)
    yield path
    for proc in _postgres_processes(path):  # never leave a server behind, even when a test fails
        proc.kill()
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_is_ready_then_stops_everything(home: Path, sig: signal.Signals) -> None:
    server = Server(home)
    try:
        assert server.wait_ready() < READY_TIMEOUT_S
        children = server.descendants()
        assert children, "serve should have started PostgreSQL and hypercorn workers"
        assert server.stop(sig) == 0
        assert _all_gone(children), [c.info for c in children if c.is_running()]
        assert not _postgres_processes(home)
    finally:
        if server.process.poll() is None:
            server.process.kill()


def test_restart_after_kill_9_recovers_orphaned_postgres(home: Path) -> None:
    first = Server(home)
    first.wait_ready()
    workers = [p for p in first.descendants() if "postgres" not in p.name()]
    first.process.kill()
    first.process.wait()
    assert _all_gone(workers), "workers must die with their parent"
    assert _postgres_processes(home), "the killed server's PostgreSQL is expected to be orphaned"

    second = Server(home)
    try:
        second.wait_ready()
        assert second.stop() == 0
        assert _all_gone(_postgres_processes(home))
    finally:
        if second.process.poll() is None:
            second.process.kill()


def test_bad_setting_exits_non_zero_naming_it(home: Path) -> None:
    env = {**os.environ, "KLYUCH_HOME": str(home), "KLYUCH_SERVER__PORT": "abc"}
    result = subprocess.run(
        [sys.executable, "-m", "edge", "serve"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    assert "server.port" in result.stderr
    assert "KLYUCH_SERVER__PORT" in result.stderr
