"""HSM slots: pykka ``ThreadingActor`` workers, one backend session each, under a slot supervisor.

::

    server threads ──submit(Job)──► SlotPool ──tell──► SlotWorker × k ──pool.finish──► Job.respond
                                       ▲                     │ on_failure / session open failed
                                       └── install / take_down ◄── SlotSupervisor ◄── SlotDown

pykka has no supervision, so this module adds the part the unit needs:

* A job is told (never asked: nobody may block on a pykka future) and is recorded in the
  :class:`~actors.hsm.pool.SlotPool` under its slot until answered (exactly once).
* A worker answers :class:`HsmError` outcomes itself. Any other exception is a bug or an
  unforeseen native failure: the worker answers the job with :class:`SlotCrashedError`, re-raises,
  and pykka calls ``on_failure``, which tells the supervisor ``SlotDown``. pykka drops the rest of
  a dead actor's inbox silently, so the supervisor answers every job still recorded under that
  slot with :class:`SlotCrashedError` before starting a replacement.
* ``on_start`` never raises (pykka would stop the actor without ``on_failure``): a session that
  does not open is reported as ``SlotDown`` as well.
* Restarts are limited to ``intensity`` within ``period`` seconds; beyond that, or when a backend
  reports :class:`UnitFailingError`, the supervisor escalates to the unit, which exits so its own
  supervisor (in the server) restarts the process.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import pykka
import structlog

from actors.hsm.backends.base import Backend, SlotSession
from actors.hsm.errors import (
    HsmError,
    HsmRequestError,
    SlotCrashedError,
    UnitFailingError,
    UnknownOperationError,
)
from actors.hsm.pool import Job, Outcome, SlotPool
from actors.hsm.protocol import (
    Agree,
    Done,
    FaultKind,
    GenerateKey,
    GetPublicKey,
    InjectFault,
    ManySignatures,
    Reply,
    Request,
    Secret,
    Signatures,
    SignDigests,
    SignItem,
    SignMany,
    Unwrap,
)

log = structlog.get_logger("klyuch.hsm.slots")

DEFAULT_INTENSITY: Final = 5
DEFAULT_PERIOD_S: Final = 10.0
STOP_TIMEOUT_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class SlotUp:
    """A worker opened its session and takes jobs."""

    index: int
    generation: int


@dataclass(frozen=True, slots=True)
class SlotDown:
    """A worker died (or could not open its session)."""

    index: int
    generation: int
    reason: str


@dataclass(slots=True)
class SlotStartup:
    """How the first start of the slots went, for the unit's main thread."""

    ready: threading.Event = field(default_factory=threading.Event)
    """Set once every slot is up, or once one failed to open (then ``error`` says why)."""
    error: str | None = None
    """Why a slot could not open its session during start-up."""


@dataclass(frozen=True, slots=True)
class UnitFailing:
    """A backend failed beyond repair inside this process."""

    reason: str


class Inbox:
    """A slot worker's mailbox: a deque, and an eventfd the worker sleeps on while it is empty.

    The sender wakes the worker inside ``os.eventfd_write``, a system call made without the GIL.
    A lock-based queue woke it from ``put`` with the GIL held: a worker scheduled at once (often
    on the sender's own CPU, preempting it) found the GIL taken and slept twice more, on the GIL
    and on its mutex, before it could start the job. One consumer (the worker thread); any
    number of senders. ``queue.Queue``'s Python-level Condition costs more still.
    """

    __slots__ = ("__weakref__", "_fd", "_items")

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._fd = os.eventfd(0, os.EFD_CLOEXEC)
        weakref.finalize(self, os.close, self._fd)

    def put(self, item: Any) -> None:
        """Append ``item`` and wake the worker (never blocks)."""
        self._items.append(item)
        os.eventfd_write(self._fd, 1)

    def get(self) -> Any:
        """The oldest item, sleeping while there is none (worker thread only)."""
        items = self._items
        while not items:  # one consumer: what it saw queued is still there to pop
            # Consumes every wake-up posted so far: items appended before their write are taken
            # without sleeping; one appended after the check above makes this read return.
            os.eventfd_read(self._fd)
        return items.popleft()

    def empty(self) -> bool:
        """True when nothing is queued."""
        return not self._items


def execute(session: SlotSession, request: Request) -> Reply:
    """Run one request on a session (raises :class:`HsmError` for refusals)."""
    if isinstance(request, SignDigests):
        return Signatures(tuple(session.sign_digests(request.key, request.digests)))
    if isinstance(request, SignMany):
        return ManySignatures(tuple(_sign_item(session, item) for item in request.items))
    if isinstance(request, GenerateKey):
        return session.generate_key(request)
    if isinstance(request, GetPublicKey):
        return session.public_key(request.key)
    if isinstance(request, Agree):
        return Secret(session.agree(request))
    if isinstance(request, Unwrap):
        return Secret(session.unwrap(request))
    if isinstance(request, InjectFault):
        try:
            kind = FaultKind(request.kind)
        except ValueError:
            raise HsmRequestError(f"unknown fault kind {request.kind!r}") from None
        if kind is FaultKind.CRASH_SLOT:
            raise RuntimeError("injected fault: crash_slot")
        session.inject_fault(kind)
        return Done()
    raise UnknownOperationError(f"{type(request).__name__} is not a slot operation")


def _sign_item(session: SlotSession, item: SignItem) -> bytes | HsmError:
    try:
        return session.sign_digests(item.key, (item.digest,))[0]
    except HsmError as exc:
        if exc.retryable:
            log.warning("sign_item_failed", op_id=item.op_id, code=exc.code, error=str(exc))
        return exc


