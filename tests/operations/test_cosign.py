"""Co-signatures through ``POST /operations``: user A signs, user B adds a signature to A's CMS.

Everything real (server, PostgreSQL, soft-HSM units, device websocket); every co-signed CMS is
checked by ``POST /verify`` (both signers valid) and by ``openssl cms -verify`` (gost engine)
against the built-in CA.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from actors.sessions import Decision
from config.settings import CallbackSettings, Settings
from edge.device_cli.client import DeviceClient
from signing.algorithms import digest_algorithm
from signing.cms import load_signed_data
from tests.callbacks.receiver import serve_receiver
from tests.operations.conftest import (
    MakePerson,
    OpenSSL,
    Person,
    StartWorker,
    Worker,
    b64,
    connected,
    enrol,
    sign,
    unb64,
    wait_state,
)

STREEBOG = digest_algorithm("streebog256")
DOCUMENT = "Договор поставки № 42\nСтороны: ООО «Альфа» и ООО «Бета»\n".encode()
LOOPBACK_CALLBACKS = CallbackSettings(allow_private_targets=True, backoff_base_s=0.2, poll_interval_s=0.5)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Callbacks to the loopback receiver allowed."""
    return settings.model_copy(update={"callbacks": LOOPBACK_CALLBACKS})


async def _signed(worker: Worker, person: Person, document: bytes, *, detached: bool) -> bytes:
    """``person``'s CAdES-BES of ``document`` made through the API (no confirmation)."""
    response = await sign(
        worker,
        person,
        format="cades-bes",
        detached=detached,
        items=[{"name": "doc.txt", "content": b64(document)}],
        confirmation="none",
    )
    assert response.status_code == 201, response.text
    return unb64(response.json()["items"][0]["signature"])


