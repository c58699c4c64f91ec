"""Run the embedded PostgreSQL server of one data folder: initdb once, start, stop, recover.

``EmbeddedServer`` is blocking (it runs programs and waits for them); trio code calls it through
``trio.to_thread.run_sync`` (see ``storage.target``). The server:

* is initialised once with ``initdb`` (superuser ``klyuch``, ``trust`` over the unix socket, TCP
  connections rejected in ``pg_hba.conf``, UTF-8, builtin ``C.UTF-8`` locale provider);
* has no TCP listener (``listen_addresses=''``); its socket is in the data folder (see ``socketdir``);
* runs as the current user, or as ``StorageSettings.embedded_user`` when Klyuch is root (``account``);
* is a child of the owning process in its own session (a terminal's Ctrl-C does not reach it); the
  owner stops it with a fast shutdown in ``stop()`` (call it in ``finally``, or use ``with``).

Ownership (``owner``): one live process owns a data folder. A second ``start()`` fails with
``EmbeddedServerBusyError``; ``attach_address`` lets other processes (hypercorn workers, the CLI)
connect to the owner's server instead. A postmaster still running from an owner that died (SIGKILL)
is found on the next ``start()``, stopped with a fast shutdown, and replaced; a ``postmaster.pid``
left with no process behind it is removed.
"""

from __future__ import annotations

import os
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import quote

import structlog

from config.settings import StorageSettings
from storage.account import ServerAccount, prepare_data_dir, server_account
from storage.binaries import PgBinaries
from storage.errors import EmbeddedServerError, StorageUnavailableError
from storage.owner import OwnerLock
from storage.postmaster import PID_FILE, PostmasterInfo, stop_postmaster
from storage.socketdir import choose_socket_dir, is_fallback

log = structlog.get_logger(__name__)

SUPERUSER = "klyuch"
"""Database superuser created by initdb; the embedded server's only role."""
PORT = 5432
"""Port number; with no TCP listener it only names the socket file."""
LOG_FILE = "klyuch-postgres.log"
"""Server log inside the data folder (appended to across starts)."""
STOP_TIMEOUT_S = 30.0
"""How long a fast shutdown may take before an immediate one."""
INITDB_TIMEOUT_S = 300.0
"""Upper bound for initdb (it normally takes about a second)."""


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """Where a running embedded server accepts connections."""

    socket_dir: Path
    """Folder holding the unix socket."""
    port: int = PORT
    """Port number naming the socket file."""
    user: str = SUPERUSER
    """Role to connect as."""

    def dsn(self, database: str) -> str:
        """A libpq/asyncpg DSN for ``database`` over the unix socket."""
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://{quote(self.user)}@/{quote(database)}?host={host}&port={self.port}"


def is_initialised(data_dir: Path) -> bool:
    """True when ``data_dir`` holds a PostgreSQL cluster (PostgreSQL's own test: ``PG_VERSION`` exists)."""
    return (data_dir / "PG_VERSION").is_file()


