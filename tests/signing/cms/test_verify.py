"""verify_cades: one test per outcome of the report — every sub-indication the CMS verifier gives,
built from a signature made to fail exactly that check — and typed errors on undecodable input."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt

import pytest

from signing.cms import (
    CheckName,
    CheckStatus,
    Indication,
    SignatureLevel,
    SubIndication,
    ValidationPolicy,
    ValidationReport,
    cosign_cades,
    finish,
    prepare_cades,
    sign_cades,
    verify_cades,
)
from signing.cms.container import assemble_signed_data, load_signed_data
from signing.errors import InvalidInputError, MalformedDataError
from signing.gost.params import ParamSet
from signing.keys import pem_encode
from tests.signing.cms.conftest import DAY, FAST_IDS, FAST_KINDS, NOW, YEAR, Kind, Oracle, is_gost, pki

DOCUMENT = b"The quick brown fox jumps over the lazy dog\n" * 8
GOST = ParamSet.TC26_256_A


def _only(report: ValidationReport) -> tuple[Indication, SubIndication | None]:
    assert len(report.signers) == 1
    return report.indication, report.sub_indication


def _status(report: ValidationReport, name: CheckName) -> CheckStatus:
    check = report.signers[0].check(name)
    assert check is not None, f"no {name} check"
    return check.status


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
def test_passed_report_says_everything(kind: Kind) -> None:
    p = pki(kind)
    signing_time = NOW - dt.timedelta(minutes=5)
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate, signing_time=signing_time)
    report = verify_cades(signature, trust_anchors=[p.root])
    assert report.passed
    assert report.sub_indication is None
    assert report.detached is False
    (signer,) = report.signers
    assert signer.level is SignatureLevel.CADES_BES
    assert signer.signing_time == signing_time
    assert signer.digest_algorithm == p.key.signature_algorithm.digest.name
    assert signer.signature_algorithm == p.key.signature_algorithm.name
    summary = signer.signing_certificate
    assert summary is not None
    assert summary.der_base64 is not None
    assert base64.b64decode(summary.der_base64) == p.certificate.der
    assert summary.serial_number == f"{p.certificate.serial_number:X}"
    assert "Подписант" in summary.subject
    assert [c.subject for c in signer.chain] == [summary.subject, p.root.subject.human_friendly]
    assert [c.name for c in signer.checks] == list(CheckName)
    assert all(c.status is CheckStatus.PASSED for c in signer.checks)
    assert signer.signer_identifier.startswith("issuer=")
    # The edge serialises it: JSON round trip keeps everything.
    assert ValidationReport.model_validate_json(report.model_dump_json()) == report


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
def test_changed_content_is_hash_failure(kind: Kind) -> None:
    p = pki(kind)
    attached = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate)
    tampered = attached.replace(b"lazy dog", b"lazy cat", 1)
    assert tampered != attached
    report = verify_cades(tampered, trust_anchors=[p.root])
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    assert _status(report, CheckName.SIGNATURE_VALUE) is CheckStatus.PASSED
    detached = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate, detached=True)
    report = verify_cades(detached, content=DOCUMENT + b"\n", trust_anchors=[p.root])
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    # A document given for an attached signature replaces the encapsulated one.
    report = verify_cades(attached, content=b"another document", trust_anchors=[p.root])
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
def test_changed_signature_is_sig_crypto_failure(kind: Kind) -> None:
    p = pki(kind)
    # The signature value is the last element of the last (only) SignerInfo.
    signature = _flip_last_byte(sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate))
    report = verify_cades(signature, trust_anchors=[p.root])
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)
    assert _status(report, CheckName.MESSAGE_DIGEST) is CheckStatus.PASSED


def test_changed_signed_attribute_is_sig_crypto_failure() -> None:
    p = pki(GOST)
    signing_time = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate, signing_time=signing_time)
    tampered = signature.replace(b"260102030405Z", b"260102030406Z")
    assert tampered != signature
    report = verify_cades(
        tampered, trust_anchors=[p.root], policy=ValidationPolicy(trust_claimed_signing_time=True)
    )
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)


@pytest.mark.parametrize("kind", FAST_KINDS, ids=FAST_IDS)
def test_untrusted_root_is_no_chain(kind: Kind) -> None:
    p = pki(kind)
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate)
    report = verify_cades(signature, trust_anchors=[pki(kind, 1).root])
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    assert _status(report, CheckName.SIGNATURE_VALUE) is CheckStatus.PASSED
    report = verify_cades(signature)
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    assert "no trust anchors" in report.signers[0].checks[-1].detail


def test_failure_outranks_indeterminate() -> None:
    p = pki(GOST)
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate, detached=True)
    report = verify_cades(signature, content=b"other")
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


@pytest.mark.parametrize("kind", [GOST, "P-256"], ids=["GOST", "P-256"])
def test_expired_certificate(kind: Kind) -> None:
    p = pki(kind)
    key = pki(kind, 2).key
    old = p.issue("Expired", key, not_before=NOW - 2 * YEAR, not_after=NOW - YEAR)
    during = NOW - 18 * 30 * DAY
    # Signed (by its own signed statement) after the certificate expired: TOTAL_FAILED/EXPIRED.
    late = sign_cades(DOCUMENT, signer=key, certificate=old, signing_time=NOW)
    report = verify_cades(late, trust_anchors=[p.root])
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.EXPIRED)
    assert _status(report, CheckName.SIGNING_TIME) is CheckStatus.FAILED
    # Signed while valid, by the claim, but expired now and no proof of existence.
    timely = sign_cades(DOCUMENT, signer=key, certificate=old, signing_time=during)
    report = verify_cades(timely, trust_anchors=[p.root])
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
    assert _status(report, CheckName.SIGNING_TIME) is CheckStatus.PASSED
    # A policy that trusts the claimed time, or a validation time back then, accepts it.
    trusting = ValidationPolicy(trust_claimed_signing_time=True)
    assert verify_cades(timely, trust_anchors=[p.root], policy=trusting).passed
    assert verify_cades(timely, trust_anchors=[p.root], at=during).passed
    assert not verify_cades(late, trust_anchors=[p.root], policy=trusting).passed


def test_not_yet_valid_certificate() -> None:
    p = pki(GOST)
    key = pki(GOST, 2).key
    future = p.issue("Future", key, not_before=NOW + DAY, not_after=NOW + YEAR)
    signature = sign_cades(DOCUMENT, signer=key, certificate=future, signing_time=NOW)
    report = verify_cades(signature, trust_anchors=[p.root])
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID)
    report = verify_cades(signature, trust_anchors=[p.root], at=NOW + 2 * DAY)
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID)


def test_validation_time_must_be_aware() -> None:
    p = pki(GOST)
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate)
    with pytest.raises(InvalidInputError, match="timezone"):
        verify_cades(signature, trust_anchors=[p.root], at=dt.datetime(2026, 1, 1))


def test_detached_without_content_is_signed_data_not_found() -> None:
    p = pki(GOST)
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate, detached=True)
    report = verify_cades(signature, trust_anchors=[p.root])
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND)
    assert report.detached is True
    # The signature over the signed attributes is still checked.
    assert _status(report, CheckName.SIGNATURE_VALUE) is CheckStatus.PASSED


def test_detached_with_digests() -> None:
    gost, ecdsa = pki(GOST), pki("P-256")
    signature = sign_cades(DOCUMENT, signer=gost.key, certificate=gost.certificate, detached=True)
    signature = cosign_cades(signature, signer=ecdsa.key, certificate=ecdsa.certificate, content=DOCUMENT)
    anchors = [gost.root, ecdsa.root]
    streebog = gost.key.signature_algorithm.digest.hash(DOCUMENT)
    sha256 = ecdsa.key.signature_algorithm.digest.hash(DOCUMENT)
    report = verify_cades(
        signature, content_digest={"streebog256": streebog, "sha256": sha256}, trust_anchors=anchors
    )
    assert report.passed
    # One bare digest serves the signer of its algorithm; the other one's is unknown... or wrong.
    report = verify_cades(signature, content_digest=streebog, trust_anchors=anchors)
    assert [s.indication for s in report.signers] == [Indication.TOTAL_PASSED, Indication.TOTAL_FAILED]
    report = verify_cades(signature, content_digest={"streebog256": streebog}, trust_anchors=anchors)
    assert [s.sub_indication for s in report.signers] == [None, SubIndication.SIGNED_DATA_NOT_FOUND]
    assert report.indication is Indication.INDETERMINATE
    with pytest.raises(InvalidInputError):
        verify_cades(signature, content=DOCUMENT, content_digest=streebog)


def test_substituted_certificate_is_no_signing_certificate_found() -> None:
    """Same key, another certificate named by the SignerIdentifier: signing-certificate-v2 catches it."""
    p = pki(GOST)
    twin = p.issue("Twin", p.key, not_before=NOW - YEAR, not_after=NOW + YEAR)
    prepared = prepare_cades(
        DOCUMENT, certificate=p.certificate, signature_algorithm=p.key.signature_algorithm
    )
    swapped = dataclasses.replace(prepared, certificate=twin)
    signature = finish(swapped, p.key.sign_digest(swapped.digest_to_sign))
    report = verify_cades(signature, trust_anchors=[p.root])
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND)
    assert _status(report, CheckName.SIGNING_CERTIFICATE_REFERENCE) is CheckStatus.INDETERMINATE
    assert _status(report, CheckName.SIGNATURE_VALUE) is CheckStatus.PASSED


def _without_certificates(signature: bytes) -> bytes:
    parsed = load_signed_data(signature)
    return assemble_signed_data(
        version=parsed.version,
        digest_algorithms=parsed.digest_algorithms,
        encapsulated_content_info=parsed.encapsulated_content_info,
        certificates=[],
        crls=None,
        signer_infos=parsed.signer_infos,
    )


def test_certificate_missing_from_cms() -> None:
    p = pki(GOST)
    bare = _without_certificates(sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate))
    report = verify_cades(bare, trust_anchors=[p.root])
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND)
    assert [c.status for c in report.signers[0].checks[-3:]] == [CheckStatus.SKIPPED] * 3
    assert verify_cades(bare, trust_anchors=[p.root], certificates=[p.certificate]).passed


def test_policy_requires_key_usage() -> None:
    p = pki("P-256")
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate)
    strict = ValidationPolicy(required_key_usages=frozenset({"non_repudiation"}))
    assert verify_cades(signature, trust_anchors=[p.root], policy=strict).passed
    wrong = ValidationPolicy(required_key_usages=frozenset({"key_encipherment"}))
    report = verify_cades(signature, trust_anchors=[p.root], policy=wrong)
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE)


@pytest.mark.parametrize("kind", [GOST, "P-256"], ids=["GOST", "P-256"])
def test_plain_cms_and_no_attributes_from_openssl(oracle: Oracle, kind: Kind) -> None:
    p = pki(kind)
    plain = oracle.cms_sign(p.certificate, p.key, DOCUMENT, gost=is_gost(kind), detached=False)
    assert verify_cades(plain, trust_anchors=[p.root]).passed
    demanding = ValidationPolicy(require_signing_certificate_reference=True)
    report = verify_cades(plain, trust_anchors=[p.root], policy=demanding)
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    # -noattr: no signed attributes, the signature covers the content digest itself.
    for detached in (False, True):
        bare = oracle.cms_sign(
            p.certificate, p.key, DOCUMENT, gost=is_gost(kind), detached=detached, extra=["-noattr"]
        )
        report = verify_cades(bare, content=DOCUMENT if detached else None, trust_anchors=[p.root])
        assert report.passed, report.model_dump_json(indent=1)
        assert _status(report, CheckName.MESSAGE_DIGEST) is CheckStatus.NOT_APPLICABLE
        assert report.signers[0].signing_time is None
        changed = verify_cades(bare, content=DOCUMENT + b".", trust_anchors=[p.root])
        assert _only(changed) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)
        if detached:
            missing = verify_cades(bare, trust_anchors=[p.root])
            assert _only(missing) == (Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND)


def test_unknown_digest_algorithm() -> None:
    p = pki(GOST)
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate)
    streebog = bytes.fromhex("06082a85030701010202")
    unknown = bytes.fromhex("06082a85030701010209")
    report = verify_cades(signature.replace(streebog, unknown), trust_anchors=[p.root])
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE)
    assert report.signers[0].signing_certificate is not None


def test_no_signers_is_format_failure() -> None:
    p = pki(GOST)
    parsed = load_signed_data(sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate))
    empty = assemble_signed_data(
        version=1,
        digest_algorithms=parsed.digest_algorithms,
        encapsulated_content_info=parsed.encapsulated_content_info,
        certificates=parsed.certificate_choices,
        crls=None,
        signer_infos=[],
    )
    report = verify_cades(empty, trust_anchors=[p.root])
    assert (report.indication, report.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.FORMAT_FAILURE,
    )
    assert report.signers == ()


def test_pem_input() -> None:
    p = pki(GOST)
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate)
    assert verify_cades(pem_encode(signature, "CMS"), trust_anchors=[p.root]).passed
    with pytest.raises(MalformedDataError):
        verify_cades(pem_encode(signature, "CERTIFICATE"))


def test_every_truncation_is_a_typed_error() -> None:
    p = pki(GOST)
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate)
    for cut in range(len(signature)):
        with pytest.raises(MalformedDataError):
            verify_cades(signature[:cut], trust_anchors=[p.root])


def test_not_signed_data_is_a_typed_error() -> None:
    p = pki(GOST)
    for data in (p.certificate.der, bytes.fromhex("300d06092a864886f70d010701a000"), b"", b"\x00" * 8):
        with pytest.raises(MalformedDataError):
            verify_cades(data)
    with pytest.raises(InvalidInputError):
        verify_cades("not bytes")  # type: ignore[arg-type]


def test_every_covered_byte_matters() -> None:
    """Flip each byte of a GOST CAdES-BES: it fails unless the byte is in one of the few fields no
    signature covers and no check reads (the digestAlgorithms set, the NULL algorithm parameters)."""
    p = pki(GOST)
    signature = sign_cades(b"covered", signer=p.key, certificate=p.certificate)
    parsed = load_signed_data(signature)
    (digest_set_element,) = parsed.digest_algorithms
    start = signature.index(digest_set_element)
    free = set(range(start, start + len(digest_set_element)))
    signer_info_start = signature.index(parsed.signer_infos[0])
    for algorithm_oid in (bytes.fromhex("06082a85030701010202"), bytes.fromhex("06082a85030701010101")):
        null_tag = signature.index(algorithm_oid + b"\x05\x00", signer_info_start) + len(algorithm_oid)
        free.add(null_tag)
    passing = set()
    for position in range(len(signature)):
        damaged = signature[:position] + bytes([signature[position] ^ 0x01]) + signature[position + 1 :]
        try:
            if verify_cades(damaged, trust_anchors=[p.root]).passed:
                passing.add(position)
        except MalformedDataError:
            continue
    assert passing <= free, sorted(passing - free)