class SlotWorker(pykka.ThreadingActor):
    """One HSM slot: a thread with one backend session, running jobs one at a time."""

    @staticmethod
    def _create_actor_inbox() -> Any:
        # pykka's hook for the inbox type (its actor loop only calls put, get and empty).
        return Inbox()

    def __init__(
        self,
        *,
        index: int,
        generation: int,
        backend: Backend,
        pool: SlotPool,
        supervisor: pykka.ActorRef[Any],
    ) -> None:
        """Created by the supervisor; the session opens in the worker's own thread (``on_start``)."""
        super().__init__()
        self._index = index
        self._generation = generation
        self._backend = backend
        self._pool = pool
        self._supervisor = supervisor
        self._session: SlotSession | None = None

    def _tell_supervisor(self, message: object) -> None:
        with contextlib.suppress(pykka.ActorDeadError):
            self._supervisor.tell(message)

    def on_start(self) -> None:
        """Open the session; report failure as ``SlotDown`` (pykka would drop an exception here)."""
        try:
            self._session = self._backend.open_session()
        except Exception as exc:
            self._tell_supervisor(SlotDown(self._index, self._generation, f"session did not open: {exc!r}"))
            return
        self._pool.attach_session(self._index, self._generation, self._session)
        self._tell_supervisor(SlotUp(self._index, self._generation))

    def on_receive(self, message: Any) -> None:
        """Run a :class:`Job` and answer it."""
        if not isinstance(message, Job):
            return
        job = message
        if self._session is None:
            self._pool.finish(self._index, job, SlotCrashedError("the slot has no session"))
            return
        try:
            if job.op_id:
                # Context does not cross the pykka inbox: rebind the operation id for this job's logs.
                with structlog.contextvars.bound_contextvars(op_id=job.op_id):
                    outcome: Outcome = execute(self._session, job.request)
            else:  # SIGN_MANY: each item names its own (``_sign_item`` logs it)
                outcome = execute(self._session, job.request)
        except HsmError as exc:
            outcome = exc
        except Exception:
            self._pool.finish(
                self._index, job, SlotCrashedError("the slot crashed while handling the request")
            )
            raise
        self._pool.finish(self._index, job, outcome)
        if isinstance(outcome, UnitFailingError):
            self._tell_supervisor(UnitFailing(str(outcome)))

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        """Close the session and report the crash."""
        self._close_session()
        self._tell_supervisor(SlotDown(self._index, self._generation, repr(exception_value)))

    def on_stop(self) -> None:
        """Close the session."""
        self._close_session()

    def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except Exception as exc:
                log.warning("slot_session_close_failed", slot=self._index, error=repr(exc))


class SlotSupervisor(pykka.ThreadingActor):
    """Starts the k slot workers, replaces crashed ones, escalates when restarts come too fast."""

    def __init__(
        self,
        *,
        backend: Backend,
        pool: SlotPool,
        startup: SlotStartup,
        on_escalate: Callable[[str], None],
        intensity: int = DEFAULT_INTENSITY,
        period: float = DEFAULT_PERIOD_S,
    ) -> None:
        """``on_escalate(reason)`` is called (from this actor's thread) when the unit must exit."""
        super().__init__()
        self._backend = backend
        self._pool = pool
        self._on_escalate = on_escalate
        self._intensity = intensity
        self._period = period
        self._generations = [0] * pool.size
        self._up: set[int] = set()
        self._restarts: deque[float] = deque()
        self._escalated = False
        self._startup = startup

    def on_start(self) -> None:
        """Start every slot."""
        for index in range(self._pool.size):
            self._start(index)

    def _start(self, index: int) -> None:
        generation = self._generations[index] = self._generations[index] + 1
        self._pool.begin(index, generation)
        ref = SlotWorker.start(
            index=index,
            generation=generation,
            backend=self._backend,
            pool=self._pool,
            supervisor=self.actor_ref,
        )
        self._pool.install(index, generation, ref)

    def on_receive(self, message: Any) -> None:
        """Handle worker life-cycle reports."""
        if isinstance(message, SlotUp):
            self._up.add(message.index)
            if len(self._up) == self._pool.size:
                self._startup.ready.set()
        elif isinstance(message, SlotDown):
            self._slot_down(message)
        elif isinstance(message, UnitFailing):
            self._escalate(message.reason)

    def _slot_down(self, message: SlotDown) -> None:
        ref = self._pool.take_down(message.index, message.generation, SlotCrashedError("the slot crashed"))
        if ref is None:
            return
        self._up.discard(message.index)
        # A worker whose session did not open is still running: stop it (a crashed one is gone already).
        with contextlib.suppress(pykka.ActorDeadError):
            ref.stop(block=False)
        log.warning("slot_down", slot=message.index, generation=message.generation, reason=message.reason)
        if not self._startup.ready.is_set():
            self._startup.error = message.reason
            self._startup.ready.set()
            return
        now = time.monotonic()
        self._restarts.append(now)
        while self._restarts and now - self._restarts[0] > self._period:
            self._restarts.popleft()
        if len(self._restarts) > self._intensity:
            self._escalate(f"more than {self._intensity} slot restarts within {self._period} s")
            return
        self._pool.restarts += 1
        self._start(message.index)

    def _escalate(self, reason: str) -> None:
        if self._escalated:
            return
        self._escalated = True
        log.error("unit_escalation", reason=reason)
        self._pool.close(UnitFailingError(reason))
        self._on_escalate(reason)

    def on_stop(self) -> None:
        """Stop every worker (each finishes the jobs already in its inbox first)."""
        for ref in self._pool.refs():
            with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
                ref.stop(block=True, timeout=STOP_TIMEOUT_S)
