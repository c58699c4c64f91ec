"""Who may see, list, delete and create which operations; the confirmation policy."""

from __future__ import annotations

import structlog

from actors.identity import Identity, clients
from actors.sessions import Decision
from config.settings import Settings
from edge.device_cli.client import DeviceClient
from storage import Database
from tests.operations.conftest import (
    MakePerson,
    StartWorker,
    b64,
    connected,
    enrol,
    sign,
    wait_state,
)


async def test_someone_elses_operation_looks_missing(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    bob = await make_person(worker, "bob")
    created = await sign(worker, alice, items=[{"name": "a", "content": b64(b"a")}])
    op_id = created.json()["id"]
    missing = "00000000-0000-4000-8000-000000000000"
    for path in (f"/operations/{op_id}", f"/operations/{missing}"):
        got = await worker.call("GET", path, bob.headers)
        assert got.status_code == 404, got.text
        assert got.json()["code"] == "not_found"
        deleted = await worker.call("DELETE", path, bob.headers)
        assert deleted.status_code == 404
    assert got.json()["detail"] == f"operation {missing} not found"
    with structlog.testing.capture_logs() as events:
        foreign = await worker.call("GET", f"/operations/{op_id}", bob.headers)
    assert foreign.json()["detail"] == f"operation {op_id} not found"
    # The refusal is audited as what it is, though it answers like a missing object.
    [denied] = [event for event in events if event["event"] == "audit_access_denied"]
    assert (denied["denial"], denied["user_id"], denied["path"]) == (
        "NotOwnerError",
        str(bob.id),
        f"/api/v1/operations/{op_id}",
    )
    assert (await worker.call("GET", "/operations", bob.headers)).json() == {"items": [], "next_cursor": None}
    # Bob cannot sign with Alice's certificate either: it looks missing to him.
    stolen = await sign(
        worker, bob, certificate_id=alice.certificate_id, items=[{"name": "a", "content": b64(b"a")}]
    )
    assert stolen.status_code == 404, stolen.text
    assert (await worker.call("GET", f"/operations/{op_id}", alice.headers)).status_code == 200


async def test_list_pages_and_delete(start_worker: StartWorker, make_person: MakePerson) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    made = []
    for index in range(5):
        response = await sign(worker, alice, items=[{"name": f"d{index}", "content": b64(bytes([index]))}])
        made.append(response.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await worker.call("GET", "/operations", alice.headers, params=params)).json()
        assert all(item["items"] is None for item in page["items"])
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
    bad = await worker.call("GET", "/operations", alice.headers, params={"cursor": "nonsense"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"

    gone = await worker.call("DELETE", f"/operations/{made[0]}", alice.headers)
    assert gone.status_code == 204
    assert (await worker.call("GET", f"/operations/{made[0]}", alice.headers)).status_code == 404
    assert (await worker.call("DELETE", f"/operations/{made[0]}", alice.headers)).status_code == 404


async def test_deleting_a_pending_operation_cancels_it_on_the_devices(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    state = await enrol(worker, alice)
    async with DeviceClient.connect(state) as device:
        await connected(device)
        created = await sign(
            worker, alice, items=[{"name": "a", "content": b64(b"a")}], confirmation="device"
        )
        shown = await device.next_operation()
        deleted = await worker.call("DELETE", f"/operations/{shown.op_id}", alice.headers)
        assert deleted.status_code == 204
        while (message := await device.receive())["type"] != "withdrawn":
            pass
        assert message["op_id"] == str(shown.op_id)
        late = await device.decide(shown, Decision.CONFIRM)
        assert late["type"] == "error" or late["status"] == "rejected"
    assert (await worker.call("GET", f"/operations/{created.json()['id']}", alice.headers)).status_code == 404


async def test_confirmation_policy_clients_only(
    start_worker: StartWorker, make_person: MakePerson, settings: Settings, db: Database
) -> None:
    worker = await start_worker(no_confirmation_for="clients")
    alice = await make_person(worker, "alice")
    item = [{"name": "a", "content": b64(b"a")}]
    refused = await sign(worker, alice, items=item, confirmation="none")
    assert refused.status_code == 403
    assert refused.json()["code"] == "confirmation_required"
    by_default = await sign(worker, alice, items=item)
    assert by_default.status_code == 202
    assert by_default.json()["confirmation"] == "device"

    identity = Identity.create(settings, db)
    erp = await clients.create_client(identity, None, name="erp", user_id=alice.id)
    token = await worker.http.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": erp.client.client_id,
            "client_secret": erp.client_secret,
        },
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    signed = await worker.call("POST", "/operations", headers, json={"format": "raw", "items": item})
    assert signed.status_code == 201, signed.text
    assert signed.json()["confirmation"] == "none"
    assert signed.json()["state"] == "completed"
    # The client acts for Alice: she sees the operation as hers.
    assert (await worker.call("GET", f"/operations/{signed.json()['id']}", alice.headers)).status_code == 200

    unbound = await clients.create_client(identity, None, name="registry")
    token = await worker.http.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": unbound.client.client_id,
            "client_secret": unbound.client_secret,
        },
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    nobody = await worker.call("POST", "/operations", headers, json={"format": "raw", "items": item})
    assert nobody.status_code == 403
    assert nobody.json()["code"] == "operation_needs_user"


async def test_a_user_without_a_certificate(start_worker: StartWorker, make_person: MakePerson) -> None:
    worker = await start_worker()
    carol = await make_person(worker, "carol", certificate=False)
    response = await sign(worker, carol, items=[{"name": "a", "content": b64(b"a")}])
    assert response.status_code == 409
    assert response.json()["code"] == "no_default_certificate"
    unauthenticated = await worker.http.post("/api/v1/operations", json={"format": "raw", "items": []})
    assert unauthenticated.status_code == 401


async def test_waits_for_state(start_worker: StartWorker, make_person: MakePerson) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice", algorithm="gost3410_2012_512")
    response = await sign(worker, alice, items=[{"name": "a", "content": b64(b"a")}])
    body = await wait_state(worker, alice, response.json()["id"], {"completed"})
    assert body["digest_algorithm"] == "streebog512"
    assert len(body["items"][0]["signature"]) == len(b64(bytes(128)))


async def test_the_endpoints_are_in_the_openapi_document(start_worker: StartWorker) -> None:
    worker = await start_worker()
    document = (await worker.http.get("/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/v1/operations"]) == {"get", "post"}
    assert set(paths["/api/v1/operations/{op_id}"]) == {"get", "delete"}
    assert set(paths["/api/v1/verify"]) == {"post"}
    created = paths["/api/v1/operations"]["post"]
    assert {"201", "202"} <= set(created["responses"])
    assert created["requestBody"]["content"]["application/json"]["schema"]
