"""``insert_finished_many`` through ``Database.run_batched``: many finished operations, one statement."""

from __future__ import annotations

import dataclasses
import uuid
from uuid import UUID

import trio

from storage import Database
from storage.repos import operations as repo
from storage.repos.finished import FinishedOperation, insert_finished_many
from storage.repos.operations import ItemResult, NewItem, NewOperation
from tests.operations.conftest import MakePerson, StartWorker

CALLERS = 30


def _finished(user_id: UUID, cert_id: UUID, n_items: int, *, failed: bool = False) -> FinishedOperation:
    op = NewOperation(
        id=uuid.uuid4(),
        user_id=user_id,
        client_id=None,
        format="raw",
        detached=False,
        certificate_id=cert_id,
        digest_algorithm="streebog256",
        state="failed" if failed else "completed",
        policy="none",
        callback_url=None,
        ttl_s=60.0,
        owner_node=uuid.uuid4(),
        lease_s=30.0,
    )
    items = [NewItem(i, f"doc{i}.txt", "content", bytes([i + 1]) * 32, None, None) for i in range(n_items)]
    results = [
        ItemResult(i, None, "hsm_failed", "the unit failed") if failed else ItemResult(i, bytes([i]) * 64)
        for i in reversed(range(n_items))  # any order: matched by idx
    ]
    error = ("hsm_failed", "every item failed") if failed else (None, None)
    return FinishedOperation(op, items, results, error=error[0], error_detail=error[1], retain_s=120.0)


async def test_concurrent_finished_operations_share_groups_and_each_is_stored_whole(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    assert alice.certificate_id is not None
    db: Database = worker.services.db
    entries = [
        _finished(alice.id, UUID(alice.certificate_id), 1 + i % 4, failed=i % 7 == 3) for i in range(CALLERS)
    ]
    rows: dict[UUID, repo.OperationRow] = {}
    groups_before = db.group_commits.groups

    async def store(entry: FinishedOperation) -> None:
        rows[entry.op.id] = await db.run_batched(insert_finished_many, entry)

    async with trio.open_nursery() as nursery:
        for entry in entries:
            nursery.start_soon(store, entry)
    assert db.group_commits.groups - groups_before < CALLERS  # they shared groups

    for entry in entries:
        row = rows[entry.op.id]
        assert row.id == entry.op.id
        assert row.state == entry.op.state
        assert row.item_count == len(entry.items)
        assert row.error == entry.error
        assert row.finished_at is not None
        assert row.retain_until is not None
        assert row.owner_node is None
        assert row.lease_until is None
        assert await db.run_readonly(repo.get_operation, entry.op.id) == row
        stored = await db.run_readonly(repo.get_items, entry.op.id)
        by_idx = {result.idx: result for result in entry.results}
        assert [(item.idx, item.name, item.digest, item.result, item.error_code) for item in stored] == [
            (item.idx, item.name, item.digest, by_idx[item.idx].result, by_idx[item.idx].error_code)
            for item in entry.items
        ]


async def test_one_bad_operation_fails_alone(start_worker: StartWorker, make_person: MakePerson) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    assert alice.certificate_id is not None
    db: Database = worker.services.db
    good = [_finished(alice.id, UUID(alice.certificate_id), 2) for _ in range(8)]
    bad = _finished(alice.id, UUID(alice.certificate_id), 1)
    bad = dataclasses.replace(bad, op=dataclasses.replace(bad.op, user_id=uuid.uuid4()))  # no such user
    outcomes: dict[UUID, object] = {}

    async def store(entry: FinishedOperation) -> None:
        try:
            outcomes[entry.op.id] = await db.run_batched(insert_finished_many, entry)
        except Exception as exc:
            outcomes[entry.op.id] = exc

    async with trio.open_nursery() as nursery:
        for entry in [*good[:4], bad, *good[4:]]:
            nursery.start_soon(store, entry)
    assert type(outcomes.pop(bad.op.id)).__name__ == "IntegrityError"
    assert all(isinstance(row, repo.OperationRow) for row in outcomes.values())
    assert await db.run_readonly(repo.get_operation, bad.op.id) is None
