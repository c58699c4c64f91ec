"""Every limit and malformed input answers a precise 4xx naming the field, and leaves no row behind."""

from __future__ import annotations

from typing import Any

import pytest

from config.settings import LimitsSettings, Settings
from storage import Database
from tests.operations.conftest import MakePerson, StartWorker, Worker, b64, sign

SMALL_LIMITS = LimitsSettings(max_body_bytes=64 * 1024, max_document_bytes=1000, max_batch_items=5)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Small limits, so every one of them is reachable with small requests."""
    return settings.model_copy(update={"limits": SMALL_LIMITS})


async def _problem(
    worker: Worker, headers: dict[str, str], body: dict[str, Any], status: int = 422
) -> dict[str, Any]:
    response = await worker.call("POST", "/operations", headers, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    return problem


async def test_precise_422s(start_worker: StartWorker, make_person: MakePerson, db: Database) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    h = alice.headers
    one = [{"name": "a", "content": b64(b"a")}]

    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"format": "raw", "items": [{"name": "a", "content": b64(b"a")}] * 6}, "items", "at most 5"),
        (
            {"format": "raw", "items": [{"name": "a", "content": b64(bytes(1001))}]},
            "items.0.content",
            "1000 bytes",
        ),
        ({"format": "raw", "items": [*one, {"name": "b", "content": "@@@@"}]}, "items.1.content", "base64"),
        (
            {"format": "raw", "items": [{"name": "a", "hash": b64(bytes(20))}]},
            "items.0.hash",
            "32 bytes, got 20",
        ),
        (
            {"format": "cades-bes", "items": [{"name": "a", "hash": b64(bytes(32))}]},
            "items.0.hash",
            "attached",
        ),
        ({"format": "raw", "detached": True, "items": one}, "detached", "cades-bes"),
    ]
    for body, field, words in cases:
        problem = await _problem(worker, h, body)
        assert problem["code"] == "validation_failed"
        assert problem["errors"][0]["field"] == field, problem
        assert words in problem["detail"], problem

    schema_cases: list[tuple[dict[str, Any], str]] = [
        ({"format": "raw", "items": []}, "items"),
        (
            {"format": "raw", "items": [{"name": "a", "content": b64(b"a"), "hash": b64(bytes(32))}]},
            "items.0",
        ),
        ({"format": "raw", "items": [{"name": "a"}]}, "items.0"),
        ({"format": "pades", "items": one}, "format"),
        ({"format": "raw", "items": one, "confirmation": "sms"}, "confirmation"),
        ({"format": "raw", "items": one, "colour": "red"}, "colour"),
        ({"format": "raw", "items": [{"name": "", "content": b64(b"a")}]}, "items.0.name"),
    ]
    for body, field in schema_cases:
        problem = await _problem(worker, h, body)
        assert problem["code"] == "validation_failed"
        assert problem["errors"][0]["field"] == field, problem

    too_big = await worker.call(
        "POST", "/operations", h, json={"format": "raw", "items": [{"name": "a", "content": "A" * 70_000}]}
    )
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "too_large"

    count = await db.run_readonly(_count_operations)
    assert count == 0  # nothing half-written

    ok = await sign(worker, alice, items=[{"name": "a", "hash": b64(bytes(32))}] * 5)
    assert ok.status_code == 201, ok.text
    assert [item["status"] for item in ok.json()["items"]] == ["signed"] * 5


async def test_verify_422s(start_worker: StartWorker, make_person: MakePerson) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")

    async def problem(body: dict[str, Any]) -> dict[str, Any]:
        response = await worker.call("POST", "/verify", alice.headers, json=body)
        assert response.status_code == 422, response.text
        found: dict[str, Any] = response.json()
        return found

    cms = b64(b"\x30\x03\x02\x01\x00")
    assert (await problem({"format": "raw", "signature": b64(bytes(64)), "content": b64(b"a")}))["errors"][0][
        "field"
    ] == "certificate"
    assert (await problem({"format": "cades-bes", "signature": cms}))["errors"][0]["field"] == "signature"
    assert (
        await problem(
            {"format": "raw", "signature": b64(bytes(64)), "content": b64(b"a"), "certificate": b64(b"junk")}
        )
    )["errors"][0]["field"] == "certificate"
    assert alice.certificate_pem is not None
    pem = b64(alice.certificate_pem.encode())
    short = await problem(
        {"format": "raw", "signature": b64(bytes(64)), "hash": b64(bytes(3)), "certificate": pem}
    )
    assert short["errors"][0]["field"] == "hash"
    both = await problem({"format": "raw", "signature": cms, "hash": b64(bytes(32)), "content": b64(b"a")})
    assert both["code"] == "validation_failed"


async def _count_operations(conn: Any) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM operations")
    return count
