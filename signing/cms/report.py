"""The validation report every verifier returns: one model for CAdES, raw signatures and later formats.

Words are those of ETSI EN 319 102-1: an overall :class:`Indication` (TOTAL_PASSED, INDETERMINATE,
TOTAL_FAILED) with a :class:`SubIndication` saying why, per signature a :class:`SignerReport` with the
individual :class:`Check` results that led there. The models are frozen pydantic v2 models, so the edge
serialises them as they are (``report.model_dump(mode="json")``); certificates appear as summaries
(names, serial, validity, SHA-256 fingerprint) and the signer's certificate also as base64 DER.

How a signer's indication follows from its checks (:func:`conclude`): the first check that failed with
a TOTAL_FAILED sub-indication wins; otherwise the first INDETERMINATE one; otherwise TOTAL_PASSED. The
report's indication is the worst of its signers' (first signer first on ties).

Each signer may carry a :class:`RevocationStatus` (``revocation``): what is known about the revocation
of its certificate and from where (``signing.cms.validation.apply_revocation`` adds it; None when no
revocation lookup was made). Revocation that invalidates a signature shows as the certificate-chain
check failing with REVOKED, so the list of checks keeps its shape.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from signing.x509 import Certificate

__all__ = [
    "CertificateSummary",
    "Check",
    "CheckName",
    "CheckStatus",
    "Indication",
    "RevocationReference",
    "RevocationSource",
    "RevocationState",
    "RevocationStatus",
    "SignatureFormat",
    "SignatureLevel",
    "SignerReport",
    "SubIndication",
    "ValidationReport",
    "conclude",
    "summarize_certificate",
    "worst",
]


class Indication(enum.StrEnum):
    """The main status of a validation (EN 319 102-1 §5.1.3)."""

    TOTAL_PASSED = "TOTAL_PASSED"
    INDETERMINATE = "INDETERMINATE"
    TOTAL_FAILED = "TOTAL_FAILED"


class SubIndication(enum.StrEnum):
    """Why a validation did not pass (EN 319 102-1 table 5); :attr:`indication` gives its group."""

    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    POLICY_PROCESSING_ERROR = "POLICY_PROCESSING_ERROR"
    SIGNATURE_POLICY_NOT_AVAILABLE = "SIGNATURE_POLICY_NOT_AVAILABLE"
    TIMESTAMP_ORDER_FAILURE = "TIMESTAMP_ORDER_FAILURE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    NO_POE = "NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"

    @property
    def indication(self) -> Indication:
        """TOTAL_FAILED for the six sub-indications of that group, INDETERMINATE for the rest."""
        return Indication.TOTAL_FAILED if self in _TOTAL_FAILED else Indication.INDETERMINATE


_TOTAL_FAILED = frozenset(
    {
        SubIndication.FORMAT_FAILURE,
        SubIndication.HASH_FAILURE,
        SubIndication.SIG_CRYPTO_FAILURE,
        SubIndication.REVOKED,
        SubIndication.EXPIRED,
        SubIndication.NOT_YET_VALID,
    }
)


class SignatureFormat(enum.StrEnum):
    """The container that was validated."""

    CMS = "CMS"
    """CMS SignedData (CAdES is a profile of it; see :class:`SignatureLevel`)."""
    RAW = "RAW"
    """A bare signature value over a document or a hash."""


class SignatureLevel(enum.StrEnum):
    """What one signature turned out to be."""

    CADES_BES = "CAdES-BES"
    """CMS with signed attributes including a signing-certificate(-v2) reference."""
    CMS = "CMS"
    """CMS without a signing-certificate reference (plain ``openssl cms -sign``, say)."""
    RAW = "RAW"
    """A raw signature value."""


class CheckName(enum.StrEnum):
    """The individual checks, in the order they run (EN 319 102-1 basic signature validation)."""

    FORMAT = "format"
    """The signature's structure is what its format requires."""
    SIGNING_CERTIFICATE = "signing_certificate"
    """The signer's certificate (or key) was identified."""
    SIGNING_CERTIFICATE_REFERENCE = "signing_certificate_reference"
    """The signed signing-certificate(-v2) attribute names that certificate (hash and issuer/serial)."""
    CONTENT_TYPE = "content_type"
    """The signed content-type attribute matches the encapsulated content type."""
    MESSAGE_DIGEST = "message_digest"
    """The signed message-digest attribute matches the digest of the content."""
    SIGNATURE_VALUE = "signature_value"
    """The signature value verifies with the signer's public key."""
    SIGNING_TIME = "signing_time"
    """The claimed signing time lies within the signing certificate's validity."""
    CERTIFICATE_CHAIN = "certificate_chain"
    """A valid path leads from the signing certificate to a trust anchor at the validation time."""


