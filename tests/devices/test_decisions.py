"""Operations pushed to devices and decided on them: exactly once, and never by replay, forgery or
another user's device."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import trio

from actors.sessions import Decision, NoticeItem, OperationNotice
from edge.device_cli.client import DeviceClient, ShownOperation
from tests.devices.conftest import AuditLog, Person, Worker, enrol, expect, wait_until


async def connected(worker: Worker, client: DeviceClient, person: Person) -> None:
    """Wait until the session holds the connection (a ping answered means the reader runs)."""
    await client.send({"type": "ping"})
    with trio.fail_after(5):
        while (await client.receive_raw())["type"] != "pong":
            pass
    snapshot = await worker.hub.snapshot(person.id)
    assert snapshot is not None


async def test_push_decide_accepted_exactly_once(worker: Worker, alice: Person, audit_log: AuditLog) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        await connected(worker, client, alice)
        notice = worker.book.create(alice.id, items=3)
        await worker.hub.push(notice)
        shown = await client.next_operation()
        assert shown.op_id == notice.op_id
        assert shown.items == notice.items
        assert shown.expires_at == notice.expires_at
        answer = await client.decide(shown, Decision.CONFIRM)
        assert answer == {"type": "outcome", "op_id": str(notice.op_id), "status": "accepted"}
    assert worker.book.ops[notice.op_id].state == "confirmed"
    assert [(d.op_id, d.device_id, d.decision) for d in worker.book.decisions] == [
        (notice.op_id, state.device_id, Decision.CONFIRM)
    ]
    [event] = audit_log.named("audit_device_decision")
    assert event["outcome"] == "accepted"
    assert "mac" not in event
    assert "nonce" not in event


async def test_decline(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        await connected(worker, client, alice)
        notice = worker.book.create(alice.id)
        await worker.hub.push(notice)
        answer = await client.decide(await client.next_operation(), Decision.DECLINE)
    assert answer["status"] == "accepted"
    assert worker.book.ops[notice.op_id].state == "declined"


async def test_pending_operations_are_shown_on_connect(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    waiting = worker.book.create(alice.id)  # awaiting before the device connects; never pushed
    async with DeviceClient.connect(state) as client:
        shown = await client.next_operation()
        assert shown.op_id == waiting.op_id
        assert (await client.decide(shown, Decision.CONFIRM))["status"] == "accepted"


async def test_pushed_notices_survive_a_reconnect(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        await connected(worker, client, alice)
        notice = worker.book.create(alice.id)
        await worker.hub.push(notice)
        first = await client.next_operation()
    async with DeviceClient.connect(state) as client:
        again = await client.next_operation()
        assert again.op_id == notice.op_id
        assert again.nonce != first.nonce, "every push to a device has a fresh nonce"
        # The nonce of the first connection is spent with it.
        await client.send(client.decision_message(again, Decision.CONFIRM, nonce=first.nonce))
        assert (await client.answer_for(notice.op_id))["code"] == "bad_nonce"
        assert (await client.decide(again, Decision.CONFIRM))["status"] == "accepted"


async def test_replayed_decision_nonce_is_rejected(
    worker: Worker, alice: Person, audit_log: AuditLog
) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        await connected(worker, client, alice)
        notice = worker.book.create(alice.id)
        await worker.hub.push(notice)
        shown = await client.next_operation()
        message = client.decision_message(shown, Decision.CONFIRM)
        await client.send(message)
        assert (await client.answer_for(notice.op_id))["status"] == "accepted"
        await client.send(message)
        error = await client.answer_for(notice.op_id)
    assert error["type"] == "error"
    assert error["code"] == "replayed_nonce"
    assert len(worker.book.decisions) == 1
    assert [e["reason"] for e in audit_log.named("audit_device_decision_rejected")] == ["replayed_nonce"]


async def test_forged_macs_are_rejected_then_the_connection_closes(
    worker: Worker, alice: Person, audit_log: AuditLog
) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        await connected(worker, client, alice)
        notice = worker.book.create(alice.id)
        await worker.hub.push(notice)
        shown = await client.next_operation()
        good = client.decision_message(shown, Decision.CONFIRM)
        forgeries: list[dict[str, Any]] = [
            {**good, "mac": os.urandom(32).hex()},
            {**good, "decision": "decline"},  # MAC made for confirm
            client.decision_message(_with_other_digest(shown), Decision.CONFIRM),  # what was not shown
        ]
        for forged in forgeries:
            await client.send(forged)
            error = await client.answer_for(notice.op_id)
            assert error["code"] == "bad_mac"
        closed = await expect(client, "error")  # the third in a row also closes the connection
        assert closed["code"] == "bad_mac"
    assert worker.book.decisions == []
    reasons = [e["reason"] for e in audit_log.named("audit_device_decision_rejected")]
    assert reasons == ["bad_mac"] * 3


def _with_other_digest(shown: ShownOperation) -> ShownOperation:
    item = shown.items[0]
    other = NoticeItem(item.name, "00" * 32, item.digest_algorithm, item.preview_text)
    return ShownOperation(shown.op_id, (other,), shown.nonce, shown.created_at, shown.expires_at)


async def test_a_good_mac_after_a_bad_one_still_works(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        await connected(worker, client, alice)
        notice = worker.book.create(alice.id)
        await worker.hub.push(notice)
        shown = await client.next_operation()
        await client.send({**client.decision_message(shown, Decision.CONFIRM), "mac": "00" * 32})
        assert (await client.answer_for(notice.op_id))["code"] == "bad_mac"
        assert (await client.decide(shown, Decision.CONFIRM))["status"] == "accepted"


async def test_a_device_cannot_decide_another_users_operation(
    worker: Worker, alice: Person, bob: Person, audit_log: AuditLog
) -> None:
    alice_state, _ = await enrol(worker, alice)
    bob_state, _ = await enrol(worker, bob)
    async with DeviceClient.connect(bob_state) as bobs, DeviceClient.connect(alice_state) as alices:
        await connected(worker, bobs, bob)
        await connected(worker, alices, alice)
        notice = worker.book.create(bob.id)
        await worker.hub.push(notice)
        bobs_view = await bobs.next_operation()
        # Alice's device quotes Bob's operation, even with the nonce Bob's device was given.
        stolen = ShownOperation(
            notice.op_id, notice.items, bobs_view.nonce, notice.created_at, notice.expires_at
        )
        await alices.send(alices.decision_message(stolen, Decision.CONFIRM))
        error = await alices.answer_for(notice.op_id)
        assert error["code"] == "unknown_operation"
        await wait_until(lambda: bool(audit_log.named("audit_device_decision_rejected")))
        # Bob's own decision is unaffected.
        assert (await bobs.decide(bobs_view, Decision.CONFIRM))["status"] == "accepted"
    assert [(d.user_id, d.device_id) for d in worker.book.decisions] == [(bob.id, bob_state.device_id)]
    [event] = audit_log.named("audit_device_decision_rejected")
    assert event["reason"] == "foreign_operation"
    assert event["device_id"] == str(alice_state.device_id)


async def test_unknown_and_expired_operations(worker: Worker, alice: Person, audit_log: AuditLog) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        await connected(worker, client, alice)
        now = datetime.now(UTC)
        items = (NoticeItem("ghost.txt", "11" * 32, "streebog256", ""),)
        ghost = ShownOperation(uuid4(), items, os.urandom(32), now, now + timedelta(seconds=60))
        await client.send(client.decision_message(ghost, Decision.CONFIRM))
        assert (await client.answer_for(ghost.op_id))["code"] == "unknown_operation"

        soon = worker.book.create(alice.id, ttl_s=0.3)
        await worker.hub.push(soon)
        shown = await _operation(client, soon)
        await trio.sleep(0.4)
        error = await client.decide(shown, Decision.CONFIRM)
        assert error["code"] == "operation_expired"
    assert all(d.op_id != soon.op_id for d in worker.book.decisions), "expired: the sink is not asked"
    assert "operation_expired" in [e["reason"] for e in audit_log.named("audit_device_decision_rejected")]


async def _operation(client: DeviceClient, notice: OperationNotice) -> ShownOperation:
    while True:
        shown = await client.next_operation()
        if shown.op_id == notice.op_id:
            return shown


async def test_sink_outcomes_reach_the_device(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        await connected(worker, client, alice)
        notice = worker.book.create(alice.id)
        await worker.hub.push(notice)
        shown = await client.next_operation()
        worker.book.ops[notice.op_id].state = "confirmed"  # decided elsewhere, withdrawal not yet here
        answer = await client.decide(shown, Decision.CONFIRM)
    assert answer == {
        "type": "outcome",
        "op_id": str(notice.op_id),
        "status": "rejected",
        "reason": "already_decided",
    }


async def test_two_devices_one_decision(worker: Worker, alice: Person) -> None:
    phone, _ = await enrol(worker, alice, "phone")
    tablet, _ = await enrol(worker, alice, "tablet")
    async with DeviceClient.connect(phone) as first, DeviceClient.connect(tablet) as second:
        await connected(worker, first, alice)
        await connected(worker, second, alice)
        notice = worker.book.create(alice.id)
        await worker.hub.push(notice)
        on_first, on_second = await first.next_operation(), await second.next_operation()
        assert on_first.nonce != on_second.nonce
        assert (await first.decide(on_first, Decision.CONFIRM))["status"] == "accepted"
        withdrawn = await expect(second, "withdrawn")
        assert withdrawn == {"type": "withdrawn", "op_id": str(notice.op_id), "reason": "decided"}
        await second.send(second.decision_message(on_second, Decision.DECLINE))
        assert (await second.answer_for(notice.op_id))["code"] == "replayed_nonce"
    assert len(worker.book.decisions) == 1


async def test_withdraw_takes_the_operation_off(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        await connected(worker, client, alice)
        notice = worker.book.create(alice.id)
        await worker.hub.push(notice)
        shown = await client.next_operation()
        await worker.hub.withdraw(notice.op_id)
        assert (await expect(client, "withdrawn"))["op_id"] == str(notice.op_id)
        await client.send(client.decision_message(shown, Decision.CONFIRM))
        assert (await client.answer_for(notice.op_id))["code"] == "replayed_nonce"
        await worker.hub.push(notice)  # withdrawing is final for an op id
        with trio.move_on_after(0.3):
            await client.next_operation()
            raise AssertionError("a withdrawn operation came back")
    assert worker.book.decisions == []


async def test_withdrawing_an_operation_only_known_through_the_lookup(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    waiting = worker.book.create(alice.id)  # never pushed: no stored notice names its user
    async with DeviceClient.connect(state) as client:
        assert (await client.next_operation()).op_id == waiting.op_id
        await worker.hub.withdraw(waiting.op_id)
        assert (await expect(client, "withdrawn"))["op_id"] == str(waiting.op_id)


async def test_expired_operations_are_not_shown_to_a_new_connection(worker: Worker, alice: Person) -> None:
    phone, _ = await enrol(worker, alice, "phone")
    tablet, _ = await enrol(worker, alice, "tablet")
    async with DeviceClient.connect(phone) as first:
        await connected(worker, first, alice)
        brief = worker.book.create(alice.id, ttl_s=0.3)
        await worker.hub.push(brief)
        await first.next_operation()
        await trio.sleep(0.4)  # expired, and (in this test) never withdrawn by the operations layer
        async with DeviceClient.connect(tablet) as second:
            assert (await expect(first, "withdrawn")) == {
                "type": "withdrawn",
                "op_id": str(brief.op_id),
                "reason": "expired",
            }
            await connected(worker, second, alice)
            with trio.move_on_after(0.2):
                await second.next_operation()
                raise AssertionError("an expired operation was shown")
