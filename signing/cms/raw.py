"""The "raw" format: a bare signature value over a document or over a hash the client computed.

The value is what the key's algorithm produces and X.509/CMS carry: GOST R 34.10-2012 ``s ‖ r``
(what ``openssl dgst -sign`` writes with the gost engine), DER ``SEQUENCE {r, s}`` for ECDSA, PKCS#1
octets for RSA. Prepare → raw sign → finish degenerates here: :func:`raw_digest` is the prepare step,
``Signer.sign_digest`` the signing, and the value needs no assembly.

:func:`verify_raw` answers with the same :class:`~signing.cms.report.ValidationReport` as CMS: with a
certificate the chain is validated to the trust anchors; with a bare public key the caller vouches for
the key and the chain check does not apply.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from signing.algorithms import DigestAlgorithm, SignatureAlgorithm, default_signature_algorithm
from signing.cms.report import (
    CertificateSummary,
    Check,
    CheckName,
    SignatureFormat,
    SignatureLevel,
    SignerReport,
    ValidationReport,
    conclude,
    summarize_certificate,
)
from signing.cms.validation import (
    DEFAULT_POLICY,
    ValidationPolicy,
    check_chain,
    check_signature_value,
    validation_time,
)
from signing.errors import InvalidInputError
from signing.international import InternationalPublicKey
from signing.keys import PublicKey, Signer
from signing.x509 import Certificate

__all__ = ["default_algorithm", "document_digest", "raw_digest", "sign_raw", "verify_raw"]


def document_digest(
    digest: DigestAlgorithm, *, content: bytes | None = None, content_digest: bytes | None = None
) -> bytes:
    """The ``digest`` of a document: hashed from ``content``, or ``content_digest`` after a length check.

    Exactly one of the two must be given (``InvalidInputError`` otherwise).
    """
    if content_digest is not None:
        if content is not None:
            raise InvalidInputError("give either the content or its digest, not both")
        if len(content_digest) != digest.size:
            raise InvalidInputError(
                f"a {digest.name} digest is {digest.size} bytes, got {len(content_digest)}"
            )
        return bytes(content_digest)
    if content is None:
        raise InvalidInputError("give the content or its digest")
    return digest.hash(content)


def raw_digest(
    signature_algorithm: SignatureAlgorithm,
    *,
    content: bytes | None = None,
    content_digest: bytes | None = None,
) -> bytes:
    """The prepare step of a raw signature: the digest ``signature_algorithm`` signs."""
    return document_digest(signature_algorithm.digest, content=content, content_digest=content_digest)


def sign_raw(signer: Signer, *, content: bytes | None = None, content_digest: bytes | None = None) -> bytes:
    """Sign a document or its digest (with the signer's digest algorithm); return the bare value."""
    return signer.sign_digest(
        raw_digest(signer.signature_algorithm, content=content, content_digest=content_digest)
    )


def default_algorithm(public_key: PublicKey) -> SignatureAlgorithm:
    """The algorithm a key signs with by default (Streebog of the key's size, SHA-2 by curve, SHA-256 RSA)."""
    key_bits = public_key.key_bits if isinstance(public_key, InternationalPublicKey) else None
    return default_signature_algorithm(public_key.key_algorithm, key_bits=key_bits)


def verify_raw(
    key: PublicKey | Certificate,
    signature: bytes,
    *,
    content: bytes | None = None,
    content_digest: bytes | None = None,
    signature_algorithm: SignatureAlgorithm | None = None,
    trust_anchors: Iterable[Certificate] = (),
    certificates: Iterable[Certificate] = (),
    at: dt.datetime | None = None,
    policy: ValidationPolicy = DEFAULT_POLICY,
) -> ValidationReport:
    """Validate a raw signature over ``content`` (or ``content_digest``) with a certificate or a key.

    ``signature_algorithm`` defaults to the key's default. A bad signature gives TOTAL_FAILED/
    SIG_CRYPTO_FAILURE (a raw value cannot tell a changed document from a changed signature).
    """
    certificate = key if isinstance(key, Certificate) else None
    public_key = key.public_key() if isinstance(key, Certificate) else key
    algorithm = signature_algorithm or default_algorithm(public_key)
    digest = raw_digest(algorithm, content=content, content_digest=content_digest)
    when = validation_time(at)
    checks = [Check.passed(CheckName.FORMAT)]
    path: tuple[CertificateSummary, ...] = ()
    if certificate is None:
        checks.append(Check.not_applicable(CheckName.SIGNING_CERTIFICATE, "a bare public key"))
    else:
        checks.append(Check.passed(CheckName.SIGNING_CERTIFICATE, certificate.subject.human_friendly))
    checks.append(check_signature_value(public_key, digest, bytes(signature), algorithm))
    if certificate is None:
        checks.append(Check.not_applicable(CheckName.CERTIFICATE_CHAIN, "the caller vouches for the key"))
    else:
        chain_check, path = check_chain(
            certificate,
            trust_anchors=trust_anchors,
            intermediates=certificates,
            at=when,
            signing_time=None,
            policy=policy,
        )
        checks.append(chain_check)
    indication, sub_indication = conclude(checks)
    summary = None if certificate is None else summarize_certificate(certificate, with_der=True)
    signer = SignerReport(
        index=0,
        indication=indication,
        sub_indication=sub_indication,
        level=SignatureLevel.RAW,
        signing_certificate=summary,
        digest_algorithm=algorithm.digest.name,
        signature_algorithm=algorithm.name,
        checks=tuple(checks),
        chain=path,
    )
    return ValidationReport(
        format=SignatureFormat.RAW,
        indication=indication,
        sub_indication=sub_indication,
        validation_time=when,
        signers=(signer,),
    )
