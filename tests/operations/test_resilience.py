"""Failures that must lose nothing: an HSM unit killed during batches, a worker that stops while its
operations await confirmation, a decision taken on a device connected to another worker."""

from __future__ import annotations

import os
import signal
import time
from typing import Any
from uuid import UUID, uuid4

import pytest
import trio

from actors.operations import units as operations_units
from actors.sessions import Decision, DeviceDecision, OutcomeStatus
from config.settings import HsmSettings, Settings
from edge.device_cli.client import DeviceClient
from signing.algorithms import digest_algorithm
from signing.x509 import Certificate
from storage.repos import operations as operations_repo
from storage.repos.operations import NewItem, NewOperation
from tests.operations.conftest import (
    FAST_HSM,
    GOST_256,
    MakePerson,
    OpenSSL,
    StartWorker,
    Worker,
    b64,
    enrol,
    on,
    sign,
    unb64,
    wait_state,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Small HSM calls (a batch becomes many calls over both units), so a kill lands mid-batch."""
    return settings.model_copy(update={"hsm": HsmSettings(**{**FAST_HSM, "max_digests_per_call": 25})})


async def test_a_unit_killed_during_batches_loses_nothing(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    assert alice.certificate_pem is not None
    hsm = worker.services.hsm
    hashes = [os.urandom(32) for _ in range(1000)]
    results: dict[int, dict[str, Any]] = {}

    async def batch(index: int) -> None:
        response = await sign(
            worker, alice, items=[{"name": f"h{i}", "hash": b64(digest)} for i, digest in enumerate(hashes)]
        )
        assert response.status_code == 201, response.text
        results[index] = response.json()

    victim = hsm.units()[0]
    assert victim.pid is not None
    killed_while_busy = False
    async with trio.open_nursery() as nursery:
        for index in range(4):
            nursery.start_soon(batch, index)
        with trio.fail_after(10):
            while hsm.units()[0].outstanding == 0:  # noqa: ASYNC110 - watching the pool's accounting
                await trio.sleep(0.0005)
        killed_while_busy = len(results) < 4
        os.kill(victim.pid, signal.SIGKILL)
    assert killed_while_busy
    public = Certificate.load(alice.certificate_pem.encode()).public_key()
    for body in results.values():
        assert body["state"] == "completed"
        assert [item["status"] for item in body["items"]] == ["signed"] * 1000
        for index in (0, 499, 999):
            item = body["items"][index]
            public.verify_digest(hashes[index], unb64(item["signature"]), GOST_256)
    with trio.fail_after(10):
        while hsm.units()[0].pid in (None, victim.pid) or hsm.units()[0].state != "healthy":  # noqa: ASYNC110
            await trio.sleep(0.05)
    assert sum(hsm.counters.retries.values()) >= 1, hsm.counters.snapshot()


async def test_a_stopping_worker_hands_its_pending_operations_over(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    timings = {"lease_s": 2.0, "claim_interval_s": 0.2}
    first = await start_worker(**timings)
    second = await start_worker(**timings)
    alice = await make_person(first, "alice")
    state = await enrol(first, alice)
    created = await sign(
        first, alice, items=[{"name": "a.txt", "content": b64(b"handed over")}], confirmation="device"
    )
    assert created.status_code == 202
    op_id = UUID(created.json()["id"])
    stopped = time.perf_counter()
    first.stop.set()  # the first worker's services stop: its leases are handed back
    with trio.fail_after(5):
        while (await _owner(second, op_id)) != second.ops.node_id:  # noqa: ASYNC110 - polling the table
            await trio.sleep(0.02)
    taken_over = time.perf_counter() - stopped
    async with DeviceClient.connect(on(second, state)) as device:
        shown = await device.next_operation()  # re-pushed by the second worker, which now decides
        assert shown.op_id == op_id
        assert (await device.decide(shown, Decision.CONFIRM))["status"] == "accepted"
    done = await wait_state(second, alice, str(op_id), {"completed"})
    assert done["items"][0]["status"] == "signed"
    print(f"\ntaken over {taken_over * 1000:.0f} ms after the first worker stopped")


async def test_a_decision_reaching_a_worker_that_does_not_drive_the_operation(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    first = await start_worker()
    second = await start_worker()
    alice = await make_person(first, "alice")
    state = await enrol(first, alice)
    created = await sign(first, alice, items=[{"name": "a", "content": b64(b"x")}], confirmation="device")
    op_id = UUID(created.json()["id"])
    # The sink of a worker without the actor applies the decision to the row and wakes the driver.
    decision = DeviceDecision(op_id, alice.id, state.device_id, Decision.CONFIRM)
    assert (await second.ops.on_decision(decision)).status is OutcomeStatus.ACCEPTED
    done = await wait_state(first, alice, str(op_id), {"completed"})
    assert done["decided_by_device"] == str(state.device_id)
    assert (await second.ops.on_decision(decision)).status is OutcomeStatus.ALREADY_DECIDED
    assert (await first.ops.on_decision(decision)).status is OutcomeStatus.ALREADY_DECIDED
    bob = DeviceDecision(op_id, uuid4(), state.device_id, Decision.CONFIRM)
    assert (await first.ops.on_decision(bob)).status is OutcomeStatus.UNKNOWN


async def _owner(worker: Worker, op_id: UUID) -> UUID | None:
    row = await worker.services.db.run_readonly(operations_repo.get_operation, op_id)
    return None if row is None else row.owner_node


async def test_a_decision_on_another_worker_reaches_the_driving_one(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    first = await start_worker()
    second = await start_worker()
    alice = await make_person(first, "alice")
    state = await enrol(first, alice)
    created = await sign(first, alice, items=[{"name": "a", "content": b64(b"x")}], confirmation="device")
    op_id = created.json()["id"]
    async with DeviceClient.connect(on(second, state)) as device:
        shown = await device.next_operation()  # from the lookup: the second worker never pushed it
        assert str(shown.op_id) == op_id
        assert (await device.decide(shown, Decision.CONFIRM))["status"] == "accepted"
    done = await wait_state(first, alice, op_id, {"completed"})
    assert done["decided_by_device"] == str(state.device_id)


async def test_a_rehydrated_execution_signs_what_it_can(
    start_worker: StartWorker, make_person: MakePerson, ossl: OpenSSL
) -> None:
    worker = await start_worker(lease_s=2.0, claim_interval_s=0.1)
    alice = await make_person(worker, "alice")
    assert alice.certificate_id is not None
    db = worker.services.db
    streebog = digest_algorithm("streebog256")

    async def orphan(documents: list[bytes | None]) -> UUID:
        """An attached CAdES operation whose worker died while executing it."""
        new = NewOperation(
            id=uuid4(),
            user_id=alice.id,
            client_id=None,
            format="cades-bes",
            detached=False,
            certificate_id=UUID(alice.certificate_id),
            digest_algorithm="streebog256",
            state="executing",
            policy="none",
            callback_url=None,
            ttl_s=600.0,
            owner_node=uuid4(),
            lease_s=0.000001,
        )
        items = [
            NewItem(i, f"d{i}", "content", streebog.hash(doc or b"lost"), doc, None)
            for i, doc in enumerate(documents)
        ]
        row = await db.run(operations_units.create, new, items)
        return row.id

    partly = await orphan([b"first", None, b"third"])
    nothing = await orphan([None, None])
    done = await wait_state(worker, alice, str(partly), {"completed", "failed"})
    assert done["state"] == "completed"
    assert [item["status"] for item in done["items"]] == ["signed", "failed", "signed"]
    assert done["items"][1]["error"]["code"] == "document_missing"
    ca_path = ossl.write("ca.pem", (await worker.http.get("/api/v1/ca/certificate")).content)
    for index, content in ((0, b"first"), (2, b"third")):
        path = ossl.write(f"s{index}.der", unb64(done["items"][index]["signature"]))
        out = ossl.out(
            "cms", "-verify", "-engine", "gost", "-binary", "-inform", "DER", "-in", path, "-CAfile", ca_path
        )
        assert out == content
    failed = await wait_state(worker, alice, str(nothing), {"completed", "failed"})
    assert failed["state"] == "failed"
    assert failed["error"]["code"] == "document_missing"
    stored = await db.run_readonly(_documents_left, partly)
    assert stored == 0  # documents deleted with the results written


async def _documents_left(conn: Any, op_id: UUID) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM operation_items WHERE operation_id = $1 AND document IS NOT NULL", op_id
    )
    return count
