"""``SessionHub``: the sessions layer of one worker process, as the operations layer and the edge see it.

``start_sessions`` spawns the actor tree in a nursery the caller owns and returns the hub
(``open_sessions`` is the same as an async context manager)::

    Supervisor "sessions" (one_for_one; only the relay is restarted)
     ├─ Relay "sessions/relay" ......... LISTEN klyuch_sessions + klyuch_node_<node>; routes signals
     ├─ UserSession "session:<user>" ... TEMPORARY, started by the first connection of a user in this
     └─ ...                              worker, stopped when idle

Every hub has a fresh ``node_id`` (one per worker process incarnation): the address other workers
route decisions to.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from uuid import UUID

import structlog
import trio

from actors.errors import ActorError, ActorIdTakenError, ActorStoppedError
from actors.runtime import ActorRef, ActorSystem, Backoff, ChildSpec, Restart, Supervisor, SupervisorRef
from actors.sessions import signals
from actors.sessions.codec import dumps_notice, loads_notice
from actors.sessions.connection import DeviceConnection, Outgoing, open_connection
from actors.sessions.devices import Authenticated, DeviceDirectory
from actors.sessions.errors import SessionError
from actors.sessions.messages import Attach, Detach, Offer, SessionState, Snapshot, Withdraw
from actors.sessions.options import SessionOptions
from actors.sessions.protocol import ConfirmationSink, OperationNotice, PendingLookup
from actors.sessions.relay import RELAY_ID, relay_factory
from actors.sessions.router import Router
from actors.sessions.sealing import SecretSealer
from actors.sessions.session import SessionDeps, UserSession, session_id
from storage import Database
from storage.database import Connection
from storage.repos import devices as repo

log = structlog.get_logger("actors.sessions")

SESSIONS_ID = "sessions"
"""Registry id of the Sessions supervisor."""

ATTACH_ATTEMPTS = 100
"""Tries to find or start a running session (one may be stopping for idleness at that moment)."""


class SessionHub:
    """Push/withdraw for the operations layer; device directory and connections for the edge."""

    def __init__(
        self,
        *,
        system: ActorSystem,
        db: Database,
        supervisor: SupervisorRef,
        node_id: UUID,
        devices: DeviceDirectory,
        deps: SessionDeps,
    ) -> None:
        self._system = system
        self._db = db
        self._supervisor = supervisor
        self._deps = deps
        self.node_id = node_id
        """This worker's address for routed decisions."""
        self.devices = devices
        """Enrolment, authentication, revocation."""

    @property
    def options(self) -> SessionOptions:
        """Timeouts and sizes."""
        return self._deps.options

    # -- operations layer --------------------------------------------------------------------------

    async def push(self, notice: OperationNotice) -> None:
        """Show ``notice`` on its user's connected devices, in every worker; this worker owns it.

        The notice is stored (``device_notices``) and announced in one transaction, shared with
        concurrent pushes (group commit); a second push of the same operation (e.g. after
        re-hydration in another worker) moves its ownership here and gives devices that lost their
        nonce a fresh one.
        """
        await self._db.run_batched(self._push_batch, notice)
        self.shown(notice)

    async def stage_push(self, conn: Connection, notices: Sequence[OperationNotice]) -> None:
        """The storage half of ``push`` for ``notices``, as one statement of the caller's unit of work.

        Lets the operations that create notices store and announce them in their own transaction;
        call ``shown`` for each once it has committed. Runs on the storage thread: touches nothing
        but ``conn``.
        """
        texts = [dumps_notice(n) for n in notices]
        rows = [
            repo.NoticeIn(n.op_id, n.user_id, self.node_id, text, n.expires_at)
            for n, text in zip(notices, texts, strict=True)
        ]
        payloads = [
            signals.encode(signals.Pushed(n.op_id, n.user_id, self.node_id, text))
            for n, text in zip(notices, texts, strict=True)
        ]
        await repo.put_notices(conn, rows, channel=signals.SHARED_CHANNEL, payloads=payloads)

    def shown(self, notice: OperationNotice) -> None:
        """The in-memory half of ``push``: offer ``notice`` to this worker's session of its user."""
        _tell(self._session(notice.user_id), Offer(notice, self.node_id))

    async def withdraw(self, op_id: UUID, user_id: UUID | None = None) -> None:
        """Take the operation off every device (it completed, expired or was decided elsewhere).

        ``user_id`` is needed only for an operation never pushed through a hub (shown through
        ``PendingLookup`` alone); otherwise the stored notice names its user. Withdrawing is final
        for an op id: a later push of the same id is ignored by sessions that saw the withdrawal.
        """
        if user_id is not None:  # the notice can only be this user's: one statement, group commit
            await self._db.run_batched(self._withdraw_batch, (op_id, user_id))
            self.withdrawn(op_id, user_id)
            return
        stored_user = await self._db.run(_withdraw_unit, op_id, user_id, self.node_id)
        if stored_user is not None:
            self.withdrawn(op_id, stored_user)
        else:
            for ref in self._sessions():
                _tell(ref, Withdraw(op_id))

    async def stage_withdraw(self, conn: Connection, operations: Sequence[tuple[UUID, UUID]]) -> None:
        """The storage half of ``withdraw(op_id, user_id)`` for each pair, as one statement of the
        caller's unit of work; call ``withdrawn`` for each once it has committed."""
        payloads = [signals.encode(signals.Withdrawn(op, user, self.node_id)) for op, user in operations]
        await repo.delete_notices(
            conn, [op for op, _ in operations], channel=signals.SHARED_CHANNEL, payloads=payloads
        )

    def withdrawn(self, op_id: UUID, user_id: UUID) -> None:
        """The in-memory half of ``withdraw``: take the operation off this worker's session of its user."""
        _tell(self._session(user_id), Withdraw(op_id))

    async def _push_batch(self, conn: Connection, notices: Sequence[OperationNotice]) -> list[None]:
        await self.stage_push(conn, notices)
        return [None for _ in notices]

    async def _withdraw_batch(self, conn: Connection, operations: Sequence[tuple[UUID, UUID]]) -> list[None]:
        await self.stage_withdraw(conn, operations)
        return [None for _ in operations]

    # -- edge --------------------------------------------------------------------------------------

    def open_connection(
        self, device: Authenticated
    ) -> tuple[DeviceConnection, trio.MemoryReceiveChannel[Outgoing]]:
        """A connection handle for an authenticated device and the receiving end of its outbox."""
        return open_connection(
            device.device_id,
            device.user_id,
            counter=device.counter,
            keys=device.keys,
            capacity=self.options.outbox_size,
        )

    async def attach(self, conn: DeviceConnection) -> ActorRef:
        """Hand ``conn`` to its user's session (started if needed); the session's ref."""
        actor_id = session_id(conn.user_id)
        for _ in range(ATTACH_ATTEMPTS):
            ref = self._system.whereis(actor_id)
            try:
                if ref is None:
                    ref = await self._supervisor.start_child(self._session_spec(conn.user_id))
                await ref.ask(Attach(conn))
            except (ActorIdTakenError, ActorStoppedError):
                await trio.sleep(0.005)  # the previous session is still stopping
                continue
            return ref
        raise SessionError(f"could not attach a connection to {actor_id}")

    def detach(self, conn: DeviceConnection) -> None:
        """The socket of ``conn`` ended (callable from a ``finally``: never waits)."""
        _tell(self._session(conn.user_id), Detach(conn.device_id, conn.conn_id))

    async def snapshot(self, user_id: UUID) -> SessionState | None:
        """Connected devices and shown operations of a user in this worker (tests, diagnostics)."""
        ref = self._session(user_id)
        if ref is None:
            return None
        try:
            state: SessionState = await ref.ask(Snapshot())
        except ActorStoppedError:
            return None
        return state

    async def aclose(self) -> None:
        """Stop the sessions (their devices are told to reconnect) and the relay."""
        await self._supervisor.stop()

    # -- helpers -----------------------------------------------------------------------------------

    def _session(self, user_id: UUID) -> ActorRef | None:
        return self._system.whereis(session_id(user_id))

    def _sessions(self) -> list[ActorRef]:
        registry = self._system.registry
        return [registry.lookup(i) for i in registry.ids() if i.startswith("session:")]

    def _session_spec(self, user_id: UUID) -> ChildSpec:
        deps = self._deps
        return ChildSpec(
            id=session_id(user_id),
            start=lambda: UserSession(user_id, deps),
            restart=Restart.TEMPORARY,
            shutdown=2.0,
            mailbox_size=deps.options.session_mailbox_size,
        )


