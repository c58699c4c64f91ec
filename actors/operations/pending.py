"""``PendingOperation``: the actor that drives one live operation through its state machine.

One actor per live operation, a TEMPORARY child of the worker's Operations supervisor, registered
as ``op:<uuid>``. It is created with the operation's row — just inserted by this worker, or claimed
after its previous driver's lease lapsed (re-hydration) — and does what the state calls for::

    awaiting_confirmation  show the notice on the user's devices (a fresh operation stored and
                           announced it with its row), arm the TTL timer, wait for a ``Decide``
                           (→ confirmed → executing | declined, the notice withdrawn in the same
                           transaction) or the timer (→ expired)
    confirmed              (decided in another worker) → executing (guarded), withdraw the notice,
                           sign, → completed | failed
    executing              (claimed from a dead worker, or inserted so for policy "none") sign again
    finished               withdraw the notice if still shown, release waiters, stop

A confirmation this actor applies moves the row through ``confirmed`` to ``executing`` in one
guarded UPDATE (``repo.decide`` with an executor): both transitions are stored before the device is
answered or anything is signed, so there is no resting ``confirmed`` row to re-read in between.

Every transition is persisted (a guarded UPDATE) before the actor acts on it or answers; when a
guard fails, the actor re-reads the row and follows what it finds: decided or deleted elsewhere,
expired, or taken over by another worker (then it stops without touching anything). A crash is not
restarted: the lease lapses and the operation is claimed again, by this worker or another.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import trio

from actors.errors import ActorError
from actors.keys.errors import KeysError
from actors.operations import units
from actors.operations.deps import OperationDeps
from actors.operations.execute import Batch, ExecItem, exec_item, execute_batch, outcome, stored_exec_item
from actors.operations.intake import PlannedItem
from actors.operations.items import item_views
from actors.operations.material import Material
from actors.operations.messages import Advance, Decide, Expire, Repush, Wake
from actors.operations.model import Format, InputKind, OperationView, Policy, State
from actors.operations.notices import notice_of
from actors.runtime import Actor
from actors.sessions.protocol import Decision, DecisionOutcome, DeviceDecision, OperationNotice, OutcomeStatus
from storage.repos import operations as repo
from storage.repos.operations import ItemResult, OperationRow

ACCEPTED = DecisionOutcome(OutcomeStatus.ACCEPTED)
EXPIRED = DecisionOutcome(OutcomeStatus.EXPIRED)
UNKNOWN = DecisionOutcome(OutcomeStatus.UNKNOWN)
ALREADY_DECIDED = DecisionOutcome(OutcomeStatus.ALREADY_DECIDED)


@dataclass(frozen=True, slots=True)
class Fresh:
    """What the creating request already has, so a fresh operation needs no re-read."""

    items: tuple[PlannedItem, ...]
    """The planned items (digests, contents, previews)."""
    material: Material | None
    """The checked signing material (None: load it at execution; device operations re-check)."""
    has_contents: bool
    """Whether ``items`` still hold the documents (else an attached signature re-reads them)."""
    notice: OperationNotice | None = None
    """The notice stored and announced with the row (``units.create``): only shown, not pushed."""


class PendingOperation(Actor):
    """Drives one operation (see the module docstring)."""

    mailbox_size: ClassVar[int | None] = 32
    stop_grace: ClassVar[float] = 2.0

    def __init__(self, row: OperationRow, deps: OperationDeps, *, fresh: Fresh | None = None) -> None:
        self._row = row
        self._deps = deps
        self._fresh = fresh
        self._timer_armed = False
        self._pushed = False
        self._withdrawn = False

    @property
    def _op_id(self) -> Any:
        return self._row.id

    async def on_start(self) -> None:
        """Queue the first step (no I/O here: the supervisor starts children one at a time)."""
        self.ref.tell(Advance(self._row.id))

    async def receive(self, message: Any) -> Any:
        """Handle one message."""
        match message:
            case Advance():
                await self._advance()
            case Decide(decision=decision):
                return await self._decide(decision)
            case Expire():
                await self._expire()
            case Wake():
                if await self._reload():
                    await self._advance()
            case Repush():
                if self._state is State.AWAITING_CONFIRMATION:
                    await self._push()
            case _:
                return await super().receive(message)
        return None

    # -- the state machine -------------------------------------------------------------------------

    @property
    def _state(self) -> State:
        return State(self._row.state)

    async def _advance(self) -> None:
        state = self._state
        if state.live and self._row.owner_node != self._deps.node_id:
            self._stop("operation_taken_over")
            return
        if state is State.AWAITING_CONFIRMATION:
            await self._await_decision()
        elif state in (State.CONFIRMED, State.EXECUTING):
            await self._execute()
        elif state.finished:
            await self._withdraw()
            self._finished()
        else:  # created: never stored by this code; nothing can decide it
            await self._expire()

    async def _await_decision(self) -> None:
        remaining = (self._row.expires_at - dt.datetime.now(dt.UTC)).total_seconds()
        if remaining <= 0:
            await self._expire()
            return
        if not self._timer_armed:
            self._timer_armed = True
            self.start_soon(self._timer, trio.current_time() + remaining)
        if not self._pushed:
            await self._push()

    async def _decide(self, decision: DeviceDecision) -> DecisionOutcome:
        row = self._row
        if decision.user_id != row.user_id or row.policy != Policy.DEVICE:
            return UNKNOWN
        if self._state is not State.AWAITING_CONFIRMATION:
            return EXPIRED if self._state is State.EXPIRED else ALREADY_DECIDED
        if row.expires_at <= dt.datetime.now(dt.UTC):
            await self._expire()
            return EXPIRED
        options = self._deps.options
        applied = repo.DecisionIn(
            row.id,
            decision.user_id,
            decision.device_id,
            confirm=decision.decision is Decision.CONFIRM,
            retain_s=options.result_ttl_s,
            executor=self._deps.node_id,
            lease_s=options.lease_s,
        )
        channel = self._deps.devices
        new = await self._deps.db.run_batched(units.decide_many, units.Deciding(applied, False, channel))
        if new is None:
            return await self._decision_refused()
        self._row = new
        if channel is not None:  # withdrawn in the deciding transaction
            self._withdrawn = True
            channel.withdrawn(row.id, row.user_id)
        self.log.info("operation_decided", state=new.state, device_id=str(decision.device_id))
        self.ref.tell(Advance(row.id))
        return ACCEPTED

    async def _decision_refused(self) -> DecisionOutcome:
        if not await self._reload():
            return UNKNOWN
        self.ref.tell(Advance(self._row.id))
        if self._state is State.AWAITING_CONFIRMATION:  # the guard saw the TTL run out first
            return EXPIRED
        return EXPIRED if self._state is State.EXPIRED else ALREADY_DECIDED

    async def _expire(self) -> None:
        if self._state.finished:
            return
        new = await self._deps.db.run_batched(
            units.expire_many, (self._row.id, self._deps.options.result_ttl_s)
        )
        if new is None:
            if await self._reload():
                await self._advance()
            return
        self._row = new
        self.log.info("operation_expired")
        await self._advance()

    async def _execute(self) -> None:
        deps = self._deps
        row = self._row
        if not (row.state == State.EXECUTING and row.owner_node == deps.node_id):
            started = await deps.db.run_batched(
                units.start_many, (row.id, deps.node_id, deps.options.lease_s)
            )
            if started is None:
                if await self._reload():
                    await self._advance()
                return
            self._row = row = started
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._withdraw)  # devices need not show it while it is signed
            state, error, detail, results = await self._sign(row)
        finish = repo.FinishIn(
            row.id, deps.node_id, state.value, error, detail, tuple(results), deps.options.result_ttl_s
        )
        finished = await deps.db.run_batched(units.finish_many, finish)
        if finished is None:  # taken over meanwhile: the new driver's outcome counts
            self.log.warning("operation_finish_lost")
            if await self._reload():
                await self._advance()
            return
        self._row = finished
        signed = sum(1 for result in results if result.result is not None)
        self.log.info("operation_finished", state=finished.state, items=len(results), signed=signed)
        self._finished(results)

    async def _sign(self, row: OperationRow) -> tuple[State, str | None, str | None, list[ItemResult]]:
        deps = self._deps
        try:
            material = await self._material(row)
        except KeysError as exc:
            detail = str(exc)[:1000]
            return (
                State.FAILED,
                exc.code,
                detail,
                [ItemResult(i, None, exc.code, detail) for i in range(row.item_count)],
            )
        items = await self._exec_items(row)
        batch = Batch(
            op_id=str(row.id),
            format=Format(row.format),
            detached=row.detached,
            material=material,
            items=items,
        )
        results = await execute_batch(batch, hsm=deps.hsm, options=deps.options)
        return (*outcome(results), results)

    async def _material(self, row: OperationRow) -> Material:
        if self._fresh is not None and self._fresh.material is not None:
            return self._fresh.material
        return await self._deps.materials.load(
            self._deps.db, user_id=row.user_id, certificate_id=row.certificate_id
        )

    async def _exec_items(self, row: OperationRow) -> Sequence[ExecItem]:
        cades = row.format == Format.CADES_BES
        fresh = self._fresh
        if fresh is not None and (fresh.has_contents or not (cades and _needs_documents(row, fresh))):
            return [exec_item(item) for item in fresh.items]
        # A CAdES operation re-reads its stored documents: attached contents, co-signed CMSes.
        load = partial(units.load_for_execution, documents=cades)
        stored, documents = await self._deps.db.run_readonly(load, row.id)
        return [stored_exec_item(item, documents.get(item.idx)) for item in stored]

    # -- devices -------------------------------------------------------------------------------------

    async def _push(self) -> None:
        channel = self._deps.devices
        if channel is None:
            return  # shown through PendingLookup when a device connects
        fresh = self._fresh
        if fresh is not None and fresh.notice is not None and not self._pushed:
            channel.shown(fresh.notice)  # stored and announced with the row
            self._pushed = True
            return
        try:
            await channel.push(await self._notice())
        except Exception as exc:  # a device channel failure must not lose the operation
            self.log.warning("operation_push_failed", error_type=type(exc).__name__)
            return
        self._pushed = True

    async def _notice(self) -> OperationNotice:
        if self._fresh is not None:
            return notice_of(self._row, self._fresh.items)
        stored = await self._deps.db.run_readonly(repo.get_notice_items, self._row.id)
        return notice_of(self._row, stored)

    async def _withdraw(self) -> None:
        channel = self._deps.devices
        if self._withdrawn or channel is None or self._row.policy != Policy.DEVICE:
            return
        self._withdrawn = True
        try:
            await channel.withdraw(self._row.id, self._row.user_id)
        except Exception as exc:  # the notice expires on its own; the devices' answers are refused
            self.log.warning("operation_withdraw_failed", error_type=type(exc).__name__)

    # -- helpers --------------------------------------------------------------------------------------

    async def _timer(self, deadline: float) -> None:
        await trio.sleep_until(deadline)
        # Stopping or flooded: a stopped actor's lease lapses and whoever claims the row expires it.
        with contextlib.suppress(ActorError):
            self.ref.tell(Expire(self._row.id))

    async def _reload(self) -> bool:
        """Re-read the row; False (and stop) when it is gone."""
        row = await self._deps.db.run_readonly(repo.get_operation, self._row.id)
        if row is None:
            self.log.info("operation_gone")
            await self._withdraw()
            self._deps.completions.resolve(self._row.id, None)
            self._stop(None)
            return False
        self._row = row
        return True

    def _finished(self, results: Sequence[ItemResult] | None = None) -> None:
        view = None
        if results is not None and self._fresh is not None:
            view = OperationView(self._row, item_views(self._fresh.items, results))
        self._deps.completions.resolve(self._row.id, view)
        self._stop(None)

    def _stop(self, reason: str | None) -> None:
        if reason is not None:
            self.log.info(reason)
        self.request_stop(drain=False)


def _needs_documents(row: OperationRow, fresh: Fresh) -> bool:
    """Whether executing ``fresh``'s items needs documents its memory does not hold: the contents of
    an attached CAdES, the CMS of a co-signature."""
    return not row.detached or any(item.input is InputKind.SIGNATURE for item in fresh.items)
