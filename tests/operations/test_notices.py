"""The device notice of an operation is stored with the operation's row and withdrawn with the
decision, in the same transactions (no notice without its operation, none left after a decision)."""

from __future__ import annotations

from uuid import UUID

from actors.sessions import Decision
from edge.device_cli.client import DeviceClient
from storage.repos import devices as devices_repo
from tests.operations.conftest import MakePerson, StartWorker, b64, connected, enrol, sign, wait_state


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
