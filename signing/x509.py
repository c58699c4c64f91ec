"""X.509 v3 certificates: names, extensions, parsing, and issuing for the built-in CA.

Issuing follows prepare → raw sign → finish, so a CA key may live in an HSM: :class:`PreparedCertificate`
holds the to-be-signed certificate and its :attr:`~PreparedCertificate.digest`; whoever holds the key
signs that digest; :meth:`~PreparedCertificate.finish` checks the signature against the issuer's public
key and assembles the certificate. :class:`CertificateAuthority` runs the three steps with a
:class:`~signing.keys.Signer`: it reads the signer's public key and algorithm and calls
``sign_digest``, nothing else — never key bytes.

Names are given as ordered ``(attribute, value)`` pairs with asn1crypto attribute names (after
:func:`signing.asn1.register`: also ``ogrn``, ``ogrnip``, ``snils``, ``inn``, ``innle``) or dotted OIDs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from asn1crypto import core, keys
from asn1crypto import x509 as asn1_x509

from signing.algorithms import SignatureAlgorithm, signature_algorithm_from_identifier
from signing.errors import (
    InvalidInputError,
    MalformedDataError,
    SigningError,
    UnsupportedAlgorithmError,
)
from signing.keys import PublicKey, Signer, bit_string_octets, load_der_or_pem, load_public_key, pem_encode
from signing.prepared import Prepared

__all__ = [
    "CA_PROFILE",
    "END_ENTITY_PROFILE",
    "Certificate",
    "CertificateAuthority",
    "CertificateProfile",
    "NameSpec",
    "PreparedCertificate",
    "authority_information_access",
    "authority_key_identifier",
    "basic_constraints",
    "build_name",
    "crl_distribution_points",
    "extended_key_usage",
    "key_identifier",
    "key_usage",
    "name_attributes",
    "names_match",
    "prepare_certificate",
    "random_serial_number",
    "self_signed_ca",
    "subject_alt_name",
    "subject_key_identifier",
]

NameSpec: TypeAlias = Sequence[tuple[str, str]] | Mapping[str, str] | asn1_x509.Name
"""A distinguished name: ordered ``(attribute, value)`` pairs, a mapping, or a parsed ``Name``."""

_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)
_NUMERIC_LENGTHS = {"ogrn": 13, "ogrnip": 15, "snils": 11, "inn": 12, "innle": 10}
_PRINTABLE = frozenset({"country_name", "serial_number", "dn_qualifier"})

# --- names ---------------------------------------------------------------------------------------


def _attribute_value(name: str, value: str) -> Any:
    if name in _NUMERIC_LENGTHS:
        if not value.isascii() or not value.isdigit() or len(value) != _NUMERIC_LENGTHS[name]:
            raise InvalidInputError(f"{name} must be {_NUMERIC_LENGTHS[name]} digits")
        return {"numeric_string": value}
    if name == "email_address":
        return asn1_x509.EmailAddress(value)
    if name == "domain_component":
        return asn1_x509.DNSName(value)
    if name in _PRINTABLE:
        return asn1_x509.DirectoryString(name="printable_string", value=core.PrintableString(value))
    spec = asn1_x509.NameTypeAndValue._oid_specs.get(name)
    if spec is None or spec is asn1_x509.DirectoryString:
        return asn1_x509.DirectoryString(name="utf8_string", value=core.UTF8String(value))
    return spec(value)


def build_name(attributes: NameSpec) -> asn1_x509.Name:
    """Build a distinguished name, one attribute per RDN, in the order given.

    Country, serialNumber and dnQualifier are PrintableString, e-mail IA5String, OGRN/OGRNIP/SNILS/
    INN/INNLE NumericString of their legal length (checked), everything else UTF8String.
    """
    if isinstance(attributes, asn1_x509.Name):
        return attributes
    pairs = list(attributes.items()) if isinstance(attributes, Mapping) else list(attributes)
    rdns = []
    try:
        for raw_name, value in pairs:
            name = asn1_x509.NameType.map(raw_name)
            rdns.append(
                asn1_x509.RelativeDistinguishedName(
                    [asn1_x509.NameTypeAndValue({"type": name, "value": _attribute_value(name, value)})]
                )
            )
        built = asn1_x509.Name(name="", value=asn1_x509.RDNSequence(rdns))
        built.dump()
    except SigningError:
        raise
    except _PARSE_ERRORS as exc:
        raise InvalidInputError(f"invalid name attribute: {exc}") from exc
    return built


def names_match(first: asn1_x509.Name, second: asn1_x509.Name) -> bool:
    """RFC 5280 §7.1 name comparison (case- and space-insensitive); never raises."""
    if first.dump() == second.dump():
        return True
    try:
        return bool(first == second)
    except _PARSE_ERRORS:
        # asn1crypto cannot string-prepare some attribute values (bit strings): unequal then.
        return False


def name_attributes(name: asn1_x509.Name) -> list[tuple[str, str]]:
    """The attributes of a name as ``(asn1crypto name or dotted OID, text)`` pairs, in order."""
    pairs = []
    for rdn in name.chosen:
        for attribute in rdn:
            value = attribute["value"].native
            pairs.append((attribute["type"].native, value if isinstance(value, str) else repr(value)))
    return pairs


# --- extensions ----------------------------------------------------------------------------------


def _extension(extn_id: str, value: Any, *, critical: bool) -> asn1_x509.Extension:
    return asn1_x509.Extension({"extn_id": extn_id, "critical": critical, "extn_value": value})


def basic_constraints(*, ca: bool, path_length: int | None = None) -> asn1_x509.Extension:
    """basicConstraints, critical (RFC 5280 §4.2.1.9)."""
    value: dict[str, Any] = {"ca": ca}
    if ca and path_length is not None:
        value["path_len_constraint"] = path_length
    return _extension("basic_constraints", value, critical=True)


def key_usage(usages: Iterable[str]) -> asn1_x509.Extension:
    """keyUsage, critical; usages are asn1crypto names (``digital_signature``, ``key_cert_sign``...)."""
    names = set(usages)
    if not names:
        raise InvalidInputError("keyUsage needs at least one usage")
    return _extension("key_usage", names, critical=True)


def extended_key_usage(purposes: Iterable[str]) -> asn1_x509.Extension:
    """extKeyUsage, non-critical; purposes are asn1crypto names or dotted OIDs."""
    return _extension("extended_key_usage", list(purposes), critical=False)


def subject_alt_name(names: Iterable[tuple[str, str]], *, critical: bool = False) -> asn1_x509.Extension:
    """subjectAltName from ``(kind, value)`` pairs.

    Kinds are asn1crypto GeneralName names: ``dns_name``, ``rfc822_name``,
    ``uniform_resource_identifier``, ``ip_address``...
    """
    try:
        general_names = [asn1_x509.GeneralName(name=kind, value=value) for kind, value in names]
    except (*_PARSE_ERRORS, OSError) as exc:  # asn1crypto's inet_pton raises OSError for a bad IP
        raise InvalidInputError(f"invalid subjectAltName entry: {exc}") from exc
    return _extension("subject_alt_name", general_names, critical=critical)


def key_identifier(spki: bytes) -> bytes:
    """RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (what OpenSSL computes)."""
    info = keys.PublicKeyInfo.load(spki)
    return hashlib.sha1(bytes(info["public_key"]), usedforsecurity=False).digest()


def subject_key_identifier(identifier: bytes) -> asn1_x509.Extension:
    """subjectKeyIdentifier, non-critical."""
    return _extension("key_identifier", identifier, critical=False)


def authority_key_identifier(identifier: bytes) -> asn1_x509.Extension:
    """authorityKeyIdentifier with keyIdentifier only, non-critical."""
    return _extension("authority_key_identifier", {"key_identifier": identifier}, critical=False)


def _uri(url: str) -> asn1_x509.GeneralName:
    return asn1_x509.GeneralName(name="uniform_resource_identifier", value=url)


def crl_distribution_points(urls: Iterable[str]) -> asn1_x509.Extension:
    """cRLDistributionPoints: one distribution point per URL, non-critical."""
    points = [{"distribution_point": {"full_name": [_uri(url)]}} for url in urls]
    return _extension("crl_distribution_points", points, critical=False)


def authority_information_access(
    *, ocsp_urls: Iterable[str] = (), ca_issuers_urls: Iterable[str] = ()
) -> asn1_x509.Extension:
    """authorityInfoAccess with OCSP and caIssuers URLs, non-critical."""
    entries = [
        {"access_method": method, "access_location": _uri(url)}
        for method, urls in (("ocsp", ocsp_urls), ("ca_issuers", ca_issuers_urls))
        for url in urls
    ]
    return _extension("authority_information_access", entries, critical=False)


# --- parsed certificates -------------------------------------------------------------------------


class Certificate:
    """A parsed X.509 certificate with typed accessors; immutable."""

    __slots__ = ("_asn1", "_der")

    def __init__(self, certificate: asn1_x509.Certificate, der: bytes) -> None:
        self._asn1 = certificate
        self._der = der

    @classmethod
    def load(cls, data: bytes) -> Certificate:
        """Parse a DER or PEM certificate; every field is decoded now, so malformed input fails here."""
        der = load_der_or_pem(data, "CERTIFICATE")
        try:
            certificate = asn1_x509.Certificate.load(der, strict=True)
            certificate.native  # noqa: B018 - forces the lazy parser through every field
            _ = certificate.key_usage_value, certificate.basic_constraints_value
        except _PARSE_ERRORS as exc:
            raise MalformedDataError(f"malformed certificate: {exc}") from exc
        if certificate["tbs_certificate"]["version"].native != "v3":
            raise UnsupportedAlgorithmError("only X.509 v3 certificates are supported")
        bit_string_octets(certificate["signature_value"])
        return cls(certificate, der)

    @property
    def asn1(self) -> asn1_x509.Certificate:
        """The asn1crypto structure (for CMS/TSP/OCSP code); read it, never modify it."""
        return self._asn1

    @property
    def der(self) -> bytes:
        """The DER encoding, exactly as loaded or issued."""
        return self._der

    def pem(self) -> bytes:
        """PEM ``CERTIFICATE``."""
        return pem_encode(self._der, "CERTIFICATE")

    @property
    def tbs_der(self) -> bytes:
        """DER of the signed part."""
        return bytes(self._asn1["tbs_certificate"].dump())

    @property
    def signature(self) -> bytes:
        """The signature value (``s ‖ r`` for GOST, DER for ECDSA)."""
        return bit_string_octets(self._asn1["signature_value"])

    @property
    def signature_algorithm(self) -> SignatureAlgorithm:
        """The outer signature algorithm (must equal the one inside the signed part)."""
        outer = self._asn1["signature_algorithm"]
        if outer.dump() != self._asn1["tbs_certificate"]["signature"].dump():
            raise MalformedDataError("signature algorithm differs inside and outside the signed part")
        return signature_algorithm_from_identifier(outer)

    @property
    def serial_number(self) -> int:
        """The serial number."""
        return int(self._asn1.serial_number)

    @property
    def subject(self) -> asn1_x509.Name:
        """The subject name."""
        return self._asn1.subject

    @property
    def issuer(self) -> asn1_x509.Name:
        """The issuer name."""
        return self._asn1.issuer

    @property
    def not_before(self) -> dt.datetime:
        """Start of validity (aware, UTC)."""
        value: dt.datetime = self._asn1["tbs_certificate"]["validity"]["not_before"].native
        return value

    @property
    def not_after(self) -> dt.datetime:
        """End of validity (aware, UTC)."""
        value: dt.datetime = self._asn1["tbs_certificate"]["validity"]["not_after"].native
        return value

    @property
    def spki(self) -> bytes:
        """DER SubjectPublicKeyInfo of the subject."""
        return bytes(self._asn1.public_key.dump())

    def public_key(self) -> PublicKey:
        """The subject's public key behind the common interface."""
        return load_public_key(self.spki)

    @property
    def is_ca(self) -> bool:
        """basicConstraints cA."""
        value = self._asn1.basic_constraints_value
        return bool(value is not None and value["ca"].native)

    @property
    def path_length(self) -> int | None:
        """basicConstraints pathLenConstraint."""
        value = self._asn1.basic_constraints_value
        return None if value is None else value["path_len_constraint"].native

    @property
    def key_usage(self) -> frozenset[str] | None:
        """keyUsage names, or ``None`` when the extension is absent."""
        value = self._asn1.key_usage_value
        return None if value is None else frozenset(value.native)

    @property
    def extended_key_usage(self) -> tuple[str, ...] | None:
        """extKeyUsage purposes (names or dotted OIDs), or ``None`` when absent."""
        value = self._asn1.extended_key_usage_value
        return None if value is None else tuple(value.native)

    @property
    def subject_key_identifier(self) -> bytes | None:
        """subjectKeyIdentifier."""
        value = self._asn1.key_identifier_value
        return None if value is None else bytes(value.native)

    @property
    def authority_key_identifier(self) -> bytes | None:
        """authorityKeyIdentifier's keyIdentifier."""
        value = self._asn1.authority_key_identifier_value
        return None if value is None else value["key_identifier"].native

    @property
    def subject_alt_names(self) -> tuple[tuple[str, str], ...]:
        """subjectAltName entries as ``(kind, value)``."""
        value = self._asn1.subject_alt_name_value
        if value is None:
            return ()
        return tuple((name.name, str(name.native)) for name in value)

    @property
    def crl_urls(self) -> tuple[str, ...]:
        """HTTP(S) CRL distribution point URLs."""
        return tuple(point.url for point in self._asn1.crl_distribution_points if point.url)

    @property
    def ocsp_urls(self) -> tuple[str, ...]:
        """AIA OCSP URLs."""
        return tuple(self._asn1.ocsp_urls)

    @property
    def ca_issuers_urls(self) -> tuple[str, ...]:
        """AIA caIssuers URLs."""
        value = self._asn1.authority_information_access_value
        if value is None:
            return ()
        return tuple(
            entry["access_location"].native
            for entry in value
            if entry["access_method"].native == "ca_issuers"
            and entry["access_location"].name == "uniform_resource_identifier"
        )

    @property
    def critical_extensions(self) -> frozenset[str]:
        """Names (or dotted OIDs) of the extensions marked critical."""
        return frozenset(self._asn1.critical_extensions)

    @property
    def is_self_issued(self) -> bool:
        """Subject and issuer names match (RFC 5280 name comparison)."""
        return names_match(self.subject, self.issuer)

    def verify_signature(self, issuer_key: PublicKey) -> None:
        """Check this certificate's signature with the issuer's key; raise ``InvalidSignatureError``."""
        algorithm = self.signature_algorithm
        issuer_key.verify_digest(algorithm.digest.hash(self.tbs_der), self.signature, algorithm)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Certificate) and self._der == other._der

    def __hash__(self) -> int:
        return hash(self._der)

    def __repr__(self) -> str:
        return f"Certificate(subject={self.subject.human_friendly!r}, serial={self.serial_number:x})"


