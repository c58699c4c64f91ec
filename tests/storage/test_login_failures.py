"""The login-failures repository on real PostgreSQL: counting, the n-th-latest check, clearing, the
bounded sweep, and concurrent inserts from two ``Database`` handles (two workers)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import trio

from config.settings import Settings
from storage import Database, open_database
from storage.repos import login_failures as repo

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def key(name: str) -> bytes:
    """A 32-byte stand-in for a keyed hash (the repository only needs 32 opaque bytes)."""
    return hashlib.sha256(name.encode()).digest()


ALICE, ADDR, OTHER = key("user:alice"), key("addr:10.0.0.1"), key("user:bob")


def at(seconds: float) -> datetime:
    """``T0`` plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


async def test_retry_after_is_the_nth_latest_failure_leaving_the_window(db: Database) -> None:
    for second in (0, 10, 20):
        await db.run(repo.record_failures, [ALICE, ADDR], at(second))
    limits = [(ALICE, 3), (ADDR, 5)]
    assert await db.run_readonly(repo.retry_after, limits, 60, at(30)) == 30  # 0 + 60 - 30
    assert await db.run_readonly(repo.retry_after, [(ALICE, 2)], 60, at(30)) == 40  # 10 + 60 - 30
    assert await db.run_readonly(repo.retry_after, [(ADDR, 5), (OTHER, 1)], 60, at(30)) is None
    assert await db.run_readonly(repo.retry_after, limits, 60, at(60)) is None  # 0 left
    assert await db.run_readonly(repo.retry_after, [], 60, at(60)) is None


async def test_a_failure_from_a_fast_clock_blocks_one_window_at_most(db: Database) -> None:
    await db.run(repo.record_failures, [ALICE], at(100))
    assert await db.run_readonly(repo.retry_after, [(ALICE, 1)], 60, at(0)) == 60


async def test_clear_forgets_one_key(db: Database) -> None:
    await db.run(repo.record_failures, [ALICE, ADDR], at(0))
    assert await db.run(repo.clear, ALICE) == 1
    assert await db.run_readonly(repo.count, ALICE) == 0
    assert await db.run_readonly(repo.count, ADDR) == 1


async def test_sweep_deletes_only_old_rows_in_bounded_batches(db: Database) -> None:
    for second in range(10):
        await db.run(repo.record_failures, [ALICE, ADDR], at(second))
    assert await db.run(repo.delete_before, at(5), 4) == 4  # 10 old rows: a batch of 4
    assert await db.run(repo.delete_before, at(5), 100) == 6
    assert await db.run(repo.delete_before, at(5), 100) == 0
    assert await db.run_readonly(repo.count, ALICE) == 5
    assert await db.run_readonly(repo.count, ADDR) == 5


async def test_two_workers_recording_at_once_lose_nothing(db: Database, pg_settings: Settings) -> None:
    async with open_database(pg_settings, migrate=False) as second:

        async def fail(handle: Database, times: int) -> None:
            for number in range(times):
                await handle.run(repo.record_failures, [ALICE, ADDR], at(number / 1000))

        async with trio.open_nursery() as nursery:
            for handle in (db, second) * 4:
                nursery.start_soon(fail, handle, 10)
    assert await db.run_readonly(repo.count, ALICE) == 80
    assert await db.run_readonly(repo.retry_after, [(ALICE, 80)], 60, at(1)) is not None
