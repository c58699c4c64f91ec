"""The verifier on signatures whose signed attributes (or whole SignedData) are built independently with
asn1crypto's ``cms``/``tsp`` classes: ESS v1 and v2 variants, missing or repeated attributes, a
subjectKeyIdentifier signer. Each is properly signed, so only the attribute under test can fail."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509

from signing.cms import (
    CheckName,
    CheckStatus,
    Indication,
    PreparedSignature,
    SignatureLevel,
    SubIndication,
    ValidationReport,
    finish,
    verify_cades,
)
from signing.cms.identifiers import digest_identifier, signature_identifier
from signing.gost.params import ParamSet
from signing.x509 import build_name
from tests.signing.cms.conftest import NOW, Pki, pki

DOCUMENT = b"attributes under test"
P = pki(ParamSet.TC26_256_A)


def _issuer_serial(
    p: Pki, serial: int | None = None, issuer_name: asn1_x509.Name | None = None
) -> dict[str, Any]:
    issuer = asn1_x509.GeneralName(name="directory_name", value=issuer_name or p.certificate.issuer)
    return {"issuer": [issuer], "serial_number": p.certificate.serial_number if serial is None else serial}


def _content_type(value: str = "data") -> dict[str, Any]:
    return {"type": "content_type", "values": [value]}


def _message_digest(p: Pki = P) -> dict[str, Any]:
    return {"type": "message_digest", "values": [p.key.signature_algorithm.digest.hash(DOCUMENT)]}


def _signing_time() -> dict[str, Any]:
    return {"type": "signing_time", "values": [cms.Time(name="utc_time", value=NOW)]}


def _ess_v2(
    p: Pki = P,
    *,
    digest_oid: str | None = None,
    serial: int | None = None,
    with_issuer_serial: bool = True,
    **change: Any,
) -> dict[str, Any]:
    digest = p.key.signature_algorithm.digest
    cert_id: dict[str, Any] = {
        "hash_algorithm": {"algorithm": digest_oid or digest.oid},
        "cert_hash": digest.hash(p.certificate.der),
    }
    if with_issuer_serial:
        cert_id["issuer_serial"] = _issuer_serial(p, serial)
    cert_id.update(change)
    return {"type": "signing_certificate_v2", "values": [{"certs": [cert_id]}]}


def _ess_v1(p: Pki = P, *, cert_hash: bytes | None = None) -> dict[str, Any]:
    sha1 = hashlib.sha1(p.certificate.der, usedforsecurity=False).digest()
    cert_id = {"cert_hash": cert_hash or sha1, "issuer_serial": _issuer_serial(p)}
    return {"type": "signing_certificate", "values": [{"certs": [cert_id]}]}


def _signed(attributes: list[dict[str, Any]], p: Pki = P) -> bytes:
    """A CMS whose signed attributes are exactly ``attributes``, properly signed by ``p``'s key."""
    encoded = bytes(cms.CMSAttributes(attributes).dump(force=True))
    algorithm = p.key.signature_algorithm
    prepared = PreparedSignature(
        signed_attributes=encoded,
        digest_to_sign=algorithm.digest.hash(encoded),
        signature_algorithm=algorithm,
        certificate=p.certificate,
        detached=False,
        content=DOCUMENT,
    )
    return finish(prepared, p.key.sign_digest(prepared.digest_to_sign))


def _result(report: ValidationReport) -> tuple[Indication, SubIndication | None]:
    (signer,) = report.signers
    return signer.indication, signer.sub_indication


def test_hand_built_cades_bes_passes() -> None:
    report = verify_cades(
        _signed([_content_type(), _signing_time(), _message_digest(), _ess_v2()]), trust_anchors=[P.root]
    )
    assert report.passed
    assert report.signers[0].level is SignatureLevel.CADES_BES


def test_ess_v1_sha1_reference() -> None:
    report = verify_cades(_signed([_content_type(), _message_digest(), _ess_v1()]), trust_anchors=[P.root])
    assert report.passed
    assert report.signers[0].level is SignatureLevel.CADES_BES
    wrong = verify_cades(
        _signed([_content_type(), _message_digest(), _ess_v1(cert_hash=bytes(20))]), trust_anchors=[P.root]
    )
    assert _result(wrong) == (Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND)


_OTHER_ISSUER = build_name([("common_name", "Other CA")])
_NOT_FOUND = SubIndication.NO_SIGNING_CERTIFICATE_FOUND