async def _cosign(worker: Worker, person: Person, **body: Any) -> dict[str, Any]:
    response = await sign(worker, person, format="cades-bes", confirmation="none", **body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _verified(worker: Worker, person: Person, cms: bytes, content: bytes | None) -> list[str]:
    """The subjects of the signers ``POST /verify`` reports, once it said every one is valid."""
    body = {"format": "cades-bes", "signature": b64(cms)}
    if content is not None:
        body["content"] = b64(content)
    response = await worker.call("POST", "/verify", person.headers, json=body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["indication"] == "TOTAL_PASSED", report
    assert all(signer["indication"] == "TOTAL_PASSED" for signer in report["signers"]), report
    return [signer["signing_certificate"]["subject"] for signer in report["signers"]]


def _openssl_verifies(ossl: OpenSSL, ca_path: str, cms: bytes, content: bytes | None, name: str) -> None:
    args = ["cms", "-verify", "-engine", "gost", "-binary", "-inform", "DER", "-in", ossl.write(name, cms)]
    if content is not None:
        args += ["-content", ossl.write(f"{name}.content", content)]
    ossl.out(*args, "-CAfile", ca_path, "-out", ossl.workdir.joinpath(f"{name}.out").as_posix())
    assert ossl.workdir.joinpath(f"{name}.out").read_bytes() == DOCUMENT


async def _ca_path(worker: Worker, ossl: OpenSSL) -> str:
    return ossl.write("ca.pem", (await worker.http.get("/api/v1/ca/certificate")).content)


async def _alice_and_bob(start_worker: StartWorker, make_person: MakePerson) -> tuple[Worker, Person, Person]:
    """A served worker with two users: alice signs first, bob co-signs."""
    worker = await start_worker()
    return worker, await make_person(worker, "alice"), await make_person(worker, "bob")


async def test_cosign_attached_and_detached_without_confirmation(
    start_worker: StartWorker, make_person: MakePerson, ossl: OpenSSL
) -> None:
    worker, alice, bob = await _alice_and_bob(start_worker, make_person)
    ca_path = await _ca_path(worker, ossl)
    attached = await _signed(worker, alice, DOCUMENT, detached=False)
    detached = await _signed(worker, alice, DOCUMENT, detached=True)

    done = await _cosign(worker, bob, items=[{"name": "договор.txt", "signature": b64(attached)}])
    assert done["state"] == "completed", done
    [item] = done["items"]
    assert (item["status"], item["input"]) == ("signed", "signature")
    assert unb64(item["digest"]) == STREEBOG.hash(DOCUMENT)
    cosigned = unb64(item["signature"])
    parsed = load_signed_data(cosigned)
    assert len(parsed.signer_infos) == 2
    assert parsed.content == DOCUMENT
    assert parsed.signer_infos[0] == load_signed_data(attached).signer_infos[0]  # A's, untouched
    subjects = await _verified(worker, bob, cosigned, None)
    assert len(subjects) == 2
    assert "alice" in subjects[0]
    assert "bob" in subjects[1]
    _openssl_verifies(ossl, ca_path, cosigned, None, "attached.der")
    # GET answers the same co-signed CMS.
    again = (await worker.call("GET", f"/operations/{done['id']}", bob.headers)).json()
    assert again["items"][0]["signature"] == item["signature"]

    # Detached: the document as content, or as its hash; a PEM CMS is read too.
    pem = b"-----BEGIN CMS-----\n" + b64(detached).encode() + b"\n-----END CMS-----\n"
    done = await _cosign(
        worker,
        bob,
        detached=True,
        items=[
            {"name": "by-content", "signature": b64(detached), "content": b64(DOCUMENT)},
            {"name": "by-hash", "signature": b64(pem), "hash": b64(STREEBOG.hash(DOCUMENT))},
        ],
    )
    assert done["state"] == "completed", done
    for index, item in enumerate(done["items"]):
        assert item["status"] == "signed", item
        cosigned = unb64(item["signature"])
        parsed = load_signed_data(cosigned)
        assert parsed.detached
        assert len(parsed.signer_infos) == 2
        assert len(await _verified(worker, bob, cosigned, DOCUMENT)) == 2
        _openssl_verifies(ossl, ca_path, cosigned, DOCUMENT, f"detached{index}.der")


async def test_cosign_confirmed_on_a_device(
    start_worker: StartWorker, make_person: MakePerson, ossl: OpenSSL
) -> None:
    worker, alice, bob = await _alice_and_bob(start_worker, make_person)
    ca_path = await _ca_path(worker, ossl)
    attached = await _signed(worker, alice, DOCUMENT, detached=False)
    state = await enrol(worker, bob)
    async with DeviceClient.connect(state) as device:
        await connected(device)
        created = await sign(
            worker,
            bob,
            format="cades-bes",
            items=[{"name": "договор.txt", "signature": b64(attached)}],
            confirmation="device",
        )
        assert created.status_code == 202, created.text
        body = created.json()
        assert body["items"][0]["input"] == "signature"
        shown = await device.next_operation()
        [item] = shown.items
        assert item.digest == STREEBOG.hash(DOCUMENT)
        assert item.preview_text.startswith("Co-signature: your signature is added to 1 existing signature ")
        assert "alice" in item.preview_text.splitlines()[0]
        assert item.preview_text.endswith(DOCUMENT.decode())  # the document's text follows
        assert (await device.decide(shown, Decision.CONFIRM))["status"] == "accepted"
    done = await wait_state(worker, bob, body["id"], {"completed", "failed"})
    assert done["state"] == "completed", done
    cosigned = unb64(done["items"][0]["signature"])
    assert len(load_signed_data(cosigned).signer_infos) == 2
    assert len(await _verified(worker, bob, cosigned, None)) == 2
    _openssl_verifies(ossl, ca_path, cosigned, None, "confirmed.der")
    # The co-signed CMS was kept only while the operation was live.
    assert await worker.services.db.run_readonly(_kept_inputs) == 0


async def _kept_inputs(conn: Any) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM operation_items WHERE document IS NOT NULL OR preview IS NOT NULL"
    )
    return count


async def test_batch_of_fresh_signatures_and_cosignatures(
    start_worker: StartWorker, make_person: MakePerson, ossl: OpenSSL
) -> None:
    worker, alice, bob = await _alice_and_bob(start_worker, make_person)
    ca_path = await _ca_path(worker, ossl)
    detached = await _signed(worker, alice, DOCUMENT, detached=True)
    other = b"another document\n"
    good = [
        {"name": "fresh", "content": b64(other)},
        {"name": "cosign", "signature": b64(detached), "content": b64(DOCUMENT)},
        {"name": "fresh-hash", "hash": b64(STREEBOG.hash(other))},
        {"name": "cosign-hash", "signature": b64(detached), "hash": b64(STREEBOG.hash(DOCUMENT))},
    ]
    # One bad item refuses the batch with a problem naming exactly that item; nothing is stored.
    bad_items: list[tuple[dict[str, str], str]] = [
        ({"name": "garbage", "signature": b64(b"\x30\x03\x02\x01\x01")}, "items.2.signature"),
        ({"name": "mismatch", "signature": b64(detached), "content": b64(other)}, "items.2.content"),
    ]
    for bad, field in bad_items:
        response = await sign(
            worker,
            bob,
            format="cades-bes",
            detached=True,
            items=[*good[:2], bad, *good[2:]],
            confirmation="none",
        )
        assert response.status_code == 422, response.text
        assert [error["field"] for error in response.json()["errors"]] == [field]
    listed = (await worker.call("GET", "/operations", bob.headers)).json()
    assert listed["items"] == []

    done = await _cosign(worker, bob, detached=True, items=good)
    assert done["state"] == "completed", done
    assert [item["input"] for item in done["items"]] == ["content", "signature", "hash", "signature"]
    for index, item in enumerate(done["items"]):
        assert item["status"] == "signed", item
        signature = unb64(item["signature"])
        signers = 2 if item["input"] == "signature" else 1
        assert len(load_signed_data(signature).signer_infos) == signers
        content = DOCUMENT if signers == 2 else other
        assert len(await _verified(worker, bob, signature, content)) == signers
        if signers == 2:
            _openssl_verifies(ossl, ca_path, signature, content, f"batch{index}.der")


async def test_cosign_in_asynchronous_mode(
    start_worker: StartWorker,
    make_person: MakePerson,
    client_token: Callable[..., Awaitable[dict[str, str]]],
    ossl: OpenSSL,
) -> None:
    worker, alice, bob = await _alice_and_bob(start_worker, make_person)
    ca_path = await _ca_path(worker, ossl)
    detached = await _signed(worker, alice, DOCUMENT, detached=True)
    erp = await client_token(worker, bob)  # bob's information system
    async with serve_receiver() as receiver:
        created = await worker.call(
            "POST",
            "/operations",
            erp,
            json={
                "format": "cades-bes",
                "detached": True,
                "items": [{"name": "a", "signature": b64(detached), "hash": b64(STREEBOG.hash(DOCUMENT))}],
                "callback_url": f"{receiver.url}/hooks/klyuch",
            },
        )
        assert created.status_code == 202, created.text
        delivery = (await receiver.wait_for(1))[0]
    assert delivery.headers["x-klyuch-event"] == "operation.completed"
    payload = delivery.document["payload"]
    assert payload["results_included"] is True  # detached: the callback carries no document
    cosigned = unb64(payload["items"][0]["signature"])
    assert len(load_signed_data(cosigned).signer_infos) == 2
    assert len(await _verified(worker, bob, cosigned, DOCUMENT)) == 2
    _openssl_verifies(ossl, ca_path, cosigned, DOCUMENT, "async.der")
    done = (await worker.call("GET", f"/operations/{created.json()['id']}", bob.headers)).json()
    assert unb64(done["items"][0]["signature"]) == cosigned


async def test_a_cosignature_whose_cms_was_lost_fails_alone(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker, alice, bob = await _alice_and_bob(start_worker, make_person)
    attached = await _signed(worker, alice, DOCUMENT, detached=False)
    state = await enrol(worker, bob)
    async with DeviceClient.connect(state) as device:
        await connected(device)
        created = await sign(
            worker,
            bob,
            format="cades-bes",
            items=[
                {"name": "fresh", "content": b64(b"fresh")},
                {"name": "kept", "signature": b64(attached)},
                {"name": "lost", "signature": b64(attached)},
            ],
            confirmation="device",
        )
        assert created.status_code == 202, created.text
        op_id = created.json()["id"]
        shown = await device.next_operation()
        assert [item.preview_text.startswith("Co-signature") for item in shown.items] == [False, True, True]
        await worker.services.db.run(_lose_document, op_id, 2)
        assert (await device.decide(shown, Decision.CONFIRM))["status"] == "accepted"
    done = await wait_state(worker, bob, op_id, {"completed", "failed"})
    assert done["state"] == "completed", done
    assert [item["status"] for item in done["items"]] == ["signed", "signed", "failed"]
    assert done["items"][2]["error"]["code"] == "document_missing"
    assert len(load_signed_data(unb64(done["items"][1]["signature"])).signer_infos) == 2


async def _lose_document(conn: Any, op_id: str, idx: int) -> None:
    await conn.execute(
        "UPDATE operation_items SET document = NULL WHERE operation_id = $1::uuid AND idx = $2", op_id, idx
    )
