"""Batched units of the operations layer (``Database.run_batched``): many creations, decisions and
finishes in one statement each, every caller still getting the outcome of its own operation."""

from __future__ import annotations

import uuid

import trio

from actors.operations import State, units
from storage import Database
from storage.repos import operations as repo
from storage.repos.operations import ItemResult, NewItem, NewOperation, OperationRow
from tests.operations.test_keeper import _device, _insert, _user

DIGEST = bytes(range(32))
CALLERS = 12


def _new(user_id: uuid.UUID, *, owner: uuid.UUID, items: int) -> NewOperation:
    return NewOperation(
        id=uuid.uuid4(),
        user_id=user_id,
        client_id=None,
        format="raw",
        detached=False,
        certificate_id=uuid.uuid4(),
        digest_algorithm="streebog256",
        state=State.AWAITING_CONFIRMATION.value,
        policy="device",
        callback_url=None,
        ttl_s=600.0,
        owner_node=owner,
        lease_s=30.0,
    )


async def _items(db: Database, op_id: uuid.UUID) -> list[repo.ItemRow]:
    return await db.run_readonly(repo.get_items, op_id)


async def test_concurrent_creations_each_get_their_own_row_and_items(db: Database) -> None:
    user = await _user(db)
    owner = uuid.uuid4()
    created: dict[int, OperationRow] = {}

    async def create(i: int) -> None:
        new = _new(user, owner=owner, items=i % 3 + 1)
        items = tuple(NewItem(k, f"doc{i}-{k}", "hash", DIGEST, None, f"p{i}") for k in range(i % 3 + 1))
        row, notice = await db.run_batched(units.create_pushed, units.Creation(new, items, None))
        assert notice is None  # no device channel
        assert row.id == new.id
        created[i] = row

    async with trio.open_nursery() as nursery:
        for i in range(CALLERS):
            nursery.start_soon(create, i)
    assert db.group_commits.groups < CALLERS  # some of them shared a statement
    for i, row in created.items():
        assert row.item_count == i % 3 + 1
        items = await _items(db, row.id)
        assert [item.name for item in items] == [f"doc{i}-{k}" for k in range(i % 3 + 1)]
        assert row.state == State.AWAITING_CONFIRMATION
        assert row.owner_node == owner
        assert row.lease_until is not None


async def test_a_confirmation_by_the_lease_holder_goes_on_to_executing(db: Database) -> None:
    user = await _user(db)
    device = await _device(db, user)
    owner = uuid.uuid4()
    mine = await _insert(db, user, owner=owner)
    theirs = await _insert(db, user)  # held by another worker
    decisions = [
        units.Deciding(repo.DecisionIn(op.id, user, device, True, 60.0, owner, 30.0), False, None)
        for op in (mine, theirs)
    ]
    executing, confirmed = await db.run(units.decide_many, decisions)
    assert executing is not None
    assert executing.state == State.EXECUTING
    assert executing.owner_node == owner
    assert executing.decided_by_device == device
    assert executing.decided_at is not None
    assert executing.finished_at is None
    assert executing.lease_until is not None
    assert mine.lease_until is not None
    assert executing.lease_until > mine.lease_until
    assert confirmed is not None
    assert confirmed.state == State.CONFIRMED
    assert confirmed.owner_node == theirs.owner_node
    assert confirmed.lease_until == theirs.lease_until


async def test_only_the_first_of_two_decisions_in_one_batch_is_applied(db: Database) -> None:
    user = await _user(db)
    phone, tablet = await _device(db, user), await _device(db, user)
    row = await _insert(db, user)
    decline = units.Deciding(repo.DecisionIn(row.id, user, phone, False, 60.0), False, None)
    confirm = units.Deciding(repo.DecisionIn(row.id, user, tablet, True, 60.0), False, None)
    first, second = await db.run(units.decide_many, [decline, confirm])
    assert first is not None
    assert first.state == State.DECLINED
    assert first.decided_by_device == phone
    assert first.error == "declined"
    assert first.finished_at is not None
    assert first.retain_until is not None
    assert second is None
    stored = await db.run_readonly(repo.get_documents, row.id)
    assert stored == {}
    notices = await db.run_readonly(repo.get_notice_items, row.id)
    assert [notice.preview for notice in notices] == [None]  # a declined operation keeps no preview


async def test_decisions_for_someone_else_or_after_expiry_are_refused(db: Database) -> None:
    alice, bob = await _user(db, "alice"), await _user(db, "bob")
    device = await _device(db, bob)
    alices = await _insert(db, alice)
    expired = await _insert(db, bob, ttl_s=0.000001)
    batch = [
        units.Deciding(repo.DecisionIn(alices.id, bob, device, True, 60.0), False, None),
        units.Deciding(repo.DecisionIn(expired.id, bob, device, True, 60.0), False, None),
    ]
    assert await db.run(units.decide_many, batch) == [None, None]
    for op in (alices, expired):
        row = await db.run_readonly(repo.get_operation, op.id)
        assert row is not None
        assert row.state == State.AWAITING_CONFIRMATION


async def test_finishes_in_one_statement_store_each_operation_s_own_results(db: Database) -> None:
    user = await _user(db)
    node = uuid.uuid4()
    ops = [await _insert(db, user, state=State.EXECUTING, owner=node, items=2) for _ in range(3)]
    lost = await _insert(db, user, state=State.EXECUTING, items=1)  # held by another worker
    finishes = [
        repo.FinishIn(
            op.id,
            node,
            "completed",
            None,
            None,
            (ItemResult(0, b"s0" + op.id.bytes), ItemResult(1, b"s1" + op.id.bytes)),
            60.0,
        )
        for op in ops
    ]
    finishes.append(repo.FinishIn(lost.id, node, "completed", None, None, (ItemResult(0, b"x"),), 60.0))
    rows = await db.run(units.finish_many, finishes)
    assert rows[-1] is None
    for op, row in zip(ops, rows, strict=False):
        assert row is not None
        assert row.state == State.COMPLETED
        assert row.owner_node is None
        items = await _items(db, op.id)
        assert [item.result for item in items] == [b"s0" + op.id.bytes, b"s1" + op.id.bytes]
    untouched = await _items(db, lost.id)
    assert untouched[0].result is None
