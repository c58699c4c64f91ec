"""Deliveries to a real receiver on loopback: signature (checked with openssl), retries, give-ups."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import pytest
import trio

from actors.callbacks import ClientCallbackKeys, verify_delivery
from actors.callbacks.backoff import retry_delay
from storage import Database
from storage.repos.callbacks import DeliveryState
from tests.callbacks.conftest import FAST, Client, put, running_dispatcher, stats, wait_row
from tests.callbacks.receiver import free_port, serve_receiver


def openssl_hmac(secret: bytes, data: bytes, tmp_path: Path) -> str:
    """HMAC_GOSTR3411_2012_256 by the openssl CLI (gostprov provider): the independent oracle."""
    source = tmp_path / "signed-input.bin"
    source.write_bytes(data)
    result = subprocess.run(
        ["openssl", "mac", "-provider", "gostprov", "-provider", "default", "-digest", "md_gost12_256",
         "-macopt", f"hexkey:{secret.hex()}", "-in", str(source), "HMAC"],
        capture_output=True, check=True, text=True, timeout=30,
    )  # fmt: skip
    return result.stdout.strip().lower()


async def test_delivery_is_signed_and_openssl_agrees(
    db: Database, keys: ClientCallbackKeys, client: Client, tmp_path: Path
) -> None:
    payload = {"status": "completed", "items": [{"name": "a.txt", "signature": "AAEC"}], "текст": "да"}
    async with serve_receiver() as receiver, running_dispatcher(db, keys):
        delivery_id = await put(db, f"{receiver.url}/hooks/klyuch?token=x", client.client_id, payload=payload)
        (got,) = await receiver.wait_for(1)
        final = await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DELIVERED)

    assert (got.method, got.target) == ("POST", "/hooks/klyuch?token=x")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert got.headers["x-klyuch-delivery"] == str(delivery_id)
    assert got.headers["x-klyuch-event"] == "operation.completed"
    document = got.document
    assert document["delivery_id"] == str(delivery_id)
    assert document["event"] == "operation.completed"
    assert document["operation_id"] == str(final.operation_id)
    assert document["attempt"] == 1
    assert document["payload"] == payload
    timestamp = got.headers["x-klyuch-timestamp"]
    assert abs(int(timestamp) - time.time()) < 30
    assert document["delivered_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(timestamp)))

    signed_input = timestamp.encode() + b"." + got.body
    expected = openssl_hmac(client.secret, signed_input, tmp_path)
    assert got.headers["x-klyuch-signature"] == f"v1={expected}"
    # The reference receiver-side check agrees, and refuses stale or tampered deliveries.
    sig = got.headers["x-klyuch-signature"]
    now = time.time()
    assert verify_delivery(
        client.secret, timestamp_header=timestamp, signature_header=sig, body=got.body, now=now
    )
    assert not verify_delivery(
        client.secret, timestamp_header=timestamp, signature_header=sig, body=got.body, now=now + 301
    )
    assert not verify_delivery(
        client.secret, timestamp_header=timestamp, signature_header=sig, body=got.body + b" ", now=now
    )
    assert not verify_delivery(
        b"x" * 32, timestamp_header=timestamp, signature_header=sig, body=got.body, now=now
    )
    assert (final.attempts, final.last_status, final.finished_at is not None) == (1, 200, True)


async def test_two_failures_then_success_three_attempts_growing_delays(
    db: Database, keys: ClientCallbackKeys, client: Client
) -> None:
    seed = 11
    rng = random.Random(seed)
    planned = [retry_delay(1, FAST, rng), retry_delay(2, FAST, rng)]
    async with serve_receiver([500, 500, 200]) as receiver, running_dispatcher(db, keys, seed=seed):
        delivery_id = await put(db, receiver.url, client.client_id)
        got = await receiver.wait_for(3)
        final = await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DELIVERED)

    assert [r.document["attempt"] for r in got] == [1, 2, 3]
    assert {r.headers["x-klyuch-delivery"] for r in got} == {str(delivery_id)}
    gaps = [got[1].at - got[0].at, got[2].at - got[1].at]
    assert planned[0] < planned[1]
    # Never early (the lower bounds make the second gap longer than the first could be); the upper
    # bound only has to survive a loaded machine.
    for gap, plan in zip(gaps, planned, strict=True):
        assert plan - 0.02 <= gap <= plan + 1.0, (gaps, planned)
    assert gaps[1] >= planned[1] - 0.02 > FAST.backoff_base_s >= planned[0]
    assert (final.attempts, final.state, final.last_status) == (3, DeliveryState.DELIVERED, 200)


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
async def test_client_error_gives_up_after_one_attempt(
    db: Database, keys: ClientCallbackKeys, client: Client, status: int
) -> None:
    async with serve_receiver([status]) as receiver, running_dispatcher(db, keys):
        delivery_id = await put(db, receiver.url, client.client_id)
        final = await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DEAD)
        await trio.sleep(FAST.backoff_base_s * 2)  # no retry follows
    assert len(receiver.received) == 1
    assert (final.attempts, final.last_status, final.last_error) == (1, status, f"http_{status}")


async def test_408_and_429_are_retried_and_retry_after_is_honoured(
    db: Database, keys: ClientCallbackKeys, client: Client
) -> None:
    async with (
        serve_receiver([429, 408, 204], headers=[("retry-after", "1")]) as receiver,
        running_dispatcher(db, keys),
    ):
        delivery_id = await put(db, receiver.url, client.client_id)
        got = await receiver.wait_for(3)
        final = await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DELIVERED)
    assert got[1].at - got[0].at >= 0.98  # Retry-After: 1 beats the 0.1–0.2 s backoff
    assert (final.attempts, final.last_status) == (3, 204)


async def test_redirects_are_not_followed(db: Database, keys: ClientCallbackKeys, client: Client) -> None:
    async with (
        serve_receiver([307], headers=[("location", "http://169.254.169.254/")]) as receiver,
        running_dispatcher(db, keys),
    ):
        delivery_id = await put(db, receiver.url, client.client_id)
        final = await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DEAD)
    assert len(receiver.received) == 1
    assert final.last_error == "redirect_not_followed_307"


async def test_receiver_down_is_retried_until_it_comes_up(
    db: Database, keys: ClientCallbackKeys, client: Client
) -> None:
    port = free_port()
    async with running_dispatcher(db, keys):
        delivery_id = await put(db, f"http://127.0.0.1:{port}/cb", client.client_id)
        down = await wait_row(db, delivery_id, lambda r: r.attempts >= 2 and r.state is DeliveryState.PENDING)
        assert down.last_error == "connect_error"
        assert down.last_status is None
        async with serve_receiver(port=port) as receiver:
            (got,) = await receiver.wait_for(1)
            final = await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DELIVERED)
    assert got.document["attempt"] == final.attempts >= 3


async def test_out_of_attempts_is_dead(db: Database, keys: ClientCallbackKeys, client: Client) -> None:
    settings = FAST.model_copy(update={"max_attempts": 2})
    async with serve_receiver([503]) as receiver, running_dispatcher(db, keys, settings):
        delivery_id = await put(db, receiver.url, client.client_id)
        final = await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DEAD)
    assert len(receiver.received) == 2
    assert (final.attempts, final.last_status, final.last_error) == (2, 503, "max_attempts:http_503")


async def test_slow_receiver_times_out_and_is_retried(
    db: Database, keys: ClientCallbackKeys, client: Client
) -> None:
    settings = FAST.model_copy(update={"request_timeout_s": 0.3})
    async with serve_receiver([200], delay_s=5.0) as receiver, running_dispatcher(db, keys, settings):
        delivery_id = await put(db, receiver.url, client.client_id)
        retried = await wait_row(
            db, delivery_id, lambda r: r.attempts >= 1 and r.state is DeliveryState.PENDING
        )
        assert len(receiver.received) >= 1
    assert retried.last_error == "timeout"


async def test_without_a_client_secret_nothing_is_sent(db: Database, keys: ClientCallbackKeys) -> None:
    async with serve_receiver() as receiver, running_dispatcher(db, keys):
        no_client = await put(db, receiver.url, None)
        final = await wait_row(db, no_client, lambda r: r.state is DeliveryState.DEAD)
    assert final.last_error == "no_callback_secret"
    assert receiver.received == []


async def test_oversized_payload_is_given_up_unsent(
    db: Database, keys: ClientCallbackKeys, client: Client
) -> None:
    settings = FAST.model_copy(update={"max_payload_bytes": 1024})
    async with serve_receiver() as receiver, running_dispatcher(db, keys, settings):
        delivery_id = await put(db, receiver.url, client.client_id, payload={"blob": "x" * 2000})
        final = await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DEAD)
    assert final.last_error == "payload_too_large"
    assert receiver.received == []


async def test_name_resolving_to_loopback_is_refused_at_delivery(
    db: Database, keys: ClientCallbackKeys, client: Client
) -> None:
    # The URL passed request-time checks under other settings; delivery re-checks the resolved address.
    settings = FAST.model_copy(update={"allow_private_targets": False})
    async with serve_receiver() as receiver, running_dispatcher(db, keys, settings):
        by_name = await put(db, f"http://localhost:{receiver.port}/cb", client.client_id)
        by_ip = await put(db, f"{receiver.url}/cb", client.client_id)
        named = await wait_row(db, by_name, lambda r: r.state is DeliveryState.DEAD)
        literal = await wait_row(db, by_ip, lambda r: r.state is DeliveryState.DEAD)
    assert named.last_error == "address_refused"
    assert literal.last_error == "address_refused"
    assert receiver.received == []


async def test_many_deliveries_share_bounded_concurrency(
    db: Database, keys: ClientCallbackKeys, client: Client
) -> None:
    settings = FAST.model_copy(update={"max_concurrent": 3})
    async with serve_receiver([200], delay_s=0.1) as receiver, running_dispatcher(db, keys, settings) as ref:
        ids = [await put(db, receiver.url, client.client_id) for _ in range(12)]
        await receiver.wait_for(12)
        for delivery_id in ids:
            await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DELIVERED)
        counters = await stats(ref)
    assert counters.delivered == 12
    starts = sorted(r.at for r in receiver.received)
    # At most 3 at once: the 4th request cannot start before the first answer (0.1 s) came back.
    assert starts[3] - starts[0] >= 0.09
    assert {r.headers["x-klyuch-delivery"] for r in receiver.received} == {str(i) for i in ids}


async def test_ipv6_receiver(db: Database, keys: ClientCallbackKeys, client: Client) -> None:
    async with serve_receiver(host="::1") as receiver, running_dispatcher(db, keys):
        delivery_id = await put(db, f"{receiver.url}/cb", client.client_id)
        (got,) = await receiver.wait_for(1)
        await wait_row(db, delivery_id, lambda r: r.state is DeliveryState.DELIVERED)
    assert got.headers["host"] == f"[::1]:{receiver.port}"
