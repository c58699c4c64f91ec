"""``UserSession``: one user's live device connections in this worker and the operations shown to them.

State (owned by the actor's task, changed only while handling a message)::

    links   device id → the device's current connection, the server nonce of every operation shown
            on it (one fresh nonce per push), recently spent nonces, wrong-MAC streak
    index   op id → the notice and the node that owns the operation (where decisions go)
    tombs   op ids withdrawn recently: a late push of one of them is ignored

A decision is checked in this order, each failure answered with a typed error and audited:
spent nonce (``replayed_nonce``) → operation not shown on this connection (``unknown_operation``;
audited as ``foreign_operation`` when it is another user's) → nonce mismatch (``bad_nonce``) →
expired (``operation_expired``) → MAC (``bad_mac``; the connection closes after ``max_bad_macs`` in a
row). Only then is the nonce spent and the decision handed to a background task that routes it to
the owner's sink (``Router``), so a slow owner never blocks the mailbox. The outcome comes back as a
``DecisionSettled`` message: the device gets ``outcome``; the other devices get ``withdrawn``.

The session stops ``session_idle_grace_s`` after its last connection ended (it is a TEMPORARY child
of the Sessions supervisor and is started again by the next connection).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import trio

from actors.identity.audit import audit
from actors.runtime import Actor
from actors.sessions.connection import (
    ChannelNotice,
    DecisionAnswer,
    DeviceConnection,
    OperationOffer,
    OperationWithdrawn,
)
from actors.sessions.crypto import decision_mac, macs_equal, new_nonce
from actors.sessions.errors import (
    BadMacError,
    BadNonceError,
    DecisionRejectedError,
    ExpiredOperationError,
    GoingAwayError,
    ReplacedError,
    ReplayedNonceError,
    UnknownOperationError,
)
from actors.sessions.messages import (
    Attach,
    DecisionReceived,
    DecisionSettled,
    Detach,
    IdleCheck,
    Kick,
    Offer,
    Resync,
    SessionState,
    Snapshot,
    Withdraw,
)
from actors.sessions.options import SessionOptions
from actors.sessions.protocol import DeviceDecision, OperationNotice, OutcomeStatus, PendingLookup
from actors.sessions.router import Router
from storage import Database
from storage.repos import devices as repo

TOMBSTONES_KEPT = 4096
"""Withdrawn op ids remembered per session."""
SWEEP_ABOVE = 256
"""Shown operations above which a new one first triggers a sweep of the expired ones."""


def session_id(user_id: UUID) -> str:
    """Registry id of a user's session."""
    return f"session:{user_id}"


