"""``Router``: brings a verified decision to the sink of the worker that owns its operation.

Local owner (or unknown owner): ``sink.on_decision`` is awaited here. Remote owner: a ``DecideCall``
goes to the owner's node channel, the owner's relay calls its sink and answers with an
``OutcomeReply`` on this node's channel; the caller waits at most ``remote_decision_timeout_s`` and
otherwise reports ``unavailable`` (the owner is gone or overloaded; the operations layer re-pushes an
operation it re-hydrates elsewhere, with a fresh nonce, so the user can decide again).

A plain object shared by the tasks of one trio run (no locks needed: trio is single-threaded).
"""

from __future__ import annotations

import uuid
from uuid import UUID

import structlog
import trio

from actors.sessions import signals
from actors.sessions.protocol import ConfirmationSink, DecisionOutcome, DeviceDecision, OutcomeStatus
from storage import Database
from storage.errors import StorageError
from storage.repos import devices as repo

log = structlog.get_logger("actors.sessions")

UNAVAILABLE = DecisionOutcome(OutcomeStatus.UNAVAILABLE)


class _Call:
    __slots__ = ("done", "status")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.status: OutcomeStatus = OutcomeStatus.UNAVAILABLE


class Router:
    """Local and remote delivery of verified decisions."""

    def __init__(self, *, db: Database, node_id: UUID, sink: ConfirmationSink, timeout_s: float) -> None:
        self._db = db
        self._node_id = node_id
        self._sink = sink
        self._timeout_s = timeout_s
        self._calls: dict[UUID, _Call] = {}

    @property
    def in_flight(self) -> int:
        """Remote calls waiting for an answer."""
        return len(self._calls)

    async def decide(self, decision: DeviceDecision, owner: UUID | None) -> DecisionOutcome:
        """Deliver ``decision`` to its owner's sink and return the outcome."""
        if owner is None or owner == self._node_id:
            return await self.call_sink(decision)
        return await self._remote(decision, owner)

    async def call_sink(self, decision: DeviceDecision) -> DecisionOutcome:
        """This worker's sink; a failing sink is logged and reported as ``unavailable``."""
        try:
            outcome = await self._sink.on_decision(decision)
        except Exception as exc:
            log.error(
                "sessions_sink_failed", op_id=str(decision.op_id), error_type=type(exc).__name__, exc_info=exc
            )
            return UNAVAILABLE
        if outcome.status is OutcomeStatus.UNAVAILABLE:  # reserved for the routing itself
            log.warning("sessions_sink_answered_unavailable", op_id=str(decision.op_id))
        return outcome

    async def _remote(self, decision: DeviceDecision, owner: UUID) -> DecisionOutcome:
        call_id = uuid.uuid4()
        call = _Call()
        self._calls[call_id] = call
        request = signals.DecideCall(
            call_id, decision.op_id, decision.user_id, decision.device_id, decision.decision, self._node_id
        )
        try:
            await self._db.run_batched(
                repo.notify_many, (signals.node_channel(owner), signals.encode(request))
            )
            with trio.move_on_after(self._timeout_s):
                await call.done.wait()
        except StorageError as exc:
            log.warning("sessions_remote_decision_failed", op_id=str(decision.op_id), error_type=exc.code)
            return UNAVAILABLE
        finally:
            del self._calls[call_id]
        if not call.done.is_set():
            log.warning("sessions_remote_decision_timeout", op_id=str(decision.op_id), owner=str(owner))
            return UNAVAILABLE
        return DecisionOutcome(call.status)

    def resolve(self, reply: signals.OutcomeReply) -> None:
        """An owner answered (late answers to abandoned calls are ignored)."""
        call = self._calls.get(reply.call_id)
        if call is not None:
            call.status = reply.status
            call.done.set()

    async def serve(self, call: signals.DecideCall) -> None:
        """Answer a ``DecideCall`` addressed to this worker: our sink, then the reply signal."""
        decision = DeviceDecision(call.op_id, call.user_id, call.device_id, call.decision)
        outcome = await self.call_sink(decision)
        reply = signals.OutcomeReply(call.call_id, outcome.status)
        try:
            channel = signals.node_channel(call.reply_to)
            await self._db.run_batched(repo.notify_many, (channel, signals.encode(reply)))
        except StorageError as exc:
            log.warning("sessions_outcome_reply_failed", op_id=str(call.op_id), error_type=exc.code)
