"""The persisted state machine underneath the actors: guarded transitions, claims, re-hydration,
expiry on trio timers (under a mock clock), retention."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from actors.hsmpool import Balancer
from actors.operations import OperationsOptions, OperationsService, State, start_operations, units
from actors.runtime import ActorSystem
from storage import Database
from storage.repos import devices as devices_repo
from storage.repos import identity as identity_repo
from storage.repos import operations as repo
from storage.repos.operations import NewItem, NewOperation, OperationRow

DIGEST = bytes(range(32))


@pytest.fixture
def clock() -> trio.testing.MockClock:
    """Virtual time that jumps ahead whenever every task waits (database calls take real time, so
    a short threshold lets them finish before the clock jumps)."""
    return trio.testing.MockClock(autojump_threshold=0.01)


async def _user(db: Database, name: str = "alice") -> uuid.UUID:
    row = await db.run(identity_repo.insert_user, identity_repo.NewUser(username=name, role="user"))
    return row.id


async def _device(db: Database, user_id: uuid.UUID) -> uuid.UUID:
    device_id = uuid.uuid4()
    await db.run(devices_repo.insert_device, device_id, user_id, "phone", b"\x01sealed")
    return device_id


async def _poll(
    db: Database, op_id: uuid.UUID, done: Callable[[OperationRow], bool], *, within: float, every: float
) -> OperationRow:
    """Re-read the row until ``done`` holds (another task changes it; no event to wait on)."""
    with trio.fail_after(within):
        while True:
            row = await db.run_readonly(repo.get_operation, op_id)
            assert row is not None
            if done(row):
                return row
            await trio.sleep(every)


async def _insert(
    db: Database,
    user_id: uuid.UUID,
    *,
    state: State = State.AWAITING_CONFIRMATION,
    owner: uuid.UUID | None = None,
    lease_s: float = 30.0,
    ttl_s: float = 600.0,
    items: int = 1,
) -> OperationRow:
    new = NewOperation(
        id=uuid.uuid4(),
        user_id=user_id,
        client_id=None,
        format="raw",
        detached=False,
        certificate_id=uuid.uuid4(),
        digest_algorithm="streebog256",
        state=state.value,
        policy="device" if state is not State.EXECUTING else "none",
        callback_url=None,
        ttl_s=ttl_s,
        owner_node=owner or uuid.uuid4(),
        lease_s=lease_s,
    )
    rows = [NewItem(i, f"d{i}", "hash", DIGEST, None, "") for i in range(items)]
    return await db.run(units.create, new, rows)


@dataclass
class Running:
    service: OperationsService
    system: ActorSystem


@pytest.fixture
async def running(db: Database) -> AsyncIterator[Any]:
    """``await running(**option_overrides) -> Running``: an operations service without HSM units or
    devices (an empty pool: nothing here signs), stopped at the end of the test."""
    started: list[Running] = []

    async with trio.open_nursery() as nursery:

        async def start(**overrides: Any) -> Running:
            options = OperationsOptions(**overrides)
            system = ActorSystem("keeper-test")
            service = await start_operations(nursery, system=system, db=db, hsm=Balancer([]), options=options)
            started.append(Running(service, system))
            return started[-1]

        yield start
        for run in started:
            await run.service.aclose()
        nursery.cancel_scope.cancel()


async def test_an_orphan_is_claimed_and_expires_on_its_timer(
    db: Database, running: Any, clock: trio.testing.MockClock
) -> None:
    user = await _user(db)
    orphan = await _insert(db, user, lease_s=0.000001, ttl_s=600.0)  # its worker died: the lease lapsed
    real_start, virtual_start = time.monotonic(), trio.current_time()
    run: Running = await running(lease_s=30.0, claim_interval_s=10.0)
    row = await _poll(db, orphan.id, lambda row: row.owner_node == run.service.node_id, within=60, every=0.01)
    assert row.state == "awaiting_confirmation"
    view = await run.service.wait(orphan.id, timeout_s=700)  # the actor reports its end
    assert view is not None
    row = view.row
    waited = trio.current_time() - virtual_start
    assert 590 <= waited <= 620, waited  # the TTL counted on trio's (virtual) clock
    assert time.monotonic() - real_start < 20
    assert row.error == "expired"
    assert row.finished_at is not None
    assert row.retain_until is not None
    assert row.owner_node == run.service.node_id  # expired by its new driver
    assert run.system.whereis(f"op:{orphan.id}") is None  # and the actor stopped


async def test_one_decision_wins(db: Database) -> None:
    user = await _user(db)
    row = await _insert(db, user)
    outcomes: list[OperationRow | None] = []

    device = await _device(db, user)

    async def decide(confirm: bool) -> None:
        unit = partial(repo.decide, user_id=user, device_id=device, confirm=confirm, retain_s=60.0)
        outcomes.append(await db.run(unit, row.id))

    async with trio.open_nursery() as nursery:
        for confirm in (True, False, True, False):
            nursery.start_soon(decide, confirm)
    winners = [outcome for outcome in outcomes if outcome is not None]
    assert len(winners) == 1
    final = await db.run_readonly(repo.get_operation, row.id)
    assert final is not None
    assert final.state == winners[0].state
    # Someone else's decision, or one on an expired operation, never applies.
    other = await _insert(db, user)
    stranger = partial(repo.decide, user_id=uuid.uuid4(), device_id=device, confirm=True, retain_s=60.0)
    assert await db.run(stranger, other.id) is None
    late = await _insert(db, user, ttl_s=0.000001)
    owner = partial(repo.decide, user_id=user, device_id=device, confirm=True, retain_s=60.0)
    assert await db.run(owner, late.id) is None


async def test_workers_claiming_at_once_take_disjoint_operations(db: Database) -> None:
    user = await _user(db)
    made = {(await _insert(db, user, lease_s=0.000001)).id for _ in range(30)}
    taken: dict[uuid.UUID, set[uuid.UUID]] = {}

    async def claim(node: uuid.UUID) -> None:
        unit = partial(repo.claim_orphans, node=node, lease_s=30.0, limit=12)
        taken[node] = {row.id for row in await db.run(unit)}

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(claim, uuid.uuid4())
    sets = list(taken.values())
    claimed = set().union(*sets)
    assert sum(len(s) for s in sets) == len(claimed)  # nobody took a row twice
    # What is left (SKIP LOCKED may have skipped rows locked by a concurrent claim) goes to the next
    # claim; rows under a live lease are never taken again.
    rest = {
        row.id
        for row in await db.run(partial(repo.claim_orphans, node=uuid.uuid4(), lease_s=30.0, limit=100))
    }
    assert rest == made - claimed


async def test_execution_is_fenced_by_the_lease_holder(db: Database) -> None:
    user = await _user(db)
    node, intruder = uuid.uuid4(), uuid.uuid4()
    row = await _insert(db, user, state=State.EXECUTING, owner=node)
    finish = partial(
        repo.finish_execution, state="completed", error=None, error_detail=None, results=[], retain_s=60.0
    )
    assert await db.run(partial(finish, node=intruder), row.id) is None
    assert await db.run(partial(repo.start_execution, node=intruder, lease_s=30.0), row.id) is None
    done = await db.run(partial(finish, node=node), row.id)
    assert done is not None
    assert done.state == "completed"
    assert done.owner_node is None
    assert await db.run(partial(finish, node=node), row.id) is None  # finished once only


async def test_finished_operations_are_deleted_after_their_retention(db: Database, running: Any) -> None:
    user = await _user(db)
    kept = await _insert(db, user)
    doomed = await _insert(db, user)
    await db.run(partial(units.expire, retain_s=0.000001), doomed.id)
    await db.run(partial(units.expire, retain_s=3600.0), kept.id)
    await running(sweep_interval_s=0.05, claim_interval_s=0.05, lease_s=1.0)
    with trio.fail_after(5):
        while await db.run_readonly(repo.get_operation, doomed.id) is not None:  # noqa: ASYNC110 - polling
            await trio.sleep(0.02)
    assert await db.run_readonly(repo.get_items, doomed.id) == []
    still = await db.run_readonly(repo.get_operation, kept.id)
    assert still is not None
    assert still.state == "expired"
