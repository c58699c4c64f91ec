"""The outbox API: enqueue inside the caller's transaction, idempotence, NOTIFY at commit."""

from __future__ import annotations

import uuid

import pytest
import trio

from actors.callbacks import CHANNEL, EVENT_COMPLETED, enqueue
from storage import Database
from storage.database import Connection
from storage.repos import callbacks as repo


class Boom(Exception):
    """Raised to roll a unit of work back."""


async def test_enqueue_writes_a_pending_row_and_is_idempotent(db: Database) -> None:
    op = uuid.uuid4()

    async def unit(conn: Connection) -> tuple[uuid.UUID, uuid.UUID]:
        first = await enqueue(
            conn,
            operation_id=op,
            user_id=None,
            client_id=None,
            url="https://example.org/cb",
            event=EVENT_COMPLETED,
            payload={"status": "completed", "items": [1, 2]},
        )
        again = await enqueue(
            conn,
            operation_id=op,
            user_id=None,
            client_id=None,
            url="https://example.org/other",
            event=EVENT_COMPLETED,
            payload={},
        )
        return first, again

    first, again = await db.run(unit)
    assert first == again
    rows = await db.run_readonly(repo.list_for_operation, op)
    assert [(r.id, r.state, r.attempts, r.url) for r in rows] == [
        (first, repo.DeliveryState.PENDING, 0, "https://example.org/cb")
    ]


async def test_enqueue_in_a_rolled_back_transaction_leaves_nothing(db: Database) -> None:
    op = uuid.uuid4()

    async def unit(conn: Connection) -> None:
        await enqueue(
            conn,
            operation_id=op,
            user_id=None,
            client_id=None,
            url="https://example.org/cb",
            event=EVENT_COMPLETED,
            payload={},
        )
        raise Boom

    async with db.listen(CHANNEL) as wakeups:
        with pytest.raises(Boom):
            await db.run(unit)
        with trio.move_on_after(0.3):
            await wakeups.receive()
            pytest.fail("a rolled-back enqueue sent a NOTIFY")
    assert await db.run_readonly(repo.list_for_operation, op) == []
