"""PKCS#10 certification requests (RFC 2986): prepare → raw sign → finish, and parse + verify.

A user's key lives in an HSM, so building a request never needs the key itself:
:func:`prepare_request` assembles the to-be-signed ``CertificationRequestInfo`` and its digest, the
key holder signs the digest, :meth:`PreparedRequest.finish` checks and assembles. :func:`build_request`
does all three with a :class:`~signing.keys.Signer`. Requested extensions (keyUsage, extKeyUsage,
subjectAltName, or any other) travel in the PKCS#9 extensionRequest attribute.

:meth:`CertificationRequest.load` parses strictly and verifies the self-signature before returning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asn1crypto import csr as asn1_csr
from asn1crypto import keys
from asn1crypto import x509 as asn1_x509

from signing.algorithms import SignatureAlgorithm, signature_algorithm_from_identifier
from signing.errors import InvalidInputError, MalformedDataError, SigningError, UnsupportedAlgorithmError
from signing.keys import PublicKey, Signer, bit_string_octets, load_der_or_pem, load_public_key, pem_encode
from signing.prepared import Prepared
from signing.x509 import NameSpec, build_name, extended_key_usage, key_usage, subject_alt_name

__all__ = ["CertificationRequest", "PreparedRequest", "build_request", "prepare_request"]

_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)
_PEM_LABELS = ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")


class CertificationRequest:
    """A parsed PKCS#10 request whose signature has been verified; immutable."""

    __slots__ = ("_asn1", "_der", "_public_key", "_signature_algorithm")

    def __init__(self, request: asn1_csr.CertificationRequest, der: bytes) -> None:
        """Internal: use :meth:`load` (which verifies) or :func:`build_request`."""
        self._asn1 = request
        self._der = der
        self._signature_algorithm = signature_algorithm_from_identifier(request["signature_algorithm"])
        self._public_key = load_public_key(
            bytes(request["certification_request_info"]["subject_pk_info"].dump())
        )

    @classmethod
    def load(cls, data: bytes) -> CertificationRequest:
        """Parse a DER or PEM request and verify its signature.

        Raises ``MalformedDataError`` (bad DER/PEM), ``UnsupportedAlgorithmError`` (unknown key or
        signature algorithm) or ``InvalidSignatureError`` (the signature does not verify).
        """
        der = load_der_or_pem(data, *_PEM_LABELS)
        try:
            request = asn1_csr.CertificationRequest.load(der, strict=True)
            request.native  # noqa: B018 - forces the lazy parser through every field
        except _PARSE_ERRORS as exc:
            raise MalformedDataError(f"malformed certification request: {exc}") from exc
        if request["certification_request_info"]["version"].native != "v1":
            raise UnsupportedAlgorithmError("only PKCS#10 version 1 requests are supported")
        bit_string_octets(request["signature"])
        parsed = cls(request, der)
        parsed._public_key.verify_digest(
            parsed._signature_algorithm.digest.hash(parsed.info_der),
            parsed.signature,
            parsed._signature_algorithm,
        )
        return parsed

    @property
    def asn1(self) -> asn1_csr.CertificationRequest:
        """The asn1crypto structure."""
        return self._asn1

    @property
    def der(self) -> bytes:
        """The DER encoding, exactly as loaded or built."""
        return self._der

    def pem(self) -> bytes:
        """PEM ``CERTIFICATE REQUEST``."""
        return pem_encode(self._der, "CERTIFICATE REQUEST")

    @property
    def info_der(self) -> bytes:
        """DER of the signed ``CertificationRequestInfo``."""
        return bytes(self._asn1["certification_request_info"].dump())

    @property
    def signature(self) -> bytes:
        """The signature value."""
        return bit_string_octets(self._asn1["signature"])

    @property
    def signature_algorithm(self) -> SignatureAlgorithm:
        """The signature algorithm."""
        return self._signature_algorithm

    @property
    def subject(self) -> asn1_x509.Name:
        """The requested subject name."""
        return self._asn1["certification_request_info"]["subject"]

    def public_key(self) -> PublicKey:
        """The requester's public key."""
        return self._public_key

    @property
    def extensions(self) -> tuple[asn1_x509.Extension, ...]:
        """Every extension in the extensionRequest attribute(s)."""
        found: list[asn1_x509.Extension] = []
        for attribute in self._asn1["certification_request_info"]["attributes"]:
            if attribute["type"].native == "extension_request":
                for extensions in attribute["values"]:
                    found.extend(extensions)
        return tuple(found)

    def _extension_value(self, name: str) -> object:
        for extension in self.extensions:
            if extension["extn_id"].native == name:
                return extension["extn_value"].parsed
        return None

    @property
    def key_usage(self) -> frozenset[str] | None:
        """Requested keyUsage names, or ``None``."""
        value = self._extension_value("key_usage")
        return None if value is None else frozenset(value.native)  # type: ignore[attr-defined]

    @property
    def extended_key_usage(self) -> tuple[str, ...] | None:
        """Requested extKeyUsage purposes, or ``None``."""
        value = self._extension_value("extended_key_usage")
        return None if value is None else tuple(value.native)  # type: ignore[attr-defined]

    @property
    def subject_alt_names(self) -> tuple[tuple[str, str], ...]:
        """Requested subjectAltName entries as ``(kind, value)``."""
        value = self._extension_value("subject_alt_name")
        if value is None:
            return ()
        return tuple((name.name, str(name.native)) for name in value)  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CertificationRequest) and self._der == other._der

    def __hash__(self) -> int:
        return hash(self._der)

    def __repr__(self) -> str:
        return (
            f"CertificationRequest(subject={self.subject.human_friendly!r}, {self._signature_algorithm.name})"
        )