class CheckStatus(enum.StrEnum):
    """Outcome of one check."""

    PASSED = "PASSED"
    FAILED = "FAILED"
    """Failed with a TOTAL_FAILED sub-indication."""
    INDETERMINATE = "INDETERMINATE"
    """Could not be decided, or failed with an INDETERMINATE sub-indication."""
    NOT_APPLICABLE = "NOT_APPLICABLE"
    """Does not apply to this signature (e.g. no signed attributes)."""
    SKIPPED = "SKIPPED"
    """Not run because an earlier check it depends on did not pass."""


_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Check(BaseModel):
    """The result of one check."""

    model_config = _FROZEN

    name: CheckName
    """Which check."""
    status: CheckStatus
    """Its outcome."""
    sub_indication: SubIndication | None = None
    """Why it did not pass (FAILED and INDETERMINATE only)."""
    detail: str = ""
    """A human-readable explanation."""

    @classmethod
    def passed(cls, name: CheckName, detail: str = "") -> Check:
        """A passed check."""
        return cls(name=name, status=CheckStatus.PASSED, detail=detail)

    @classmethod
    def failed(cls, name: CheckName, sub_indication: SubIndication, detail: str) -> Check:
        """A failed check; FAILED or INDETERMINATE by the group of ``sub_indication``."""
        failed = sub_indication.indication is Indication.TOTAL_FAILED
        status = CheckStatus.FAILED if failed else CheckStatus.INDETERMINATE
        return cls(name=name, status=status, sub_indication=sub_indication, detail=detail)

    @classmethod
    def not_applicable(cls, name: CheckName, detail: str = "") -> Check:
        """A check that does not apply."""
        return cls(name=name, status=CheckStatus.NOT_APPLICABLE, detail=detail)

    @classmethod
    def skipped(cls, name: CheckName, detail: str) -> Check:
        """A check not run because an earlier one did not pass."""
        return cls(name=name, status=CheckStatus.SKIPPED, detail=detail)


class CertificateSummary(BaseModel):
    """What a report says about a certificate."""

    model_config = _FROZEN

    subject: str
    """Subject name, human-readable."""
    issuer: str
    """Issuer name, human-readable."""
    serial_number: str
    """Serial number, upper-case hexadecimal."""
    not_before: dt.datetime
    """Start of validity (UTC)."""
    not_after: dt.datetime
    """End of validity (UTC)."""
    sha256_fingerprint: str
    """SHA-256 of the DER certificate, lower-case hexadecimal."""
    der_base64: str | None = None
    """The DER certificate in base64 (the signing certificate only)."""


def summarize_certificate(certificate: Certificate, *, with_der: bool = False) -> CertificateSummary:
    """Summarize a certificate for a report (with its base64 DER when ``with_der``)."""
    return CertificateSummary(
        subject=certificate.subject.human_friendly,
        issuer=certificate.issuer.human_friendly,
        serial_number=f"{certificate.serial_number:X}",
        not_before=certificate.not_before,
        not_after=certificate.not_after,
        sha256_fingerprint=hashlib.sha256(certificate.der).hexdigest(),
        der_base64=base64.b64encode(certificate.der).decode("ascii") if with_der else None,
    )


class RevocationState(enum.StrEnum):
    """Whether the signing certificate is revoked, as far as the report's source knows."""

    GOOD = "good"
    """Not revoked (at the time the source was asked)."""
    REVOKED = "revoked"
    """Revoked; :attr:`RevocationStatus.revoked_before_reference` says whether that was in time to matter."""
    UNKNOWN = "unknown"
    """No revocation source covers this certificate: nothing was checked."""


class RevocationSource(enum.StrEnum):
    """Where a revocation status came from."""

    BUILTIN_CA = "builtin_ca"
    """The records of the built-in CA that issued the certificate (what its CRL publishes)."""
    NONE = "none"
    """Nothing: the certificate chains to another anchor, and no CRL or OCSP is fetched."""


