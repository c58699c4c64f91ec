"""The device websocket: handshake, refusals (audited), limits, one live connection per device."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed

from actors.sessions import SessionOptions
from actors.sessions.crypto import auth_mac, new_nonce
from edge.device_cli.client import DeviceClient, DeviceProtocolError
from edge.device_cli.state import DeviceState
from tests.devices.conftest import TEST_OPTIONS, AuditLog, Person, StartWorker, Worker, enrol, expect


async def pong(client: DeviceClient) -> None:
    """Send a ping and wait for the pong (answering the server's pings meanwhile)."""
    await client.send({"type": "ping"})
    with trio.fail_after(5):
        while (message := await client.receive_raw())["type"] != "pong":
            if message["type"] == "ping":
                await client.send({"type": "pong"})


async def until_closed(
    client: DeviceClient, *, answer_pings: bool = True
) -> tuple[list[dict[str, Any]], int]:
    """Every message until the server closes, and its close code."""
    seen: list[dict[str, Any]] = []
    reason = None
    with trio.fail_after(5):
        try:
            while True:
                seen.append(await (client.receive() if answer_pings else client.receive_raw()))
        except ConnectionClosed as exc:
            reason = exc.reason
    assert reason is not None
    return seen, reason.code


async def closed_with(client: DeviceClient) -> tuple[dict[str, Any], int]:
    """The error message the server sent last and the close code that followed."""
    seen, code = await until_closed(client)
    errors = [message for message in seen if message["type"] == "error"]
    assert errors, "the server closed without saying why"
    return errors[-1], code


async def status_of(worker: Worker, person: Person, state: DeviceState) -> dict[str, Any]:
    response = await worker.http.get(f"/api/v1/devices/{state.device_id}", headers=person.headers)
    body: dict[str, Any] = response.json()
    return body


async def test_authentication_activates_and_proves_the_server(
    worker: Worker, alice: Person, audit_log: AuditLog
) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:  # connect() checks the server proof
        assert client.user_id == alice.id
        assert client.ping_interval_s == TEST_OPTIONS.ping_interval_s
    device = await status_of(worker, alice, state)
    assert device["status"] == "active"
    [event] = audit_log.named("audit_device_authenticated")
    assert event["device_id"] == str(state.device_id)
    assert event["counter"] == 1
    assert "mac" not in event
    assert "secret" not in event


async def test_a_server_without_the_secret_fails_the_proof(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state, authenticate=False) as client:
        server_nonce = await client.hello()
        client_nonce = new_nonce()
        mac = auth_mac(client.keys, server_nonce, client_nonce)
        await client.send({"type": "auth", "client_nonce": client_nonce.hex(), "mac": mac.hex()})
        done = await expect(client, "authenticated")
        assert done["server_proof"] != mac.hex()


@pytest.mark.parametrize("wrong", ["secret", "server_nonce", "length"])
async def test_wrong_hmac_is_refused_and_audited(
    worker: Worker, alice: Person, audit_log: AuditLog, wrong: str
) -> None:
    state, _ = await enrol(worker, alice)
    forged = DeviceState(state.server_url, state.device_id, os.urandom(32)) if wrong == "secret" else state
    async with DeviceClient.connect(forged, authenticate=False) as client:
        server_nonce = await client.hello()
        if wrong == "server_nonce":
            server_nonce = new_nonce()
        client_nonce = new_nonce()
        mac = auth_mac(client.keys, server_nonce, client_nonce).hex()
        if wrong == "length":
            mac = mac[:62]
        await client.send({"type": "auth", "client_nonce": client_nonce.hex(), "mac": mac})
        error, code = await closed_with(client)
    expected = "bad_message" if wrong == "length" else "auth_failed"
    assert error["code"] == expected
    assert code == 1008
    assert (await status_of(worker, alice, state))["status"] == "pending"
    if wrong != "length":
        [event] = audit_log.named("audit_device_auth_failed")
        assert event == {**event, "reason": "auth_failed", "device_id": str(state.device_id)}


async def test_unknown_device_is_refused_and_audited(worker: Worker, audit_log: AuditLog) -> None:
    stranger = DeviceState(worker.url, uuid.uuid4(), os.urandom(32))
    async with DeviceClient.connect(stranger, authenticate=False) as client:
        await client.send({"type": "hello", "device_id": str(stranger.device_id)})
        error, code = await closed_with(client)
    assert (error["code"], code) == ("unknown_device", 1008)
    assert audit_log.named("audit_device_auth_failed")[0]["reason"] == "unknown_device"


async def test_revoked_device_is_refused(worker: Worker, alice: Person, audit_log: AuditLog) -> None:
    state, _ = await enrol(worker, alice)
    await worker.http.delete(f"/api/v1/devices/{state.device_id}", headers=alice.headers)
    with pytest.raises(DeviceProtocolError) as refused:
        async with DeviceClient.connect(state):
            pass
    assert refused.value.code == "device_revoked"
    assert audit_log.named("audit_device_auth_failed")[0]["reason"] == "device_revoked"


async def test_replayed_authentication_is_refused(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state, authenticate=False) as first:
        server_nonce = await first.hello()
        client_nonce = new_nonce()
        answer = {
            "type": "auth",
            "client_nonce": client_nonce.hex(),
            "mac": auth_mac(first.keys, server_nonce, client_nonce).hex(),
        }
        await first.send(answer)
        await expect(first, "authenticated")
    async with DeviceClient.connect(state, authenticate=False) as second:
        await second.hello()  # a new challenge: the recorded answer is for the old one
        await second.send(answer)
        error, code = await closed_with(second)
    assert (error["code"], code) == ("auth_failed", 1008)


@pytest.mark.parametrize(
    "first",
    [
        "not json",
        '{"type": "auth", "client_nonce": "00", "mac": "00"}',
        '{"type": "hello", "device_id": "nope"}',
        '{"type": "hello", "device_id": "00000000-0000-0000-0000-000000000000", "x": 1}',
    ],
)
async def test_anything_but_a_proper_hello_closes(worker: Worker, first: str) -> None:
    stranger = DeviceState(worker.url, uuid.uuid4(), os.urandom(32))
    async with DeviceClient.connect(stranger, authenticate=False) as client:
        await client.send(first)
        error, code = await closed_with(client)
    assert (error["code"], code) == ("bad_message", 1008)


async def test_handshake_times_out(start_worker: StartWorker, make_person: Any) -> None:
    worker = await start_worker(options=SessionOptions(auth_timeout_s=0.3))
    stranger = DeviceState(worker.url, uuid.uuid4(), os.urandom(32))
    async with DeviceClient.connect(stranger, authenticate=False) as client:
        error, code = await closed_with(client)
    assert (error["code"], code) == ("auth_timeout", 1008)


@pytest.mark.parametrize("authenticated", [False, True])
async def test_message_too_large_closes(worker: Worker, alice: Person, authenticated: bool) -> None:
    state, _ = await enrol(worker, alice)
    big = '{"type": "ping", "pad": "' + "x" * TEST_OPTIONS.max_message_bytes + '"}'
    async with DeviceClient.connect(state, authenticate=authenticated) as client:
        await client.send(big)
        error, code = await closed_with(client)
    assert (error["code"], code) == ("message_too_large", 1009)


async def test_bad_messages_after_authentication_do_not_close(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        for text in (
            "[]",
            '{"type": "decision"}',
            '{"type": "hello", "device_id": "' + str(state.device_id) + '"}',
        ):
            await client.send(text)
            error = await expect(client, "error")
            assert error["code"] == "bad_message"
        await pong(client)


async def test_idle_connection_is_closed(start_worker: StartWorker, make_person: Any) -> None:
    worker = await start_worker(options=SessionOptions(ping_interval_s=0.2, idle_timeout_s=0.5))
    alice = await make_person(worker, "alice")
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        # Answer nothing (receive_raw does not answer pings): the server gives up.
        seen, code = await until_closed(client, answer_pings=False)
        assert code == 1001
    assert {"type": "ping"} in seen
    assert seen[-1]["code"] == "idle_timeout"


async def test_pongs_keep_a_connection_alive(start_worker: StartWorker, make_person: Any) -> None:
    worker = await start_worker(options=SessionOptions(ping_interval_s=0.1, idle_timeout_s=0.4))
    alice = await make_person(worker, "alice")
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        with trio.move_on_after(1.0):
            await client.receive()  # answers pings; nothing else arrives
        await pong(client)


async def test_a_new_connection_replaces_the_old_one(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as old, DeviceClient.connect(state) as new:
        error, code = await closed_with(old)
        assert (error["code"], code) == ("replaced", 4000)
        await pong(new)
        snapshot = await worker.hub.snapshot(alice.id)
        assert snapshot is not None
        assert snapshot.devices == {state.device_id}


async def test_revocation_closes_the_live_socket(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as client:
        await worker.http.delete(f"/api/v1/devices/{state.device_id}", headers=alice.headers)
        error, code = await closed_with(client)
    assert (error["code"], code) == ("device_revoked", 4003)


async def test_session_stops_when_idle_and_comes_back(worker: Worker, alice: Person) -> None:
    state, _ = await enrol(worker, alice)
    async with DeviceClient.connect(state) as first:
        await pong(first)  # answered by the reader, which runs once the session has the connection
        assert await worker.hub.snapshot(alice.id) is not None
    with trio.fail_after(5):
        while await worker.hub.snapshot(alice.id) is not None:  # noqa: ASYNC110 - polling an actor
            await trio.sleep(0.05)
    async with DeviceClient.connect(state) as client:
        await pong(client)
        assert await worker.hub.snapshot(alice.id) is not None
