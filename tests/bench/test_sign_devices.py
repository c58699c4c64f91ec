"""The device fleet of phase (c) against a scripted device server (trio-websocket, the real MAC checks).

The server plays the protocol of ``edge.devices``: challenge–response, then an operation, an
application ping, an outcome, and finally a close. The fleet must answer from its serving thread:
a decision whose MAC verifies over (op id, digests, nonce), a pong, and count the lost device.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import trio
from trio_websocket import WebSocketConnection, WebSocketRequest, serve_websocket

from actors.sessions.crypto import DeviceKeys, auth_mac, decision_mac, macs_equal, new_nonce, server_proof
from actors.sessions.protocol import Decision, NoticeItem
from bench.scenarios.sign_devices import DeviceFleet
from edge.device_cli.state import DeviceState


async def _get(ws: WebSocketConnection) -> dict[str, object]:
    message: dict[str, object] = json.loads(await ws.get_message())
    return message


async def test_the_serving_thread_confirms_answers_pings_and_counts_a_close() -> None:
    device_id, secret = uuid.uuid4(), os.urandom(32)
    keys = DeviceKeys.derive(device_id, secret)
    op_id, nonce = uuid.uuid4(), new_nonce()
    item = NoticeItem(
        name="a.bin", digest_hex=os.urandom(32).hex(), digest_algorithm="streebog256", preview_text=""
    )
    seen: list[dict[str, object]] = []
    closed = trio.Event()

    async def server(request: WebSocketRequest) -> None:
        ws = await request.accept()
        hello = await _get(ws)
        assert hello == {"type": "hello", "device_id": str(device_id)}
        challenge = new_nonce()
        await ws.send_message(json.dumps({"type": "challenge", "nonce": challenge.hex()}))
        auth = await _get(ws)
        client_nonce = bytes.fromhex(str(auth["client_nonce"]))
        assert macs_equal(auth_mac(keys, challenge, client_nonce), bytes.fromhex(str(auth["mac"])))
        proof = server_proof(keys, challenge, client_nonce).hex()
        await ws.send_message(
            json.dumps(
                {
                    "type": "authenticated",
                    "device_id": str(device_id),
                    "user_id": str(uuid.uuid4()),
                    "server_proof": proof,
                    "ping_interval_s": 20.0,
                }
            )
        )
        now = datetime.now(UTC)
        operation = {
            "type": "operation",
            "op_id": str(op_id),
            "created_at": now.isoformat(),
            "expires_at": (now + timedelta(minutes=5)).isoformat(),
            "nonce": nonce.hex(),
            "items": [
                {
                    "name": item.name,
                    "digest_hex": item.digest_hex,
                    "digest_algorithm": item.digest_algorithm,
                    "preview_text": "",
                }
            ],
        }
        await ws.send_message(json.dumps(operation))
        seen.append(await _get(ws))
        await ws.send_message(json.dumps({"type": "ping"}))
        seen.append(await _get(ws))
        await ws.send_message(json.dumps({"type": "outcome", "op_id": str(op_id), "status": "accepted"}))
        await ws.send_message(json.dumps({"type": "error", "code": "bad_message", "message": "test"}))
        await ws.aclose(4000, "replaced")
        closed.set()

    fleet = DeviceFleet()
    async with trio.open_nursery() as nursery:
        listener = await nursery.start(serve_websocket, server, "127.0.0.1", 0, None)
        state = DeviceState(f"http://127.0.0.1:{listener.port}", device_id, secret)
        async with trio.open_nursery() as devices:
            await fleet.connect_all(devices, [state])
            assert fleet.listening == {device_id}
            await devices.start(fleet.serve)
            assert await fleet.wait_answered([str(op_id)], timeout_s=5)
            with trio.fail_after(5):
                await closed.wait()
                while fleet.listening:  # noqa: ASYNC110 - set by the serving thread, not a task
                    await trio.sleep(0.01)
            devices.cancel_scope.cancel()
        nursery.cancel_scope.cancel()

    decision, pong = seen
    assert pong == {"type": "pong"}
    assert decision["type"] == "decision"
    assert decision["op_id"] == str(op_id)
    assert decision["decision"] == "confirm"
    assert decision["nonce"] == nonce.hex()
    expected = decision_mac(keys, op_id, Decision.CONFIRM, nonce, [item])
    assert macs_equal(expected, bytes.fromhex(str(decision["mac"])))
    assert str(op_id) in fleet.shown
    assert fleet.answered[str(op_id)][1] == "accepted"
    assert fleet.errors == {"error_bad_message": 1, "disconnected": 1}
