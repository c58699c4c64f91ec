"""The device notice of an operation is stored with the operation's row and withdrawn with the
decision, in the same transactions (no notice without its operation, none left after a decision)."""

from __future__ import annotations

from uuid import UUID

import trio

from actors.sessions import Decision
from edge.device_cli.client import DeviceClient, ShownOperation
from storage.repos import devices as devices_repo
from tests.operations.conftest import MakePerson, StartWorker, b64, connected, enrol, on, sign, wait_state


async def test_the_notice_is_stored_with_the_operation_and_gone_after_the_decision(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker = await start_worker()
    db = worker.services.db
    alice = await make_person(worker, "alice")
    state = await enrol(worker, alice)
    async with DeviceClient.connect(state) as device:
        await connected(device)
        created = await sign(
            worker,
            alice,
            format="raw",
            items=[{"name": "a.txt", "content": b64(b"pay 1")}],
            confirmation="device",
        )
        assert created.status_code == 202, created.text
        op_id = UUID(created.json()["id"])
        stored = await db.run_readonly(devices_repo.get_notice, op_id)  # committed before the 202
        assert stored is not None
        assert stored.owner_node == worker.services.sessions.node_id
        shown = await device.next_operation()
        assert shown.op_id == op_id
        answer = await device.decide(shown, Decision.CONFIRM)
        assert answer["status"] == "accepted", answer
        assert await db.run_readonly(devices_repo.get_notice, op_id) is None  # withdrawn with it
    done = await wait_state(worker, alice, str(op_id), {"completed", "failed"})
    assert done["state"] == "completed", done


async def test_operations_confirmed_on_another_worker_as_soon_as_shown_all_complete(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    """The notice reaches the other worker with the row's commit, possibly before the creating
    worker's actor runs: the decision routed back to it must wait for that actor, not get lost."""
    first = await start_worker()
    second = await start_worker()
    alice = await make_person(first, "alice")
    state = await enrol(first, alice)
    count = 12
    created: list[str] = []
    async with DeviceClient.connect(on(second, state)) as device:
        await connected(device)

        async def create(i: int) -> None:
            items = [{"name": f"d{i}", "content": b64(b"x%d" % i)}]
            response = await sign(first, alice, items=items, confirmation="device")
            assert response.status_code == 202, response.text
            created.append(response.json()["id"])

        async def confirm_all() -> None:
            # Decide each operation the moment it is shown (``decide`` would skip the ones shown
            # while it waits for its answer).
            accepted = 0
            while accepted < count:
                message = await device.receive()
                if message["type"] == "operation":
                    shown = ShownOperation.parse(message)
                    await device.send(device.decision_message(shown, Decision.CONFIRM))
                elif message["type"] == "outcome":
                    assert message["status"] == "accepted", message
                    accepted += 1

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(confirm_all)
                for i in range(count):
                    nursery.start_soon(create, i)
    for op_id in created:
        done = await wait_state(first, alice, op_id, {"completed", "failed"}, within=5.0)
        assert done["state"] == "completed", done
