"""``execute_batch`` for CAdES-BES: every item is what ``prepare_cades`` → ``finish`` make of its
document at the batch's signing time (byte for byte), and ``openssl cms -verify`` accepts it."""

from __future__ import annotations

import hashlib
from uuid import UUID

from asn1crypto import cms

from actors.operations import Format
from actors.operations.execute import VERIFY_IN_THREAD_FROM, Batch, ExecItem, execute_batch
from actors.operations.material import Material, MaterialCache
from signing.cms import finish, prepare_cades
from tests.operations.conftest import MakePerson, StartWorker
from tests.oracle import OpenSSL

DOCUMENTS = [f"Счёт № {i}\n".encode() * (20 + i) for i in range(VERIFY_IN_THREAD_FROM + 2)]


def _rebuilt(material: Material, signature: bytes, document: bytes, *, detached: bool) -> bytes:
    """The CMS ``prepare_cades`` → ``finish`` make with ``signature``'s signing time and value."""
    (signer_info,) = cms.ContentInfo.load(signature)["content"]["signer_infos"]
    (signing_time,) = next(
        attribute["values"]
        for attribute in signer_info["signed_attrs"]
        if attribute["type"].native == "signing_time"
    )
    signing = material.signing
    common = {"certificate": signing.certificate, "signature_algorithm": signing.signature_algorithm}
    if detached:
        digest = signing.signature_algorithm.digest.hash(document)
        prepared = prepare_cades(
            content_digest=digest,
            detached=True,
            signing_time=signing_time.native,
            **common,  # type: ignore[arg-type]
        )
    else:
        prepared = prepare_cades(document, signing_time=signing_time.native, **common)  # type: ignore[arg-type]
    # finish() checks the value against the certificate's key first.
    return finish(prepared, signer_info["signature"].native)


async def test_cades_items_are_prepare_and_finish_and_openssl_verifies_them(
    start_worker: StartWorker, make_person: MakePerson, ossl: OpenSSL
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    assert alice.certificate_id is not None
    material = await MaterialCache().load(
        worker.services.db, user_id=alice.id, certificate_id=UUID(alice.certificate_id)
    )
    ca_path = ossl.write("ca.pem", (await worker.http.get("/api/v1/ca/certificate")).content)
    digests = [hashlib.new("md_gost12_256", document).digest() for document in DOCUMENTS]
    for detached in (True, False):
        items = [
            ExecItem(i, digest, None if detached else document)
            for i, (document, digest) in enumerate(zip(DOCUMENTS, digests, strict=True))
        ]
        if not detached:  # an attached item whose document is gone fails alone
            items.append(ExecItem(len(items), digests[0], None))
        batch = Batch(op_id="t", format=Format.CADES_BES, detached=detached, material=material, items=items)
        results = await execute_batch(batch, hsm=worker.services.hsm, options=worker.ops.options)
        assert [result.idx for result in results] == [item.idx for item in items]
        for result, document in zip(results, DOCUMENTS, strict=False):
            assert result.result is not None, result
            assert result.result == _rebuilt(material, result.result, document, detached=detached)
        if not detached:
            assert results[-1].result is None
            assert results[-1].error_code == "document_missing"
        for index in (0, len(DOCUMENTS) - 1):
            signature = results[index].result
            assert signature is not None
            _openssl_verifies(ossl, ca_path, signature, DOCUMENTS[index], detached=detached)


def _openssl_verifies(
    ossl: OpenSSL, ca_path: str, signature: bytes, document: bytes, *, detached: bool
) -> None:
    args = ["cms", "-verify", "-engine", "gost", "-binary", "-purpose", "any", "-inform", "DER"]
    args += ["-in", ossl.write("sig.der", signature), "-CAfile", ca_path]
    if detached:
        args += ["-content", ossl.write("content.bin", document)]
    assert ossl.out(*args, "-out", "out.bin") == b""
    assert (ossl.workdir / "out.bin").read_bytes() == document
