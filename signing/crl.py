"""X.509 v2 certificate revocation lists (RFC 5280 §5): prepare → raw sign → finish, and parsing.

A CA key may live in an HSM, so issuing follows the same three steps as certificates
(``signing.x509``): :func:`prepare_crl` builds the complete to-be-signed ``TBSCertList`` (issuer
copied from the CA certificate's subject, thisUpdate/nextUpdate, the revoked serials with their
revocation dates and reason codes, a cRLNumber and an authorityKeyIdentifier);
:attr:`PreparedCrl.digest` is what the key holder signs; :meth:`PreparedCrl.finish` checks the
signature with the CA's public key and assembles the :class:`Crl`. No key is ever read here.

Reason codes: a revocation reason that names an RFC 5280 CRLReason (``key_compromise``,
``superseded``...) becomes a reasonCode entry extension; ``unspecified`` and anything else leave the
extension out, which RFC 5280 §5.3.1 prefers to an explicit ``unspecified`` (0).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import crl as asn1_crl

from signing.algorithms import SignatureAlgorithm, signature_algorithm_from_identifier
from signing.errors import InvalidInputError, MalformedDataError, SigningError, UnsupportedAlgorithmError
from signing.keys import PublicKey, bit_string_octets, load_der_or_pem, pem_encode
from signing.prepared import Prepared
from signing.x509 import Certificate, key_identifier

__all__ = ["CRL_REASONS", "Crl", "PreparedCrl", "RevokedEntry", "crl_reason", "prepare_crl"]

# asn1crypto keeps the names only in its private table.
CRL_REASONS = frozenset(asn1_crl.CRLReason._map.values())
"""The RFC 5280 CRLReason names as asn1crypto spells them (``key_compromise``, ``superseded``...)."""

_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)


def crl_reason(reason: str | None) -> str | None:
    """The RFC 5280 reason a stored revocation reason names, or None for "unspecified"/unknown text."""
    if reason is None:
        return None
    name = reason.strip().lower().replace("-", "_").replace(" ", "_")
    if name in CRL_REASONS and name != "unspecified":
        return name
    return None


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    """One revoked certificate as a CRL lists it."""

    serial_number: int
    """The certificate's serial number."""
    revoked_at: dt.datetime
    """When it was revoked (timezone-aware)."""
    reason: str | None = None
    """An RFC 5280 reason name (:data:`CRL_REASONS`); None: unspecified (no reasonCode)."""


def _time(value: dt.datetime) -> dict[str, dt.datetime]:
    if value.tzinfo is None:
        raise InvalidInputError("CRL times must be timezone-aware")
    value = value.astimezone(dt.UTC).replace(microsecond=0)
    # RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050 (as for certificates).
    return {"utc_time": value} if value.year < 2050 else {"general_time": value}


def _entry(entry: RevokedEntry) -> dict[str, Any]:
    if entry.serial_number <= 0:
        raise InvalidInputError("a revoked serial number must be positive")
    item: dict[str, Any] = {
        "user_certificate": entry.serial_number,
        "revocation_date": _time(entry.revoked_at),
    }
    if entry.reason is not None:
        if entry.reason not in CRL_REASONS:
            raise InvalidInputError(f"unknown CRL reason {entry.reason!r}")
        item["crl_entry_extensions"] = [
            {"extn_id": "crl_reason", "critical": False, "extn_value": entry.reason}
        ]
    return item


@dataclass(frozen=True, slots=True)
class PreparedCrl(Prepared[asn1_crl.TbsCertList]):
    """A to-be-signed CRL waiting for the CA's signature (``verification_key``: the CA's public key)."""

    def finish(self, signature: bytes) -> Crl:
        """Check ``signature`` with the CA's public key and assemble the CRL (``InvalidSignatureError``
        when it does not verify: a faulty HSM or the wrong key never yields a CRL nobody can check)."""
        return Crl.load(self.signed_der(asn1_crl.CertificateList, signature))


