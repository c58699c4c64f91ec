"""Group commit: concurrent writes of one process share one statement, one transaction, one commit.

A durable commit waits for the WAL flush (~1.4 ms on this machine's disk) and every unit pays the
BEGIN, COMMIT and pool-reset round trips and one thread crossing; and in a worker each round trip
costs more than its own time, because the storage thread must win the GIL back from a busy event
loop for every message (measured: a unit of 4 round trips took 3–5 ms of latency under load). When
many requests each write a small independent row (the synchronous signing path stores one finished
operation per request), those fixed costs dominate.

A *batched unit* ``fn(conn, args)`` takes a list of arguments and returns one result per argument,
in order, doing the work of all of them in as few statements as it can (an ``INSERT ... SELECT FROM
unnest(...)``). ``GroupCommitter.run(fn, arg)`` keeps ``Database.run``'s contract for its caller —
it returns once *its* work is committed, or raises its own error — while the arguments of all
callers that arrive together go across in one crossing, one call of ``fn`` per distinct ``fn``, and
one transaction.

How a group forms (no timer, no background task, so nothing waits that would not have waited
anyway): a caller that finds fewer than ``flows`` groups in flight becomes a *leader*: it takes the
queued jobs (its own included, at most ``max_units``), runs them in one transaction and wakes their
callers; jobs that arrive meanwhile queue up and form the next group, led by the oldest waiter.
Under no concurrency a group is a single unit, at the cost of one extra list operation.

What a batched unit must respect (beyond ``Database.run``'s rules): it shares the transaction with
unrelated work, so it must not catch a database error and carry on (the transaction is aborted
then; wrap such code in ``conn.transaction()``, a savepoint) and must not change session state.
When a group fails, nothing of it is committed and each of its jobs is run again alone (``fn(conn,
[arg])`` in its own transaction), so every caller gets the outcome of its own work.

Round trips: a group runs on a connection the executor keeps for group commits (no pool acquire
and no pool reset: batched units leave no session state), inside BEGIN … COMMIT — or, when the
group holds one function marked ``@single_statement``, as that one statement alone, which
PostgreSQL commits by itself: one round trip for the whole group.

Cancellation: a job already taken into a group runs to its end (the transaction is shared); its
cancelled caller leaves without the result — like a unit that committed just before its caller was
cancelled. A job still queued is withdrawn.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar, cast

import asyncpg
import outcome
import trio
from asyncpg.pool import PoolConnectionProxy

from storage.sqlstate import translated

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

SINGLE_STATEMENT = "__klyuch_single_statement__"

BatchedUnit = Callable[[Any, Sequence[Any]], Awaitable[Sequence[Any]]]
"""A batched unit of work: ``fn(conn, args)`` → one result per argument, in order."""

RunGroup = Callable[[Sequence[tuple[BatchedUnit, Any]]], Awaitable[list[outcome.Outcome[Any]]]]
"""Runs a group of (fn, arg) jobs; returns one outcome per job, in order (see ``Database``)."""


class _Job(Generic[T]):
    """One caller's unit of work and what became of it."""

    __slots__ = ("arg", "elected", "fn", "result", "taken", "wake")

    def __init__(self, fn: BatchedUnit, arg: Any) -> None:
        self.fn = fn
        self.arg = arg
        self.result: outcome.Outcome[T] | None = None
        self.taken = False
        """Part of a group in flight (can no longer be withdrawn)."""
        self.elected = False
        """Woken to lead the next group."""
        self.wake = trio.Event()


class GroupCommitter:
    """Forms groups of concurrent units of work and runs each group with ``run_group``."""

    def __init__(self, run_group: RunGroup, *, max_units: int, flows: int) -> None:
        if max_units < 1 or flows < 1:
            raise ValueError("max_units and flows must be at least 1")
        self._run_group = run_group
        self._max_units = max_units
        self._flows = flows
        self._queue: deque[_Job[Any]] = deque()
        self._leading = 0
        self.groups = 0
        """Groups run so far (for metrics and tests)."""
        self.units = 0
        """Units of work run in them."""

    async def run(self, fn: BatchedUnit, arg: Any) -> Any:
        """Run ``fn`` for ``arg`` in some group; return the result for ``arg`` or raise its error."""
        job: _Job[Any] = _Job(fn, arg)
        self._queue.append(job)
        if self._leading < self._flows:
            self._leading += 1
            job.elected = True
        else:
            try:
                await job.wake.wait()
            except trio.Cancelled:
                if not job.taken:
                    self._queue.remove(job)
                if job.elected:  # woken to lead but leaving: the flow must go on to someone
                    self._hand_over()
                raise
        if job.result is None:  # elected: lead until our own job is done
            await self._lead(job)
        elif job.elected:
            # Elected, but another leader that ran first took our job into its group: we will not
            # lead, so pass the flow on (keeping it would lose it for good).
            self._hand_over()
        assert job.result is not None
        return job.result.unwrap()

    async def _lead(self, own: _Job[Any]) -> None:
        leading = True
        try:
            while own.result is None:
                if not self._queue:
                    # Two leaders finished together and elected two successors; the first took both
                    # jobs into its group. Ours is in flight there: give the flow on and wait for it
                    # (an empty group would cost a round trip, or spin if it never checkpoints).
                    leading = False
                    self._hand_over()
                    own.wake = trio.Event()
                    await own.wake.wait()
                    break
                count = min(len(self._queue), self._max_units)
                group = [self._queue.popleft() for _ in range(count)]
                for job in group:
                    job.taken = True
                # Shielded: the group belongs to every caller in it, not to the leader alone. It is
                # bounded by the storage command timeout.
                with trio.CancelScope(shield=True):
                    try:
                        results = await self._run_group([(job.fn, job.arg) for job in group])
                    except Exception as exc:  # the group could not run at all (storage stopped)
                        results = [outcome.Error(exc) for _ in group]
                self.groups += 1
                self.units += len(group)
                for job, result in zip(group, results, strict=True):
                    job.result = result
                    job.wake.set()
        finally:
            if leading:
                self._hand_over()

    def _hand_over(self) -> None:
        """Pass the lead to the oldest queued job not already woken to lead, or give the flow back."""
        # Two leaders may finish before the first successor runs: each needs its own successor, or
        # a flow would be lost for good.
        for successor in self._queue:
            if not successor.elected:
                successor.elected = True
                successor.wake.set()
                return
        self._leading -= 1


