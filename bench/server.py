"""Servers the harness starts itself, and the guarantee that nothing they started outlives the run.

``KlyuchServer`` runs ``python -m edge serve`` on a free loopback port with a temporary ``KLYUCH_HOME``,
waits for ``GET /readyz`` to answer 200, and on ``stop()`` sends SIGTERM, waits a grace period, then
SIGKILLs its process group. ``TrivialServer`` runs ``bench.trivial_server`` for the generator ceiling.

Every spawned process gets its own session (so a Ctrl-C at the terminal reaches the harness, which then
stops the server in order) and an environment tag. After the main process is gone, any process still
carrying the tag, in the process group, or naming the temporary home on its command line (an embedded
PostgreSQL started through ``pg_ctl`` leaves the group) gets a short grace to exit by itself; one still
there afterwards is a straggler: it is terminated, then killed, and reported, because a server that
leaves processes behind has a bug worth seeing in the report.
``stop()`` blocks SIGINT/SIGTERM while it runs so a second Ctrl-C cannot interrupt the clean-up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import psutil

from bench.errors import ServerNotReadyError, ServerStartError

TAG_ENV = "BENCH_HARNESS_RUN_TAG"
"""Environment variable marking every process of one harness run (deliberately not ``KLYUCH_*``)."""

_LOG_TAIL_BYTES = 4000


@dataclass(frozen=True, slots=True)
class StopReport:
    """How a server stopped."""

    exit_code: int | None
    """Exit status of the main process (negative: killed by that signal)."""
    forced: bool
    """Whether the grace period ran out and SIGKILL was needed."""
    stragglers: list[str] = field(default_factory=list)
    """``pid name`` of processes that outlived the main process and had to be killed."""
    seconds: float = 0.0
    """How long stopping took (signal to last process gone)."""


class ServerProcess:
    """A spawned server: its process, the temporary folder it owns, and the clean stop."""

    def __init__(self, *, stop_grace_s: float = 10.0, sweep_grace_s: float = 3.0) -> None:
        self.stop_grace_s = stop_grace_s
        self.sweep_grace_s = sweep_grace_s
        self.tag = uuid.uuid4().hex
        self.home = Path(tempfile.mkdtemp(prefix="klyuch-bench-"))
        self.log_path = self.home / "server.log"
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopped: StopReport | None = None

    @property
    def pid(self) -> int | None:
        """Process id of the main server process, once spawned."""
        return self._proc.pid if self._proc is not None else None

    def _spawn(self, command: Sequence[str], env: dict[str, str], *, stdout: int | None = None) -> None:
        env = {**env, TAG_ENV: self.tag}
        with self.log_path.open("ab") as log:
            try:
                self._proc = subprocess.Popen(
                    list(command),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout if stdout is not None else log,
                    stderr=log,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ServerStartError(f"cannot run {command[0]!r}: {exc}") from exc

    def _check_alive(self, what: str) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is not None:
            raise ServerStartError(
                f"{what} exited with status {proc.returncode} before it was ready\n{self.log_tail()}"
            )

    def log_tail(self) -> str:
        """The last few kB the server wrote to stdout/stderr."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-_LOG_TAIL_BYTES:].decode("utf-8", "replace")

    def cpu_seconds(self) -> float | None:
        """User+system CPU seconds of the server and its live descendants (``None`` if it is gone)."""
        if self._proc is None:
            return None
        try:
            root = psutil.Process(self._proc.pid)
            total = 0.0
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    total += times.user + times.system
        except psutil.Error:
            return None
        return total

    def stop(self) -> StopReport:
        """SIGTERM, grace period, SIGKILL of the group, sweep stragglers, delete the home; idempotent."""
        if self._stopped is not None:
            return self._stopped
        began = time.monotonic()
        with _signals_blocked():
            report = self._terminate()
            shutil.rmtree(self.home, ignore_errors=True)
        report = dataclasses.replace(report, seconds=round(time.monotonic() - began, 3))
        self._stopped = report
        return report

    def _terminate(self) -> StopReport:
        proc = self._proc
        if proc is None:
            return StopReport(exit_code=None, forced=False)
        forced = False
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(self.stop_grace_s)
            except subprocess.TimeoutExpired:
                forced = True
                _kill_group(proc.pid)
                proc.wait()
        stragglers = self._sweep(proc.pid)
        return StopReport(exit_code=proc.returncode, forced=forced, stragglers=stragglers)

    def _sweep(self, pgid: int) -> list[str]:
        """Leftovers get ``sweep_grace_s`` to exit, then TERM, then KILL; returns the signalled ones."""
        # Helpers such as multiprocessing's resource tracker legitimately outlive the main process
        # by a moment; only what is still there after the grace counts as a straggler.
        lingering = _wait_gone(list(_tagged(self.tag, pgid, str(self.home))), self.sweep_grace_s)
        names = [f"{p.pid} {_name(p)}" for p in lingering]
        for signal_them in (psutil.Process.terminate, psutil.Process.kill):
            for p in lingering:
                with contextlib.suppress(psutil.Error):
                    signal_them(p)
            lingering = _wait_gone(lingering, self.sweep_grace_s)
        return names

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class KlyuchServer(ServerProcess):
    """``klyuch serve`` (by default ``<python> -m edge serve``) configured through ``KLYUCH_*`` variables."""

    def __init__(
        self,
        *,
        workers: int = 1,
        command: Sequence[str] | None = None,
        start_timeout_s: float = 60.0,
        stop_grace_s: float = 10.0,
        sweep_grace_s: float = 3.0,
    ) -> None:
        super().__init__(stop_grace_s=stop_grace_s, sweep_grace_s=sweep_grace_s)
        # The bench user (possibly root) owns the folder; the embedded PostgreSQL account must traverse it.
        self.home.chmod(0o711)
        self.workers = workers
        self.command = tuple(command) if command else (sys.executable, "-m", "edge", "serve")
        self.start_timeout_s = start_timeout_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Spawn the server and wait until ``/readyz`` answers 200; returns the seconds that took."""
        began = time.monotonic()
        env = {
            **os.environ,
            "KLYUCH_HOME": str(self.home),
            "KLYUCH_SERVER__HOST": "127.0.0.1",
            "KLYUCH_SERVER__PORT": str(self.port),
            "KLYUCH_SERVER__WORKERS": str(self.workers),
            "KLYUCH_LOGGING__LEVEL": "warning",
            "PYTHONPATH": _pythonpath_with_repo(),
        }
        self._spawn(self.command, env)
        self._wait_ready(began + self.start_timeout_s)
        return time.monotonic() - began

    def _wait_ready(self, deadline: float) -> None:
        last = "no answer"
        while time.monotonic() < deadline:
            self._check_alive("the server")
            status = _probe(self.port, "/readyz")
            if status == 200:
                return
            last = f"status {status}" if status is not None else "no answer"
            time.sleep(0.05)
        raise ServerNotReadyError(
            f"/readyz not ready after {self.start_timeout_s:.0f} s ({last})\n{self.log_tail()}"
        )


class TrivialServer(ServerProcess):
    """The fixed-response server of ``bench.trivial_server``, for measuring the generator's ceiling."""

    def start(self, timeout_s: float = 15.0) -> float:
        """Spawn it and read the bound port from its first stdout line."""
        began = time.monotonic()
        env = {**os.environ, "PYTHONPATH": _pythonpath_with_repo()}
        self._spawn([sys.executable, "-m", "bench.trivial_server"], env, stdout=subprocess.PIPE)
        assert self._proc is not None
        assert self._proc.stdout is not None
        line = _readline_with_timeout(self._proc.stdout, timeout_s)
        self._check_alive("the trivial server")
        try:
            port = int(line)
        except ValueError:
            raise ServerStartError(f"trivial server did not print its port\n{self.log_tail()}") from None
        self.url = f"http://127.0.0.1:{port}"
        return time.monotonic() - began


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _probe(port: int, path: str) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _readline_with_timeout(stream: IO[bytes], timeout_s: float) -> bytes:
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            raise ServerStartError(f"no port from the trivial server within {timeout_s:.0f} s")
    return stream.readline()


