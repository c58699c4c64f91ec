"""Units of work of the operations layer: repository steps composed into one transaction each.

Every transition that finishes an operation also announces it to the callback outbox in the same
transaction (asynchronous mode: ``actors.callbacks.enqueue``), so an outcome is never stored without
its announcement, nor announced without being stored. A change made by a worker that does not
drive the operation also NOTIFYs ``signals.CHANNEL`` so the driving actor re-reads the row.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from actors import callbacks
from actors.operations import signals
from actors.operations.deps import DeviceChannel
from actors.operations.model import State
from actors.operations.notices import notice_of
from actors.sessions.protocol import OperationNotice
from storage.database import Connection
from storage.repos import operations as repo
from storage.repos.operations import ItemResult, NewItem, NewOperation, OperationRow

EVENTS = {
    State.COMPLETED: callbacks.EVENT_COMPLETED,
    State.FAILED: callbacks.EVENT_FAILED,
    State.DECLINED: callbacks.EVENT_DECLINED,
    State.EXPIRED: callbacks.EVENT_EXPIRED,
}
"""Callback event of each final state."""

CALLBACK_SIGNATURES_BUDGET = 256 * 1024
"""Most base64 signature text a callback carries (the outbox's default body limit is 1 MiB)."""


async def create(conn: Connection, op: NewOperation, items: Sequence[NewItem]) -> OperationRow:
    """Insert a new operation with its items."""
    return await repo.insert_operation(conn, op, items)


async def create_pushed(
    conn: Connection, op: NewOperation, items: Sequence[NewItem], devices: DeviceChannel | None
) -> tuple[OperationRow, OperationNotice | None]:
    """``create``; an operation awaiting confirmation is also pushed to ``devices`` in this transaction.

    The notice is stored and announced here (``DeviceChannel.stage_push``); the caller shows it
    (``shown``) once committed. Returns the row and that notice, if any.
    """
    row = await create(conn, op, items)
    if devices is None or row.state != State.AWAITING_CONFIRMATION:
        return row, None
    notice = notice_of(row, items)
    await devices.stage_push(conn, notice)
    return row, notice


async def decide(
    conn: Connection,
    op_id: UUID,
    *,
    user_id: UUID,
    device_id: UUID,
    confirm: bool,
    retain_s: float,
    wake: bool,
    executor: UUID | None = None,
    lease_s: float = 0.0,
    devices: DeviceChannel | None = None,
) -> OperationRow | None:
    """awaiting_confirmation → confirmed (→ executing for ``executor``, see ``repo.decide``) | declined.

    A decline is announced; ``wake`` NOTIFYs the driver; with ``devices`` the notice is withdrawn in
    the same transaction (the caller calls ``withdrawn`` once committed): a decided operation is no
    longer shown.
    """
    row = await repo.decide(
        conn,
        op_id,
        user_id=user_id,
        device_id=device_id,
        confirm=confirm,
        retain_s=retain_s,
        executor=executor,
        lease_s=lease_s,
    )
    if row is not None:
        if State(row.state).finished:
            await announce(conn, row)
        if devices is not None:
            await devices.stage_withdraw(conn, op_id, row.user_id)
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
        await announce(conn, row, results)
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


async def announce(conn: Connection, row: OperationRow, results: Sequence[ItemResult] = ()) -> None:
    """Queue the callback of a finished operation in asynchronous mode (in the finishing transaction)."""
    if row.callback_url is None:
        return
    await callbacks.enqueue(
        conn,
        operation_id=row.id,
        user_id=row.user_id,
        client_id=row.client_id,
        url=row.callback_url,
        event=EVENTS[State(row.state)],
        payload=callback_payload(row, results),
    )


def callback_payload(row: OperationRow, results: Sequence[ItemResult]) -> dict[str, Any]:
    """The JSON a callback carries: the outcome, per-item statuses, and the signatures when small.

    Signatures are included for raw and detached CAdES results while they fit in
    ``CALLBACK_SIGNATURES_BUDGET`` (``results_included`` says whether they are); an attached CMS
    carries the document, which a callback never does. The full results stay at ``href``.
    """
    include = row.format == "raw" or row.detached
    size = sum(len(result.result or b"") for result in results) * 4 // 3
    include = include and size <= CALLBACK_SIGNATURES_BUDGET
    items: list[dict[str, Any]] = []
    for result in results:
        item: dict[str, Any] = {
            "index": result.idx,
            "status": "signed" if result.result is not None else "failed",
        }
        if result.result is not None and include:
            item["signature"] = base64.b64encode(result.result).decode("ascii")
        if result.error_code is not None:
            item["error"] = {"code": result.error_code, "detail": result.error_detail}
        items.append(item)
    return {
        "operation_id": str(row.id),
        "state": row.state,
        "format": row.format,
        "detached": row.detached,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "error": None if row.error is None else {"code": row.error, "detail": row.error_detail},
        "item_count": row.item_count,
        "items": items,
        "results_included": include and bool(results),
        "href": f"/api/v1/operations/{row.id}",
    }
