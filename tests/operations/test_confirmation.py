"""Operations confirmed (or not) on a real device client over the websocket: confirm, a batch of 100
under one confirmation, decline, expiry, replayed and forged decisions, devices that connect late."""

from __future__ import annotations

import time

import trio

from actors.sessions import Decision
from edge.device_cli.client import DeviceClient
from signing.algorithms import digest_algorithm
from tests.operations.conftest import (
    MakePerson,
    OpenSSL,
    StartWorker,
    b64,
    connected,
    enrol,
    sign,
    unb64,
    wait_state,
)


async def test_device_confirms_and_the_cms_verifies_with_openssl(
    start_worker: StartWorker, make_person: MakePerson, ossl: OpenSSL
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    ca_path = ossl.write("ca.pem", (await worker.http.get("/api/v1/ca/certificate")).content)
    state = await enrol(worker, alice)
    text = "Платёжное поручение № 5\nСумма: 1 000,00 ₽\n"
    async with DeviceClient.connect(state) as device:
        await connected(device)
        created = await sign(
            worker,
            alice,
            format="cades-bes",
            items=[{"name": "платёж.txt", "content": b64(text.encode())}],
            confirmation="device",
        )
        assert created.status_code == 202, created.text
        body = created.json()
        assert body["state"] == "awaiting_confirmation"
        assert body["items"][0]["status"] == "pending"
        shown = await device.next_operation()
        assert str(shown.op_id) == body["id"]
        [item] = shown.items
        assert item.name == "платёж.txt"
        assert item.preview_text == text
        assert item.digest_algorithm == "streebog256"
        assert item.digest == digest_algorithm("streebog256").hash(text.encode())
        assert unb64(body["items"][0]["digest"]) == item.digest
        answer = await device.decide(shown, Decision.CONFIRM)
        assert answer["status"] == "accepted", answer
    done = await wait_state(worker, alice, body["id"], {"completed", "failed"})
    assert done["state"] == "completed", done
    assert done["decided_by_device"] == str(state.device_id)
    signature = unb64(done["items"][0]["signature"])
    path = ossl.write("sig.der", signature)
    ossl.out(
        "cms",
        "-verify",
        "-engine",
        "gost",
        "-binary",
        "-inform",
        "DER",
        "-in",
        path,
        "-CAfile",
        ca_path,
        "-out",
        "o.bin",
    )
    assert (ossl.workdir / "o.bin").read_bytes() == text.encode()


async def test_batch_of_100_under_one_confirmation(
    start_worker: StartWorker, make_person: MakePerson, ossl: OpenSSL
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    ca_path = ossl.write("ca.pem", (await worker.http.get("/api/v1/ca/certificate")).content)
    state = await enrol(worker, alice)
    documents = [bytes([i]) * 4096 for i in range(100)]
    async with DeviceClient.connect(state) as device:
        await connected(device)
        created = await sign(
            worker,
            alice,
            format="cades-bes",
            detached=True,
            items=[{"name": f"doc-{i:03}.bin", "content": b64(doc)} for i, doc in enumerate(documents)],
            confirmation="device",
        )
        assert created.status_code == 202, created.text
        op_id = created.json()["id"]
        shown = await device.next_operation()
        assert len(shown.items) == 100
        assert [item.preview_text for item in shown.items[:2]] == ["", ""]  # binary: no preview
        started = time.perf_counter()
        assert (await device.decide(shown, Decision.CONFIRM))["status"] == "accepted"
        done = await wait_state(worker, alice, op_id, {"completed", "failed"}, within=20)
        elapsed = time.perf_counter() - started
    assert done["state"] == "completed"
    assert [item["status"] for item in done["items"]] == ["signed"] * 100
    print(f"\nbatch of 100 detached CAdES: confirmation → completed (polled) {elapsed * 1000:.0f} ms")
    for index in range(100):  # openssl checks every one, and so does our verifier below
        path = ossl.write(f"s{index}.der", unb64(done["items"][index]["signature"]))
        content = ossl.write(f"c{index}.bin", documents[index])
        ossl.out(
            "cms", "-verify", "-engine", "gost", "-binary", "-inform", "DER", "-in", path,
            "-content", content, "-CAfile", ca_path, "-out", "/dev/null",
        )  # fmt: skip
    for index, item in enumerate(done["items"]):
        verified = await worker.call(
            "POST",
            "/verify",
            alice.headers,
            json={"format": "cades-bes", "signature": item["signature"], "content": b64(documents[index])},
        )
        assert verified.json()["indication"] == "TOTAL_PASSED"


async def test_decline(start_worker: StartWorker, make_person: MakePerson) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    state = await enrol(worker, alice)
    async with DeviceClient.connect(state) as device:
        await connected(device)
        created = await sign(
            worker, alice, items=[{"name": "a.txt", "content": b64(b"a")}], confirmation="device"
        )
        shown = await device.next_operation()
        assert (await device.decide(shown, Decision.DECLINE))["status"] == "accepted"
    done = await wait_state(worker, alice, created.json()["id"], {"declined"})
    assert done["error"]["code"] == "declined"
    assert done["items"][0]["status"] == "skipped"
    assert done["items"][0]["signature"] is None
    assert done["finished_at"] is not None


async def test_expiry(start_worker: StartWorker, make_person: MakePerson) -> None:
    worker = await start_worker(ttl_s=1.0)
    alice = await make_person(worker, "alice")
    state = await enrol(worker, alice)
    async with DeviceClient.connect(state) as device:
        await connected(device)
        created = await sign(
            worker, alice, items=[{"name": "a.txt", "content": b64(b"a")}], confirmation="device"
        )
        shown = await device.next_operation()
        withdrawn = await _next_of(device, "withdrawn", within=5)
        assert withdrawn["op_id"] == str(shown.op_id)
        done = await wait_state(worker, alice, created.json()["id"], {"expired"})
        late = await device.decide(shown, Decision.CONFIRM)
        assert late["type"] == "error" or late["status"] == "rejected", late
    assert done["error"]["code"] == "expired"
    again = await worker.call("GET", f"/operations/{done['id']}", alice.headers)
    assert again.json()["state"] == "expired"
    assert again.json()["updated_at"] == done["updated_at"]


async def test_replayed_and_forged_decisions_change_nothing(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    state = await enrol(worker, alice)
    async with DeviceClient.connect(state) as device:
        await connected(device)
        created = await sign(
            worker, alice, items=[{"name": "a.txt", "content": b64(b"a")}], confirmation="device"
        )
        op_id = created.json()["id"]
        shown = await device.next_operation()

        forged = device.decision_message(shown, Decision.CONFIRM)
        forged["mac"] = ("00" if forged["mac"][:2] != "00" else "11") + forged["mac"][2:]
        await device.send(forged)
        assert (await device.answer_for(shown.op_id))["type"] == "error"
        other_nonce = device.decision_message(shown, Decision.CONFIRM, nonce=bytes(32))
        await device.send(other_nonce)
        assert (await device.answer_for(shown.op_id))["type"] == "error"
        unchanged = await worker.call("GET", f"/operations/{op_id}", alice.headers)
        assert unchanged.json()["state"] == "awaiting_confirmation"

        genuine = device.decision_message(shown, Decision.CONFIRM)
        await device.send(genuine)
        assert (await device.answer_for(shown.op_id))["status"] == "accepted"
        done = await wait_state(worker, alice, op_id, {"completed"})
        await device.send(genuine)  # the same message again: a replay
        replay = await device.answer_for(shown.op_id)
        assert replay["type"] == "error" or replay["status"] == "rejected", replay
        declined_replay = device.decision_message(shown, Decision.DECLINE)
        await device.send(declined_replay)
        assert (await device.answer_for(shown.op_id))["type"] in ("error", "outcome")
    after = (await worker.call("GET", f"/operations/{op_id}", alice.headers)).json()
    assert after["state"] == "completed"
    assert after["updated_at"] == done["updated_at"]
    assert after["items"][0]["signature"] == done["items"][0]["signature"]


async def test_a_device_connecting_later_is_shown_the_pending_operation(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    state = await enrol(worker, alice)
    created = await sign(
        worker, alice, items=[{"name": "late.txt", "content": b64(b"hi")}], confirmation="device"
    )
    assert created.status_code == 202
    async with DeviceClient.connect(state) as device:
        shown = await device.next_operation()
        assert str(shown.op_id) == created.json()["id"]
        assert shown.items[0].preview_text == "hi"
        assert (await device.decide(shown, Decision.CONFIRM))["status"] == "accepted"
    await wait_state(worker, alice, created.json()["id"], {"completed"})


async def _next_of(device: DeviceClient, kind: str, *, within: float = 5.0) -> dict[str, object]:
    with trio.fail_after(within):
        while True:
            message = await device.receive()
            if message["type"] == kind:
                return message