# --- issuing -------------------------------------------------------------------------------------


def random_serial_number() -> int:
    """A random positive 128-bit serial number (top bit set: always 16 significant bytes)."""
    return (1 << 127) | secrets.randbits(127)


def _time(value: dt.datetime) -> dict[str, dt.datetime]:
    if value.tzinfo is None:
        raise InvalidInputError("certificate times must be timezone-aware")
    value = value.astimezone(dt.UTC).replace(microsecond=0)
    # RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    return {"utc_time": value} if value.year < 2050 else {"general_time": value}


@dataclass(frozen=True, slots=True)
class PreparedCertificate(Prepared[asn1_x509.TbsCertificate]):
    """A to-be-signed certificate waiting for the issuer's signature (``verification_key``: the issuer's)."""

    def finish(self, signature: bytes) -> Certificate:
        """Check ``signature`` with the issuer's public key and assemble the certificate.

        A wrong signature (a faulty HSM, a wrong key) raises ``InvalidSignatureError`` rather than
        producing a certificate that nobody can verify.
        """
        der = self.signed_der(asn1_x509.Certificate, signature)
        return Certificate(asn1_x509.Certificate.load(der), der)


def prepare_certificate(
    *,
    subject: NameSpec,
    subject_public_key: PublicKey,
    issuer: NameSpec,
    issuer_public_key: PublicKey,
    signature_algorithm: SignatureAlgorithm,
    not_before: dt.datetime,
    not_after: dt.datetime,
    extensions: Sequence[asn1_x509.Extension],
    serial_number: int | None = None,
) -> PreparedCertificate:
    """Assemble a v3 to-be-signed certificate; no key is touched."""
    if not_after <= not_before:
        raise InvalidInputError("not_after must be later than not_before")
    if serial_number is not None and not 0 < serial_number < 1 << 159:
        raise InvalidInputError("serial number must be positive and fit 20 octets")
    if signature_algorithm.key_algorithm is not issuer_public_key.key_algorithm:
        raise UnsupportedAlgorithmError(f"{signature_algorithm.name} does not go with the issuer's key")
    try:
        tbs = asn1_x509.TbsCertificate(
            {
                "version": "v3",
                "serial_number": serial_number or random_serial_number(),
                "signature": signature_algorithm.algorithm_identifier(),
                "issuer": build_name(issuer),
                "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
                "subject": build_name(subject),
                "subject_public_key_info": keys.PublicKeyInfo.load(subject_public_key.spki()),
                "extensions": list(extensions),
            }
        )
        tbs.dump()
    except SigningError:
        raise
    except _PARSE_ERRORS as exc:
        raise InvalidInputError(f"cannot build certificate: {exc}") from exc
    return PreparedCertificate(tbs, signature_algorithm, issuer_public_key)


