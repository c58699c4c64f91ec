"""Two workers on one database (two processes' worth of pools, actor systems and hubs): pushes,
decisions, replacements and revocations cross between them through LISTEN/NOTIFY only."""

from __future__ import annotations

from typing import Any

import trio

from actors.identity.server_secret import load_server_secret
from actors.runtime import ActorSystem
from actors.sessions import Decision, SessionOptions, start_sessions
from config.settings import Settings
from edge.device_cli.client import DeviceClient
from storage import Database
from tests.devices.conftest import (
    TEST_OPTIONS,
    OpsBook,
    Person,
    StartWorker,
    Worker,
    enrol,
    expect,
    on,
    wait_until,
)
from tests.devices.test_channel import closed_with, pong


async def two_workers(start_worker: StartWorker, make_person: Any) -> tuple[Worker, Worker, Person]:
    one = await start_worker()
    two = await start_worker()
    assert one.hub.node_id != two.hub.node_id
    return one, two, await make_person(one, "alice")


async def test_push_from_one_worker_decision_reaches_its_owner(
    start_worker: StartWorker, make_person: Any
) -> None:
    one, two, alice = await two_workers(start_worker, make_person)
    state, _ = await enrol(one, alice)
    async with DeviceClient.connect(on(one, state)) as client:  # the socket lives in worker one
        await pong(client)
        notice = two.book.create(alice.id, items=2)  # the operation lives in worker two
        await two.hub.push(notice)
        shown = await client.next_operation()
        assert shown.items == notice.items
        answer = await client.decide(shown, Decision.CONFIRM)
    assert answer["status"] == "accepted"
    assert [d.op_id for d in two.book.decisions] == [notice.op_id]
    assert one.book.decisions == [], "the decision went to the owner, not to the worker holding the socket"
    assert two.book.ops[notice.op_id].state == "confirmed"


async def test_withdraw_from_the_owner_reaches_the_device(
    start_worker: StartWorker, make_person: Any
) -> None:
    one, two, alice = await two_workers(start_worker, make_person)
    state, _ = await enrol(one, alice)
    async with DeviceClient.connect(on(one, state)) as client:
        await pong(client)
        notice = two.book.create(alice.id)
        await two.hub.push(notice)
        await client.next_operation()
        await two.hub.withdraw(notice.op_id)
        assert (await expect(client, "withdrawn"))["op_id"] == str(notice.op_id)


async def test_a_connection_to_another_worker_replaces_the_first(
    start_worker: StartWorker, make_person: Any
) -> None:
    one, two, alice = await two_workers(start_worker, make_person)
    state, _ = await enrol(one, alice)
    async with DeviceClient.connect(on(one, state)) as first:
        await pong(first)
        async with DeviceClient.connect(on(two, state)) as second:
            error, code = await closed_with(first)
            assert (error["code"], code) == ("replaced", 4000)
            await pong(second)
    snapshot = await one.hub.snapshot(alice.id)
    assert snapshot is None or state.device_id not in snapshot.devices


async def test_revocation_in_one_worker_closes_the_socket_in_the_other(
    start_worker: StartWorker, make_person: Any
) -> None:
    one, two, alice = await two_workers(start_worker, make_person)
    state, _ = await enrol(one, alice)
    async with DeviceClient.connect(on(one, state)) as client:
        await pong(client)
        response = await two.http.delete(f"/api/v1/devices/{state.device_id}", headers=alice.headers)
        assert response.status_code == 204
        error, code = await closed_with(client)
    assert (error["code"], code) == ("device_revoked", 4003)


async def test_a_gone_owner_answers_unavailable_and_the_device_may_retry(
    start_worker: StartWorker, make_person: Any, settings: Settings, db: Database
) -> None:
    one = await start_worker(options=SessionOptions(remote_decision_timeout_s=0.5))
    alice = await make_person(one, "alice")
    state, _ = await enrol(one, alice)
    owner_book = OpsBook()
    async with DeviceClient.connect(state) as client:
        await pong(client)
        async with trio.open_nursery() as nursery:  # an owner that pushes and then goes away
            owner = await start_sessions(
                nursery,
                system=ActorSystem("gone"),
                db=db,
                sink=owner_book,
                pending=owner_book,
                server_secret=load_server_secret(settings),
                options=TEST_OPTIONS,
            )
            notice = owner_book.create(alice.id)
            await owner.push(notice)
            await owner.aclose()
        shown = await client.next_operation()
        answer = await client.decide(shown, Decision.CONFIRM)
        assert answer == {
            "type": "outcome",
            "op_id": str(notice.op_id),
            "status": "rejected",
            "reason": "unavailable",
        }
        again = await client.next_operation()  # shown again with a fresh nonce
        assert again.op_id == notice.op_id
        assert again.nonce != shown.nonce
        # The operation is re-hydrated in worker one (its sink now knows it) and re-pushed from there.
        one.book.ops[notice.op_id] = owner_book.ops[notice.op_id]
        await one.hub.push(notice)
        assert (await client.decide(again, Decision.CONFIRM))["status"] == "accepted"
    assert owner_book.decisions == []
    assert [d.op_id for d in one.book.decisions] == [notice.op_id]


async def test_relay_listens_again_after_its_connection_is_lost(
    start_worker: StartWorker, make_person: Any, db: Database
) -> None:
    one, two, alice = await two_workers(start_worker, make_person)
    state, _ = await enrol(one, alice)
    async with DeviceClient.connect(on(one, state)) as client:
        await pong(client)
        lookups = one.book.lookups
        killed = await db.run(_kill_listen_connections)
        assert killed == 2  # one per worker
        # The relays crash, are restarted by their supervisor, LISTEN again, then make each session
        # re-read what it may have missed (one more lookup in worker one).
        await wait_until(lambda: one.book.lookups > lookups, within=10)
        notice = two.book.create(alice.id)
        await two.hub.push(notice)
        shown = await client.next_operation()
        assert shown.op_id == notice.op_id
        assert (await client.decide(shown, Decision.CONFIRM))["status"] == "accepted"
    assert [d.op_id for d in two.book.decisions] == [notice.op_id]


async def _kill_listen_connections(conn: Any) -> int:
    count: int = await conn.fetchval(
        """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
           WHERE application_name = 'klyuch-listen' AND datname = current_database()"""
    )
    return count