def prepare_crl(
    *,
    issuer: Certificate,
    signature_algorithm: SignatureAlgorithm,
    entries: Sequence[RevokedEntry],
    number: int,
    this_update: dt.datetime,
    next_update: dt.datetime,
) -> PreparedCrl:
    """Assemble a v2 TBSCertList of ``issuer`` (a CA certificate allowed to sign CRLs); no key is touched.

    Entries are listed in the order given; ``number`` is the cRLNumber (non-negative, at most 20 octets).
    """
    if next_update <= this_update:
        raise InvalidInputError("nextUpdate must be later than thisUpdate")
    if not 0 <= number < 1 << 159:
        raise InvalidInputError("the CRL number must be non-negative and fit 20 octets")
    if not issuer.is_ca or "crl_sign" not in (issuer.key_usage or {"crl_sign"}):
        raise InvalidInputError("the issuer certificate is not a CA certificate allowed to sign CRLs")
    public_key = issuer.public_key()
    if signature_algorithm.key_algorithm is not public_key.key_algorithm:
        raise UnsupportedAlgorithmError(f"{signature_algorithm.name} does not go with the CA's key")
    key_id = issuer.subject_key_identifier or key_identifier(issuer.spki)
    fields: dict[str, Any] = {
        "version": "v2",
        "signature": signature_algorithm.algorithm_identifier(),
        # The issuer's subject exactly as encoded in its certificate: name matching is byte-wise
        # in many verifiers (OpenSSL compares canonical forms, others compare DER).
        "issuer": issuer.asn1["tbs_certificate"]["subject"].copy(),
        "this_update": _time(this_update),
        "next_update": _time(next_update),
        "crl_extensions": [
            {"extn_id": "crl_number", "critical": False, "extn_value": number},
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": key_id},
            },
        ],
    }
    if entries:  # RFC 5280 §5.1.2.6: absent, not empty, when nothing is revoked
        fields["revoked_certificates"] = [_entry(entry) for entry in entries]
    try:
        tbs = asn1_crl.TbsCertList(fields)
        tbs.dump()
    except SigningError:
        raise
    except _PARSE_ERRORS as exc:
        raise InvalidInputError(f"cannot build CRL: {exc}") from exc
    return PreparedCrl(tbs, signature_algorithm, public_key)


class Crl:
    """A parsed X.509 CRL with typed accessors; immutable."""

    __slots__ = ("_asn1", "_der")

    def __init__(self, crl: asn1_crl.CertificateList, der: bytes) -> None:
        self._asn1 = crl
        self._der = der

    @classmethod
    def load(cls, data: bytes) -> Crl:
        """Parse a DER or PEM (``X509 CRL``) CRL; every field is decoded now."""
        der = load_der_or_pem(data, "X509 CRL")
        try:
            parsed = asn1_crl.CertificateList.load(der, strict=True)
            parsed.native  # noqa: B018 - forces the lazy parser through every field
        except _PARSE_ERRORS as exc:
            raise MalformedDataError(f"malformed CRL: {exc}") from exc
        return cls(parsed, der)

    @property
    def asn1(self) -> asn1_crl.CertificateList:
        """The asn1crypto structure; read it, never modify it."""
        return self._asn1

    @property
    def der(self) -> bytes:
        """The DER encoding."""
        return self._der

    def pem(self) -> bytes:
        """PEM ``X509 CRL``."""
        return pem_encode(self._der, "X509 CRL")

    @property
    def number(self) -> int | None:
        """The cRLNumber extension."""
        value = self._asn1.crl_number_value
        return None if value is None else int(value.native)

    @property
    def this_update(self) -> dt.datetime:
        """thisUpdate (UTC)."""
        value: dt.datetime = self._asn1["tbs_cert_list"]["this_update"].native
        return value

    @property
    def next_update(self) -> dt.datetime | None:
        """nextUpdate (UTC)."""
        value: dt.datetime | None = self._asn1["tbs_cert_list"]["next_update"].native
        return value

    @property
    def authority_key_identifier(self) -> bytes | None:
        """The keyIdentifier of the authorityKeyIdentifier extension."""
        value = self._asn1.authority_key_identifier_value
        return None if value is None else bytes(value["key_identifier"].native)

    @property
    def entries(self) -> tuple[RevokedEntry, ...]:
        """The revoked certificates, in CRL order."""
        listed = self._asn1["tbs_cert_list"]["revoked_certificates"]
        return tuple(
            RevokedEntry(
                int(item["user_certificate"].native),
                item["revocation_date"].native,
                None if item.crl_reason_value is None else str(item.crl_reason_value.native),
            )
            for item in listed
        )

    @property
    def signature_algorithm(self) -> SignatureAlgorithm:
        """The outer signature algorithm (must equal the one inside the signed part)."""
        outer = self._asn1["signature_algorithm"]
        if outer.dump() != self._asn1["tbs_cert_list"]["signature"].dump():
            raise MalformedDataError("signature algorithm differs inside and outside the signed part")
        return signature_algorithm_from_identifier(outer)

    def verify_signature(self, issuer_key: PublicKey) -> None:
        """Raise ``InvalidSignatureError`` unless the CA's ``issuer_key`` signed this CRL."""
        algorithm = self.signature_algorithm
        tbs = bytes(self._asn1["tbs_cert_list"].dump())
        signature = bit_string_octets(self._asn1["signature"])
        issuer_key.verify_digest(algorithm.digest.hash(tbs), signature, algorithm)
