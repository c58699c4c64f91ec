"""Checks of a certificate uploaded for a key (issued by an external CA for the key's CSR).

In order, each failure with its own error and a precise detail:

1. it parses (``signing`` errors: ``malformed_data`` ...) and is an end-entity certificate;
2. it certifies the key: its public key equals the key's (``certificate_key_mismatch``);
3. its keyUsage, when present, allows signatures (digitalSignature or nonRepudiation);
4. it has not expired (``certificate_not_valid_now``; not yet valid is accepted with a warning);
5. its chain: with extra trust anchors configured it must chain to one of them or to the built-in
   CA (``certificate_untrusted``, naming every failed check); without them it is accepted with a
   warning unless it claims the built-in CA as issuer and fails that chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from actors.keys.errors import (
    CertificateMismatchError,
    CertificateNotValidNowError,
    InvalidKeyRequestError,
    UntrustedCertificateError,
)
from actors.keys.hsmkeys import describe_public_key, same_public_key
from signing.chain import ChainFailure, ChainValidationResult, verify_chain
from signing.errors import SigningError
from signing.x509 import Certificate
from storage.repos.keys import KeyRow

SIGNING_USAGES = frozenset({"digital_signature", "non_repudiation"})
"""keyUsage bits of which a signing certificate needs at least one."""

NO_ANCHOR_WARNING = "no trust anchor is configured: the certificate's chain was not validated"


@dataclass(frozen=True, slots=True)
class UploadCheck:
    """An accepted upload."""

    certificate: Certificate
    """The parsed certificate."""
    chain_validated: bool
    """Whether it chains to a trust anchor."""
    warnings: tuple[str, ...]
    """What the uploader should know (no anchors configured, not valid yet)."""


def check_upload(
    certificate: Certificate,
    *,
    key: KeyRow,
    intermediates: Sequence[Certificate],
    ca_certificates: Sequence[Certificate],
    extra_anchors: Sequence[Certificate],
    at: dt.datetime,
) -> UploadCheck:
    """Check ``certificate`` for ``key`` (see the module docstring); return what to store."""
    if certificate.is_ca:
        raise InvalidKeyRequestError(
            "the certificate is a CA certificate (basicConstraints cA);"
            " upload the key's end-entity certificate"
        )
    if not same_public_key(certificate.spki, key.public_key_spki):
        raise CertificateMismatchError(
            f"the certificate certifies another public key ({_key_text(certificate.spki)}) than key"
            f" {key.id} ({_key_text(key.public_key_spki)})"
        )
    usages = certificate.key_usage
    if usages is not None and not usages & SIGNING_USAGES:
        raise InvalidKeyRequestError(
            f"the certificate's keyUsage ({', '.join(sorted(usages))}) allows neither digitalSignature"
            " nor nonRepudiation"
        )
    if at > certificate.not_after:
        raise CertificateNotValidNowError(
            f"the certificate expired at {certificate.not_after:%Y-%m-%dT%H:%M:%SZ}"
        )
    warnings = []
    if at < certificate.not_before:
        warnings.append(f"the certificate is not valid before {certificate.not_before:%Y-%m-%dT%H:%M:%SZ}")
        at = certificate.not_before  # judge the chain when the certificate starts to count
    validated = _check_chain(certificate, intermediates, ca_certificates, extra_anchors, at)
    if not validated:
        warnings.append(NO_ANCHOR_WARNING)
    return UploadCheck(certificate, validated, tuple(warnings))


def _check_chain(
    certificate: Certificate,
    intermediates: Sequence[Certificate],
    ca_certificates: Sequence[Certificate],
    extra_anchors: Sequence[Certificate],
    at: dt.datetime,
) -> bool:
    anchors = [*ca_certificates, *extra_anchors]
    if not anchors:
        return False
    try:
        result = verify_chain(certificate, trust_anchors=anchors, intermediates=intermediates, at=at)
    except SigningError as exc:
        raise UntrustedCertificateError(f"the certificate chain cannot be checked: {exc}") from exc
    if result.valid:
        return True
    found_path = bool(result.path)
    if extra_anchors or found_path:
        # Anchors are configured (every upload must chain to one), or the certificate names a
        # trusted issuer whose checks it fails: either way it is not what it claims to be.
        raise UntrustedCertificateError(
            f"the certificate does not chain to a trust anchor: {_problems(result)}"
        )
    return False


def _problems(result: ChainValidationResult) -> str:
    parts = []
    for problem in result.problems:
        where = problem.certificate.subject.human_friendly
        parts.append(f"{problem.code.value} ({where}): {problem.detail}")
    if not parts:
        parts.append(ChainFailure.NO_CHAIN.value)
    return "; ".join(parts)


def _key_text(spki: bytes) -> str:
    return f"{describe_public_key(spki)}, SPKI SHA-256 {hashlib.sha256(spki).hexdigest()[:16]}…"


def load_intermediates(items: Sequence[bytes]) -> list[Certificate]:
    """Parse the uploaded chain; ``InvalidKeyRequestError`` names the bad item."""
    parsed = []
    for index, item in enumerate(items):
        try:
            parsed.append(Certificate.load(item))
        except SigningError as exc:
            raise InvalidKeyRequestError(f"chain[{index}]: {exc}") from exc
    return parsed
