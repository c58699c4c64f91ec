"""Co-signature input the API refuses: a precise 422 naming the item's field, never a 500, no row."""

from __future__ import annotations

from typing import Any

import pytest

from config.settings import LimitsSettings, Settings
from signing.algorithms import digest_algorithm
from signing.cms import load_signed_data
from signing.cms.container import assemble_signed_data
from tests.operations.conftest import MakePerson, Person, StartWorker, Worker, b64, sign, unb64

SMALL_LIMITS = LimitsSettings(max_body_bytes=64 * 1024, max_document_bytes=1000, max_batch_items=5)
STREEBOG = digest_algorithm("streebog256")
DOCUMENT = b"the document both sign\n"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Small limits: a CMS to co-sign has at most 1000 + 4000 bytes (``cms_overhead_bytes`` below)."""
    return settings.model_copy(update={"limits": SMALL_LIMITS})


async def _signed(worker: Worker, person: Person, *, detached: bool, cms: bytes | None = None) -> bytes:
    item: dict[str, str] = {"name": "doc"}
    if cms is None:
        item["content"] = b64(DOCUMENT)
    else:
        item["signature"] = b64(cms)
        if detached:
            item["content"] = b64(DOCUMENT)
    response = await sign(worker, person, format="cades-bes", detached=detached, items=[item])
    assert response.status_code == 201, response.text
    return unb64(response.json()["items"][0]["signature"])


async def test_cosignature_422s(start_worker: StartWorker, make_person: MakePerson) -> None:
    worker = await start_worker(cms_overhead_bytes=4000, max_existing_signers=2)
    alice = await make_person(worker, "alice")
    bob = await make_person(worker, "bob")
    attached = await _signed(worker, alice, detached=False)
    detached = await _signed(worker, alice, detached=True)
    twice = await _signed(worker, alice, detached=False, cms=attached)  # alice, then alice again
    thrice = await _signed(worker, bob, detached=False, cms=twice)  # refused below: 3 > 2 signers
    assert len(load_signed_data(twice).signer_infos) == 2
    tampered = attached[:-1] + bytes([attached[-1] ^ 1])  # the last byte of A's signature value
    parsed = load_signed_data(attached)
    unsigned = assemble_signed_data(
        version=parsed.version,
        digest_algorithms=parsed.digest_algorithms,
        encapsulated_content_info=parsed.encapsulated_content_info,
        certificates=parsed.certificate_choices,
        crls=None,
        signer_infos=[],
    )
    other_hash = b64(STREEBOG.hash(b"another document"))
    cases: list[tuple[dict[str, Any], str, str]] = [
        (
            {"format": "raw", "items": [{"name": "a", "signature": b64(attached)}]},
            "items.0.signature",
            "cades-bes",
        ),
        (_cades([{"name": "a", "signature": b64(b"not a CMS at all")}]), "items.0.signature", "not a CMS"),
        (
            _cades([{"name": "a", "signature": b64(b"\x30\x03\x02\x01\x01")}]),
            "items.0.signature",
            "not a CMS",
        ),
        (_cades([{"name": "a", "signature": ""}]), "items.0.signature", "empty"),
        (_cades([{"name": "a", "signature": b64(bytes(5001))}]), "items.0.signature", "at most 5000 bytes"),
        (_cades([{"name": "a", "signature": b64(unsigned)}]), "items.0.signature", "no signature"),
        (_cades([{"name": "a", "signature": b64(thrice)}]), "items.0.signature", "at most 2 signers"),
        (_cades([{"name": "a", "signature": b64(tampered)}]), "items.0.signature", "signature_value"),
        (_cades([{"name": "a", "signature": b64(detached)}]), "items.0.signature", "detached: true"),
        (
            _cades([{"name": "a", "signature": b64(attached)}], detached=True),
            "items.0.signature",
            "detached: false",
        ),
        (
            _cades([{"name": "a", "signature": b64(attached), "content": b64(DOCUMENT)}]),
            "items.0.content",
            "carries its document",
        ),
        (
            _cades([{"name": "a", "signature": b64(detached)}], detached=True),
            "items.0.content",
            "needs the document",
        ),
        (
            _cades(
                [
                    {"name": "ok", "content": b64(DOCUMENT)},
                    {"name": "a", "signature": b64(detached), "content": b64(b"another document")},
                ],
                detached=True,
            ),
            "items.1.content",
            "not the document",
        ),
        (
            _cades([{"name": "a", "signature": b64(detached), "hash": other_hash}], detached=True),
            "items.0.hash",
            "not the document",
        ),
        (
            _cades([{"name": "a", "signature": b64(detached), "hash": b64(bytes(20))}], detached=True),
            "items.0.hash",
            "32 bytes, got 20",
        ),
    ]
    for body, field, words in cases:
        response = await worker.call(
            "POST", "/operations", bob.headers, json={"confirmation": "none", **body}
        )
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "validation_failed"
        assert [error["field"] for error in problem["errors"]] == [field], problem
        assert words in problem["detail"], problem
    # Content and hash together is a schema violation of the item.
    both = await sign(
        worker,
        bob,
        format="cades-bes",
        detached=True,
        items=[{"name": "a", "signature": b64(detached), "content": b64(DOCUMENT), "hash": other_hash}],
    )
    assert both.status_code == 422, both.text
    assert both.json()["errors"][0]["field"] == "items.0"
    listed = (await worker.call("GET", "/operations", bob.headers)).json()
    assert len(listed["items"]) == 1  # the co-signature that made ``thrice``: nothing half-written
    # POST /verify holds a CMS to the same cap, before it verifies any signer.
    checked = await worker.call(
        "POST", "/verify", bob.headers, json={"format": "cades-bes", "signature": b64(thrice)}
    )
    assert checked.status_code == 422, checked.text
    assert [error["field"] for error in checked.json()["errors"]] == ["signature"]
    assert "3 signers; at most 2" in checked.json()["detail"]


def _cades(items: list[dict[str, str]], *, detached: bool = False) -> dict[str, Any]:
    return {"format": "cades-bes", "detached": detached, "items": items}


async def test_existing_signers_are_capped_per_operation(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    """Three CMSes of 2 signers each are 6 to verify at intake: over a cap of 5, the item that
    would pass it is named (nothing is stored); within the cap the same batch is signed."""
    worker = await start_worker(cms_overhead_bytes=4000, max_existing_signers_per_operation=5)
    alice = await make_person(worker, "alice")
    bob = await make_person(worker, "bob")
    twice = await _signed(worker, alice, detached=False, cms=await _signed(worker, alice, detached=False))
    three = _cades([{"name": f"d{index}", "signature": b64(twice)} for index in range(3)])
    response = await worker.call("POST", "/operations", bob.headers, json={"confirmation": "none", **three})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert [error["field"] for error in problem["errors"]] == ["items.2.signature"], problem
    assert "at most 5 signers in all" in problem["detail"], problem
    two = _cades([{"name": f"d{index}", "signature": b64(twice)} for index in range(2)])
    response = await worker.call("POST", "/operations", bob.headers, json={"confirmation": "none", **two})
    assert response.status_code == 201, response.text
    assert [item["status"] for item in response.json()["items"]] == ["signed", "signed"]
    listed = (await worker.call("GET", "/operations", bob.headers)).json()
    assert len(listed["items"]) == 1  # bob's refused operation left no row
