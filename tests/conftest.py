"""Shared PostgreSQL fixtures for every test folder (storage fixtures only live here).

Fixtures:

``pg_cluster`` (session)
    A running ``EmbeddedServer`` in a fresh ``klyuch-test-pg-*`` folder, ``fsync`` off, on ``/dev/shm``
    when it is a writable folder (CREATE DATABASE there takes ~10 ms, against ~300 ms on this
    machine's disk even with fsync off), else in the temp folder. Works as root (the server runs as
    ``klyuch-pg``) and as an ordinary user. Stopped at session end, also on a failure or Ctrl-C;
    clusters left by killed sessions are reaped at the next session start.
``pg_template`` (session)
    Name of a template database with all migrations applied.
``pg_dsn`` (function)
    DSN of a fresh database cloned from the template for this test, dropped after it.
``pg_settings`` (function)
    ``Settings`` with ``home=tmp_path`` and ``storage.dsn=pg_dsn`` (external-DSN mode, small pool).
``db`` (function, async)
    An open ``storage.Database`` on ``pg_settings`` for the test's trio run.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from config.settings import Settings, StorageSettings
from storage import Database, EmbeddedServer, open_database
from storage.admin import connect_admin, create_database, drop_database
from storage.bridge import AsyncioThread
from storage.migrator import apply_migrations, load_migrations
from storage.owner import OwnerLock
from storage.postmaster import PostmasterInfo, stop_postmaster

CLUSTER_PREFIX = "klyuch-test-pg-"
TEMPLATE_DB = "klyuch_template"
REAP_AFTER_S = 60.0  # a folder younger than this may belong to a session that is still starting

_db_numbers = itertools.count(1)


class PgCluster:
    """The session's embedded server plus an admin connection on a private asyncio thread."""

    def __init__(self, server: EmbeddedServer, loop: AsyncioThread, admin: asyncpg.Connection) -> None:
        self.server = server
        self.loop = loop
        self.admin = admin

    def dsn(self, database: str) -> str:
        """DSN of ``database`` on this cluster."""
        return self.server.address.dsn(database)

    def create_database(self, name: str, *, template: str | None = None) -> None:
        """CREATE DATABASE (optionally from a template)."""
        self.loop.run_blocking(lambda: create_database(self.admin, name, template=template), timeout=60)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE ... WITH (FORCE)."""
        self.loop.run_blocking(lambda: drop_database(self.admin, name), timeout=60)


def scratch_root() -> Path:
    """Where throw-away clusters go: tmpfs when available (file creation is slow on this disk)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return Path(tempfile.gettempdir())


def _reap_stale_clusters() -> None:
    """Stop servers and remove folders of test sessions that died without cleaning up."""
    for folder in scratch_root().glob(f"{CLUSTER_PREFIX}*"):
        data_dir = folder / "pgdata"
        try:
            if time.time() - folder.stat().st_mtime < REAP_AFTER_S or OwnerLock.is_held(data_dir):
                continue
        except OSError:
            continue
        info = PostmasterInfo.read(data_dir)
        if info is not None and info.is_running():
            stop_postmaster(info.pid, started_at=info.start_time, timeout_s=10.0)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """The session-wide embedded PostgreSQL (see the module docstring)."""
    _reap_stale_clusters()
    folder = Path(tempfile.mkdtemp(prefix=CLUSTER_PREFIX, dir=scratch_root()))
    folder.chmod(0o711)  # our own folder: let the server account (root case) traverse it
    settings = StorageSettings(embedded_fsync=False, start_timeout_s=60.0)
    server = EmbeddedServer(folder / "pgdata", settings)
    loop = AsyncioThread("pytest-pg-admin")
    try:
        server.start()
        loop.start()
        admin = loop.run_blocking(
            lambda: connect_admin(server.address.dsn("postgres"), timeout_s=30), timeout=60
        )
        try:
            yield PgCluster(server, loop, admin)
        finally:
            loop.run_blocking(admin.close, timeout=30)
    finally:
        loop.stop()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PgCluster) -> str:
    """A template database with every migration applied; tests get copies of it."""
    pg_cluster.create_database(TEMPLATE_DB)

    async def migrate() -> None:
        conn = await asyncpg.connect(pg_cluster.dsn(TEMPLATE_DB))
        try:
            await apply_migrations(conn, load_migrations())
        finally:
            await conn.close()  # a template must have no connections when it is copied

    pg_cluster.loop.run_blocking(migrate, timeout=120)
    return TEMPLATE_DB


@pytest.fixture
def pg_dsn(pg_cluster: PgCluster, pg_template: str) -> Iterator[str]:
    """DSN of a fresh, migrated database for this test only."""
    name = f"test_{os.getpid()}_{next(_db_numbers)}"
    pg_cluster.create_database(name, template=pg_template)
    try:
        yield pg_cluster.dsn(name)
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture
def pg_settings(pg_dsn: str, tmp_path: Path) -> Settings:
    """Settings pointing at this test's database (external-DSN mode: nothing is started)."""
    storage = StorageSettings(dsn=SecretStr(pg_dsn), pool_min_size=1, pool_max_size=4)
    return Settings(home=tmp_path, storage=storage)


@pytest.fixture
async def db(pg_settings: Settings) -> AsyncIterator[Database]:
    """An open ``Database`` on this test's database."""
    async with open_database(pg_settings) as database:
        yield database