def positions_by_unit(jobs: Sequence[tuple[BatchedUnit, Any]]) -> dict[BatchedUnit, list[int]]:
    """The positions of a group's jobs by their unit, in order: one call per distinct unit."""
    by_fn: dict[BatchedUnit, list[int]] = {}
    for index, (fn, _) in enumerate(jobs):
        by_fn.setdefault(fn, []).append(index)
    return by_fn


def single_statement(fn: F) -> F:
    """Mark a batched unit that issues exactly one statement (so it may run without BEGIN/COMMIT)."""
    setattr(fn, SINGLE_STATEMENT, True)
    return fn


class GroupExecutor:
    """The asyncio side: runs groups on connections kept for them (at most ``flows``)."""

    def __init__(self, pool: asyncpg.Pool, *, timeout_s: float) -> None:
        self._pool = pool
        self._timeout_s = timeout_s
        self._idle: list[PoolConnectionProxy[Any]] = []

    async def run_group(self, jobs: Sequence[tuple[BatchedUnit, Any]]) -> list[outcome.Outcome[Any]]:
        """One call per distinct function, in one transaction; if that fails, each job alone."""
        by_fn = positions_by_unit(jobs)
        values: list[Any] = [None] * len(jobs)
        try:
            with translated():
                async with asyncio.timeout(self._timeout_s):
                    await self._run_calls(jobs, by_fn, values)
        except Exception as exc:
            if len(jobs) == 1:
                return [outcome.Error(exc)]
            alone = await asyncio.gather(*(self._alone(fn, arg) for fn, arg in jobs), return_exceptions=True)
            return [outcome.Error(v) if isinstance(v, BaseException) else outcome.Value(v) for v in alone]
        return [outcome.Value(value) for value in values]

    async def close(self) -> None:
        """Give the kept connections back to the pool (before it closes)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await self._pool.release(conn)

    async def _run_calls(
        self, jobs: Sequence[tuple[BatchedUnit, Any]], by_fn: dict[BatchedUnit, list[int]], values: list[Any]
    ) -> None:
        proxy = self._idle.pop() if self._idle else await self._pool.acquire()
        conn = cast(asyncpg.Connection, proxy)  # the proxy forwards every Connection method
        try:
            if len(by_fn) == 1 and getattr(next(iter(by_fn)), SINGLE_STATEMENT, False):
                await _call_each(conn, jobs, by_fn, values)  # one statement: its own transaction
            else:
                async with conn.transaction():
                    await _call_each(conn, jobs, by_fn, values)
        except Exception as exc:
            broken = isinstance(exc, asyncpg.InterfaceError | OSError) or conn.is_closed()
            if broken or conn.is_in_transaction():
                await self._discard(proxy)  # broken, or left mid-transaction: never reuse it
            else:
                self._idle.append(proxy)  # a refused statement or the unit's own error: still clean
            raise
        except BaseException:
            await self._discard(proxy)  # cancelled (timed out) mid-statement: its state is unknown
            raise
        self._idle.append(proxy)

    async def _discard(self, proxy: PoolConnectionProxy[Any]) -> None:
        cast(asyncpg.Connection, proxy).terminate()
        await self._pool.release(proxy)

    async def _alone(self, fn: BatchedUnit, arg: Any) -> Any:
        # One job of a failed group, in its own transaction on an ordinary pooled connection.
        with translated():
            async with asyncio.timeout(self._timeout_s), self._pool.acquire() as proxy:
                conn = cast(asyncpg.Connection, proxy)
                async with conn.transaction():
                    return _one_each(fn, await fn(conn, [arg]), 1)[0]


async def _call_each(
    conn: asyncpg.Connection,
    jobs: Sequence[tuple[BatchedUnit, Any]],
    by_fn: dict[BatchedUnit, list[int]],
    values: list[Any],
) -> None:
    for fn, indices in by_fn.items():
        # A unit returning the wrong number of results is a bug; run alone (single statement) its
        # rows are already committed when this is noticed.
        results = _one_each(fn, await fn(conn, [jobs[i][1] for i in indices]), len(indices))
        for i, value in zip(indices, results, strict=True):
            values[i] = value


def _one_each(fn: BatchedUnit, results: Sequence[Any], count: int) -> Sequence[Any]:
    if len(results) != count:
        raise ValueError(
            f"batched unit {fn.__qualname__} returned {len(results)} results for {count} arguments"
        )
    return results
