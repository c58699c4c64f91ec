"""The path a user walks: account → token → key → certificate → sign → verify, against real parts."""

from __future__ import annotations

from signing.cms import verify_cades
from signing.x509 import Certificate
from tests.operations.conftest import MakePerson, OpenSSL, StartWorker, b64, sign, unb64


async def test_sign_raw_and_cades_without_confirmation_then_verify(
    start_worker: StartWorker, make_person: MakePerson, ossl: OpenSSL
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice")
    assert alice.certificate_pem is not None
    ca_pem = (await worker.http.get("/api/v1/ca/certificate")).content
    ca_path = ossl.write("ca.pem", ca_pem)
    document = "Договор № 17 от 1 марта\n".encode() * 10

    raw = await sign(
        worker, alice, items=[{"name": "contract.txt", "content": b64(document)}], confirmation="none"
    )
    assert raw.status_code == 201, raw.text
    assert raw.headers["Location"] == f"/api/v1/operations/{raw.json()['id']}"
    body = raw.json()
    assert body["state"] == "completed"
    assert body["confirmation"] == "none"
    [item] = body["items"]
    assert item["status"] == "signed"
    assert item["error"] is None
    verified = await worker.call(
        "POST",
        "/verify",
        alice.headers,
        json={
            "format": "raw",
            "signature": item["signature"],
            "content": b64(document),
            "certificate": b64(alice.certificate_pem.encode()),
        },
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["indication"] == "TOTAL_PASSED", verified.json()
    # openssl checks the raw value too: dgst -verify over the document with the certificate's key.
    pub = ossl.out("x509", "-engine", "gost", "-pubkey", "-noout", input=alice.certificate_pem.encode())
    ossl.write("alice.pub", pub)
    ossl.write("doc.bin", document)
    ossl.write("raw.sig", unb64(item["signature"]))
    checked = ossl.out(
        "dgst",
        "-engine",
        "gost",
        "-md_gost12_256",
        "-verify",
        "alice.pub",
        "-signature",
        "raw.sig",
        "doc.bin",
    )
    assert b"Verified OK" in checked

    for detached in (False, True):
        cms = await sign(
            worker,
            alice,
            format="cades-bes",
            detached=detached,
            items=[{"name": "contract.txt", "content": b64(document)}],
        )
        assert cms.status_code == 201, cms.text
        [item] = cms.json()["items"]
        signature = unb64(item["signature"])
        _openssl_verifies(ossl, ca_path, signature, document, detached=detached)
        report = verify_cades(
            signature, content=document if detached else None, trust_anchors=[Certificate.load(ca_pem)]
        )
        assert report.indication == "TOTAL_PASSED"
        verified = await worker.call(
            "POST",
            "/verify",
            alice.headers,
            json={
                "format": "cades-bes",
                "signature": item["signature"],
                **({"content": b64(document)} if detached else {}),
            },
        )
        assert verified.json()["indication"] == "TOTAL_PASSED", verified.json()


def _openssl_verifies(
    ossl: OpenSSL, ca_path: str, signature: bytes, document: bytes, *, detached: bool
) -> None:
    sig_path = ossl.write("sig.der", signature)
    args = [
        "cms",
        "-verify",
        "-engine",
        "gost",
        "-binary",
        "-inform",
        "DER",
        "-in",
        sig_path,
        "-CAfile",
        ca_path,
    ]
    if detached:
        args += ["-content", ossl.write("content.bin", document)]
    out = ossl.out(*args, "-out", "out.bin")
    assert out == b""
    assert (ossl.workdir / "out.bin").read_bytes() == document
