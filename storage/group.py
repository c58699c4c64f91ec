"""Group commit: concurrent units of work of one process share one transaction and one commit.

A durable commit waits for the WAL flush (~1.4 ms on this machine's disk) and every unit pays the
BEGIN, COMMIT and pool-reset round trips and one thread crossing. When many requests each write a
small independent row (the synchronous signing path stores one finished operation per request),
those fixed costs dominate. ``GroupCommitter.run`` keeps ``Database.run``'s contract for the caller —
it returns once *its* work is committed, or raises its own error — while the work of all callers
that arrive together is sent across in one crossing and committed by one transaction.

How a group forms (no timer, no background task, so nothing waits that would not have waited anyway):
a caller that finds fewer than ``flows`` groups in flight becomes a *leader*: it takes the queued jobs
(its own included, at most ``max_units``), runs them one after another in one transaction and wakes
their callers; jobs that arrive meanwhile queue up and form the next group, led by the oldest waiter.
Under no concurrency a group is a single unit, at the cost of one extra list operation.

What a function run in a group must respect (beyond ``Database.run``'s rules): it shares the
transaction with unrelated work, so it must not catch a database error and carry on (the
transaction is aborted then; wrap such code in ``conn.transaction()``, a savepoint) and must not
change session state. When a group fails, nothing of it is committed and each of its jobs is run
again alone in its own transaction, so every caller gets the outcome of its own work.

Cancellation: a job already taken into a group runs to its end (the transaction is shared); its
cancelled caller leaves without the result — like a unit that committed just before its caller was
cancelled. A job still queued is withdrawn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import outcome
import trio

T = TypeVar("T")

Unit = Callable[..., Awaitable[Any]]
"""A unit of work: ``fn(conn, *args)``."""

RunGroup = Callable[[Sequence[tuple[Unit, tuple[Any, ...]]]], Awaitable[list[outcome.Outcome[Any]]]]
"""Runs a group; returns one outcome per job, in order (see ``Database``)."""


class _Job(Generic[T]):
    """One caller's unit of work and what became of it."""

    __slots__ = ("args", "elected", "fn", "result", "taken", "wake")

    def __init__(self, fn: Unit, args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
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

    async def run(self, fn: Unit, args: tuple[Any, ...]) -> Any:
        """Run ``fn(conn, *args)`` in some group; return its result or raise its error."""
        job: _Job[Any] = _Job(fn, args)
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
                    if job.elected:
                        self._hand_over()
                raise
        if job.result is None:  # elected: lead until our own job is done
            await self._lead(job)
        assert job.result is not None
        return job.result.unwrap()

    async def _lead(self, own: _Job[Any]) -> None:
        try:
            while own.result is None:
                count = min(len(self._queue), self._max_units)
                group = [self._queue.popleft() for _ in range(count)]
                for job in group:
                    job.taken = True
                # Shielded: the group belongs to every caller in it, not to the leader alone. It is
                # bounded by the storage command timeout.
                with trio.CancelScope(shield=True):
                    try:
                        results = await self._run_group([(job.fn, job.args) for job in group])
                    except Exception as exc:  # the group could not run at all (storage stopped)
                        results = [outcome.Error(exc) for _ in group]
                self.groups += 1
                self.units += len(group)
                for job, result in zip(group, results, strict=True):
                    job.result = result
                    job.wake.set()
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        """Pass the lead to the oldest queued job, or give the flow back."""
        if self._queue:
            successor = self._queue[0]
            successor.elected = True
            successor.wake.set()
        else:
            self._leading -= 1
