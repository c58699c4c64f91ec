"""Pure parts: backoff, Retry-After, status classification, the wire vector (checked with openssl)."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from actors.callbacks.backoff import parse_retry_after, retry_delay
from actors.callbacks.outcome import Verdict, classify_status
from actors.callbacks.signature import sign, verify_delivery
from actors.callbacks.wire import render
from config.settings import CallbackSettings
from storage.repos.callbacks import DeliveryRow, DeliveryState
from tests.callbacks.test_delivery import openssl_hmac

VECTOR = Path(__file__).parent / "vectors" / "delivery_v1.json"


def test_delays_grow_with_jitter_until_the_cap() -> None:
    settings = CallbackSettings(backoff_base_s=2.0, backoff_cap_s=60.0)
    rng = random.Random(3)
    for attempt in range(1, 12):
        ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
        samples = [retry_delay(attempt, settings, rng) for _ in range(200)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert max(samples) - min(samples) > ceiling / 4  # jitter spreads them
    assert retry_delay(10_000, settings, rng) <= 60.0  # no overflow far past the cap


def test_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5", now=now) is None
    assert parse_retry_after(None, now=now) is None


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (201, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (299, Verdict.DELIVERED),
        (301, Verdict.DEAD),
        (307, Verdict.DEAD),
        (400, Verdict.DEAD),
        (401, Verdict.DEAD),
        (403, Verdict.DEAD),
        (404, Verdict.DEAD),
        (408, Verdict.RETRY),
        (413, Verdict.DEAD),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (504, Verdict.RETRY),
    ],
)
def test_status_classification(status: int, verdict: Verdict) -> None:
    assert classify_status(status).verdict is verdict


def test_wire_vector_matches_openssl(tmp_path: Path) -> None:
    """A fixed delivery renders to the stored bytes; its signature is what openssl computes."""
    vector = json.loads(VECTOR.read_text())
    secret = bytes.fromhex(vector["secret_hex"])
    now = datetime.fromtimestamp(vector["timestamp"], UTC)
    row = DeliveryRow(
        id=uuid.UUID(vector["delivery_id"]),
        operation_id=uuid.UUID(vector["operation_id"]),
        user_id=None,
        client_id="kc-vector",
        url="https://erp.example.com/cb",
        event="operation.completed",
        payload=json.dumps(vector["payload"]),
        state=DeliveryState.DELIVERING,
        attempts=vector["attempt"],
        next_attempt_at=now,
        lease_until=now,
        claimed_by="cb-vector",
        last_status=None,
        last_error=None,
        created_at=now,
        updated_at=now,
        finished_at=None,
    )
    signed = render(row, secret=secret, now=now)
    assert signed.body.decode() == vector["body"]
    assert signed.headers["X-Klyuch-Timestamp"] == str(vector["timestamp"])
    assert signed.headers["X-Klyuch-Signature"] == vector["signature"]
    signed_input = str(vector["timestamp"]).encode() + b"." + signed.body
    assert vector["signature"] == "v1=" + openssl_hmac(secret, signed_input, tmp_path)
    assert sign(secret, vector["timestamp"], signed.body) == vector["signature"]


def test_verify_accepts_any_listed_signature_and_rejects_junk() -> None:
    secret, body, ts = b"k" * 32, b'{"a":1}', 1_700_000_000
    good = sign(secret, ts, body)
    other = sign(b"o" * 32, ts, body)

    def check(header: str) -> bool:
        return verify_delivery(
            secret, timestamp_header=str(ts), signature_header=header, body=body, now=ts + 10.0
        )

    assert check(f"{other}, {good}")
    assert not check(other)
    assert not check("v1=zz")
    assert not verify_delivery(secret, timestamp_header="-1", signature_header=good, body=body, now=float(ts))
    assert not verify_delivery(
        secret, timestamp_header="1e9", signature_header=good, body=body, now=float(ts)
    )
