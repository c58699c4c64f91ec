"""Dispatchers sharing one database: claims, leases, hand-back on stop, wake-ups, transactions."""

from __future__ import annotations

import uuid

import pytest
import trio

from actors.callbacks import DISPATCHER_ID, EVENT_COMPLETED, ClientCallbackKeys, enqueue, open_callbacks
from actors.identity import Identity
from actors.runtime import ActorSystem
from config.settings import Settings
from storage import Database, open_database
from storage.database import Connection
from storage.repos import callbacks as repo
from storage.repos.callbacks import DeliveryState
from tests.callbacks.conftest import FAST, Client, put, running_dispatcher, stats, wait_row
from tests.callbacks.receiver import serve_receiver


class Rollback(Exception):
    """Raised to roll a unit of work back."""


async def test_two_dispatchers_never_deliver_one_row_twice(
    db: Database, pg_settings: Settings, keys: ClientCallbackKeys, client: Client
) -> None:
    settings = FAST.model_copy(update={"max_concurrent": 4})
    count = 40
    async with (
        open_database(pg_settings) as other_db,  # a second worker: its own pool and LISTEN connection
        serve_receiver([200], delay_s=0.03) as receiver,
        running_dispatcher(db, keys, settings, seed=1) as first,
        running_dispatcher(
            other_db,
            ClientCallbackKeys(other_db, Identity.create(pg_settings, other_db).sealer),
            settings,
            seed=2,
        ) as second,
    ):

        async def enqueue_all(conn: Connection) -> list[uuid.UUID]:
            return [
                await enqueue(
                    conn, operation_id=uuid.uuid4(), user_id=None, client_id=client.client_id,
                    url=receiver.url, event=EVENT_COMPLETED, payload={"n": n},
                )
                for n in range(count)
            ]  # fmt: skip

        ids = await db.run(enqueue_all)  # one commit, one NOTIFY: both dispatchers race for the rows
        await receiver.wait_for(count)
        for delivery_id in ids:
            await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DELIVERED)
        a, b = await stats(first), await stats(second)
        await trio.sleep(0.2)  # nothing more arrives

    delivered = [r.headers["x-klyuch-delivery"] for r in receiver.received]
    assert sorted(delivered) == sorted(str(i) for i in ids)  # each row exactly once
    assert receiver.max_in_flight_same_delivery == 1
    assert a.delivered + b.delivered == count
    assert a.delivered > 0, (a, b)
    assert b.delivered > 0, (a, b)
    assert a.stale == b.stale == 0


async def test_a_row_left_delivering_is_reclaimed_after_its_lease(
    db: Database, keys: ClientCallbackKeys, client: Client
) -> None:
    async with serve_receiver() as receiver:
        delivery_id = await put(db, receiver.url, client.client_id)
        # A worker claims the row and dies before recording anything.
        (claimed,) = await db.run(repo.claim_due, "cb-killed-worker", 10, 1.0)
        assert (claimed.id, claimed.state, claimed.attempts) == (delivery_id, DeliveryState.DELIVERING, 1)
        started = trio.current_time()
        async with running_dispatcher(db, keys):
            (got,) = await receiver.wait_for(1)
            final = await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DELIVERED)
    assert got.at - started >= 0.7  # not before the lease ran out
    assert got.document["attempt"] == final.attempts == 2
    assert final.claimed_by != "cb-killed-worker"
    # The dead worker's late outcome is fenced off.
    assert not await db.run(repo.record_retry, delivery_id, "cb-killed-worker", 1, 500, "late", 1.0)
    assert (await db.run_readonly(repo.get_delivery, delivery_id)).state is DeliveryState.DELIVERED


async def test_stopping_hands_claims_in_flight_back(
    db: Database, keys: ClientCallbackKeys, client: Client
) -> None:
    async with serve_receiver([200], delay_s=30) as receiver:
        async with running_dispatcher(db, keys) as ref:
            delivery_id = await put(db, receiver.url, client.client_id)
            await receiver.wait_for(1)
            assert (await stats(ref)).in_flight == 1
        handed_back = await db.run_readonly(repo.get_delivery, delivery_id)
    assert handed_back.state is DeliveryState.PENDING
    assert handed_back.lease_until is None
    assert handed_back.attempts == 1  # the request went out: it counts
    due_in = await db.run_readonly(repo.seconds_until_due)
    assert due_in is not None
    assert due_in <= 0  # due at once, not after the lease


async def test_notify_wakes_an_idle_dispatcher_at_once(
    db: Database, keys: ClientCallbackKeys, client: Client
) -> None:
    settings = FAST.model_copy(update={"poll_interval_s": 60.0})
    async with serve_receiver() as receiver, running_dispatcher(db, keys, settings):
        await trio.sleep(0.2)  # let it fall asleep on an empty outbox
        before = trio.current_time()
        await put(db, receiver.url, client.client_id)
        (got,) = await receiver.wait_for(1, timeout=5)
    assert got.at - before < 2.0


async def test_enqueue_in_a_rolled_back_transaction_delivers_nothing(
    db: Database, keys: ClientCallbackKeys, client: Client
) -> None:
    async with serve_receiver() as receiver, running_dispatcher(db, keys):

        async def completes_then_fails(conn: Connection) -> None:
            await enqueue(
                conn, operation_id=uuid.uuid4(), user_id=None, client_id=client.client_id,
                url=f"{receiver.url}/rolled-back", event=EVENT_COMPLETED, payload={},
            )  # fmt: skip
            raise Rollback

        with pytest.raises(Rollback):
            await db.run(completes_then_fails)
        kept = await put(db, f"{receiver.url}/kept", client.client_id)
        await wait_row(db, kept, lambda r: r.state is DeliveryState.DELIVERED)
        await trio.sleep(FAST.poll_interval_s + 0.2)  # a full poll later, still nothing else
    assert [r.target for r in receiver.received] == ["/kept"]


async def test_open_callbacks_runs_the_supervised_dispatcher(
    db: Database, keys: ClientCallbackKeys, client: Client
) -> None:
    system = ActorSystem("test-callbacks-service")
    async with (
        serve_receiver() as receiver,
        open_callbacks(FAST, system=system, db=db, keys=keys) as supervisor,
    ):
        children = await supervisor.which_children()
        assert [c.id for c in children] == [DISPATCHER_ID]
        delivery_id = await put(db, receiver.url, client.client_id)
        await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DELIVERED)
        assert (await stats(system.lookup(DISPATCHER_ID))).delivered == 1
    assert system.whereis(DISPATCHER_ID) is None
