"""Versioned migrations: applied once, in order, transactionally, under an advisory lock, checksummed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from pydantic import SecretStr

from config.settings import Settings, StorageSettings
from storage import Connection, MigrationChecksumError, MigrationError, migrate, open_database
from storage.migrator import load_migrations
from tests.conftest import PgCluster


@pytest.fixture
def empty_settings(pg_cluster: PgCluster, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a brand-new database with no migrations applied."""
    name = f"empty_{os.getpid()}_{tmp_path.name}".lower()
    pg_cluster.create_database(name)
    try:
        storage = StorageSettings(dsn=SecretStr(pg_cluster.dsn(name)), pool_min_size=1, pool_max_size=2)
        yield Settings(home=tmp_path, storage=storage)
    finally:
        pg_cluster.drop_database(name)


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql)
    return folder


async def _applied(conn: Connection) -> list[str]:
    return [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")]


async def _table_exists(conn: Connection, name: str) -> bool:
    found: bool = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)
    return found


async def test_shipped_migrations_apply_once(empty_settings: Settings) -> None:
    shipped = [m.version for m in load_migrations()]
    assert shipped[0] == "0001"
    assert await migrate(empty_settings) == shipped
    assert await migrate(empty_settings) == []
    async with open_database(empty_settings) as db:
        assert db.applied_migrations == ()
        assert await db.run(_applied) == shipped


async def test_an_edited_applied_migration_is_refused(empty_settings: Settings, tmp_path: Path) -> None:
    folder = _write(tmp_path / "m", {"0001_first.sql": "CREATE TABLE first (id int);"})
    async with open_database(empty_settings, migrations_dir=folder) as db:
        assert db.applied_migrations == ("0001",)
    (folder / "0001_first.sql").write_text("CREATE TABLE first (id bigint);")
    with pytest.raises(MigrationChecksumError, match=r"0001_first\.sql"):
        async with open_database(empty_settings, migrations_dir=folder):
            pass


async def test_a_failing_migration_leaves_no_trace(empty_settings: Settings, tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "0001_ok.sql": "CREATE TABLE ok (id int);",
            "0002_broken.sql": "CREATE TABLE half (id int); SELECT * FROM no_such_table;",
        },
    )
    with pytest.raises(MigrationError, match="0002_broken"):
        async with open_database(empty_settings, migrations_dir=folder):
            pass
    async with open_database(empty_settings, migrate=False) as db:
        assert await db.run(_applied) == ["0001"]
        assert await db.run(_table_exists, "ok")
        assert not await db.run(_table_exists, "half")
    _write(folder, {"0002_broken.sql": "CREATE TABLE half (id int);"})  # never released, so fixable
    async with open_database(empty_settings, migrations_dir=folder) as db:
        assert db.applied_migrations == ("0002",)


async def test_a_database_newer_than_the_code_is_refused(empty_settings: Settings, tmp_path: Path) -> None:
    newer = _write(tmp_path / "newer", {"0001_a.sql": "SELECT 1;", "0002_b.sql": "SELECT 2;"})
    older = _write(tmp_path / "older", {"0001_a.sql": "SELECT 1;"})
    async with open_database(empty_settings, migrations_dir=newer):
        pass
    with pytest.raises(MigrationError, match="0002"):
        async with open_database(empty_settings, migrations_dir=older):
            pass


def test_badly_named_files_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="NNNN"):
        load_migrations(_write(tmp_path / "m", {"1_short.sql": "SELECT 1;"}))
    with pytest.raises(MigrationError, match="two migration files"):
        load_migrations(_write(tmp_path / "d", {"0001_a.sql": "", "0001_b.sql": ""}))


async def test_workers_starting_together_apply_each_migration_once(
    empty_settings: Settings, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "0001_slow.sql": "SELECT pg_sleep(0.3); CREATE TABLE slow (id int);",
            "0002_counter.sql": "CREATE TABLE counter (n int); INSERT INTO counter VALUES (1);",
        },
    )
    applied: list[tuple[str, ...]] = []

    async def worker() -> None:
        async with open_database(empty_settings, migrations_dir=folder) as db:
            applied.append(db.applied_migrations)

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(worker)
    assert sorted(applied) == [(), (), (), ("0001", "0002")]

    async def counter_rows(conn: Connection) -> int:
        count: int = await conn.fetchval("SELECT count(*) FROM counter")
        return count

    async with open_database(empty_settings, migrations_dir=folder) as db:
        assert await db.run(counter_rows) == 1