def self_signed_ca(
    signer: Signer,
    *,
    subject: NameSpec,
    not_before: dt.datetime,
    not_after: dt.datetime,
    path_length: int | None = None,
    serial_number: int | None = None,
) -> Certificate:
    """Issue a self-signed root: basicConstraints cA (critical), keyCertSign + cRLSign, SKI = AKI."""
    public_key = signer.public_key()
    identifier = key_identifier(public_key.spki())
    prepared = prepare_certificate(
        subject=subject,
        subject_public_key=public_key,
        issuer=subject,
        issuer_public_key=public_key,
        signature_algorithm=signer.signature_algorithm,
        not_before=not_before,
        not_after=not_after,
        serial_number=serial_number,
        extensions=[
            basic_constraints(ca=True, path_length=path_length),
            key_usage({"key_cert_sign", "crl_sign"}),
            subject_key_identifier(identifier),
            authority_key_identifier(identifier),
        ],
    )
    return prepared.finish(signer.sign_digest(prepared.digest))


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateProfile:
    """What an issued certificate may do."""

    key_usage: frozenset[str] = frozenset({"digital_signature", "non_repudiation"})
    """keyUsage names."""
    extended_key_usage: tuple[str, ...] = ("client_auth", "email_protection")
    """extKeyUsage purposes; empty leaves the extension out."""
    is_ca: bool = False
    """Issue a subordinate CA (basicConstraints cA) instead of an end entity."""
    path_length: int | None = None
    """pathLenConstraint of a subordinate CA."""