class StoredPendingLookup:
    """A ``PendingLookup`` over ``device_notices``: what was pushed through a hub and not withdrawn.

    Usable until (or instead of) the operations layer's own lookup; it trusts that completed or
    expired operations are withdrawn (expired ones are filtered by ``expires_at`` anyway).
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def awaiting(self, user_id: UUID) -> Sequence[OperationNotice]:
        """The user's stored, unexpired notices."""
        rows = await self._db.run_readonly(repo.live_notices, user_id)
        return [loads_notice(row.notice) for row in rows]


async def start_sessions(
    nursery: trio.Nursery,
    *,
    system: ActorSystem,
    db: Database,
    sink: ConfirmationSink,
    pending: PendingLookup,
    server_secret: bytes,
    options: SessionOptions,
) -> SessionHub:
    """Spawn the Sessions supervisor (relay subscribed before this returns) and return the hub."""
    node_id = uuid.uuid4()
    router = Router(db=db, node_id=node_id, sink=sink, timeout_s=options.remote_decision_timeout_s)
    deps = SessionDeps(db=db, router=router, pending=pending, options=options)
    relay = ChildSpec(
        id=RELAY_ID,
        start=relay_factory(db=db, node_id=node_id, router=router, options=options),
        restart=Restart.PERMANENT,
    )
    supervisor = Supervisor(
        [relay], intensity=10, period=60.0, backoff=Backoff(initial=0.5, cap=10.0, reset_after=30.0)
    )
    ref = await system.spawn(nursery, supervisor, id=SESSIONS_ID)
    log.info("sessions_started", node_id=str(node_id))
    return SessionHub(
        system=system,
        db=db,
        supervisor=SupervisorRef(ref),
        node_id=node_id,
        devices=DeviceDirectory(db=db, sealer=SecretSealer(server_secret), node_id=node_id),
        deps=deps,
    )