class RevocationReference(enum.StrEnum):
    """Which time a revocation was compared with."""

    SIGNING_TIME = "signing_time"
    """The signing time the signer claims (CMS signing-time attribute)."""
    VALIDATION_TIME = "validation_time"
    """The validation time (raw signatures, CMS without a signing-time attribute)."""


class RevocationStatus(BaseModel):
    """The revocation status of a signer's certificate."""

    model_config = _FROZEN

    status: RevocationState
    """Good, revoked or unknown."""
    source: RevocationSource
    """Where the status came from."""
    revoked_at: dt.datetime | None = None
    """When the certificate was revoked (revoked only)."""
    reason: str | None = None
    """The RFC 5280 CRLReason name (``key_compromise``, ``superseded``...; ``unspecified`` otherwise)."""
    reference: RevocationReference | None = None
    """Which time the revocation was compared with (None when unknown)."""
    reference_time: dt.datetime | None = None
    """That time."""
    revoked_before_reference: bool | None = None
    """Revoked only: True when revoked at or before :attr:`reference_time` (the signature fails with
    REVOKED); False when revoked later (the signature is valid at its signing time, and this says so)."""
    detail: str = ""
    """A human-readable statement of the status."""


class SignerReport(BaseModel):
    """The validation of one signature."""

    model_config = _FROZEN

    index: int
    """Position of the signature in its container (0 for a raw signature)."""
    indication: Indication
    """This signature's result."""
    sub_indication: SubIndication | None = None
    """Why it did not pass."""
    level: SignatureLevel
    """What the signature is (CAdES-BES, plain CMS, raw)."""
    signer_identifier: str = ""
    """How the signature names its signer (issuer and serial, or key identifier)."""
    signing_certificate: CertificateSummary | None = None
    """The signer's certificate, when identified."""
    signing_time: dt.datetime | None = None
    """The signing time the signer claims (signed attribute); not a proof of existence."""
    digest_algorithm: str | None = None
    """Registry name of the digest (``streebog256``, ``sha256``...)."""
    signature_algorithm: str | None = None
    """Registry name of the signature algorithm."""
    checks: tuple[Check, ...] = ()
    """Every check, in the order run."""
    chain: tuple[CertificateSummary, ...] = ()
    """The certificate path checked, signer first and trust anchor last."""
    revocation: RevocationStatus | None = None
    """The signing certificate's revocation status (None: no revocation lookup was made)."""

    def check(self, name: CheckName) -> Check | None:
        """The check called ``name``, if it was recorded."""
        return next((check for check in self.checks if check.name is name), None)


class ValidationReport(BaseModel):
    """The result of validating one signed object."""

    model_config = _FROZEN

    format: SignatureFormat
    """The container validated."""
    indication: Indication
    """The overall result: the worst of the signers'."""
    sub_indication: SubIndication | None = None
    """Why the overall result is not TOTAL_PASSED."""
    detail: str = ""
    """Explanation of a failure that concerns the whole object (no signers, bad structure)."""
    validation_time: dt.datetime
    """The time certificates were validated at."""
    detached: bool | None = None
    """Whether the signed content was outside the signature (None for raw signatures)."""
    signers: tuple[SignerReport, ...] = ()
    """One report per signature, in container order."""

    @property
    def passed(self) -> bool:
        """True when the indication is TOTAL_PASSED."""
        return self.indication is Indication.TOTAL_PASSED


_SEVERITY = {Indication.TOTAL_PASSED: 0, Indication.INDETERMINATE: 1, Indication.TOTAL_FAILED: 2}


def conclude(checks: Iterable[Check]) -> tuple[Indication, SubIndication | None]:
    """The indication that follows from ``checks``: first TOTAL_FAILED, else first INDETERMINATE."""
    undecided: SubIndication | None = None
    for check in checks:
        sub = check.sub_indication
        if sub is None:
            continue
        if sub.indication is Indication.TOTAL_FAILED:
            return Indication.TOTAL_FAILED, sub
        undecided = undecided or sub
    if undecided is not None:
        return Indication.INDETERMINATE, undecided
    return Indication.TOTAL_PASSED, None


def worst(signers: Sequence[SignerReport]) -> tuple[Indication, SubIndication | None]:
    """The worst indication among ``signers`` (the first one on ties)."""
    chosen = max(signers, key=lambda signer: _SEVERITY[signer.indication])
    return chosen.indication, chosen.sub_indication