@pytest.mark.parametrize(
    ("reference", "expected", "says"),
    [
        (_ess_v2(serial=12345), _NOT_FOUND, "serial number"),
        (_ess_v2(cert_hash=bytes(32)), _NOT_FOUND, "certificate hash"),
        (_ess_v2(issuer_serial=_issuer_serial(P, issuer_name=_OTHER_ISSUER)), _NOT_FOUND, "issuer"),
        (_ess_v2(digest_oid="1.2.643.7.1.1.2.9"), SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, "1.2.643"),
        ({"type": "signing_certificate_v2", "values": [{"certs": []}]}, _NOT_FOUND, "no certificate"),
    ],
    ids=["serial", "hash", "issuer", "unknown-hash", "empty"],
)
def test_wrong_references(reference: dict[str, Any], expected: SubIndication, says: str) -> None:
    report = verify_cades(_signed([_content_type(), _message_digest(), reference]), trust_anchors=[P.root])
    assert _result(report) == (expected.indication, expected)
    check = report.signers[0].check(CheckName.SIGNING_CERTIFICATE_REFERENCE)
    assert check is not None
    assert check.sub_indication is expected
    assert says in check.detail


def test_reference_variants_that_pass() -> None:
    sha512 = hashlib.sha512(P.certificate.der).digest()
    for reference in (
        _ess_v2(with_issuer_serial=False),  # issuerSerial is optional
        _ess_v2(digest_oid="2.16.840.1.101.3.4.2.3", cert_hash=sha512),  # any supported hash
    ):
        assert verify_cades(
            _signed([_content_type(), _message_digest(), reference]), trust_anchors=[P.root]
        ).passed


@pytest.mark.parametrize(
    "attributes",
    [
        [_message_digest(), _ess_v2()],
        [_content_type(), _ess_v2()],
        [_content_type(), _message_digest(), _message_digest(), _ess_v2()],
        [_content_type(), {"type": "message_digest", "values": [b"a" * 32, b"b" * 32]}, _ess_v2()],
        [_content_type(), _message_digest(), _signing_time(), _signing_time(), _ess_v2()],
    ],
    ids=["no-content-type", "no-message-digest", "two-digests", "two-digest-values", "two-times"],
)
def test_malformed_attribute_sets_are_format_failures(attributes: list[dict[str, Any]]) -> None:
    report = verify_cades(_signed(attributes), trust_anchors=[P.root])
    assert _result(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert report.signers[0].signing_certificate is not None


def test_content_type_mismatch() -> None:
    report = verify_cades(
        _signed([_content_type("signed_data"), _message_digest(), _ess_v2()]), trust_anchors=[P.root]
    )
    assert _result(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    check = report.signers[0].check(CheckName.CONTENT_TYPE)
    assert check is not None
    assert check.status is CheckStatus.FAILED


def _signed_data_by_key_identifier(version: str) -> bytes:
    """A whole SignedData built with asn1crypto, its signer named by subjectKeyIdentifier."""
    algorithm = P.key.signature_algorithm
    attributes = cms.CMSAttributes([_content_type(), _message_digest(), _ess_v2()])
    signed = attributes.dump(force=True)
    signature = P.key.sign_digest(algorithm.digest.hash(signed))
    key_id = P.certificate.subject_key_identifier
    assert key_id is not None
    signer_info = cms.SignerInfo(
        {
            "version": version,
            "sid": cms.SignerIdentifier(name="subject_key_identifier", value=key_id),
            "digest_algorithm": algos.DigestAlgorithm(digest_identifier(algorithm.digest).native),
            "signed_attrs": cms.CMSAttributes.load(signed),
            "signature_algorithm": algos.SignedDigestAlgorithm(signature_identifier(algorithm).native),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [digest_identifier(algorithm.digest)],
            "encap_content_info": {"content_type": "data", "content": DOCUMENT},
            "certificates": [P.certificate.asn1],
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def test_subject_key_identifier_signer() -> None:
    report = verify_cades(_signed_data_by_key_identifier("v3"), trust_anchors=[P.root])
    assert report.passed, report.model_dump_json(indent=1)
    assert report.signers[0].signer_identifier.startswith("subjectKeyIdentifier=")
    wrong_version = verify_cades(_signed_data_by_key_identifier("v1"), trust_anchors=[P.root])
    assert _result(wrong_version) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
