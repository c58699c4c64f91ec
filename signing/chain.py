"""Certificate path building and validation to trust anchors (RFC 5280 §6, the parts a signature
platform needs), for GOST and international certificates alike.

:func:`verify_chain` builds every path from a certificate through the given intermediates to a
trust anchor (issuer name = subject name, and authorityKeyIdentifier = subjectKeyIdentifier when
both are present), checks each one and returns a :class:`ChainValidationResult`: the first path that
passes, or the problems of the best path found. It never raises for a bad chain: failures are data
(:class:`ChainProblem` with a stable :class:`ChainFailure` code), ready for validation reports.

Checked on each link: the signature with the issuer's key and the certificate's own algorithm;
validity at the given time (trust anchors included, as OpenSSL does); issuers are CAs
(basicConstraints cA) allowed to sign certificates (keyUsage keyCertSign when keyUsage is present);
pathLenConstraint; no unrecognised critical extension; and optionally the end entity's key usages.
Revocation is not checked here (OCSP/CRL live with their own structures).

Code that validates through pyhanko-certvalidator instead (PAdES, CMS with revocation) gets GOST
there with :func:`pyhanko_signature_validator`, passed as ``ValidationContext(signature_validator=...)``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from signing.algorithms import signature_algorithm_from_identifier
from signing.errors import InvalidInputError, InvalidSignatureError, SigningError, UnsupportedAlgorithmError
from signing.keys import load_public_key
from signing.x509 import Certificate, names_match

__all__ = [
    "ChainFailure",
    "ChainProblem",
    "ChainValidationResult",
    "pyhanko_signature_validator",
    "verify_chain",
]

MAX_PATH_LENGTH = 10
"""Longest path tried (certificates, anchor included): bounds the search on hostile input."""

_UNDERSTOOD_EXTENSIONS = frozenset(
    {
        "basic_constraints",
        "key_usage",
        "extended_key_usage",
        "subject_alt_name",
        "issuer_alt_name",
        "key_identifier",
        "authority_key_identifier",
        "crl_distribution_points",
        "authority_information_access",
        "subject_sign_tool",
        "issuer_sign_tool",
        "identification_kind",
    }
)


class ChainFailure(enum.Enum):
    """Why a path failed; the value is a stable code."""

    NO_CHAIN = "no_chain"
    """No path leads from the certificate to a trust anchor."""
    SIGNATURE_INVALID = "signature_invalid"
    """A certificate's signature does not verify with its issuer's key."""
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    """A signature or key algorithm is unknown, or does not match the issuer's key."""
    NOT_YET_VALID = "not_yet_valid"
    """The validation time is before notBefore."""
    EXPIRED = "expired"
    """The validation time is after notAfter."""
    NOT_A_CA = "not_a_ca"
    """An issuer lacks basicConstraints cA."""
    KEY_CERT_SIGN_MISSING = "key_cert_sign_missing"
    """An issuer's keyUsage lacks keyCertSign."""
    PATH_LENGTH_EXCEEDED = "path_length_exceeded"
    """More CA certificates follow an issuer than its pathLenConstraint allows."""
    UNKNOWN_CRITICAL_EXTENSION = "unknown_critical_extension"
    """A critical extension this validator does not process."""
    USAGE_NOT_ALLOWED = "usage_not_allowed"
    """The end entity's keyUsage or extKeyUsage lacks a required usage."""

    @property
    def sub_indication(self) -> str:
        """The ETSI EN 319 102-1 sub-indication this failure maps to."""
        return _SUB_INDICATIONS.get(self, "CHAIN_CONSTRAINTS_FAILURE")