END_ENTITY_PROFILE = CertificateProfile()
"""A signing end entity: digitalSignature + nonRepudiation, clientAuth + emailProtection."""
CA_PROFILE = CertificateProfile(
    key_usage=frozenset({"key_cert_sign", "crl_sign"}), extended_key_usage=(), is_ca=True, path_length=0
)
"""A subordinate CA that issues end entities only."""


class CertificateAuthority:
    """A CA certificate plus a :class:`~signing.keys.Signer` for its key (software or HSM).

    It only ever calls ``signer.sign_digest``; callers that sign elsewhere (an async HSM client)
    use :meth:`prepare` and :meth:`PreparedCertificate.finish` themselves.
    """

    __slots__ = ("_ca_issuers_urls", "_certificate", "_crl_urls", "_ocsp_urls", "_signer")

    def __init__(
        self,
        certificate: Certificate,
        signer: Signer,
        *,
        crl_urls: Sequence[str] = (),
        ocsp_urls: Sequence[str] = (),
        ca_issuers_urls: Sequence[str] = (),
    ) -> None:
        if signer.public_key().spki() != certificate.spki:
            raise InvalidInputError("the signer's key is not the CA certificate's key")
        if not certificate.is_ca or "key_cert_sign" not in (certificate.key_usage or {"key_cert_sign"}):
            raise InvalidInputError("the certificate is not a CA certificate allowed to sign certificates")
        self._certificate = certificate
        self._signer = signer
        self._crl_urls = tuple(crl_urls)
        self._ocsp_urls = tuple(ocsp_urls)
        self._ca_issuers_urls = tuple(ca_issuers_urls)

    @property
    def certificate(self) -> Certificate:
        """The CA's own certificate."""
        return self._certificate

    def prepare(
        self,
        *,
        subject: NameSpec,
        public_key: PublicKey,
        not_before: dt.datetime,
        not_after: dt.datetime,
        profile: CertificateProfile = END_ENTITY_PROFILE,
        subject_alt_names: Sequence[tuple[str, str]] = (),
        serial_number: int | None = None,
    ) -> PreparedCertificate:
        """Build the to-be-signed certificate for ``public_key`` (no signing yet)."""
        ca = self._certificate
        if not_before < ca.not_before or not_after > ca.not_after:
            raise InvalidInputError("the validity must lie within the CA certificate's validity")
        issuer_key_id = ca.subject_key_identifier or key_identifier(ca.spki)
        extensions = [
            basic_constraints(ca=profile.is_ca, path_length=profile.path_length),
            key_usage(profile.key_usage),
            subject_key_identifier(key_identifier(public_key.spki())),
            authority_key_identifier(issuer_key_id),
        ]
        if profile.extended_key_usage:
            extensions.append(extended_key_usage(profile.extended_key_usage))
        if subject_alt_names:
            extensions.append(subject_alt_name(subject_alt_names))
        if self._crl_urls:
            extensions.append(crl_distribution_points(self._crl_urls))
        if self._ocsp_urls or self._ca_issuers_urls:
            extensions.append(
                authority_information_access(ocsp_urls=self._ocsp_urls, ca_issuers_urls=self._ca_issuers_urls)
            )
        return prepare_certificate(
            subject=subject,
            subject_public_key=public_key,
            issuer=ca.subject,
            issuer_public_key=self._signer.public_key(),
            signature_algorithm=self._signer.signature_algorithm,
            not_before=not_before,
            not_after=not_after,
            serial_number=serial_number,
            extensions=extensions,
        )

    def issue(
        self,
        *,
        subject: NameSpec,
        public_key: PublicKey,
        not_before: dt.datetime,
        not_after: dt.datetime,
        profile: CertificateProfile = END_ENTITY_PROFILE,
        subject_alt_names: Sequence[tuple[str, str]] = (),
        serial_number: int | None = None,
    ) -> Certificate:
        """Prepare, sign with the CA's signer, and finish."""
        prepared = self.prepare(
            subject=subject,
            public_key=public_key,
            not_before=not_before,
            not_after=not_after,
            profile=profile,
            subject_alt_names=subject_alt_names,
            serial_number=serial_number,
        )
        return prepared.finish(self._signer.sign_digest(prepared.digest))