@dataclass(frozen=True, slots=True)
class SessionDeps:
    """What every UserSession of a worker shares."""

    db: Database
    """The database (foreign-operation checks, owner lookups)."""
    router: Router
    """Delivers verified decisions to their owner's sink."""
    pending: PendingLookup
    """What a freshly connected device must be shown."""
    options: SessionOptions
    """Timeouts and sizes."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """Wall clock for expiry checks (aware UTC)."""


@dataclass(eq=False, slots=True)
class _Link:
    conn: DeviceConnection
    outstanding: dict[UUID, bytes] = field(default_factory=dict)
    spent: dict[bytes, None] = field(default_factory=dict)
    bad_macs: int = 0


@dataclass(eq=False, slots=True)
class _Entry:
    notice: OperationNotice
    owner: UUID | None


class UserSession(Actor):
    """The live device channel of one user in this worker (see the module docstring)."""

    def __init__(self, user_id: UUID, deps: SessionDeps) -> None:
        self.user_id = user_id
        self._deps = deps
        self._links: dict[UUID, _Link] = {}
        self._index: dict[UUID, _Entry] = {}
        self._tombs: dict[UUID, None] = {}
        self._epoch = 0

    # -- lifecycle ---------------------------------------------------------------------------------

    async def on_start(self) -> None:
        """Bind the user to the log context of this incarnation."""
        self.log.debug("session_started", user_id=str(self.user_id))

    async def on_stop(self) -> None:
        """Close what is still connected (the worker is stopping): the devices reconnect elsewhere."""
        for link in list(self._links.values()):
            link.conn.close(GoingAwayError("the server is stopping; reconnect"))
        self._links.clear()

    async def receive(self, message: Any) -> Any:
        """Dispatch one message."""
        match message:
            case DecisionReceived():
                self._on_decision(message)
            case Offer():
                self._on_offer(message)
            case Withdraw(op_id=op_id, reason=reason):
                self._withdraw(op_id, reason)
            case DecisionSettled():
                self._on_settled(message)
            case Attach(connection=connection):
                self._attach(connection)
            case Detach(device_id=device_id, conn_id=conn_id):
                self._detach(device_id, conn_id)
            case Kick():
                self._kick(message)
            case Resync():
                self.start_soon(self._lookup_pending)
            case IdleCheck(epoch=epoch):
                if epoch == self._epoch and not self._links:
                    self.log.debug("session_idle_stop", user_id=str(self.user_id))
                    self.request_stop(drain=False)
            case Snapshot():
                return SessionState(frozenset(self._links), frozenset(self._index))
            case _:
                return await super().receive(message)
        return None

    # -- connections -------------------------------------------------------------------------------

    def _attach(self, conn: DeviceConnection) -> None:
        old = self._links.get(conn.device_id)
        if old is not None:
            if old.conn.counter > conn.counter:  # a newer connection won a race: this one is stale
                conn.close(ReplacedError("a newer connection of this device is active"))
                return
            old.conn.close(ReplacedError("a newer connection of this device took over"))
        link = _Link(conn)
        self._links[conn.device_id] = link
        self._epoch += 1
        self._sweep_expired()
        for op_id in list(self._index):
            self._show(link, op_id)
        self.start_soon(self._lookup_pending)

    def _detach(self, device_id: UUID, conn_id: int) -> None:
        link = self._links.get(device_id)
        if link is None or link.conn.conn_id != conn_id:
            return  # already replaced
        del self._links[device_id]
        link.conn.outbox.close()
        if not self._links:
            self._epoch += 1
            self.start_soon(self._idle_timer, self._epoch)

    def _kick(self, kick: Kick) -> None:
        link = self._links.get(kick.device_id)
        if link is None:
            return
        if kick.below_counter is not None and link.conn.counter >= kick.below_counter:
            return
        link.conn.close(kick.reason)
        self._detach(kick.device_id, link.conn.conn_id)

    async def _idle_timer(self, epoch: int) -> None:
        await trio.sleep(self._deps.options.session_idle_grace_s)
        await self.ref.send(IdleCheck(epoch))

    # -- operations shown ----------------------------------------------------------------------------

    def _on_offer(self, offer: Offer) -> None:
        notice = offer.notice
        op_id = notice.op_id
        if op_id in self._tombs or notice.user_id != self.user_id or self._expired(notice):
            return
        entry = self._index.get(op_id)
        if entry is None:
            if len(self._index) >= SWEEP_ABOVE:
                self._sweep_expired()
            self._index[op_id] = _Entry(notice, offer.owner)
        else:
            entry.notice = notice
            if offer.owner is not None:
                entry.owner = offer.owner  # a re-push: the operation may have moved to another worker
        for link in self._links.values():
            if op_id not in link.outstanding:
                self._show(link, op_id)

    def _show(self, link: _Link, op_id: UUID) -> None:
        """Push the operation to one device with a fresh nonce."""
        entry = self._index[op_id]
        nonce = new_nonce()
        old = link.outstanding.get(op_id)
        if old is not None:
            self._spend(link, old)
        link.outstanding[op_id] = nonce
        link.conn.offer(OperationOffer(entry.notice, nonce))

    def _withdraw(self, op_id: UUID, reason: str) -> None:
        self._tombs[op_id] = None
        if len(self._tombs) > TOMBSTONES_KEPT:
            del self._tombs[next(iter(self._tombs))]
        if self._index.pop(op_id, None) is None:
            return
        for link in self._links.values():
            nonce = link.outstanding.pop(op_id, None)
            if nonce is not None:
                self._spend(link, nonce)
                link.conn.offer(OperationWithdrawn(op_id, reason))

    def _sweep_expired(self) -> None:
        """Forget expired operations (normally withdrawn by the operations layer already)."""
        for op_id in [op for op, entry in self._index.items() if self._expired(entry.notice)]:
            self._withdraw(op_id, "expired")

    def _spend(self, link: _Link, nonce: bytes) -> None:
        link.spent[nonce] = None
        if len(link.spent) > self._deps.options.spent_nonces_kept:
            del link.spent[next(iter(link.spent))]

    def _expired(self, notice: OperationNotice) -> bool:
        return self._deps.clock() >= notice.expires_at

    async def _lookup_pending(self) -> None:
        try:
            notices = await self._deps.pending.awaiting(self.user_id)
            op_ids = [notice.op_id for notice in notices]
            owners = await self._deps.db.run_readonly(repo.notice_owners, op_ids) if op_ids else {}
        except Exception as exc:  # the devices still get live pushes; the next connection retries
            self.log.warning("session_pending_lookup_failed", error_type=type(exc).__name__)
            return
        for notice in notices:
            await self.ref.send(Offer(notice, owners.get(notice.op_id)))

    # -- decisions ---------------------------------------------------------------------------------

    def _on_decision(self, message: DecisionReceived) -> None:
        link = self._links.get(message.device_id)
        if link is None or link.conn.conn_id != message.conn_id:
            return  # the connection was replaced meanwhile
        error = self._check(link, message)
        if error is not None:
            self._reject(link, message, error)
            return
        link.bad_macs = 0
        del link.outstanding[message.op_id]
        self._spend(link, message.nonce)
        entry = self._index[message.op_id]
        decision = DeviceDecision(message.op_id, self.user_id, message.device_id, message.decision)
        self.start_soon(self._deliver, decision, entry.owner, link.conn.conn_id)

    def _check(self, link: _Link, message: DecisionReceived) -> DecisionRejectedError | None:
        if message.nonce in link.spent:
            return ReplayedNonceError("this nonce was already used")
        expected = link.outstanding.get(message.op_id)
        if expected is None:
            return UnknownOperationError("no such operation awaits this device's decision")
        if not macs_equal(expected, message.nonce):
            return BadNonceError("the nonce is not the one sent with this operation")
        entry = self._index[message.op_id]
        if self._expired(entry.notice):
            del link.outstanding[message.op_id]
            self._spend(link, expected)
            return ExpiredOperationError("the operation expired")
        mac = decision_mac(link.conn.keys, message.op_id, message.decision, message.nonce, entry.notice.items)
        if not macs_equal(mac, message.mac):
            link.bad_macs += 1
            return BadMacError("the decision MAC does not verify")
        return None

    def _reject(self, link: _Link, message: DecisionReceived, error: DecisionRejectedError) -> None:
        fields = {
            "user_id": str(self.user_id),
            "device_id": str(message.device_id),
            "op_id": str(message.op_id),
        }
        if isinstance(error, UnknownOperationError):
            # Whether it is someone else's operation needs a read: audit from a task, answer now.
            self.start_soon(self._audit_unknown, fields, message.op_id)
        else:
            audit("audit_device_decision_rejected", reason=error.code, **fields)
        link.conn.offer(ChannelNotice(error, message.op_id))
        if isinstance(error, BadMacError) and link.bad_macs >= self._deps.options.max_bad_macs:
            link.conn.close(BadMacError("too many decisions with a wrong MAC"))
            self._detach(message.device_id, link.conn.conn_id)

    async def _audit_unknown(self, fields: dict[str, str], op_id: UUID) -> None:
        reason = UnknownOperationError.code
        try:
            row = await self._deps.db.run_readonly(repo.get_notice, op_id)
        except Exception as exc:
            self.log.warning("session_foreign_check_failed", error_type=type(exc).__name__)
            row = None
        if row is not None and row.user_id != self.user_id:
            reason = "foreign_operation"
        audit("audit_device_decision_rejected", reason=reason, **fields)

    async def _deliver(self, decision: DeviceDecision, owner: UUID | None, conn_id: int) -> None:
        outcome = await self._deps.router.decide(decision, owner)
        await self.ref.send(DecisionSettled(decision, conn_id, outcome.status))

    def _on_settled(self, settled: DecisionSettled) -> None:
        decision = settled.decision
        audit(
            "audit_device_decision",
            user_id=str(self.user_id),
            device_id=str(decision.device_id),
            op_id=str(decision.op_id),
            decision=decision.decision.value,
            outcome=settled.status.value,
        )
        link = self._links.get(decision.device_id)
        if link is not None and link.conn.conn_id != settled.conn_id:
            link = None
        if link is not None:
            link.conn.offer(DecisionAnswer(decision.op_id, settled.status))
        if settled.status is not OutcomeStatus.UNAVAILABLE:
            self._withdraw(decision.op_id, "decided")
        elif link is not None and decision.op_id in self._index:
            self._show(link, decision.op_id)  # let the user try again with a fresh nonce