@dataclass(frozen=True, slots=True)
class PreparedRequest(Prepared[asn1_csr.CertificationRequestInfo]):
    """A request waiting for the requester's signature over :attr:`digest` (``verification_key``: the
    requester's public key)."""

    def finish(self, signature: bytes) -> CertificationRequest:
        """Check ``signature`` and assemble the request (``InvalidSignatureError`` if it is wrong)."""
        der = self.signed_der(asn1_csr.CertificationRequest, signature)
        return CertificationRequest(asn1_csr.CertificationRequest.load(der), der)


def prepare_request(
    *,
    subject: NameSpec,
    public_key: PublicKey,
    signature_algorithm: SignatureAlgorithm,
    key_usages: Iterable[str] = (),
    extended_key_usages: Iterable[str] = (),
    subject_alt_names: Sequence[tuple[str, str]] = (),
    extensions: Sequence[asn1_x509.Extension] = (),
) -> PreparedRequest:
    """Assemble a ``CertificationRequestInfo``; extensions requested only when given."""
    if signature_algorithm.key_algorithm is not public_key.key_algorithm:
        raise UnsupportedAlgorithmError(f"{signature_algorithm.name} does not go with the requester's key")
    requested = list(extensions)
    usages = set(key_usages)
    if usages:
        requested.append(key_usage(usages))
    purposes = list(extended_key_usages)
    if purposes:
        requested.append(extended_key_usage(purposes))
    if subject_alt_names:
        requested.append(subject_alt_name(subject_alt_names))
    attributes = [{"type": "extension_request", "values": [requested]}] if requested else []
    try:
        info = asn1_csr.CertificationRequestInfo(
            {
                "version": "v1",
                "subject": build_name(subject),
                "subject_pk_info": keys.PublicKeyInfo.load(public_key.spki()),
                # PKCS#10 makes the attributes field mandatory, even when empty (as OpenSSL writes it).
                "attributes": attributes,
            }
        )
        info.dump()
    except SigningError:
        raise
    except _PARSE_ERRORS as exc:
        raise InvalidInputError(f"cannot build certification request: {exc}") from exc
    return PreparedRequest(info, signature_algorithm, public_key)


def build_request(
    signer: Signer,
    *,
    subject: NameSpec,
    key_usages: Iterable[str] = (),
    extended_key_usages: Iterable[str] = (),
    subject_alt_names: Sequence[tuple[str, str]] = (),
    extensions: Sequence[asn1_x509.Extension] = (),
) -> CertificationRequest:
    """Prepare, sign with ``signer`` and finish a request for the signer's own key."""
    prepared = prepare_request(
        subject=subject,
        public_key=signer.public_key(),
        signature_algorithm=signer.signature_algorithm,
        key_usages=key_usages,
        extended_key_usages=extended_key_usages,
        subject_alt_names=subject_alt_names,
        extensions=extensions,
    )
    return prepared.finish(signer.sign_digest(prepared.digest))
