"""Microbenchmark of ``storage``: the trio→asyncio crossing and small units of work through ``Database``.

Run from the repository root::

    .venv/bin/python -m bench.storage_probe                 # embedded server in a temp folder
    .venv/bin/python -m bench.storage_probe --calls 5000 --dsn postgresql://...

Prints p50/p99 in µs for: the bare crossing (no database), ``SELECT 1`` on one connection inside the
asyncio loop (no crossing, no pool: the driver's floor), crossing + pooled ``SELECT 1`` without a
transaction (2 round trips: the statement and the pool's reset), ``db.run(SELECT 1)`` (4 round trips:
BEGIN, statement, COMMIT, reset) and ``db.run_readonly``; then inserts/s with concurrent trio tasks.
FACTS.md quotes SELECT 1 p50 165 µs for an asyncio loop in a thread on this kind of machine.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import structlog
import trio
from pydantic import SecretStr

from config.settings import Settings, StorageSettings
from storage import Connection, Database, open_database


async def _nothing() -> None:
    return None


async def _select_one(conn: Connection) -> int:
    value: int = await conn.fetchval("SELECT 1")
    return value


async def _insert(conn: Connection, key: str) -> None:
    await conn.execute("INSERT INTO kv (key, value) VALUES ($1, '1'::jsonb)", key)


async def _timed(fn: Callable[[], Awaitable[object]], calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return samples


async def _driver_floor(pool: asyncpg.Pool, calls: int) -> list[float]:
    """On the asyncio thread: SELECT 1 on one held connection, no crossing, no pool round trip."""
    async with pool.acquire() as conn:
        samples = []
        for _ in range(calls):
            start = time.perf_counter()
            await conn.fetchval("SELECT 1")
            samples.append(time.perf_counter() - start)
        return samples


async def _pooled_select(pool: asyncpg.Pool) -> object:
    """On the asyncio thread: pool acquire, SELECT 1, release (with reset), no transaction."""
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT 1")


def _line(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] * 1e6
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6
    return f"{name:<34} p50 {p50:8.1f} µs   p99 {p99:8.1f} µs   n={len(samples)}"


async def _insert_rate(db: Database, tasks: int, seconds: float) -> float:
    done = 0

    async def worker(n: int) -> None:
        nonlocal done
        i = 0
        while True:
            await db.run(_insert, f"bench-{n}-{i}")
            i += 1
            done += 1

    async with trio.open_nursery() as nursery:
        for n in range(tasks):
            nursery.start_soon(worker, n)
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()
    return done / seconds


async def probe(settings: Settings, *, calls: int, tasks: int, seconds: float) -> None:
    """Open the database of ``settings`` and print every measurement."""
    async with open_database(settings) as db:
        bridge, pool = db._bridge, db._pool  # a probe may look inside: it measures the layers
        await _timed(lambda: db.run(_select_one), 200)  # warm up pool, statement cache, branch predictors
        print(_line("crossing only (no database)", await _timed(lambda: bridge.run(_nothing), calls)))
        print(_line("SELECT 1 inside asyncio (floor)", await bridge.run(_driver_floor, pool, calls)))
        pooled = await _timed(lambda: bridge.run(_pooled_select, pool), calls)
        print(_line("crossing + pooled SELECT 1, no tx", pooled))
        print(_line("db.run(SELECT 1)", await _timed(lambda: db.run(_select_one), calls)))
        print(_line("db.run_readonly(SELECT 1)", await _timed(lambda: db.run_readonly(_select_one), calls)))
        rate = await _insert_rate(db, tasks, seconds)
        label = f"inserts, {tasks} trio tasks"
        print(f"{label:<34} {rate:8.0f} /s   (pool_max_size={settings.storage.pool_max_size})")


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000, help="calls per latency measurement")
    parser.add_argument("--tasks", type=int, default=20, help="concurrent trio tasks for the insert rate")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of the insert-rate phase")
    parser.add_argument("--dsn", help="external PostgreSQL instead of a throw-away embedded one")
    parser.add_argument("--fsync", action="store_true", help="embedded server with fsync on")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    folder = Path(tempfile.mkdtemp(prefix="klyuch-storage-probe-"))
    folder.chmod(0o711)  # the embedded server's account (when root) must traverse it
    try:
        storage = StorageSettings(
            dsn=SecretStr(args.dsn) if args.dsn else None,
            embedded_fsync=args.fsync,
            pool_max_size=max(10, args.tasks),
        )
        settings = Settings(home=folder, storage=storage)
        trio.run(lambda: probe(settings, calls=args.calls, tasks=args.tasks, seconds=args.seconds))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
