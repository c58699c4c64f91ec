"""``OperationsService``: the operations layer of one worker, as the edge and the sessions layer see it.

``start_operations`` spawns the actor tree in a nursery the caller owns and returns the service::

    Supervisor "operations" (one_for_one)
     ├─ Keeper "operations/keeper" ...... leases, re-hydration, retention, LISTEN wake-ups
     ├─ PendingOperation "op:<uuid>" .... TEMPORARY, one per live operation this worker drives
     └─ ...

Wiring with the sessions layer (each needs the other)::

    async with (
        open_operations(system=..., db=..., hsm=..., options=OperationsOptions.from_settings(s)) as ops,
        open_sessions(system=..., db=..., sink=ops, pending=ops, server_secret=..., options=...) as hub,
    ):
        ops.use_devices(hub)

The service is the ``ConfirmationSink`` and the ``PendingLookup`` of ``actors.sessions``. A decision
for an operation this worker drives goes to its actor; any other (a device shown the operation
through ``PendingLookup`` in a worker that does not drive it) is applied to the row here with the same
guarded transition, and the driving worker is woken through NOTIFY — or, when nobody drives the
operation any more, this worker claims it and starts an actor.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from uuid import UUID

import structlog
import trio

from actors.callbacks import require_callback_client, validate_callback_url
from actors.errors import ActorError
from actors.hsmpool import Balancer
from actors.operations import direct, signals, units
from actors.operations.deps import Completions, DeviceChannel, OperationDeps
from actors.operations.errors import OperationBusyError, OperationNotFoundError
from actors.operations.intake import PlannedItem, check_hash_lengths, check_request, plan_items
from actors.operations.items import new_items
from actors.operations.keeper import KEEPER_ID, Keeper
from actors.operations.material import MaterialCache
from actors.operations.messages import Decide, Repush, Wake
from actors.operations.model import (
    Format,
    ItemView,
    OperationView,
    Policy,
    Requester,
    SignRequest,
    State,
)
from actors.operations.notices import notice_of
from actors.operations.options import OperationsOptions
from actors.operations.pending import ALREADY_DECIDED, EXPIRED, UNKNOWN, Fresh, PendingOperation
from actors.operations.policy import choose_policy
from actors.operations.verification import VerifyRequest, verify
from actors.runtime import ActorSystem, Backoff, ChildSpec, Restart, Supervisor, SupervisorRef
from actors.sessions.protocol import ACCEPTED, Decision, DecisionOutcome, DeviceDecision, OperationNotice
from signing.cms import ValidationReport
from storage import Database
from storage.repos import operations as repo
from storage.repos.operations import NewOperation, OperationRow

log = structlog.get_logger("actors.operations")

OPERATIONS_ID = "operations"
"""Registry id of the Operations supervisor."""

RELEASE_TIMEOUT_S = 5.0
"""How long a stopping service may take to hand its leases back."""


class OperationsService:
    """Create, read, list, delete and verify; the sessions layer's sink and lookup."""

    def __init__(self, *, system: ActorSystem, deps: OperationDeps) -> None:
        self._system = system
        self._deps = deps
        self._starting: dict[UUID, trio.Event] = {}
        """Operations stored (and announced to the devices of every worker) whose actor is not started
        yet: a decision for one waits for its actor instead of racing it."""

    @property
    def options(self) -> OperationsOptions:
        """Limits and timings."""
        return self._deps.options

    @property
    def node_id(self) -> UUID:
        """This worker's owner id in ``operations.owner_node``."""
        return self._deps.node_id

    @property
    def db(self) -> Database:
        """The database."""
        return self._deps.db

    def use_devices(self, channel: DeviceChannel) -> None:
        """Push operations awaiting confirmation through ``channel`` from now on; re-push the local ones."""
        self._deps.devices = channel
        for op_id in self._local_operations():
            _tell(self._system, op_id, Repush(op_id))

    # -- requests -------------------------------------------------------------------------------------

    async def create(self, requester: Requester, request: SignRequest) -> OperationView:
        """Check, store and start a signing operation; its view as created (items without results).

        A synchronous operation (no confirmation, no ``callback_url``) is signed before it is stored
        and comes back finished (``completed`` or ``failed``, with results; ``actors.operations.direct``).

        Raises ``ConfirmationRequiredError``, ``InvalidOperationError``, the ``actors.callbacks``
        request-time errors (a refused ``callback_url``, no client to sign callbacks) and the
        ``actors.keys`` errors of ``load_signing_material`` (unknown, revoked or expired certificate).
        """
        options = self._deps.options
        policy = choose_policy(options.no_confirmation_for, requester, request.confirmation)
        check_request(request, options)
        if request.callback_url is not None:  # asynchronous mode: signed with the client's secret
            require_callback_client(requester.client_id)
            validate_callback_url(request.callback_url, options.callbacks)
        material = await self._deps.materials.load(
            self._deps.db, user_id=requester.user_id, certificate_id=request.certificate_id
        )
        digest = material.signing.signature_algorithm.digest
        check_hash_lengths(request, digest)
        planned = await plan_items(request, digest=digest, options=options, previews=policy is Policy.DEVICE)
        synchronous = policy is Policy.NONE and request.callback_url is None
        attached = request.format is Format.CADES_BES and not request.detached
        # A synchronous operation keeps no documents (nor co-signed CMSes): its caller is waiting and
        # resubmits if it dies. Any other keeps what its execution re-reads until it finishes.
        keep_documents = attached and not synchronous
        new = NewOperation(
            id=uuid.uuid4(),
            user_id=requester.user_id,
            client_id=requester.client_id,
            format=request.format.value,
            detached=request.detached,
            certificate_id=material.signing.certificate_id,
            digest_algorithm=digest.name,
            state=(State.EXECUTING if policy is Policy.NONE else State.AWAITING_CONFIRMATION).value,
            policy=policy.value,
            callback_url=request.callback_url,
            ttl_s=options.ttl_s,
            owner_node=self._deps.node_id,
            lease_s=options.lease_s,
        )
        if synchronous:  # signed before anything is stored: see actors.operations.direct
            return await direct.sign_now(self._deps, new, planned, material=material, format=request.format)
        items = new_items(planned, documents=keep_documents, previews=True, bases=True)
        # The notice is stored and announced with the row: one transaction, shared by concurrent
        # requests (group commit); the actor only shows it. Another worker may show it to a device
        # at once: its decision (routed here, the owner) waits until the actor runs.
        devices = self._deps.devices if policy is Policy.DEVICE else None
        creation = units.Creation(new, tuple(items), devices)
        starting = self._starting[new.id] = trio.Event()
        try:
            row, notice = await self._deps.db.run_batched(units.create_pushed, creation)
            if policy is Policy.NONE:
                fresh = Fresh(items=tuple(planned), material=material, has_contents=True)
            else:  # contents are re-read at execution (stored when needed); memory holds no documents
                stripped = tuple(dataclasses.replace(item, content=None, base=None) for item in planned)
                fresh = Fresh(items=stripped, material=None, has_contents=False, notice=notice)
            try:
                await self._start_actor(row, fresh=fresh)
            except ActorError as exc:  # stored and leased: the keeper claims it once the lease lapses
                log.warning("operation_actor_not_started", op_id=str(row.id), error_type=exc.code)
        finally:
            del self._starting[new.id]
            starting.set()
        return OperationView(row, tuple(_planned_view(item) for item in planned))

    async def wait(self, op_id: UUID, timeout_s: float | None = None) -> OperationView | None:
        """Wait for an operation created in this worker to finish; its final view, or None on timeout."""
        finished, view = await self._deps.completions.wait(
            op_id, self._deps.options.sync_wait_s if timeout_s is None else timeout_s
        )
        if not finished:
            return None
        if view is not None:
            return view
        try:
            return await self.get(op_id)
        except OperationNotFoundError:
            return None

    async def get(self, op_id: UUID) -> OperationView:
        """The operation with its items and results; ``OperationNotFoundError`` when there is none."""
        found = await self._deps.db.run_readonly(repo.get_operation_with_items, op_id)
        if found is None:
            raise OperationNotFoundError(op_id)
        row, items = found
        return OperationView(row, tuple(ItemView.of(item) for item in items))

    async def find(self, op_id: UUID) -> OperationRow:
        """The operation's row without items (ownership checks); ``OperationNotFoundError`` if none."""
        row = await self._deps.db.run_readonly(repo.get_operation, op_id)
        if row is None:
            raise OperationNotFoundError(op_id)
        return row

    async def list_for(
        self, user_id: UUID, *, limit: int, before: tuple[datetime, UUID] | None = None
    ) -> list[OperationView]:
        """``user_id``'s operations, newest first, without items."""
        rows = await self._deps.db.run_readonly(
            partial(repo.list_operations, limit=limit, before=before), user_id
        )
        return [OperationView(row, None) for row in rows]

    async def delete(self, op_id: UUID) -> State:
        """Delete an operation and its results; a pending one is cancelled (taken off the devices).

        Returns the state it had; ``OperationBusyError`` while it executes; ``OperationNotFoundError``.
        """
        state = await self._deps.db.run(units.delete, op_id)
        if state is None:
            raise OperationNotFoundError(op_id)
        if state == State.EXECUTING:
            raise OperationBusyError(f"operation {op_id} is being signed; delete it once it has finished")
        _tell(self._system, op_id, Wake(op_id))  # the NOTIFY does it too; locally this is sooner
        return State(state)

    async def verify(self, request: VerifyRequest) -> ValidationReport:
        """Verify a signature against this deployment's trust anchors."""
        return await verify(self._deps.db, request, max_signers=self._deps.options.max_existing_signers)

    # -- ConfirmationSink and PendingLookup (actors.sessions) ------------------------------------------

    async def on_decision(self, decision: DeviceDecision) -> DecisionOutcome:
        """Apply a verified device decision; never raises for unknown, expired or decided operations."""
        starting = self._starting.get(decision.op_id)
        if starting is not None:  # announced before its actor started (see create)
            with trio.move_on_after(self._deps.options.decision_timeout_s):
                await starting.wait()
        ref = self._system.whereis(signals.actor_id(decision.op_id))
        if ref is not None:
            try:
                outcome: DecisionOutcome = await ref.ask(
                    Decide(decision.op_id, decision), timeout=self._deps.options.decision_timeout_s
                )
            except ActorError as exc:
                log.info("operation_decision_fallback", op_id=str(decision.op_id), error_type=exc.code)
            else:
                return outcome
        return await self._decide_stored(decision)

    async def awaiting(self, user_id: UUID) -> Sequence[OperationNotice]:
        """``user_id``'s operations awaiting confirmation and not expired, as notices."""
        found = await self._deps.db.run_readonly(repo.awaiting_for_user, user_id)
        return [notice_of(row, items) for row, items in found]

    async def _decide_stored(self, decision: DeviceDecision) -> DecisionOutcome:
        deps = self._deps
        applied = repo.DecisionIn(
            decision.op_id,
            decision.user_id,
            decision.device_id,
            confirm=decision.decision is Decision.CONFIRM,
            retain_s=deps.options.result_ttl_s,
        )
        row = await deps.db.run_batched(units.decide_many, units.Deciding(applied, True, deps.devices))
        if row is None:
            current = await deps.db.run_readonly(repo.get_operation, decision.op_id)
            if current is None or current.user_id != decision.user_id or current.policy != Policy.DEVICE:
                return UNKNOWN
            if current.state in (State.EXPIRED, State.AWAITING_CONFIRMATION):
                return EXPIRED
            return ALREADY_DECIDED
        log.info("operation_decided", op_id=str(row.id), state=row.state, device_id=str(decision.device_id))
        if deps.devices is not None:  # withdrawn in the deciding transaction
            deps.devices.withdrawn(row.id, row.user_id)
        if row.state == State.CONFIRMED:
            await self._adopt(row.id)
        _tell(self._system, row.id, Wake(row.id))  # a local actor started meanwhile re-reads the row
        return ACCEPTED

    async def _adopt(self, op_id: UUID) -> None:
        """Drive ``op_id`` from this worker if nobody holds it (its driver died meanwhile)."""
        deps = self._deps
        claimed = await deps.db.run(
            partial(repo.claim, node=deps.node_id, lease_s=deps.options.lease_s), op_id
        )
        if claimed is None or self._system.whereis(signals.actor_id(op_id)) is not None:
            return
        try:
            await self._start_actor(claimed)
        except ActorError as exc:
            log.warning("operation_actor_not_started", op_id=str(op_id), error_type=exc.code)

    # -- actors ----------------------------------------------------------------------------------------

    async def _start_actor(self, row: OperationRow, *, fresh: Fresh | None = None) -> None:
        deps = self._deps
        spec = ChildSpec(
            id=signals.actor_id(row.id),
            start=lambda: PendingOperation(row, deps, fresh=fresh),
            restart=Restart.TEMPORARY,
            shutdown=2.0,
        )
        supervisor = SupervisorRef(self._system.lookup(OPERATIONS_ID))
        await supervisor.start_child(spec)

    def _local_operations(self) -> list[UUID]:
        ids = (signals.op_id_of(actor) for actor in self._system.registry.ids())
        return [op_id for op_id in ids if op_id is not None]

    async def aclose(self) -> None:
        """Stop the actors, then hand this worker's leases back so other workers take over at once."""
        with trio.CancelScope(shield=True):
            ref = self._system.whereis(OPERATIONS_ID)
            if ref is not None:
                await SupervisorRef(ref).stop(timeout=10.0)
            with trio.move_on_after(RELEASE_TIMEOUT_S):
                try:
                    released = await self._deps.db.run(partial(repo.release_leases, node=self._deps.node_id))
                except Exception as exc:  # the leases lapse on their own
                    log.warning("operations_release_failed", error_type=type(exc).__name__)
                else:
                    log.info("operations_stopped", released=released)


