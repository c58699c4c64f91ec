"""Units of work of the operations layer: repository steps composed into one transaction each.

Every transition that finishes an operation also announces it to the callback outbox in the same
transaction (asynchronous mode), so an outcome is never stored without its announcement, nor
announced without being stored. A change made by a worker that does not drive the operation also
NOTIFYs ``signals.CHANNEL`` so the driving actor re-reads the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from actors.operations import signals
from actors.operations.model import State
from storage.database import Connection
from storage.repos import operations as repo
from storage.repos.operations import ItemResult, NewItem, NewOperation, OperationRow


async def create(conn: Connection, op: NewOperation, items: Sequence[NewItem]) -> OperationRow:
    """Insert a new operation with its items."""
    return await repo.insert_operation(conn, op, items)


async def decide(
    conn: Connection,
    op_id: UUID,
    *,
    user_id: UUID,
    device_id: UUID,
    confirm: bool,
    retain_s: float,
    wake: bool,
) -> OperationRow | None:
    """awaiting_confirmation → confirmed | declined; a decline is announced; ``wake`` NOTIFYs the driver."""
    row = await repo.decide(
        conn, op_id, user_id=user_id, device_id=device_id, confirm=confirm, retain_s=retain_s
    )
    if row is not None:
        if State(row.state).finished:
            await announce(conn, row)
        if wake:
            await repo.notify(conn, signals.CHANNEL, str(op_id))
    return row


async def expire(conn: Connection, op_id: UUID, *, retain_s: float) -> OperationRow | None:
    """awaiting_confirmation → expired, announced."""
    row = await repo.expire(conn, op_id, retain_s=retain_s)
    if row is not None:
        await announce(conn, row)
    return row


async def finish(
    conn: Connection,
    op_id: UUID,
    *,
    node: UUID,
    state: State,
    error: str | None,
    error_detail: str | None,
    results: Sequence[ItemResult],
    retain_s: float,
) -> OperationRow | None:
    """executing → completed | failed with the item results, announced."""
    row = await repo.finish_execution(
        conn,
        op_id,
        node=node,
        state=state.value,
        error=error,
        error_detail=error_detail,
        results=results,
        retain_s=retain_s,
    )
    if row is not None:
        await announce(conn, row)
    return row


async def delete(conn: Connection, op_id: UUID) -> str | None:
    """Delete an operation unless it executes (see ``repo.delete_operation``); wakes its driver."""
    state = await repo.delete_operation(conn, op_id)
    if state is not None and state != State.EXECUTING.value:
        await repo.notify(conn, signals.CHANNEL, str(op_id))
    return state


async def load_for_execution(
    conn: Connection, op_id: UUID, *, documents: bool
) -> tuple[list[repo.ItemRow], dict[int, bytes]]:
    """The items of ``op_id`` and, when ``documents``, the stored documents by index."""
    items = await repo.get_items(conn, op_id)
    return items, (await repo.get_documents(conn, op_id) if documents else {})


async def announce(conn: Connection, row: OperationRow) -> None:
    """Queue the callback of a finished operation in asynchronous mode.

    CALL SITE for ``actors.callbacks.enqueue`` (being written in parallel): until it lands, the
    ``callback_url`` stays on the row and nothing is queued.
    """
    if row.callback_url is None:
        return
    # TODO(callbacks): await callbacks.enqueue(conn, operation_id=row.id, owner=row.user_id,
    #                                          client_id=row.client_id, url=row.callback_url,
    #                                          event=row.state)
