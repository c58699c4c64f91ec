"""``Database.run``: commit, rollback, read-only snapshots, timeouts, cancellation, concurrency."""

from __future__ import annotations

import asyncpg
import pytest
import trio

from storage import Connection, Database, ReadOnlyError, StorageTimeoutError


async def _put(conn: Connection, key: str, value: str) -> None:
    await conn.execute("INSERT INTO kv (key, value) VALUES ($1, to_jsonb($2::text))", key, value)


async def _get(conn: Connection, key: str) -> str | None:
    value: str | None = await conn.fetchval("SELECT value #>> '{}' FROM kv WHERE key = $1", key)
    return value


async def _count_kv(conn: Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM kv")
    return count


async def test_run_commits_and_returns_the_result(db: Database) -> None:
    await db.run(_put, "a", "1")
    assert await db.run_readonly(_get, "a") == "1"


async def test_an_exception_rolls_the_whole_unit_back(db: Database) -> None:
    class Boom(Exception):
        pass

    async def put_then_fail(conn: Connection) -> None:
        await _put(conn, "x", "1")
        await _put(conn, "y", "2")
        raise Boom

    with pytest.raises(Boom):  # the caller's own exception passes through unchanged
        await db.run(put_then_fail)
    assert await db.run(_count_kv) == 0


async def test_run_readonly_refuses_writes(db: Database) -> None:
    with pytest.raises(ReadOnlyError) as info:
        await db.run_readonly(_put, "a", "1")
    assert info.value.sqlstate == "25006"


async def test_run_readonly_sees_one_snapshot(db: Database) -> None:
    seen: list[int] = []
    written = trio.Event()

    async def read_twice(conn: Connection) -> None:
        seen.append(await _count_kv(conn))
        # Block on the asyncio side until the writer committed, without touching trio objects.
        await conn.execute("SELECT pg_sleep(0.3)")
        seen.append(await _count_kv(conn))

    async def reader() -> None:
        await db.run_readonly(read_twice)

    async def writer() -> None:
        await trio.sleep(0.1)
        await db.run(_put, "k", "v")
        written.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        nursery.start_soon(writer)
    assert written.is_set()
    assert seen == [0, 0]
    assert await db.run(_count_kv) == 1


async def test_timeout_cancels_the_statement_and_rolls_back(db: Database) -> None:
    async def put_and_sleep(conn: Connection) -> None:
        await _put(conn, "slow", "1")
        await conn.execute("SELECT pg_sleep(10)")

    with trio.fail_after(5):
        with pytest.raises(StorageTimeoutError):
            await db.run(put_and_sleep, timeout=0.2)
    assert await db.run(_get, "slow") is None


async def _backends(conn: Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT state FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend'"
    )
    return [r["state"] for r in rows]


async def test_trio_cancellation_rolls_back_and_returns_the_connection(db: Database) -> None:
    started = trio.Event()

    async def put_and_sleep(conn: Connection) -> None:
        await _put(conn, "cancelled", "1")
        await conn.execute("SELECT pg_sleep(10)")

    async def unit() -> None:
        started.set()
        await db.run(put_and_sleep)

    with trio.fail_after(5):
        with trio.move_on_after(0.3) as scope:
            await unit()
    assert scope.cancelled_caught
    assert started.is_set()
    assert await db.run(_get, "cancelled") is None
    # No backend is left running the cancelled statement or idle in a transaction.
    states = await db.run(_backends)
    assert "active" not in states
    assert "idle in transaction" not in states
    assert len(states) <= 4  # pool_max_size of the fixture: nothing leaked beyond the pool


async def test_cancellation_before_the_unit_starts_runs_nothing(db: Database) -> None:
    with trio.CancelScope() as scope:
        scope.cancel()
        await db.run(_put, "never", "1")
    assert await db.run(_get, "never") is None


async def test_many_concurrent_units_share_the_pool(db: Database) -> None:
    async def put(i: int) -> None:
        await db.run(_put, f"k{i}", str(i))

    async with trio.open_nursery() as nursery:
        for i in range(50):
            nursery.start_soon(put, i)
    assert await db.run(_count_kv) == 50


async def test_ping_and_ready(db: Database) -> None:
    assert 0 < await db.ping() < 2.0
    assert await db.ready() is True


async def test_instance_row_from_the_first_migration(db: Database) -> None:
    async def instance(conn: Connection) -> int:
        count: int = await conn.fetchval("SELECT count(*) FROM instance")
        return count

    assert await db.run_readonly(instance) == 1
    assert db.applied_migrations == ()  # the template already had them


async def test_a_nested_transaction_is_a_savepoint(db: Database) -> None:
    async def insert_twice(conn: Connection) -> None:
        async with conn.transaction():
            await _put(conn, "inner", "1")
            await _put(conn, "kept", "again")  # unique violation inside the savepoint only

    async def outer(conn: Connection) -> None:
        await _put(conn, "kept", "1")
        # Inside a unit the driver's own exceptions are seen; translation happens at the boundary.
        with pytest.raises(asyncpg.UniqueViolationError):
            await insert_twice(conn)
        await _put(conn, "after", "1")

    await db.run(outer)
    assert [await db.run(_get, k) for k in ("kept", "inner", "after")] == ["1", None, "1"]


async def test_session_state_does_not_leak_between_units(db: Database) -> None:
    async def leak(conn: Connection) -> None:
        await conn.execute("SET application_name = 'leaked'")

    async def name(conn: Connection) -> str:
        value: str = await conn.fetchval("SHOW application_name")
        return value

    for _ in range(8):  # whichever pooled connection comes next
        await db.run(leak)
        assert await db.run(name) == "klyuch"
