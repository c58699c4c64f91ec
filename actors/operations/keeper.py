"""``Keeper``: the housekeeping actor of one worker's Operations supervisor.

Every ``claim_interval_s`` (and at once when it starts) one round:

1. **renew** the leases of the operations this worker's actors drive; an actor whose operation is
   no longer this worker's (the lease lapsed and another worker claimed it) is woken, re-reads the
   row and stops;
2. **claim** live operations whose lease lapsed — their worker died, stopped, or its actor crashed —
   with ``FOR UPDATE SKIP LOCKED`` (workers claiming at once take disjoint rows) and start an actor
   for each: this is how operations are re-hydrated after a restart;
3. every ``sweep_interval_s``, **delete** finished operations past their retention (results TTL).

It also LISTENs on ``signals.CHANNEL`` and wakes the local actor a payload names. If the LISTEN
connection is lost the keeper crashes; its supervisor restarts it, and the new incarnation wakes
every local actor (a NOTIFY may have been missed meanwhile).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar
from uuid import UUID

import trio

from actors.errors import ActorError
from actors.operations import signals
from actors.operations.deps import OperationDeps
from actors.operations.messages import Wake
from actors.runtime import Actor
from storage.errors import StorageError, StorageUnavailableError
from storage.repos import operations as repo
from storage.repos.operations import OperationRow

KEEPER_ID = "operations/keeper"
"""Registry id of the keeper."""

StartActor = Callable[[OperationRow], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Tick:
    """Run a housekeeping round."""


class Keeper(Actor):
    """Leases, re-hydration, retention and wake-ups (see the module docstring)."""

    mailbox_size: ClassVar[int | None] = 8

    def __init__(self, deps: OperationDeps, start_actor: StartActor) -> None:
        self._deps = deps
        self._start_actor = start_actor
        self._next_sweep = 0.0
        self._first = True

    async def on_start(self) -> None:
        """Subscribe before the first round, so no wake-up between the two is missed."""
        await self.start(self._listen)
        self.start_soon(self._ticker)

    async def receive(self, message: Any) -> Any:
        """Handle ``Tick``."""
        if isinstance(message, Tick):
            await self.round()
            return None
        return await super().receive(message)

    async def round(self) -> None:
        """One housekeeping round (also callable by tests through a ``Tick``)."""
        deps = self._deps
        options = deps.options
        local = self._local_operations()
        try:
            if local:
                renew = partial(
                    repo.renew_leases, node=deps.node_id, op_ids=list(local), lease_s=options.lease_s
                )
                held = await deps.db.run(renew)
                for op_id in local.keys() - held:
                    self._wake(op_id)  # finished meanwhile, or taken over: it re-reads and stops
            if self._first:
                self._first = False
                for op_id in local:
                    self._wake(op_id)
            claim = partial(
                repo.claim_orphans, node=deps.node_id, lease_s=options.lease_s, limit=options.claim_batch
            )
            claimed = await deps.db.run(claim)
            for row in claimed:
                if row.id not in local:
                    await self._start_actor(row)
            if claimed:
                self.log.info("operations_claimed", count=len(claimed))
            now = trio.current_time()
            if now >= self._next_sweep:
                self._next_sweep = now + options.sweep_interval_s
                purged = await deps.db.run(partial(repo.purge_retained, limit=options.sweep_batch))
                if purged:
                    self.log.info("operations_purged", count=purged)
        except StorageError as exc:  # the next round tries again; leases outlast a few misses
            self.log.warning("operations_round_failed", error_type=exc.code)

    def _local_operations(self) -> dict[UUID, str]:
        registry = self.context.system.registry
        found: dict[UUID, str] = {}
        for actor in registry.ids():
            op_id = signals.op_id_of(actor)
            if op_id is not None:
                found[op_id] = actor
        return found

    def _wake(self, op_id: UUID) -> None:
        ref = self.context.system.whereis(signals.actor_id(op_id))
        if ref is None:
            return
        with contextlib.suppress(ActorError):  # stopping, or busy enough to re-read soon anyway
            ref.tell(Wake(op_id))

    async def _ticker(self) -> None:
        while True:
            with contextlib.suppress(ActorError):  # a round is still queued
                self.ref.tell(Tick())
            await trio.sleep(self._deps.options.claim_interval_s)

    async def _listen(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self._deps.db.listen(signals.CHANNEL) as payloads:
            task_status.started()
            async for payload in payloads:
                op_id = signals.decode(payload)
                if op_id is not None:
                    self._wake(op_id)
        raise StorageUnavailableError("the LISTEN connection of the operations keeper was lost")
