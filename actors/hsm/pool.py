"""The slot table: which worker is live in each slot, which jobs each one owes an answer.

Shared by the server threads (:meth:`SlotPool.submit`), the workers (:meth:`SlotPool.finish`) and
the supervisor (:meth:`SlotPool.install` / :meth:`SlotPool.take_down`), under one lock held only
for table updates. Exactly one answer goes out per job: whoever removes it from the table first
(the worker finishing it, a take-down, or :meth:`SlotPool.close`) answers it.

Jobs go to the live slot with the least outstanding *items* (a 100-digest list weighs 100; ties
to the first such slot, so lone requests keep to one warm thread). A
large SIGN_DIGESTS or SIGN_MANY request is split across the live slots and joined in order, so a
single big call uses every core.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import pykka

from actors.hsm.backends.base import SlotSession
from actors.hsm.errors import HsmError, NoSlotError, SlotCrashedError
from actors.hsm.protocol import ManySignatures, Reply, Request, Signatures, SignDigests, SignMany

Outcome = Reply | HsmError
SPLIT_MIN_CHUNK: Final = 8
"""A signing list is split across slots only into chunks of at least this many items."""


@dataclass(eq=False, slots=True)
class Job:
    """One accepted request on its way through a slot (identity-compared)."""

    request: Request
    """The decoded request."""
    respond: Callable[[Outcome], None]
    """Sends the answer; called exactly once, from whichever thread finishes the job."""
    op_id: str | None = None
    """Correlation id of the operation the request belongs to (for logs)."""
    items: int = 1
    """What the job weighs in a slot's load: its digests (:func:`items_of`)."""


def items_of(request: Request) -> int:
    """The digests a request signs (1 for any other request)."""
    if isinstance(request, SignMany):
        return len(request.items)
    if isinstance(request, SignDigests):
        return len(request.digests)
    return 1


@dataclass(eq=False, slots=True)
class _Slot:
    index: int
    generation: int = 0
    ref: Any = None
    alive: bool = False
    jobs: dict[Job, int] = field(default_factory=dict)
    """Outstanding jobs and their item counts."""
    load: int = 0
    session: SlotSession | None = None


class _Join:
    """Reassembles the answers of a split SIGN_DIGESTS or SIGN_MANY job, in order.

    The first part that fails as a whole (an :class:`HsmError`) answers the job with its error.
    """

    def __init__(self, job: Job, parts: int) -> None:
        self._job = job
        self._lock = threading.Lock()
        self._results: list[tuple[Any, ...]] = [()] * parts
        self._remaining = parts
        self._done = False

    def part(self, index: int) -> Callable[[Outcome], None]:
        return lambda outcome: self._part_done(index, outcome)

    def _part_done(self, index: int, outcome: Outcome) -> None:
        with self._lock:
            if self._done:
                return
            if isinstance(outcome, Signatures | ManySignatures):
                self._results[index] = (
                    outcome.signatures if isinstance(outcome, Signatures) else outcome.outcomes
                )
                self._remaining -= 1
                if self._remaining:
                    return
                merged = tuple(item for part in self._results for item in part)
                answer: Outcome = (
                    Signatures(merged) if isinstance(outcome, Signatures) else ManySignatures(merged)
                )
            else:
                answer = outcome
            self._done = True
        self._job.respond(answer)