def _pythonpath_with_repo() -> str:
    """``PYTHONPATH`` with the folder holding ``bench`` first, so ``-m edge`` imports the same tree."""
    repo = str(Path(__file__).resolve().parent.parent)
    current = os.environ.get("PYTHONPATH", "")
    return repo + (os.pathsep + current if current else "")


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _tagged(tag: str, pgid: int, home: str) -> Iterator[psutil.Process]:
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "cmdline", "environ", "status"]):
        info = proc.info
        # Zombies are already dead (only their parent can reap them); signalling them achieves nothing.
        if proc.pid == me or info.get("status") == psutil.STATUS_ZOMBIE:
            continue
        environ = info.get("environ") or {}
        cmdline = " ".join(info.get("cmdline") or ())
        try:
            in_group = os.getpgid(proc.pid) == pgid
        except OSError:
            in_group = False
        if environ.get(TAG_ENV) == tag or in_group or home in cmdline:
            yield proc


def _wait_gone(procs: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Poll until every process has exited (a zombie counts as exited); return those still running."""
    deadline = time.monotonic() + timeout_s
    alive = [p for p in procs if _running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _running(p)]
    return alive


def _running(proc: psutil.Process) -> bool:
    try:
        return bool(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _name(proc: psutil.Process) -> str:
    try:
        return str(proc.name())
    except psutil.Error:
        return "?"


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends (they are delivered afterwards, not lost)."""
    signals = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
