"""``Database``: the trio-facing handle on an asyncpg pool that lives on the storage event loop.

A unit of work is a coroutine function ``fn(conn, *args)`` written against asyncpg. ``run`` sends the
whole function across to the asyncio loop in one crossing (each crossing costs tens of µs, so never
one per statement), where it runs on one pooled connection inside one transaction:

* success commits; any exception rolls back and propagates, database errors translated into the
  ``storage.errors`` tree (the asyncpg exception kept as ``__cause__``) when they leave ``fn``: code
  inside ``fn`` sees asyncpg's own exceptions (``asyncpg.UniqueViolationError`` ...);
* ``timeout`` (default ``StorageSettings.command_timeout_s``) bounds the whole unit including waiting
  for a pooled connection, and raises ``StorageTimeoutError``;
* a cancelled trio caller cancels the asyncio task and waits for it: the transaction is rolled back
  and the connection returned to the pool (or closed, if it was mid-statement) before ``Cancelled``
  reaches the caller. A unit that committed just before the cancellation arrived returns normally.
  The rollback itself is bounded by the pool's ``command_timeout``, so a dead server cannot wedge it.

* ``RetryableError`` (serialization failure, deadlock) means the unit was rolled back and may simply
  be run again; ``run`` does not retry by itself.

``fn`` runs on the asyncio thread: it must not touch trio objects, and it should only do database
work (CPU-heavy code there delays every other unit of work of the process). Nested
``conn.transaction()`` blocks inside ``fn`` become savepoints. Session state a unit leaves behind
(``SET`` without ``LOCAL``, session advisory locks, ``LISTEN``, cursors ``WITH HOLD``) is undone when
the connection goes back to the pool (asyncpg's reset), at the price of one round trip per unit; a
unit therefore costs BEGIN + its statements + COMMIT + reset round trips.

``run_batched`` has ``run``'s contract for one argument of a *batched* unit, while concurrent
callers share one call of it, one transaction and one durable commit (``storage.group``): for small
independent writes on a hot path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar, TypeVarTuple, Unpack, cast

import asyncpg
import outcome
import trio

from config.settings import StorageSettings
from storage.bridge import AsyncioThread
from storage.errors import StorageError
from storage.group import BatchedUnit, GroupCommitter, GroupExecutor, positions_by_unit
from storage.notify import Listener, TrioSubscriber
from storage.offload import Offload, Wire, error_from_status, offload_of
from storage.sqlstate import translated
from storage.writer.errors import WriterUnavailableError
from storage.writer.link import WriterLink, open_writer

T = TypeVar("T")
A = TypeVar("A")
Ts = TypeVarTuple("Ts")

IsolationLevel = Literal["read_committed", "repeatable_read"]

Connection = asyncpg.Connection
"""What a unit of work receives (a pooled connection; do not close it, do not keep it)."""

DEFAULT_NOTIFY_BUFFER = 1000
"""Payloads a subscription buffers before new ones are dropped."""

CLEANUP_TIMEOUT_S = 10.0
"""How long closing the pool and the listener may take before connections are terminated."""


class Database:
    """Run units of work, probe readiness and LISTEN/NOTIFY; made by ``storage.open_database``."""

    def __init__(
        self, bridge: AsyncioThread, pool: asyncpg.Pool, settings: StorageSettings, dsn: str
    ) -> None:
        self._bridge = bridge
        self._pool = pool
        self._settings = settings
        self._dsn = dsn
        self._listener = Listener(dsn, timeout=settings.connect_timeout_s)
        self._groups = GroupExecutor(pool, timeout_s=settings.command_timeout_s)
        self.group_commits = GroupCommitter(
            self._run_group,
            max_units=settings.group_commit_max_units,
            flows=settings.group_commit_flows,
        )
        """Forms the groups of ``run_batched`` (its counters show how well units coalesce)."""
        self.offloaded_commits = GroupCommitter(
            self._run_offloaded,
            max_units=settings.group_commit_max_units,
            flows=settings.group_commit_flows,
        )
        """Forms the groups of offloadable units while a writer process runs (``offloading``)."""
        self.offload_fallbacks = 0
        """Offloaded groups applied in process because the writer could not take them."""
        self._writer: WriterLink | None = None
        self.applied_migrations: tuple[str, ...] = ()
        """Migration versions this ``open_database`` applied (empty when the schema was current)."""

    async def run(
        self,
        fn: Callable[[Connection, Unpack[Ts]], Awaitable[T]],
        *args: *Ts,
        timeout: float | None = None,  # noqa: ASYNC109 - enforced on the asyncio side, where the work runs
    ) -> T:
        """Run ``fn(conn, *args)`` in a read-write transaction and return its result."""
        return await self._bridge.run(self._unit, fn, args, timeout, False)

    async def run_batched(self, fn: Callable[[Connection, Sequence[A]], Awaitable[Sequence[T]]], arg: A) -> T:
        """``fn(conn, [arg])[0]`` as ``run`` would, but sharing the call, transaction and commit.

        Concurrent callers of the same ``fn`` are served by one ``fn(conn, [their args])``
        (``storage.group``); ``fn`` must return one result per argument, in order, must not catch
        database errors and carry on, nor change session state. A group is bounded by
        ``StorageSettings.command_timeout_s``.
        """
        committer = self.group_commits
        if self._writer is not None and offload_of(fn) is not None:
            committer = self.offloaded_commits
        result: T = await committer.run(fn, arg)
        return result

    @asynccontextmanager
    async def offloading(
        self, *, log_level: str = "warning", log_format: str = "console"
    ) -> AsyncIterator[None]:
        """Run offloadable batched units (``storage.offload``) in a writer process within the block.

        The process is started (and restarted) by ``storage.writer.link``; whenever it cannot take a
        group, the group is applied here as before, so callers see no difference but speed.
        """
        async with open_writer(self._dsn, self._settings, log_level=log_level, log_format=log_format) as link:
            self._writer = link
            try:
                yield
            finally:
                self._writer = None

    def metrics(self) -> dict[str, Any]:
        """Group commits and the writer process of this worker, for ``/metrics``."""
        writer = self._writer
        return {
            "group_commits": {"groups": self.group_commits.groups, "units": self.group_commits.units},
            "offloaded": {
                "groups": self.offloaded_commits.groups,
                "units": self.offloaded_commits.units,
                "fallbacks": self.offload_fallbacks,
            },
            "writer": None
            if writer is None
            else {"up": writer.up, "starts": writer.starts, "pid": writer.pid},
        }

    @property
    def writer(self) -> WriterLink | None:
        """The writer process link while ``offloading`` (None otherwise)."""
        return self._writer

    async def run_readonly(
        self,
        fn: Callable[[Connection, Unpack[Ts]], Awaitable[T]],
        *args: *Ts,
        timeout: float | None = None,  # noqa: ASYNC109 - enforced on the asyncio side, where the work runs
    ) -> T:
        """Run ``fn(conn, *args)`` in a read-only REPEATABLE READ transaction (one consistent snapshot)."""
        return await self._bridge.run(self._unit, fn, args, timeout, True)

    async def ping(self, timeout: float = 2.0) -> float:  # noqa: ASYNC109 - see run()
        """Round-trip ``SELECT 1``; return the seconds it took or raise a ``StorageError``."""
        started = time.perf_counter()
        await self.run_readonly(_select_one, timeout=timeout)
        return time.perf_counter() - started

    async def ready(self, timeout: float = 2.0) -> bool:  # noqa: ASYNC109 - see run()
        """Readiness probe: True when ``ping`` succeeds within ``timeout``."""
        try:
            await self.ping(timeout)
        except StorageError:
            return False
        return True

    async def notify(
        self,
        channel: str,
        payload: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - see run()
    ) -> None:
        """Send ``payload`` on ``channel`` (committed at once; inside a unit of work use ``pg_notify``)."""
        await self.run(_notify, channel, payload, timeout=timeout)

    @asynccontextmanager
    async def listen(
        self, channel: str, *, buffer: int = DEFAULT_NOTIFY_BUFFER, skip_containing: str | None = None
    ) -> AsyncIterator[trio.MemoryReceiveChannel[str]]:
        """Subscribe to ``channel``; yields a receive channel of payloads (see ``storage.notify``).

        Payloads that contain ``skip_containing`` never arrive (filtered on the storage thread).
        """
        send, receive = trio.open_memory_channel[str](buffer)
        subscriber = TrioSubscriber(trio.lowlevel.current_trio_token(), send, channel, skip_containing)
        key = await self._bridge.run(self._listener.subscribe, channel, subscriber)
        try:
            async with receive:
                yield receive
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT_S):
                await self._bridge.run(self._listener.unsubscribe, channel, key)
            send.close()

    async def _unit(
        self,
        fn: Callable[[Connection, Unpack[Ts]], Awaitable[T]],
        args: tuple[*Ts],
        timeout_s: float | None,
        readonly: bool,
    ) -> T:
        # On the asyncio thread.
        isolation: IsolationLevel = "repeatable_read" if readonly else "read_committed"
        with translated():
            async with asyncio.timeout(self._settings.command_timeout_s if timeout_s is None else timeout_s):
                async with self._pool.acquire() as proxy:
                    conn = cast(Connection, proxy)  # the proxy forwards every Connection method
                    async with conn.transaction(isolation=isolation, readonly=readonly):
                        return await fn(conn, *args)

    async def _run_group(self, jobs: Sequence[tuple[BatchedUnit, Any]]) -> list[outcome.Outcome[Any]]:
        return await self._bridge.run(self._groups.run_group, jobs)

    async def _run_offloaded(self, jobs: Sequence[tuple[BatchedUnit, Any]]) -> list[outcome.Outcome[Any]]:
        """A group of offloadable units: prepared here, applied by the writer (or here, when it cannot)."""
        by_fn = positions_by_unit(jobs)
        outcomes: list[outcome.Outcome[Any]] = [outcome.Value(None)] * len(jobs)
        for fn, indices in by_fn.items():
            offload = offload_of(fn)
            assert offload is not None  # only offloadable units are queued here
            try:
                wires, results = offload.prepare([jobs[i][1] for i in indices])
            except Exception as exc:  # a bug in prepare: every caller of this unit learns of it
                for i in indices:
                    outcomes[i] = outcome.Error(exc)
                continue
            errors = await self._apply_offloaded(offload, wires)
            for i, result, error in zip(indices, results, errors, strict=True):
                outcomes[i] = outcome.Value(result) if error is None else outcome.Error(error)
        return outcomes

    async def _apply_offloaded(
        self, offload: Offload[Any, Any], wires: list[Wire]
    ) -> list[BaseException | None]:
        writer = self._writer
        if writer is not None:
            try:
                statuses = await writer.apply(offload.name, wires)
            except WriterUnavailableError:
                self.offload_fallbacks += 1  # applied below; idempotent if the writer did it after all
            else:
                return [None if status is None else error_from_status(status) for status in statuses]
        outcomes = await self._run_group([(offload.apply, wire) for wire in wires])
        return [result.error if isinstance(result, outcome.Error) else None for result in outcomes]

    async def close(self) -> None:
        """Close the listener and the pool (shielded, bounded); called by ``open_database``."""
        with trio.CancelScope(shield=True):
            with trio.move_on_after(CLEANUP_TIMEOUT_S):
                await self._bridge.run(self._listener.close)
            with trio.move_on_after(CLEANUP_TIMEOUT_S):
                await self._bridge.run(self._groups.close)
            await self._bridge.run(_close_pool, self._pool, CLEANUP_TIMEOUT_S)


async def _select_one(conn: Connection) -> int:
    value: int = await conn.fetchval("SELECT 1")
    return value


async def _notify(conn: Connection, channel: str, payload: str) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", channel, payload)


async def _close_pool(pool: asyncpg.Pool, timeout_s: float) -> None:
    try:
        await asyncio.wait_for(pool.close(), timeout_s)
    except (TimeoutError, OSError, asyncpg.InterfaceError):
        pool.terminate()  # a unit still running past shutdown is cut off
