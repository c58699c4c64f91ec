"""Checks shared by every verifier: signature value, claimed signing time, certificate chain; the policy.

Time semantics (a BES signature carries no proof of existence, EN 319 102-1 §5.2.6 / §5.3):

* the chain is validated at the *validation time* (``at``, default now). A certificate expired or not
  yet valid then gives INDETERMINATE/OUT_OF_BOUNDS_NO_POE: the claimed signing time is no proof that
  the signature was made while it was valid. :attr:`ValidationPolicy.trust_claimed_signing_time`
  accepts the claim instead (validates at the signing time), as Russian BES verifiers commonly do;
* the claimed signing time is a statement signed by the signer: when it lies outside the signing
  certificate's validity the signature says of itself that it was made with an expired (or not yet
  issued) certificate, which is TOTAL_FAILED/EXPIRED (NOT_YET_VALID).

Revocation (:func:`apply_revocation`, run after a verifier with what a revocation source knows):

* the revocation time is compared with the *reference time*: the claimed signing time of a CMS
  signature that has one, otherwise the validation time (raw signatures carry no time at all);
* revoked at or before the reference time: the certificate-chain check fails with TOTAL_FAILED/REVOKED
  (for a claimed signing time this is the signer's own statement that it signed with a revoked
  certificate, as with EXPIRED above);
* revoked after the claimed signing time: the signature stays valid *at its signing time* and the
  report states the revocation (``revoked_before_reference = False``). A BES signature has no proof of
  existence, so this trusts the claimed time — a signer holding a compromised key can backdate it;
  a time-stamp (CAdES-T) is what removes that doubt;
* a certificate no source covers is reported ``unknown``: the indication is not changed, the report
  says that nothing was checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from signing.algorithms import SignatureAlgorithm
from signing.chain import ChainFailure, verify_chain
from signing.cms.report import (
    CertificateSummary,
    Check,
    CheckName,
    CheckStatus,
    RevocationReference,
    RevocationSource,
    RevocationState,
    RevocationStatus,
    SignerReport,
    SubIndication,
    ValidationReport,
    conclude,
    summarize_certificate,
    worst,
)
from signing.errors import (
    CryptoError,
    InvalidInputError,
    InvalidSignatureError,
    UnsupportedAlgorithmError,
)
from signing.keys import PublicKey
from signing.x509 import Certificate

__all__ = [
    "DEFAULT_POLICY",
    "UNKNOWN_REVOCATION",
    "RevocationRecord",
    "ValidationPolicy",
    "apply_revocation",
    "check_chain",
    "check_signature_value",
    "check_signing_time",
    "validation_time",
]

_TIME_FAILURES = frozenset({ChainFailure.EXPIRED, ChainFailure.NOT_YET_VALID})


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationPolicy:
    """Knobs of a validation; the defaults follow EN 319 102-1 for signatures without time-stamps."""

    required_key_usages: frozenset[str] = frozenset()
    """keyUsage names the signing certificate must allow (e.g. ``non_repudiation``); none by default."""
    require_signing_certificate_reference: bool = False
    """Fail (FORMAT_FAILURE) a CMS signature without a signing-certificate(-v2) attribute, i.e. demand
    CAdES-BES; by default plain CMS (``openssl cms -sign``) is accepted."""
    trust_claimed_signing_time: bool = False
    """Validate the chain at the claimed signing time when it does not validate at the validation time."""


DEFAULT_POLICY = ValidationPolicy()
"""The default policy."""


def validation_time(at: dt.datetime | None) -> dt.datetime:
    """``at`` (must be timezone-aware) or now, in UTC."""
    if at is None:
        return dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        raise InvalidInputError("the validation time must be timezone-aware")
    return at.astimezone(dt.UTC)


def check_signature_value(
    public_key: PublicKey, digest: bytes, signature: bytes, algorithm: SignatureAlgorithm
) -> Check:
    """Verify ``signature`` over ``digest``: PASSED or TOTAL_FAILED/SIG_CRYPTO_FAILURE."""
    name = CheckName.SIGNATURE_VALUE
    try:
        public_key.verify_digest(digest, signature, algorithm)
    except InvalidSignatureError:
        return Check.failed(
            name, SubIndication.SIG_CRYPTO_FAILURE, f"the {algorithm.name} signature is wrong"
        )
    except (CryptoError, InvalidInputError, UnsupportedAlgorithmError) as exc:
        # A key that cannot make this algorithm, or a value of an impossible length: still a
        # signature that does not verify with the signer's key.
        return Check.failed(name, SubIndication.SIG_CRYPTO_FAILURE, f"{exc.code}: {exc}")
    return Check.passed(name, algorithm.name)


def check_signing_time(certificate: Certificate, signing_time: dt.datetime | None) -> Check:
    """The claimed signing time against the signing certificate's validity."""
    name = CheckName.SIGNING_TIME
    if signing_time is None:
        return Check.not_applicable(name, "no signing-time attribute")
    if signing_time < certificate.not_before:
        detail = f"signed at {signing_time.isoformat()}, before the certificate's notBefore"
        return Check.failed(name, SubIndication.NOT_YET_VALID, detail)
    if signing_time > certificate.not_after:
        detail = f"signed at {signing_time.isoformat()}, after the certificate's notAfter"
        return Check.failed(name, SubIndication.EXPIRED, detail)
    return Check.passed(name, signing_time.isoformat())