class EmbeddedServer:
    """Owner of the embedded PostgreSQL server of one data folder (blocking API)."""

    def __init__(self, data_dir: Path, settings: StorageSettings) -> None:
        self.data_dir = data_dir.absolute()
        """The data folder (``Settings.pg_data_dir``)."""
        self.settings = settings
        self._lock: OwnerLock | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._info: PostmasterInfo | None = None

    @property
    def address(self) -> ServerAddress:
        """Address of the running server; only valid between ``start()`` and ``stop()``."""
        if self._info is None or self._info.socket_dir is None:
            raise EmbeddedServerError("the embedded server is not running")
        return ServerAddress(self._info.socket_dir, self._info.port)

    @property
    def pid(self) -> int | None:
        """Pid of the running postmaster, if started."""
        return self._info.pid if self._info else None

    def start(self) -> ServerAddress:
        """Claim the folder, initdb if needed, stop a stale server, start and wait until ready."""
        account = server_account(self.settings.embedded_user)
        binaries = PgBinaries.locate()
        if account.switch:
            binaries = binaries.usable_by(account)
        prepare_data_dir(account, self.data_dir)
        self._lock = OwnerLock.acquire(self.data_dir)
        try:
            if not is_initialised(self.data_dir):
                self._initdb(binaries, account)
            self._clear_stale()
            self._lock.write_owner_file()
            self._launch(binaries, account)
        except BaseException:
            self.stop()
            raise
        return self.address

    def stop(self) -> None:
        """Fast-shutdown the server (if this object started it) and release the folder; idempotent."""
        try:
            if self._process is not None:
                self._stop_child(self._process)
        finally:
            self._process = None
            socket_dir = self._info.socket_dir if self._info else None
            self._info = None
            if socket_dir is not None and is_fallback(socket_dir, self.data_dir):
                with suppress(OSError):
                    socket_dir.rmdir()  # empty after a clean shutdown; kept otherwise
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _initdb(self, binaries: PgBinaries, account: ServerAccount) -> None:
        args = [
            str(binaries.initdb),
            f"--pgdata={self.data_dir}",
            f"--username={SUPERUSER}",
            "--auth-local=trust",
            "--auth-host=reject",
            "--encoding=UTF8",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            "--locale=C",
        ]
        if not self.settings.embedded_fsync:
            args.append("--no-sync")  # with fsync on, the new cluster is flushed once like any write
        started = time.monotonic()
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=INITDB_TIMEOUT_S,
            check=False,
            **account.popen_kwargs(),
        )
        if result.returncode != 0:
            raise EmbeddedServerError(f"initdb failed (exit {result.returncode}): {result.stderr.strip()}")
        log.info(
            "embedded_server_initdb",
            data_dir=str(self.data_dir),
            seconds=round(time.monotonic() - started, 3),
        )

    def _clear_stale(self) -> None:
        info = PostmasterInfo.read(self.data_dir)
        if info is not None and info.is_running():
            # We hold the owner lock, so whoever started this postmaster is gone.
            log.warning("embedded_server_stale", data_dir=str(self.data_dir), pid=info.pid)
            stop_postmaster(info.pid, started_at=info.start_time, timeout_s=STOP_TIMEOUT_S)
            if info.is_running():
                raise EmbeddedServerError(
                    f"stale PostgreSQL server (pid {info.pid}) in {self.data_dir} did not stop"
                )
        pid_file = self.data_dir / PID_FILE
        if pid_file.exists():
            # Left by a killed postmaster. PostgreSQL still checks its shared memory before reusing
            # the folder, so orphaned backends cannot be joined by a second postmaster.
            log.warning("embedded_server_stale_pid_file", data_dir=str(self.data_dir))
            pid_file.unlink()

    def _launch(self, binaries: PgBinaries, account: ServerAccount) -> None:
        socket_dir = choose_socket_dir(account, self.data_dir, PORT)
        quoted_dir = '"' + str(socket_dir).replace('"', '""') + '"'  # a GUC list item may hold commas
        fsync = "on" if self.settings.embedded_fsync else "off"
        args = [
            str(binaries.postgres),
            "-D",
            str(self.data_dir),
            "-c",
            "listen_addresses=",
            "-c",
            f"unix_socket_directories={quoted_dir}",
            "-c",
            "unix_socket_permissions=0700",
            "-c",
            f"port={PORT}",
            "-c",
            f"fsync={fsync}",
        ]
        if not self.settings.embedded_fsync:
            args += ["-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        with self._open_log(account) as log_file:
            self._process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **account.popen_kwargs(),
            )
        self._info = self._wait_ready(self._process)
        log.info("embedded_server_started", data_dir=str(self.data_dir), pid=self._info.pid, fsync=fsync)

    def _open_log(self, account: ServerAccount) -> IO[bytes]:
        path = self.data_dir / LOG_FILE
        handle = path.open("ab")
        if account.switch:
            os.chown(path, account.uid, account.gid)
        return handle

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> PostmasterInfo:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                code = process.returncode
                raise EmbeddedServerError(
                    f"PostgreSQL exited with {code} while starting; log:\n{self.log_tail()}"
                )
            info = PostmasterInfo.read(self.data_dir)
            if info is not None and info.pid == process.pid and info.status == "ready":
                return info
            time.sleep(0.01)
        raise EmbeddedServerError(
            f"PostgreSQL was not ready within {self.settings.start_timeout_s} s; log:\n{self.log_tail()}"
        )

    def _stop_child(self, process: subprocess.Popen[bytes]) -> None:
        stop_postmaster(process.pid, started_at=None, timeout_s=STOP_TIMEOUT_S)
        process.wait()  # reap it: the postmaster is our child
        log.info("embedded_server_stopped", data_dir=str(self.data_dir), pid=process.pid)

    def log_tail(self, lines: int = 20) -> str:
        """Last lines of the server log, for error messages."""
        try:
            text = (self.data_dir / LOG_FILE).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def attach_address(data_dir: Path, *, timeout_s: float) -> ServerAddress:
    """Wait for the owner's server in ``data_dir`` to be ready and return its address.

    Raises ``StorageUnavailableError`` when no live process owns the folder (nothing to attach to) or
    the server is not ready in time.
    """
    data_dir = data_dir.absolute()
    deadline = time.monotonic() + timeout_s
    while True:
        if not OwnerLock.is_held(data_dir):
            raise StorageUnavailableError(f"no Klyuch process runs the embedded PostgreSQL in {data_dir}")
        info = PostmasterInfo.read(data_dir)
        if info is not None and info.status == "ready" and info.socket_dir is not None and info.is_running():
            return ServerAddress(info.socket_dir, info.port)
        if time.monotonic() >= deadline:
            raise StorageUnavailableError(
                f"the embedded PostgreSQL in {data_dir} is not ready after {timeout_s} s"
            )
        time.sleep(0.02)
