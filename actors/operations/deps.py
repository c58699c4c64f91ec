"""What every PendingOperation actor of a worker shares: database, HSM pool, options, the device
channel (set once the sessions layer runs) and the completion waiters of synchronous requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

import trio

from actors.hsmpool import Balancer
from actors.operations.material import MaterialCache
from actors.operations.model import OperationView
from actors.operations.options import OperationsOptions
from actors.sessions.protocol import OperationNotice
from storage import Database
from storage.database import Connection


class DeviceChannel(Protocol):
    """The part of ``actors.sessions.SessionHub`` operations use."""

    async def push(self, notice: OperationNotice) -> None:
        """Show ``notice`` on its user's devices; this worker owns the decisions."""
        ...

    async def withdraw(self, op_id: UUID, user_id: UUID | None = None) -> None:
        """Take the operation off every device."""
        ...

    async def stage_push(self, conn: Connection, notices: Sequence[OperationNotice]) -> None:
        """``push``'s storage step inside the caller's unit of work; then ``shown`` after the commit."""
        ...

    def shown(self, notice: OperationNotice) -> None:
        """``push``'s in-memory step, once ``stage_push`` is committed."""
        ...

    async def stage_withdraw(self, conn: Connection, operations: Sequence[tuple[UUID, UUID]]) -> None:
        """``withdraw``'s storage step for (op_id, user_id) pairs inside the caller's unit of work."""
        ...

    def withdrawn(self, op_id: UUID, user_id: UUID) -> None:
        """``withdraw``'s in-memory step, once ``stage_withdraw`` is committed."""
        ...


@dataclass(slots=True)
class _Waiter:
    done: trio.Event = field(default_factory=trio.Event)
    view: OperationView | None = None


class Completions:
    """Lets a request wait for the operation it created to finish in this worker."""

    def __init__(self) -> None:
        self._waiters: dict[UUID, _Waiter] = {}

    def expect(self, op_id: UUID) -> None:
        """Register interest before the operation can finish."""
        self._waiters.setdefault(op_id, _Waiter())

    def resolve(self, op_id: UUID, view: OperationView | None) -> None:
        """The operation finished (``view`` None: read it from the database)."""
        waiter = self._waiters.get(op_id)
        if waiter is not None:
            waiter.view = view
            waiter.done.set()

    async def wait(self, op_id: UUID, timeout_s: float) -> tuple[bool, OperationView | None]:
        """Wait up to ``timeout_s`` seconds: (finished, view if the actor handed one over)."""
        waiter = self._waiters.setdefault(op_id, _Waiter())
        try:
            with trio.move_on_after(timeout_s):
                await waiter.done.wait()
            return waiter.done.is_set(), waiter.view
        finally:
            self._waiters.pop(op_id, None)

    def forget(self, op_id: UUID) -> None:
        """Drop interest without waiting."""
        self._waiters.pop(op_id, None)


@dataclass(slots=True)
class OperationDeps:
    """Shared by the actors of one worker's Operations supervisor."""

    db: Database
    """The database."""
    hsm: Balancer
    """The worker's HSM pool."""
    options: OperationsOptions
    """Limits and timings."""
    node_id: UUID
    """This worker's owner id in ``operations.owner_node``."""
    completions: Completions = field(default_factory=Completions)
    """Waiters of synchronous requests."""
    materials: MaterialCache = field(default_factory=MaterialCache)
    """Signing material with certificates parsed once."""
    devices: DeviceChannel | None = None
    """The sessions hub once it runs (None: operations are shown only through ``PendingLookup``)."""