def check_chain(
    certificate: Certificate,
    *,
    trust_anchors: Iterable[Certificate],
    intermediates: Iterable[Certificate],
    at: dt.datetime,
    signing_time: dt.datetime | None,
    policy: ValidationPolicy,
) -> tuple[Check, tuple[CertificateSummary, ...]]:
    """Validate the signing certificate's path to a trust anchor; return the check and the path."""
    name = CheckName.CERTIFICATE_CHAIN
    anchors = tuple(trust_anchors)
    if not anchors:
        return Check.failed(name, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, "no trust anchors configured"), ()
    pool = tuple(intermediates)
    usages = policy.required_key_usages
    result = verify_chain(
        certificate, trust_anchors=anchors, intermediates=pool, at=at, required_key_usages=usages
    )
    path = tuple(summarize_certificate(c) for c in result.path)
    if result.valid:
        return Check.passed(name, f"valid at {at.isoformat()}"), path
    other = [problem for problem in result.problems if problem.code not in _TIME_FAILURES]
    if other:
        problem = other[0]
        detail = f"{problem.certificate.subject.human_friendly}: {problem.detail}"
        return Check.failed(name, SubIndication(problem.code.sub_indication), detail), path
    if policy.trust_claimed_signing_time and signing_time is not None:
        again = verify_chain(
            certificate,
            trust_anchors=anchors,
            intermediates=pool,
            at=signing_time,
            required_key_usages=usages,
        )
        if again.valid:
            detail = f"valid at the claimed signing time {signing_time.isoformat()} (trusted by policy)"
            return Check.passed(name, detail), tuple(summarize_certificate(c) for c in again.path)
    problem = result.problems[0]
    detail = (
        f"{problem.certificate.subject.human_friendly}: {problem.detail} at {at.isoformat()}; "
        "no proof that the signature was made within the validity"
    )
    return Check.failed(name, SubIndication.OUT_OF_BOUNDS_NO_POE, detail), path


# --- revocation ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RevocationRecord:
    """What a revocation source says about one certificate."""

    revoked_at: dt.datetime | None
    """When it was revoked (timezone-aware); None: not revoked."""
    reason: str | None = None
    """The RFC 5280 CRLReason name; None: unspecified."""
    source: RevocationSource = RevocationSource.BUILTIN_CA
    """Where this came from."""


UNKNOWN_REVOCATION = "no revocation source covers this certificate: its revocation was not checked"
"""Default statement for certificates no record covers."""


def apply_revocation(
    report: ValidationReport,
    records: Mapping[str, RevocationRecord],
    *,
    unknown_detail: str = UNKNOWN_REVOCATION,
) -> ValidationReport:
    """``report`` with each identified signer's revocation status and the indications that follow.

    ``records`` maps the SHA-256 fingerprint (lower-case hex, as in ``CertificateSummary``) of
    certificates a source covers to what it says; other signing certificates are ``unknown`` with
    ``unknown_detail``. The rules are in this module's docstring.
    """
    if not report.signers:
        return report
    signers = tuple(
        _with_revocation(signer, records, report.validation_time, unknown_detail) for signer in report.signers
    )
    indication, sub_indication = worst(signers)
    return report.model_copy(
        update={"signers": signers, "indication": indication, "sub_indication": sub_indication}
    )


def _with_revocation(
    signer: SignerReport, records: Mapping[str, RevocationRecord], at: dt.datetime, unknown_detail: str
) -> SignerReport:
    if signer.signing_certificate is None:
        return signer
    record = records.get(signer.signing_certificate.sha256_fingerprint)
    if record is None:
        unknown = RevocationStatus(
            status=RevocationState.UNKNOWN, source=RevocationSource.NONE, detail=unknown_detail
        )
        return signer.model_copy(update={"revocation": unknown})
    # A CMS signer claims a signing time; a raw signature (or CMS without the attribute) has none.
    if signer.signing_time is not None:
        reference, when = RevocationReference.SIGNING_TIME, signer.signing_time
    else:
        reference, when = RevocationReference.VALIDATION_TIME, at
    if record.revoked_at is None:
        good = RevocationStatus(
            status=RevocationState.GOOD,
            source=record.source,
            reference=reference,
            reference_time=when,
            detail=f"not revoked ({record.source.value} records)",
        )
        return signer.model_copy(update={"revocation": good})
    return _revoked(signer, record, record.revoked_at, reference, when)


def _revoked(
    signer: SignerReport,
    record: RevocationRecord,
    revoked_at: dt.datetime,
    reference: RevocationReference,
    when: dt.datetime,
) -> SignerReport:
    reason = record.reason or "unspecified"
    before = revoked_at <= when
    named = (
        "the claimed signing time" if reference is RevocationReference.SIGNING_TIME else "the validation time"
    )
    relation = "at or before" if before else "after"
    detail = f"revoked at {revoked_at.isoformat()} ({reason}), {relation} {named} {when.isoformat()}"
    status = RevocationStatus(
        status=RevocationState.REVOKED,
        source=record.source,
        revoked_at=revoked_at,
        reason=reason,
        reference=reference,
        reference_time=when,
        revoked_before_reference=before,
        detail=detail if before else f"{detail}: valid at its signing time",
    )
    if not before:
        return signer.model_copy(update={"revocation": status})
    checks = tuple(_revoked_chain(check, detail) for check in signer.checks)
    indication, sub_indication = conclude(checks)
    update = {
        "revocation": status,
        "checks": checks,
        "indication": indication,
        "sub_indication": sub_indication,
    }
    return signer.model_copy(update=update)


def _revoked_chain(check: Check, detail: str) -> Check:
    """The chain check failed with REVOKED, unless it already failed with a TOTAL_FAILED reason."""
    if check.name is not CheckName.CERTIFICATE_CHAIN or check.status is CheckStatus.FAILED:
        return check
    earlier = "" if check.status is CheckStatus.PASSED else f"; also: {check.detail}"
    return Check.failed(
        CheckName.CERTIFICATE_CHAIN, SubIndication.REVOKED, f"the signing certificate was {detail}{earlier}"
    )