class SlotPool:
    """The slot table shared by the server threads (submit) and the workers and supervisor."""

    def __init__(self, size: int) -> None:
        """A table of ``size`` slots, all down until installed."""
        self._lock = threading.Lock()
        self._slots = [_Slot(index) for index in range(size)]
        self._closed: HsmError | None = None
        self.restarts = 0
        """Workers replaced since start."""

    @property
    def size(self) -> int:
        """Configured slots."""
        return len(self._slots)

    def alive_count(self) -> int:
        """Slots with a running worker."""
        with self._lock:
            return sum(slot.alive for slot in self._slots)

    def in_flight(self) -> int:
        """Jobs handed to workers and not yet answered."""
        with self._lock:
            return sum(len(slot.jobs) for slot in self._slots)

    def begin(self, index: int, generation: int) -> None:
        """Announce the incarnation about to start in slot ``index`` (before its thread runs)."""
        with self._lock:
            slot = self._slots[index]
            slot.generation, slot.session = generation, None

    def install(self, index: int, generation: int, ref: Any) -> None:
        """Make the started worker the live incarnation of slot ``index``."""
        with self._lock:
            slot = self._slots[index]
            if slot.generation == generation:
                slot.ref, slot.alive = ref, True

    def attach_session(self, index: int, generation: int, session: SlotSession) -> None:
        """Record a worker's open session (read for cache statistics only)."""
        with self._lock:
            slot = self._slots[index]
            if slot.generation == generation:
                slot.session = session

    def take_down(self, index: int, generation: int, error: HsmError) -> Any:
        """Mark slot ``index`` dead and answer its jobs with ``error``.

        Returns the dead worker's ref, or None when the report is stale (another incarnation runs).
        """
        with self._lock:
            slot = self._slots[index]
            if slot.generation != generation or not slot.alive:
                return None
            slot.alive, slot.session = False, None
            jobs, slot.jobs, slot.load = slot.jobs, {}, 0
            ref = slot.ref
        for job in jobs:
            job.respond(error)
        return ref

    def cache_stats(self) -> tuple[int, int]:
        """Summed ``(hits, misses)`` of the live sessions' key caches (a slightly stale read)."""
        with self._lock:
            sessions = [slot.session for slot in self._slots if slot.session is not None]
        stats = [session.cache_stats() for session in sessions]
        return sum(hits for hits, _ in stats), sum(misses for _, misses in stats)

    def close(self, error: HsmError) -> None:
        """Refuse new jobs with ``error`` and answer every outstanding one with it."""
        with self._lock:
            self._closed = error
            pending = [job for slot in self._slots for job in slot.jobs]
            for slot in self._slots:
                slot.jobs, slot.load = {}, 0
        for job in pending:
            job.respond(error)

    def refs(self) -> list[Any]:
        """The current worker refs (for shutdown)."""
        with self._lock:
            return [slot.ref for slot in self._slots if slot.ref is not None]

    def submit(self, job: Job) -> None:
        """Hand ``job`` to the least-loaded live slot (splitting large signing lists); never blocks."""
        items = job.items
        if items >= 2 * SPLIT_MIN_CHUNK:
            parts = min(self.alive_count(), items // SPLIT_MIN_CHUNK)
            if parts > 1:
                self._submit_split(job, parts)
                return
        self._submit_one(job)

    def _submit_split(self, job: Job, parts: int) -> None:
        join = _Join(job, parts)
        request = job.request
        size, extra = divmod(job.items, parts)
        start = 0
        for index in range(parts):
            end = start + size + (index < extra)
            part: Request
            if isinstance(request, SignDigests):
                part = SignDigests(key=request.key, digests=request.digests[start:end])
            else:
                assert isinstance(request, SignMany)
                part = SignMany(items=request.items[start:end])
            self._submit_one(Job(request=part, respond=join.part(index), op_id=job.op_id, items=end - start))
            start = end

    def _submit_one(self, job: Job) -> None:
        with self._lock:
            refusal = self._closed
            slot = None if refusal else self._pick()
            if slot is not None:
                slot.jobs[job] = job.items
                slot.load += job.items
                index, ref = slot.index, slot.ref
        if slot is None:
            job.respond(refusal or NoSlotError("no slot worker is alive"))
            return
        try:
            ref.tell(job)
        except pykka.ActorDeadError:
            # The worker stopped between install and tell; its SlotDown may already have been handled.
            self.finish(index, job, SlotCrashedError("the slot worker stopped"))

    def _pick(self) -> _Slot | None:
        # Ties go to the lowest index, not round the table: a unit serving lone requests keeps
        # using one slot thread, whose caches (and the engine's per-thread state) stay warm; a
        # request that finds that slot busy goes to the next idle one.
        best: _Slot | None = None
        for slot in self._slots:
            if slot.alive and (best is None or slot.load < best.load):
                best = slot
        return best

    def finish(self, index: int, job: Job, outcome: Outcome) -> None:
        """Answer ``job`` unless it was already answered (by a take-down or close)."""
        with self._lock:
            slot = self._slots[index]
            items = slot.jobs.pop(job, None)
            if items is not None:
                slot.load -= items
        if items is not None:
            job.respond(outcome)
