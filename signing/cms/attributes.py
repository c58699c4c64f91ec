"""CAdES-BES signed attributes: building them, and reading them back for verification.

The signed attributes are content-type, signing-time, message-digest and signing-certificate-v2
(RFC 5035 ESSCertIDv2 with the certificate hashed by the signer's digest algorithm — Streebog for
GOST — and issuerSerial). What is signed is their DER ``SET OF Attribute`` (RFC 5652 §5.4): built here
in DER order, and on verification taken from the received bytes, never re-encoded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

# Importing asn1crypto.tsp registers the ESS signing-certificate attributes with asn1crypto's CMS
# parser; without it they would parse as opaque values.
from asn1crypto import cms, core, tsp  # noqa: F401

from signing.algorithms import DigestAlgorithm, digest_algorithm_by_oid
from signing.cms.der import SEQUENCE, SET, der_set_of, tlv
from signing.cms.identifiers import digest_identifier
from signing.errors import InvalidInputError, MalformedDataError
from signing.x509 import Certificate

__all__ = [
    "build_signed_attributes",
    "certificate_reference_problem",
    "has_certificate_reference",
    "single_value",
    "time_value",
]

_REFERENCE_TYPES = ("signing_certificate_v2", "signing_certificate")


def time_value(moment: dt.datetime) -> cms.Time:
    """A CMS ``Time``: UTCTime from 1950 through 2049, GeneralizedTime otherwise (RFC 5652 §11.3)."""
    if moment.tzinfo is None:
        raise InvalidInputError("the signing time must be timezone-aware")
    moment = moment.astimezone(dt.UTC).replace(microsecond=0)
    if 1950 <= moment.year < 2050:
        return cms.Time(name="utc_time", value=moment)
    return cms.Time(name="generalized_time", value=moment)


_OIDS = {
    "content_type": "1.2.840.113549.1.9.3",
    "message_digest": "1.2.840.113549.1.9.4",
    "signing_time": "1.2.840.113549.1.9.5",
    "signing_certificate_v2": "1.2.840.113549.1.9.16.2.47",
}
_SHA256 = "2.16.840.1.101.3.4.2.1"
_GENERAL_NAME_DIRECTORY = 0xA4  # [4] EXPLICIT Name (Name is a CHOICE, so the tag is explicit)


def _attribute(name: str, value: bytes) -> bytes:
    """``Attribute ::= SEQUENCE { attrType OID, attrValues SET OF value }`` with one value."""
    oid = bytes(core.ObjectIdentifier(_OIDS[name]).dump())
    return tlv(SEQUENCE, oid + tlv(SET, value))


def _ess_cert_id_v2(certificate: Certificate, digest: DigestAlgorithm) -> bytes:
    """``ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash, issuerSerial }``."""
    issuer = tlv(SEQUENCE, tlv(_GENERAL_NAME_DIRECTORY, bytes(certificate.issuer.dump())))
    issuer_serial = tlv(SEQUENCE, issuer + bytes(core.Integer(certificate.serial_number).dump()))
    # DER leaves out a field equal to its DEFAULT: SHA-256 (absent parameters) is not written.
    algorithm = b"" if digest.oid == _SHA256 else bytes(digest_identifier(digest).dump())
    cert_hash = bytes(core.OctetString(digest.hash(certificate.der)).dump())
    return tlv(SEQUENCE, algorithm + cert_hash + issuer_serial)


def build_signed_attributes(
    *,
    content_type: str,
    message_digest: bytes,
    signing_time: dt.datetime,
    certificate: Certificate,
    digest: DigestAlgorithm,
) -> bytes:
    """The DER ``SET OF Attribute`` of a CAdES-BES signature (the bytes the signer signs).

    Written from encoded parts (see :mod:`signing.cms.der`); the tests check it against the same
    structure built with asn1crypto's ``cms`` and ``tsp`` classes.
    """
    # SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 } (no policies).
    signing_certificate = tlv(SEQUENCE, tlv(SEQUENCE, _ess_cert_id_v2(certificate, digest)))
    attributes = (
        _attribute("content_type", bytes(core.ObjectIdentifier(content_type).dump())),
        _attribute("signing_time", bytes(time_value(signing_time).dump())),
        _attribute("message_digest", bytes(core.OctetString(message_digest).dump())),
        _attribute("signing_certificate_v2", signing_certificate),
    )
    return tlv(SET, der_set_of(attributes))


def single_value(attributes: cms.CMSAttributes, name: str) -> Any:
    """The one value of attribute ``name``, or None when absent.

    RFC 5652 §11 forbids a second content-type, message-digest or signing-time attribute and more
    than one value in each: raises ``MalformedDataError`` then.
    """
    found = [attribute for attribute in attributes if attribute["type"].native == name]
    if not found:
        return None
    if len(found) > 1 or len(found[0]["values"]) != 1:
        raise MalformedDataError(f"the {name} attribute must occur once with one value")
    return found[0]["values"][0]


def has_certificate_reference(attributes: cms.CMSAttributes) -> bool:
    """Whether a signing-certificate-v2 (or v1) attribute is present."""
    return any(attribute["type"].native in _REFERENCE_TYPES for attribute in attributes)


def certificate_reference_problem(attributes: cms.CMSAttributes, certificate: Certificate) -> str | None:
    """Check that the signing-certificate(-v2) attribute names ``certificate``; None when it does.

    The first ESSCertID(v2) is the signing certificate's (RFC 5035 §5.4): its hash must be the
    certificate's hash and its issuerSerial, when present, the certificate's issuer and serial.
    signing-certificate-v2 wins over the SHA-1 signing-certificate when both are present. Raises
    ``UnsupportedAlgorithmError`` for an unknown hash algorithm.
    """
    for name in _REFERENCE_TYPES:
        value = single_value(attributes, name)
        if value is None:
            continue
        certs = value["certs"]
        if len(certs) == 0:
            return f"the {name} attribute names no certificate"
        cert_id = certs[0]
        if name == "signing_certificate_v2":
            digest = digest_algorithm_by_oid(cert_id["hash_algorithm"]["algorithm"].dotted)
            digest_name, expected = digest.name, digest.hash(certificate.der)
        else:
            # ESSCertID (RFC 2634) is SHA-1 by definition; SHA-1 here only identifies, never signs.
            digest_name, expected = "sha1", hashlib.sha1(certificate.der, usedforsecurity=False).digest()
        if cert_id["cert_hash"].native != expected:
            return f"the {digest_name} certificate hash in {name} is not the signing certificate's"
        return _issuer_serial_problem(cert_id["issuer_serial"], certificate, name)
    return "no signing-certificate attribute"


def _issuer_serial_problem(issuer_serial: Any, certificate: Certificate, name: str) -> str | None:
    if isinstance(issuer_serial, core.Void):
        return None
    if issuer_serial["serial_number"].native != certificate.serial_number:
        return f"the serial number in {name} is not the signing certificate's"
    names = [
        general_name.chosen
        for general_name in issuer_serial["issuer"]
        if general_name.name == "directory_name"
    ]
    if not any(issuer == certificate.issuer for issuer in names):
        return f"the issuer in {name} is not the signing certificate's"
    return None
