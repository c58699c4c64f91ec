"""``insert_finished_many`` through ``Database.run_batched``: many finished operations, one statement."""

from __future__ import annotations

import dataclasses
import uuid
from uuid import UUID

import trio

from storage import Database
from storage.repos import operations as repo
from storage.repos.finished import FinishedOperation, insert_finished_many
from tests.operations.conftest import MakePerson, StartWorker
from tests.storage.finished_support import finished_operation, store_all

CALLERS = 30


async def test_concurrent_finished_operations_share_groups_and_each_is_stored_whole(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    assert alice.certificate_id is not None
    db: Database = worker.services.db
    certificate_id = UUID(alice.certificate_id)
    entries = [
        finished_operation(alice.id, 1 + i % 4, certificate_id=certificate_id, failed=i % 7 == 3)
        for i in range(CALLERS)
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
    good = [finished_operation(alice.id, 2, certificate_id=UUID(alice.certificate_id)) for _ in range(8)]
    bad = finished_operation(alice.id, 1, certificate_id=UUID(alice.certificate_id))
    bad = dataclasses.replace(bad, op=dataclasses.replace(bad.op, user_id=uuid.uuid4()))  # no such user
    outcomes = await store_all(db, [*good[:4], bad, *good[4:]])
    assert type(outcomes.pop(bad.op.id)).__name__ == "IntegrityError"
    assert all(isinstance(row, repo.OperationRow) for row in outcomes.values())
    assert await db.run_readonly(repo.get_operation, bad.op.id) is None