_SUB_INDICATIONS = {
    ChainFailure.NO_CHAIN: "NO_CERTIFICATE_CHAIN_FOUND",
    ChainFailure.NOT_YET_VALID: "NOT_YET_VALID",
    ChainFailure.EXPIRED: "OUT_OF_BOUNDS_NO_POE",
    ChainFailure.UNSUPPORTED_ALGORITHM: "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
}


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One failed check."""

    code: ChainFailure
    """What failed."""
    certificate: Certificate
    """The certificate the check was about."""
    detail: str
    """A human-readable explanation."""


@dataclass(frozen=True, slots=True)
class ChainValidationResult:
    """The outcome of :func:`verify_chain`."""

    path: tuple[Certificate, ...]
    """The path checked, end entity first and trust anchor last; empty when none was found."""
    problems: tuple[ChainProblem, ...]
    """Every failed check on that path; empty when the chain is valid."""

    @property
    def valid(self) -> bool:
        """True when a path was found and every check passed."""
        return bool(self.path) and not self.problems

    @property
    def trust_anchor(self) -> Certificate | None:
        """The anchor the path ends in."""
        return self.path[-1] if self.path else None


def verify_chain(
    certificate: Certificate,
    *,
    trust_anchors: Iterable[Certificate],
    intermediates: Iterable[Certificate] = (),
    at: dt.datetime,
    required_key_usages: Iterable[str] = (),
    required_extended_key_usages: Iterable[str] = (),
) -> ChainValidationResult:
    """Validate ``certificate`` at time ``at`` to one of ``trust_anchors``.

    ``required_key_usages`` / ``required_extended_key_usages`` are checked on ``certificate`` only
    (keyUsage names such as ``digital_signature``; extKeyUsage names or dotted OIDs).
    """
    if at.tzinfo is None:
        raise InvalidInputError("the validation time must be timezone-aware")
    anchors = tuple(dict.fromkeys(trust_anchors))
    if not anchors:
        raise InvalidInputError("at least one trust anchor is needed")
    pool = tuple(dict.fromkeys((*anchors, *intermediates)))
    usages = (frozenset(required_key_usages), tuple(required_extended_key_usages))
    first: ChainValidationResult | None = None
    for path in _paths(certificate, anchors, pool):
        result = ChainValidationResult(path, tuple(_check_path(path, at, usages)))
        if result.valid:
            return result
        first = first or result
    if first is not None:
        return first
    problem = ChainProblem(ChainFailure.NO_CHAIN, certificate, "no path to a trust anchor")
    return ChainValidationResult((), (problem,))


def _issued_by(child: Certificate, issuer: Certificate) -> bool:
    if not names_match(child.issuer, issuer.subject):
        return False
    authority_id, subject_id = child.authority_key_identifier, issuer.subject_key_identifier
    return authority_id is None or subject_id is None or authority_id == subject_id


def _paths(
    certificate: Certificate, anchors: Sequence[Certificate], pool: Sequence[Certificate]
) -> Iterator[tuple[Certificate, ...]]:
    """Every path ``certificate → … → anchor``, shortest first along each branch, anchors tried first."""
    if certificate in anchors:
        yield (certificate,)
        return
    stack: list[tuple[Certificate, ...]] = [(certificate,)]
    while stack:
        partial = stack.pop()
        if len(partial) >= MAX_PATH_LENGTH:
            continue
        issuers = [c for c in pool if c not in partial and _issued_by(partial[-1], c)]
        issuers.sort(key=lambda c: c not in anchors)
        extensions = []
        for issuer in issuers:
            if issuer in anchors:
                yield (*partial, issuer)
            else:
                extensions.append((*partial, issuer))
        stack.extend(reversed(extensions))


def _check_path(
    path: tuple[Certificate, ...], at: dt.datetime, usages: tuple[frozenset[str], tuple[str, ...]]
) -> Iterator[ChainProblem]:
    for index, certificate in enumerate(path):
        yield from _check_validity(certificate, at)
        yield from _check_critical(certificate)
        if index + 1 < len(path):
            yield from _check_signature(certificate, path[index + 1])
        if index > 0:
            # CAs below this issuer that count against its pathLen: not self-issued (RFC 5280 §6.1.4).
            below = sum(1 for c in path[1:index] if not c.is_self_issued)
            yield from _check_issuer(certificate, below)
    yield from _check_usages(path[0], *usages)


def _check_validity(certificate: Certificate, at: dt.datetime) -> Iterator[ChainProblem]:
    if at < certificate.not_before:
        yield ChainProblem(ChainFailure.NOT_YET_VALID, certificate, f"valid from {certificate.not_before}")
    elif at > certificate.not_after:
        yield ChainProblem(ChainFailure.EXPIRED, certificate, f"expired at {certificate.not_after}")


def _check_critical(certificate: Certificate) -> Iterator[ChainProblem]:
    unknown = certificate.critical_extensions - _UNDERSTOOD_EXTENSIONS
    if unknown:
        yield ChainProblem(
            ChainFailure.UNKNOWN_CRITICAL_EXTENSION, certificate, f"critical: {', '.join(sorted(unknown))}"
        )


def _check_signature(certificate: Certificate, issuer: Certificate) -> Iterator[ChainProblem]:
    try:
        certificate.verify_signature(issuer.public_key())
    except InvalidSignatureError as exc:
        yield ChainProblem(ChainFailure.SIGNATURE_INVALID, certificate, str(exc))
    except UnsupportedAlgorithmError as exc:
        yield ChainProblem(ChainFailure.UNSUPPORTED_ALGORITHM, certificate, str(exc))
    except SigningError as exc:
        yield ChainProblem(ChainFailure.SIGNATURE_INVALID, certificate, f"{exc.code}: {exc}")


def _check_issuer(issuer: Certificate, below: int) -> Iterator[ChainProblem]:
    if not issuer.is_ca:
        yield ChainProblem(ChainFailure.NOT_A_CA, issuer, "basicConstraints cA is not set")
    usages = issuer.key_usage
    if usages is not None and "key_cert_sign" not in usages:
        yield ChainProblem(ChainFailure.KEY_CERT_SIGN_MISSING, issuer, "keyUsage lacks keyCertSign")
    limit = issuer.path_length
    if limit is not None and below > limit:
        yield ChainProblem(
            ChainFailure.PATH_LENGTH_EXCEEDED, issuer, f"{below} CA certificates below, limit {limit}"
        )


def _check_usages(
    certificate: Certificate, key_usages: frozenset[str], purposes: tuple[str, ...]
) -> Iterator[ChainProblem]:
    present = certificate.key_usage
    missing_usages = key_usages - present if present is not None else frozenset()
    if missing_usages:
        yield ChainProblem(
            ChainFailure.USAGE_NOT_ALLOWED, certificate, f"keyUsage lacks {sorted(missing_usages)}"
        )
    allowed = certificate.extended_key_usage
    if purposes and allowed is not None and "any_extended_key_usage" not in allowed:
        missing = [p for p in purposes if p not in allowed]
        if missing:
            yield ChainProblem(ChainFailure.USAGE_NOT_ALLOWED, certificate, f"extKeyUsage lacks {missing}")


def pyhanko_signature_validator() -> Any:
    """A pyhanko-certvalidator ``SignatureValidator`` that also checks GOST R 34.10-2012.

    GOST signatures are checked through :mod:`signing.keys` (the native binding); everything else
    goes to pyhanko's default validator. Imported lazily: pyhanko is heavy and optional here.
    """
    from cryptography.exceptions import InvalidSignature
    from pyhanko_certvalidator.sig_validate import (
        DEFAULT_SIGNATURE_VALIDATOR,
        DEFAULT_VALIDATION_CONTEXT,
        SignatureValidator,
    )

    class GostSignatureValidator(SignatureValidator):
        def validate_signature(
            self,
            signature: bytes,
            signed_data: bytes,
            public_key_info: Any,
            signature_algorithm: Any,
            context: Any = DEFAULT_VALIDATION_CONTEXT,
        ) -> None:
            if public_key_info.algorithm not in ("gost3410_2012_256", "gost3410_2012_512"):
                DEFAULT_SIGNATURE_VALIDATOR.validate_signature(
                    signature, signed_data, public_key_info, signature_algorithm, context
                )
                return
            try:
                algorithm = signature_algorithm_from_identifier(signature_algorithm)
                digest = signed_data if context.prehashed else algorithm.digest.hash(signed_data)
                load_public_key(public_key_info.dump()).verify_digest(digest, signature, algorithm)
            except SigningError as exc:
                raise InvalidSignature(f"{exc.code}: {exc}") from exc

    return GostSignatureValidator()
