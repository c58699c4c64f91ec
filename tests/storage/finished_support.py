"""Finished operations for storage tests, and storing many of them at once through ``run_batched``."""

from __future__ import annotations

import uuid
from uuid import UUID

import trio

from storage import Database
from storage.repos.finished import FinishedOperation, insert_finished_many
from storage.repos.operations import ItemResult, NewItem, NewOperation


def finished_operation(
    user_id: UUID,
    n_items: int = 2,
    *,
    certificate_id: UUID | None = None,
    failed: bool = False,
    state: str | None = None,
) -> FinishedOperation:
    """A raw operation of ``n_items`` signed (or, ``failed``, not) items; results in reverse order."""
    op = NewOperation(
        id=uuid.uuid4(),
        user_id=user_id,
        client_id=None,
        format="raw",
        detached=False,
        certificate_id=certificate_id or uuid.uuid4(),
        digest_algorithm="streebog256",
        state=state or ("failed" if failed else "completed"),
        policy="none",
        callback_url=None,
        ttl_s=60.5,
        owner_node=uuid.uuid4(),
        lease_s=30.0,
    )
    items = [NewItem(i, f"doc{i}.txt", "content", bytes([i + 1]) * 32, None, None) for i in range(n_items)]
    results = [
        ItemResult(i, None, "hsm_failed", "the unit failed") if failed else ItemResult(i, bytes([i]) * 64)
        for i in reversed(range(n_items))  # any order: matched by idx
    ]
    error = ("hsm_failed", "every item failed") if failed else (None, None)
    return FinishedOperation(op, items, results, error=error[0], error_detail=error[1], retain_s=120.25)


async def store_all(db: Database, entries: list[FinishedOperation]) -> dict[UUID, object]:
    """Store ``entries`` concurrently; each operation id → its row, or the exception it raised."""
    outcomes: dict[UUID, object] = {}

    async def store(entry: FinishedOperation) -> None:
        try:
            outcomes[entry.op.id] = await db.run_batched(insert_finished_many, entry)
        except Exception as exc:
            outcomes[entry.op.id] = exc

    async with trio.open_nursery() as nursery:
        for entry in entries:
            nursery.start_soon(store, entry)
    return outcomes
