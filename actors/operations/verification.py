"""``POST /verify`` in the domain: a raw or CAdES-BES signature checked into one ``ValidationReport``.

Trust anchors are the built-in CA and the configured extra anchors (``actors.keys.trust_anchors``).
A raw signature is checked against the certificate the caller gives (its chain is validated to the
anchors); a CMS carries its signers' certificates. Input the verifier cannot even start on (a
malformed certificate or signature, a hash of the wrong length, missing parts) is an
``InvalidOperationError`` naming the field; everything else is data in the report.

Revocation: each signer whose certificate a built-in CA issued gets its status from the CA's records
(what its CRL publishes, ``actors.keys.crl.revocation_records``), compared with the claimed signing
time (CAdES) or now (raw) by ``signing.cms.validation.apply_revocation``: revoked before → invalid
(TOTAL_FAILED/REVOKED); revoked after the claimed signing time → valid at signing time, revocation
stated. Certificates of other anchors are reported ``unknown``: no CRL or OCSP is fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import trio

from actors.keys.crl import revocation_records
from actors.keys.material import trust_anchors
from actors.operations.errors import InvalidOperationError
from actors.operations.model import Format
from signing.cms import ValidationReport, default_algorithm, verify_cades, verify_raw
from signing.cms.validation import apply_revocation
from signing.errors import InvalidInputError, MalformedDataError, UnsupportedAlgorithmError
from signing.x509 import Certificate
from storage import Database

THREAD_THRESHOLD = 256 * 1024
"""Inputs larger than this are verified in a worker thread (hashing releases the GIL)."""

OTHER_ANCHOR = (
    "not issued by the built-in CA: revocation is not checked for other anchors' certificates"
    " (no CRL or OCSP is fetched)"
)
"""What the report says about the revocation of certificates the built-in CA did not issue."""


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """What to verify, decoded."""

    format: Format
    """``raw`` or ``cades-bes``."""
    signature: bytes
    """The raw value, or the CMS (DER or PEM)."""
    content: bytes | None = None
    """The signed document (raw: this or ``hash``; detached CMS: this or ``hash``)."""
    hash: bytes | None = None
    """Its digest."""
    certificate: bytes | None = None
    """Raw only: the signer's certificate (DER or PEM)."""
    certificates: tuple[bytes, ...] = ()
    """Extra certificates (intermediate CAs), DER or PEM."""


async def verify(db: Database, request: VerifyRequest, *, max_signers: int) -> ValidationReport:
    """Check ``request`` against this deployment's trust anchors (a CMS of at most ``max_signers``
    signers: ``operations.max_existing_signers``)."""
    if request.content is not None and request.hash is not None:
        raise InvalidOperationError("hash", "give either the content or its hash, not both")
    extra = tuple(_certificate(data, f"certificates.{i}") for i, data in enumerate(request.certificates))
    anchors = await trust_anchors(db)
    if request.format is Format.RAW:
        job = partial(_verify_raw, request, anchors, extra)
    else:
        job = partial(_verify_cms, request, anchors, extra, max_signers)
    size = len(request.content or b"") + len(request.signature)
    report = await trio.to_thread.run_sync(job) if size > THREAD_THRESHOLD else job()
    return await _with_revocation(db, report)


async def _with_revocation(db: Database, report: ValidationReport) -> ValidationReport:
    """``report`` with each signer's revocation status (one query for all signers)."""
    fingerprints = [s.signing_certificate.sha256_fingerprint for s in report.signers if s.signing_certificate]
    records = await revocation_records(db, fingerprints)
    return apply_revocation(report, records, unknown_detail=OTHER_ANCHOR)


def _verify_raw(
    request: VerifyRequest, anchors: list[Certificate], extra: tuple[Certificate, ...]
) -> ValidationReport:
    if request.certificate is None:
        raise InvalidOperationError(
            "certificate", "a raw signature is verified with the signer's certificate"
        )
    if request.content is None and request.hash is None:
        raise InvalidOperationError("content", "a raw signature needs the content or its hash")
    certificate = _certificate(request.certificate, "certificate")
    try:
        algorithm = default_algorithm(certificate.public_key())
    except UnsupportedAlgorithmError as exc:
        raise InvalidOperationError("certificate", str(exc)) from exc
    if request.hash is not None and len(request.hash) != algorithm.digest.size:
        raise InvalidOperationError(
            "hash",
            f"the certificate's key signs {algorithm.digest.name} digests of {algorithm.digest.size} bytes, "
            f"got {len(request.hash)}",
        )
    return verify_raw(
        certificate,
        request.signature,
        content=request.content,
        content_digest=request.hash,
        signature_algorithm=algorithm,
        trust_anchors=anchors,
        certificates=extra,
    )


def _verify_cms(
    request: VerifyRequest, anchors: list[Certificate], extra: tuple[Certificate, ...], max_signers: int
) -> ValidationReport:
    if request.certificate is not None:
        extra = (*extra, _certificate(request.certificate, "certificate"))
    try:
        return verify_cades(
            request.signature,
            content=request.content,
            content_digest=request.hash,
            trust_anchors=anchors,
            certificates=extra,
            max_signers=max_signers,
        )
    except InvalidInputError as exc:  # malformed, or too many signers
        raise InvalidOperationError("signature", str(exc)) from exc


def _certificate(data: bytes, field: str) -> Certificate:
    try:
        return Certificate.load(data)
    except (MalformedDataError, UnsupportedAlgorithmError) as exc:
        raise InvalidOperationError(field, str(exc)) from exc