@asynccontextmanager
async def open_sessions(
    *,
    system: ActorSystem,
    db: Database,
    sink: ConfirmationSink,
    pending: PendingLookup,
    server_secret: bytes,
    options: SessionOptions,
) -> AsyncIterator[SessionHub]:
    """``start_sessions`` in a nursery of its own; the hub is closed (devices told to reconnect) on exit."""
    async with trio.open_nursery() as nursery:
        hub = await start_sessions(
            nursery,
            system=system,
            db=db,
            sink=sink,
            pending=pending,
            server_secret=server_secret,
            options=options,
        )
        try:
            yield hub
        finally:
            with trio.CancelScope(shield=True):
                await hub.aclose()
            nursery.cancel_scope.cancel()


async def _withdraw_unit(conn: Connection, op_id: UUID, user_id: UUID | None, node_id: UUID) -> UUID | None:
    stored_user = await repo.delete_notice(conn, op_id)
    signal = signals.Withdrawn(op_id, stored_user or user_id, node_id)
    await repo.notify(conn, signals.SHARED_CHANNEL, signals.encode(signal))
    return stored_user


def _tell(ref: ActorRef | None, message: object) -> None:
    if ref is None:
        return
    try:
        ref.tell(message)
    except ActorError as exc:
        log.warning("sessions_tell_failed", actor=ref.id, error_type=exc.code)
