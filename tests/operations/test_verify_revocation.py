"""POST /verify honours revocation: the built-in CA's records decide, other anchors are "unknown"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from signing.cms.cades import sign_cades
from signing.gost.params import ParamSet
from storage import Database
from storage.repos import keys as keys_repo
from tests.operations.conftest import MakePerson, Person, StartWorker, Worker, b64, sign
from tests.signing.cms.conftest import pki

DOCUMENT = "Счёт № 42 на оплату\n".encode() * 16


async def verify(worker: Worker, person: Person, **body: Any) -> dict[str, Any]:
    """POST /verify; the report's JSON (200 expected)."""
    response = await worker.call("POST", "/verify", person.headers, json=body)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def signed(worker: Worker, person: Person, format: str) -> str:
    """A signature of DOCUMENT by ``person`` in ``format`` (base64)."""
    response = await sign(
        worker,
        person,
        format=format,
        items=[{"name": "bill.txt", "content": b64(DOCUMENT)}],
        confirmation="none",
    )
    assert response.status_code == 201, response.text
    [item] = response.json()["items"]
    signature: str = item["signature"]
    return signature


async def test_revocation_after_signing_keeps_cades_valid_and_fails_raw(
    start_worker: StartWorker, make_person: MakePerson
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    assert alice.certificate_pem is not None
    cades = await signed(worker, alice, "cades-bes")
    raw = await signed(worker, alice, "raw")
    raw_body = {
        "format": "raw",
        "signature": raw,
        "content": b64(DOCUMENT),
        "certificate": b64(alice.certificate_pem.encode()),
    }

    before = await verify(worker, alice, format="cades-bes", signature=cades)
    assert before["indication"] == "TOTAL_PASSED", before
    status = before["signers"][0]["revocation"]
    assert status["status"] == "good"
    assert status["source"] == "builtin_ca"
    assert status["reference"] == "signing_time"

    revoked = await worker.call(
        "POST",
        f"/certificates/{alice.certificate_id}/revoke",
        alice.headers,
        json={"reason": "key_compromise"},
    )
    assert revoked.status_code == 200, revoked.text
    revoked_at = dt.datetime.fromisoformat(revoked.json()["revoked_at"])

    # CAdES-BES made before the revocation: valid at its (claimed) signing time, the revocation stated.
    after = await verify(worker, alice, format="cades-bes", signature=cades)
    assert after["indication"] == "TOTAL_PASSED", after
    [signer] = after["signers"]
    status = signer["revocation"]
    assert status["status"] == "revoked"
    assert status["reason"] == "key_compromise"
    assert dt.datetime.fromisoformat(status["revoked_at"]) == revoked_at
    assert status["revoked_before_reference"] is False
    assert dt.datetime.fromisoformat(status["reference_time"]) < revoked_at
    assert "after the claimed signing time" in status["detail"]

    # A raw signature has no time: checked now, after the revocation, it is invalid and says why.
    report = await verify(worker, alice, **raw_body)
    assert report["indication"] == "TOTAL_FAILED", report
    assert report["sub_indication"] == "REVOKED"
    [signer] = report["signers"]
    assert signer["revocation"]["reference"] == "validation_time"
    assert signer["revocation"]["revoked_before_reference"] is True
    [chain] = [check for check in signer["checks"] if check["name"] == "certificate_chain"]
    assert chain["status"] == "FAILED"
    assert chain["sub_indication"] == "REVOKED"
    assert "revoked at" in chain["detail"]
    assert "key_compromise" in chain["detail"]


async def test_another_anchors_certificate_is_unknown(
    start_worker: StartWorker, make_person: MakePerson, db: Database
) -> None:
    worker = await start_worker()
    bob = await make_person(worker, "bob", certificate=False)
    other = pki(ParamSet.TC26_256_A)
    await db.run(keys_repo.add_trust_anchor, other.root.der, "CMS Root 0", "admin")
    signature = sign_cades(DOCUMENT, signer=other.key, certificate=other.certificate)

    report = await verify(worker, bob, format="cades-bes", signature=b64(signature))
    assert report["indication"] == "TOTAL_PASSED", report
    status = report["signers"][0]["revocation"]
    assert status["status"] == "unknown"
    assert status["source"] == "none"
    assert status["revoked_at"] is None
    assert "not issued by the built-in CA" in status["detail"]
