"""Signatures made by openssl (gost engine) verified by ``POST /verify``, and the report's verdicts."""

from __future__ import annotations

from functools import partial

from storage.repos import keys as keys_repo
from tests.operations.conftest import MakePerson, OpenSSL, StartWorker, b64

EXTENSIONS = """
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ee]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def openssl_pki(ossl: OpenSSL) -> None:
    """A GOST CA and an end-entity certificate it issued, made by openssl alone."""
    gost = ("-engine", "gost")
    ossl.write("ext.cnf", EXTENSIONS)
    for name in ("ca", "ee"):
        ossl.out(
            "genpkey", *gost, "-algorithm", "gost2012_256", "-pkeyopt", "paramset:A", "-out", f"{name}.key"
        )
    ossl.out(
        "req", *gost, "-new", "-x509", "-key", "ca.key", "-subj", "/CN=OpenSSL GOST CA", "-days", "30",
        "-md_gost12_256", "-extensions", "ca", "-config", "ext.cnf", "-out", "ca.pem",
    )  # fmt: skip
    ossl.out(
        "req", *gost, "-new", "-key", "ee.key", "-subj", "/CN=Signer", "-md_gost12_256", "-out", "ee.csr"
    )
    ossl.out(
        "x509", *gost, "-req", "-in", "ee.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "30", "-md_gost12_256", "-extfile", "ext.cnf", "-extensions", "ee", "-out", "ee.pem",
    )  # fmt: skip


async def test_openssl_cms_and_raw_signatures_verify_in_the_server(
    start_worker: StartWorker, make_person: MakePerson, ossl: OpenSSL
) -> None:
    worker = await start_worker()
    alice = await make_person(worker, "alice", certificate=False)
    openssl_pki(ossl)
    document = "Акт сверки за 2025 год\n".encode()
    ossl.write("doc.txt", document)
    gost = ("-engine", "gost")
    base = ("cms", "-sign", *gost, "-binary", "-signer", "ee.pem", "-inkey", "ee.key", "-md", "md_gost12_256")
    ossl.out(*base, "-nodetach", "-in", "doc.txt", "-outform", "DER", "-out", "attached.der")
    ossl.out(*base, "-in", "doc.txt", "-outform", "DER", "-out", "detached.der")
    ossl.out("dgst", *gost, "-md_gost12_256", "-sign", "ee.key", "-out", "raw.sig", "doc.txt")
    attached = (ossl.workdir / "attached.der").read_bytes()
    detached = (ossl.workdir / "detached.der").read_bytes()
    raw = (ossl.workdir / "raw.sig").read_bytes()
    ee_pem = (ossl.workdir / "ee.pem").read_bytes()

    async def verify(**body: str) -> dict[str, object]:
        response = await worker.call("POST", "/verify", alice.headers, json=body)
        assert response.status_code == 200, response.text
        report: dict[str, object] = response.json()
        return report

    # Not yet trusted: the signature value is fine, the chain cannot be built to an anchor.
    untrusted = await verify(format="cades-bes", signature=b64(attached))
    assert untrusted["indication"] == "INDETERMINATE", untrusted

    ca_der = ossl.out("x509", "-in", "ca.pem", "-outform", "DER")
    await worker.services.db.run(
        partial(keys_repo.add_trust_anchor, subject="CN=OpenSSL GOST CA", source="admin"), ca_der
    )

    report = await verify(format="cades-bes", signature=b64(attached))
    assert report["indication"] == "TOTAL_PASSED", report
    assert report["detached"] is False
    report = await verify(format="cades-bes", signature=b64(detached), content=b64(document))
    assert report["indication"] == "TOTAL_PASSED", report
    report = await verify(format="raw", signature=b64(raw), content=b64(document), certificate=b64(ee_pem))
    assert report["indication"] == "TOTAL_PASSED", report

    tampered = await verify(format="cades-bes", signature=b64(detached), content=b64(document + b"!"))
    assert tampered["indication"] == "TOTAL_FAILED"
    assert tampered["sub_indication"] == "HASH_FAILURE"
    bad_raw = await verify(
        format="raw", signature=b64(raw), content=b64(document + b"!"), certificate=b64(ee_pem)
    )
    assert bad_raw["indication"] == "TOTAL_FAILED"
