"""Revocation in the validation report: ``apply_revocation`` over real CAdES-BES and raw reports."""

from __future__ import annotations

import datetime as dt

import pytest

from signing.cms import verify_cades, verify_raw
from signing.cms.cades import sign_cades
from signing.cms.raw import sign_raw
from signing.cms.report import (
    CheckName,
    CheckStatus,
    Indication,
    RevocationReference,
    RevocationSource,
    RevocationState,
    SubIndication,
    ValidationReport,
)
from signing.cms.validation import RevocationRecord, apply_revocation
from signing.gost.params import ParamSet
from tests.signing.cms.conftest import NOW, Pki, pki

DOCUMENT = "Акт сверки за ноябрь\n".encode() * 8
SIGNED_AT = NOW - dt.timedelta(hours=2)


@pytest.fixture(scope="module")
def gost() -> Pki:
    """A GOST 256 PKI (root and one signer)."""
    return pki(ParamSet.TC26_256_A)


def cades_report(p: Pki) -> ValidationReport:
    """A passing CAdES-BES report with a claimed signing time of ``SIGNED_AT``."""
    signature = sign_cades(DOCUMENT, signer=p.key, certificate=p.certificate, signing_time=SIGNED_AT)
    report = verify_cades(signature, trust_anchors=[p.root])
    assert report.passed
    return report


def fingerprint(report: ValidationReport) -> str:
    summary = report.signers[0].signing_certificate
    assert summary is not None
    return summary.sha256_fingerprint


def test_revoked_after_the_signing_time_stays_valid_and_says_so(gost: Pki) -> None:
    report = cades_report(gost)
    revoked_at = SIGNED_AT + dt.timedelta(minutes=30)
    checked = apply_revocation(report, {fingerprint(report): RevocationRecord(revoked_at, "key_compromise")})
    assert checked.indication is Indication.TOTAL_PASSED
    (signer,) = checked.signers
    assert signer.checks == report.signers[0].checks
    status = signer.revocation
    assert status is not None
    assert status.status is RevocationState.REVOKED
    assert status.source is RevocationSource.BUILTIN_CA
    assert status.revoked_at == revoked_at
    assert status.reason == "key_compromise"
    assert status.reference is RevocationReference.SIGNING_TIME
    assert status.reference_time == SIGNED_AT
    assert status.revoked_before_reference is False
    assert "after the claimed signing time" in status.detail
    # The edge serialises it: the JSON round trip keeps everything; the signer's JSON only gains a
    # "revocation" member (null when no lookup was made), every other member is unchanged.
    assert ValidationReport.model_validate_json(checked.model_dump_json()) == checked
    old = report.model_dump(mode="json")["signers"][0]
    new = checked.model_dump(mode="json")["signers"][0]
    assert old.pop("revocation") is None
    assert new.pop("revocation")["status"] == "revoked"
    assert new == old


def test_revoked_before_the_signing_time_fails_with_revoked(gost: Pki) -> None:
    report = cades_report(gost)
    revoked_at = SIGNED_AT - dt.timedelta(minutes=1)
    checked = apply_revocation(report, {fingerprint(report): RevocationRecord(revoked_at, None)})
    assert checked.indication is Indication.TOTAL_FAILED
    assert checked.sub_indication is SubIndication.REVOKED
    (signer,) = checked.signers
    assert signer.sub_indication is SubIndication.REVOKED
    chain = signer.check(CheckName.CERTIFICATE_CHAIN)
    assert chain is not None
    assert chain.status is CheckStatus.FAILED
    assert chain.sub_indication is SubIndication.REVOKED
    assert "at or before the claimed signing time" in chain.detail
    assert signer.revocation is not None
    assert signer.revocation.revoked_before_reference is True
    assert signer.revocation.reason == "unspecified"
    # Every other check is as it was.
    assert [c.name for c in signer.checks] == [c.name for c in report.signers[0].checks]


def test_raw_signature_is_compared_with_the_validation_time(gost: Pki) -> None:
    signature = sign_raw(gost.key, content=DOCUMENT)
    report = verify_raw(gost.certificate, signature, content=DOCUMENT, trust_anchors=[gost.root])
    assert report.passed
    # A raw signature has no time: revoked a minute ago means revoked when checked, now.
    revoked_at = report.validation_time - dt.timedelta(minutes=1)
    checked = apply_revocation(report, {fingerprint(report): RevocationRecord(revoked_at, "superseded")})
    assert checked.indication is Indication.TOTAL_FAILED
    assert checked.sub_indication is SubIndication.REVOKED
    status = checked.signers[0].revocation
    assert status is not None
    assert status.reference is RevocationReference.VALIDATION_TIME
    assert status.reference_time == report.validation_time
    assert status.revoked_before_reference is True


def test_not_revoked_and_unknown(gost: Pki) -> None:
    report = cades_report(gost)
    good = apply_revocation(report, {fingerprint(report): RevocationRecord(None)})
    assert good.indication is Indication.TOTAL_PASSED
    status = good.signers[0].revocation
    assert status is not None
    assert status.status is RevocationState.GOOD
    assert status.revoked_at is None

    unknown = apply_revocation(report, {}, unknown_detail="another anchor: not checked")
    assert unknown.indication is Indication.TOTAL_PASSED
    assert unknown.signers[0].checks == report.signers[0].checks
    status = unknown.signers[0].revocation
    assert status is not None
    assert status.status is RevocationState.UNKNOWN
    assert status.source is RevocationSource.NONE
    assert status.detail == "another anchor: not checked"


def test_a_failure_that_is_already_total_stays(gost: Pki) -> None:
    signature = sign_cades(DOCUMENT, signer=gost.key, certificate=gost.certificate, signing_time=SIGNED_AT)
    report = verify_cades(signature, content=b"another document", trust_anchors=[gost.root])
    assert report.sub_indication is SubIndication.HASH_FAILURE
    revoked = RevocationRecord(SIGNED_AT - dt.timedelta(days=1), "key_compromise")
    checked = apply_revocation(report, {fingerprint(report): revoked})
    # The first TOTAL_FAILED check in order still decides; the revocation is stated as well.
    assert checked.sub_indication is SubIndication.HASH_FAILURE
    assert checked.signers[0].revocation is not None
    assert checked.signers[0].revocation.revoked_before_reference is True


def test_a_cms_signer_without_signing_time_is_compared_with_the_validation_time(gost: Pki) -> None:
    report = cades_report(gost)
    # What a plain CMS without a signing-time attribute reports (apply_revocation reads only the report).
    timeless = report.model_copy(
        update={"signers": (report.signers[0].model_copy(update={"signing_time": None}),)}
    )
    revoked_at = SIGNED_AT + dt.timedelta(minutes=30)  # after the signature was made, before it is checked
    checked = apply_revocation(timeless, {fingerprint(report): RevocationRecord(revoked_at, "superseded")})
    assert checked.sub_indication is SubIndication.REVOKED
    status = checked.signers[0].revocation
    assert status is not None
    assert status.reference is RevocationReference.VALIDATION_TIME
    assert "at or before the validation time" in status.detail