async def start_operations(
    nursery: trio.Nursery,
    *,
    system: ActorSystem,
    db: Database,
    hsm: Balancer,
    options: OperationsOptions,
    materials: MaterialCache | None = None,
) -> OperationsService:
    """Spawn the Operations supervisor (its keeper listening, first round queued); return the service.

    ``materials``: the worker's signing-material cache (kept coherent by its owner, see
    ``actors.operations.material``); a private one, bypassed, when not given.
    """
    deps = OperationDeps(
        db=db,
        hsm=hsm,
        options=options,
        node_id=uuid.uuid4(),
        completions=Completions(),
        materials=materials if materials is not None else MaterialCache(),
    )
    service = OperationsService(system=system, deps=deps)

    async def start_claimed(row: OperationRow) -> None:
        try:
            await service._start_actor(row)
        except ActorError as exc:
            log.warning("operation_actor_not_started", op_id=str(row.id), error_type=exc.code)

    keeper = ChildSpec(id=KEEPER_ID, start=lambda: Keeper(deps, start_claimed), restart=Restart.PERMANENT)
    supervisor = Supervisor(
        [keeper], intensity=10, period=60.0, backoff=Backoff(initial=0.5, cap=10.0, reset_after=30.0)
    )
    await system.spawn(nursery, supervisor, id=OPERATIONS_ID)
    log.info("operations_started", node_id=str(deps.node_id))
    return service


@asynccontextmanager
async def open_operations(
    *,
    system: ActorSystem,
    db: Database,
    hsm: Balancer,
    options: OperationsOptions,
    materials: MaterialCache | None = None,
) -> AsyncIterator[OperationsService]:
    """``start_operations`` in a nursery of its own; on exit the actors stop, the leases are handed back."""
    async with trio.open_nursery() as nursery:
        service = await start_operations(
            nursery, system=system, db=db, hsm=hsm, options=options, materials=materials
        )
        try:
            yield service
        finally:
            await service.aclose()  # shielded inside
            nursery.cancel_scope.cancel()


def _planned_view(item: PlannedItem) -> ItemView:
    return ItemView(
        index=item.idx,
        name=item.name,
        input=item.input,
        digest=item.digest,
        result=None,
        error_code=None,
        error_detail=None,
    )


def _tell(system: ActorSystem, op_id: UUID, message: object) -> None:
    ref = system.whereis(signals.actor_id(op_id))
    if ref is None:
        return
    with contextlib.suppress(ActorError):  # stopping, or it re-reads soon anyway
        ref.tell(message)


__all__ = ["OPERATIONS_ID", "OperationsService", "open_operations", "start_operations"]
