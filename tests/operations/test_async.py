"""Asynchronous mode: an information system gets the outcome POSTed to its ``callback_url``, signed
with its callback secret, from the outbox written in the operation's finishing transaction."""

from __future__ import annotations

import time
from typing import Any

import pytest

from actors.callbacks import verify_delivery
from actors.identity import Identity, clients
from actors.sessions import Decision
from config.settings import CallbackSettings, Settings
from edge.device_cli.client import DeviceClient
from signing.x509 import Certificate
from storage import Database
from tests.callbacks.receiver import Received, Receiver, serve_receiver
from tests.operations.conftest import GOST_256, MakePerson, StartWorker, Worker, b64, connected, enrol, unb64

FAST_CALLBACKS = CallbackSettings(
    allow_private_targets=True,  # the receiver listens on loopback
    backoff_base_s=0.2,
    backoff_cap_s=1.0,
    request_timeout_s=2.0,
    lease_s=3.0,
    poll_interval_s=0.5,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Callbacks to loopback allowed, quick retries."""
    return settings.model_copy(update={"callbacks": FAST_CALLBACKS})


async def _client(
    worker: Worker, settings: Settings, db: Database, user_id: Any
) -> tuple[dict[str, str], bytes]:
    identity = Identity.create(settings, db)
    erp = await clients.create_client(identity, None, name="erp", user_id=user_id)
    response = await worker.http.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": erp.client.client_id,
            "client_secret": erp.client_secret,
        },
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}, erp.callback_secret


async def _event(receiver: Receiver, event: str) -> Received:
    """The first delivery of ``event`` (retries of earlier deliveries may arrive in between)."""
    count = 1
    while True:
        for received in await receiver.wait_for(count):
            if received.headers["x-klyuch-event"] == event:
                return received
        count = len(receiver.received) + 1


def _signed(secret: bytes, received: Received) -> bool:
    return verify_delivery(
        secret,
        timestamp_header=received.headers["x-klyuch-timestamp"],
        signature_header=received.headers["x-klyuch-signature"],
        body=received.body,
        now=time.time(),
    )


async def test_callbacks_for_completed_and_declined_operations(
    start_worker: StartWorker, make_person: MakePerson, settings: Settings, db: Database
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    assert alice.certificate_pem is not None
    erp, secret = await _client(worker, settings, db, alice.id)
    hashes = [bytes([i]) * 32 for i in range(3)]
    async with serve_receiver() as receiver:
        created = await worker.call(
            "POST",
            "/operations",
            erp,
            json={
                "format": "raw",
                "items": [{"name": f"h{i}", "hash": b64(h)} for i, h in enumerate(hashes)],
                "callback_url": f"{receiver.url}/hooks/klyuch",
            },
        )
        assert created.status_code == 202, created.text  # asynchronous: answered before signing
        delivery = (await receiver.wait_for(1))[0]
        assert delivery.target == "/hooks/klyuch"
        assert delivery.headers["x-klyuch-event"] == "operation.completed"
        assert _signed(secret, delivery)
        assert delivery.document["operation_id"] == created.json()["id"]
        body = delivery.document["payload"]
        assert body["operation_id"] == created.json()["id"]
        assert body["state"] == "completed"
        assert body["results_included"] is True
        public = Certificate.load(alice.certificate_pem.encode()).public_key()
        for item, digest in zip(body["items"], hashes, strict=True):
            assert item["status"] == "signed"
            public.verify_digest(digest, unb64(item["signature"]), GOST_256)

        state = await enrol(worker, alice)
        async with DeviceClient.connect(state) as device:
            await connected(device)
            pending = await worker.call(
                "POST",
                "/operations",
                erp,
                json={
                    "format": "cades-bes",
                    "items": [{"name": "a.txt", "content": b64(b"attached")}],
                    "callback_url": f"{receiver.url}/hooks/klyuch",
                    "confirmation": "device",
                },
            )
            assert pending.status_code == 202, pending.text
            shown = await device.next_operation()
            assert (await device.decide(shown, Decision.DECLINE))["status"] == "accepted"
        declined = await _event(receiver, "operation.declined")
        assert _signed(secret, declined)
        assert declined.document["operation_id"] == pending.json()["id"]
        assert declined.document["payload"]["error"]["code"] == "declined"


async def test_callback_urls_are_checked_when_the_operation_is_created(
    start_worker: StartWorker, make_person: MakePerson, settings: Settings, db: Database
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    erp, _ = await _client(worker, settings, db, alice.id)
    item = [{"name": "a", "content": b64(b"a")}]
    no_client = await worker.call(
        "POST",
        "/operations",
        alice.headers,
        json={"format": "raw", "items": item, "callback_url": "https://erp.example/cb"},
    )
    assert no_client.status_code == 422, no_client.text
    assert no_client.json()["code"] == "callback_client_required"
    for url in ("ftp://erp.example/cb", "https://user:pw@erp.example/cb", "not a url"):
        refused = await worker.call(
            "POST", "/operations", erp, json={"format": "raw", "items": item, "callback_url": url}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "invalid_callback_url"
    assert (await worker.call("GET", "/operations", alice.headers)).json()["items"] == []
