"""``Relay``: this worker's ear on PostgreSQL NOTIFY, routing signals to UserSessions and the Router.

It LISTENs on the shared channel and on this node's own channel (``actors.sessions.signals``) and
announces itself started only once both LISTENs are acknowledged. Signals for a user without a
session in this worker are dropped: no device of that user is connected here, and a device that
connects later is shown what awaits it through ``PendingLookup``. When the LISTEN connection is
lost the relay crashes on purpose; its supervisor restarts it (with backoff) and the new incarnation
tells every session to ``Resync``, since notifications sent meanwhile are gone.

It also deletes expired notices every ``purge_interval_s`` (a safety net: the operations layer
withdraws what it completes or expires).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import trio

from actors.errors import ActorError
from actors.runtime import Actor, ActorRef
from actors.sessions import signals
from actors.sessions.codec import loads_notice
from actors.sessions.errors import DeviceRevokedError, ReplacedError, SessionError
from actors.sessions.messages import Kick, Offer, Resync, Withdraw
from actors.sessions.options import SessionOptions
from actors.sessions.router import Router
from actors.sessions.session import session_id
from storage import Database
from storage.errors import StorageError
from storage.repos import devices as repo

PURGE_GRACE = timedelta(minutes=1)
"""Notices are purged this long after they expired."""

RELAY_ID = "sessions/relay"
"""Registry id of the relay."""


class ListenLostError(SessionError):
    """The LISTEN connection ended; the relay restarts to subscribe again."""

    code = "listen_lost"


class Relay(Actor):
    """NOTIFY in, session messages out (see the module docstring)."""

    def __init__(
        self,
        *,
        db: Database,
        node_id: UUID,
        router: Router,
        options: SessionOptions,
        incarnation: int,
    ) -> None:
        self._db = db
        self._node_id = node_id
        self._router = router
        self._options = options
        self._incarnation = incarnation

    async def on_start(self) -> None:
        """Subscribe to both channels; after a restart, make every session re-read what it missed."""
        own = signals.sent_by(self._node_id)  # acted on locally when sent
        await self.start(self._listen, signals.SHARED_CHANNEL, self._on_shared, own)
        await self.start(self._listen, signals.node_channel(self._node_id), self._on_node, None)
        self.start_soon(self._purge_loop)
        if self._incarnation > 1:
            for session in self._all_sessions():
                _tell(session, Resync())

    async def receive(self, message: Any) -> Any:
        """The relay takes no messages of its own."""
        return await super().receive(message)

    async def _listen(
        self,
        channel: str,
        handle: Callable[[signals.Signal], None],
        skip_containing: str | None,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        async with self._db.listen(channel, skip_containing=skip_containing) as payloads:
            task_status.started()
            async for payload in payloads:
                try:
                    signal = signals.decode(payload)
                except ValueError as exc:
                    self.log.warning("sessions_bad_signal", channel=channel, error=str(exc))
                    continue
                handle(signal)
        raise ListenLostError(f"the LISTEN connection for {channel} was lost")

    def _session(self, user_id: UUID) -> ActorRef | None:
        return self.context.system.whereis(session_id(user_id))

    def _all_sessions(self) -> list[ActorRef | None]:
        system = self.context.system
        return [system.whereis(i) for i in system.registry.ids() if i.startswith("session:")]

    def _on_shared(self, signal: signals.Signal) -> None:
        match signal:
            case signals.Pushed(op_id=op_id, user_id=user_id, node=node, notice=text) if (
                node != self._node_id
            ):
                session = self._session(user_id)
                if session is None:
                    return
                if text is not None:  # carried by the signal: no read
                    self._offer_carried(session, op_id, text, node)
                else:
                    self.start_soon(self._fetch_and_offer, session, op_id)
            case signals.Withdrawn(op_id=op_id, user_id=user_id, node=node) if node != self._node_id:
                targets = [self._session(user_id)] if user_id is not None else self._all_sessions()
                for target in targets:
                    _tell(target, Withdraw(op_id))
            case signals.Authenticated(device_id=device_id, user_id=user_id, counter=counter, node=node):
                if node != self._node_id:
                    replaced = ReplacedError("the device connected again elsewhere")
                    _tell(self._session(user_id), Kick(device_id, replaced, below_counter=counter))
            case signals.Revoked(device_id=device_id, user_id=user_id):
                revoked = DeviceRevokedError("the device was revoked")
                _tell(self._session(user_id), Kick(device_id, revoked))
            case _:
                pass  # our own push/withdraw (already acted on locally; normally filtered out
                # before it arrives), or a node-only signal

    def _on_node(self, signal: signals.Signal) -> None:
        match signal:
            case signals.DecideCall():
                self.start_soon(self._router.serve, signal)
            case signals.OutcomeReply():
                self._router.resolve(signal)
            case _:
                self.log.warning("sessions_unexpected_node_signal", kind=type(signal).__name__)

    def _offer_carried(self, session: ActorRef, op_id: UUID, text: str, owner: UUID) -> None:
        try:
            notice = loads_notice(text)
        except ValueError as exc:
            self.log.warning("sessions_bad_signal_notice", op_id=str(op_id), error=str(exc))
            self.start_soon(self._fetch_and_offer, session, op_id)
            return
        _tell(session, Offer(notice, owner))

    async def _fetch_and_offer(self, session: ActorRef, op_id: UUID) -> None:
        try:
            row = await self._db.run_readonly(repo.get_notice, op_id)
            if row is None:
                return  # withdrawn meanwhile
            notice = loads_notice(row.notice)
        except (StorageError, ValueError) as exc:
            self.log.warning("sessions_notice_read_failed", op_id=str(op_id), error_type=type(exc).__name__)
            return
        _tell(session, Offer(notice, row.owner_node))

    async def _purge_loop(self) -> None:
        while True:
            await trio.sleep(self._options.purge_interval_s)
            try:
                purged = await self._db.run(repo.purge_notices, datetime.now(UTC) - PURGE_GRACE)
            except StorageError as exc:
                self.log.warning("sessions_purge_failed", error_type=exc.code)
                continue
            if purged:
                self.log.info("sessions_notices_purged", count=purged)


def _tell(ref: ActorRef | None, message: object) -> None:
    """Tell a session, if it is there; one that is stopping or flooded misses this signal."""
    if ref is None:
        return
    with contextlib.suppress(ActorError):
        ref.tell(message)


def relay_factory(
    *, db: Database, node_id: UUID, router: Router, options: SessionOptions
) -> Callable[[], Relay]:
    """A child-spec factory that numbers the relay's incarnations (the second one on resyncs)."""
    count = 0

    def start() -> Relay:
        nonlocal count
        count += 1
        return Relay(db=db, node_id=node_id, router=router, options=options, incarnation=count)

    return start
