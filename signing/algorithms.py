"""The one registry of digest and signature algorithms, keyed by OID and by name.

Every format (X.509, CMS, XML, PDF) asks this module which digest a signature algorithm uses, how
its signature value is encoded and how its AlgorithmIdentifier looks, so no format keeps its own
table. Names are asn1crypto's native names (after :func:`signing.asn1.register`) where one exists
(``sha256_ecdsa``, ``streebog256_gost3410_2012_256``); RSASSA-PSS, which asn1crypto calls plain
``rsassa_pss`` for every digest, is ``sha256_rsassa_pss`` and so on.

Lookups of unknown names or OIDs raise :class:`~signing.errors.UnsupportedAlgorithmError`.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from asn1crypto import algos

from signing import asn1
from signing.errors import MalformedDataError, UnsupportedAlgorithmError
from signing.gost._libcrypto import libcrypto

__all__ = [
    "DigestAlgorithm",
    "KeyAlgorithm",
    "SignatureAlgorithm",
    "SignatureEncoding",
    "default_signature_algorithm",
    "digest_algorithm",
    "digest_algorithm_by_oid",
    "digest_algorithms",
    "signature_algorithm",
    "signature_algorithm_by_oid",
    "signature_algorithm_from_identifier",
    "signature_algorithms",
]


class KeyAlgorithm(enum.Enum):
    """Public-key algorithm families; the value is asn1crypto's native name of the key OID."""

    GOST3410_2012_256 = "gost3410_2012_256"
    GOST3410_2012_512 = "gost3410_2012_512"
    EC = "ec"
    RSA = "rsa"

    @property
    def oid(self) -> str:
        """The SubjectPublicKeyInfo algorithm OID."""
        return _KEY_OIDS[self]

    @property
    def is_gost(self) -> bool:
        """True for the two GOST R 34.10-2012 families."""
        return self in (KeyAlgorithm.GOST3410_2012_256, KeyAlgorithm.GOST3410_2012_512)


_KEY_OIDS = {
    KeyAlgorithm.GOST3410_2012_256: asn1.OID.GOST3410_2012_256,
    KeyAlgorithm.GOST3410_2012_512: asn1.OID.GOST3410_2012_512,
    KeyAlgorithm.EC: "1.2.840.10045.2.1",
    KeyAlgorithm.RSA: "1.2.840.113549.1.1.1",
}


class SignatureEncoding(enum.Enum):
    """How a signature value is laid out in X.509 and CMS."""

    GOST_S_R = "gost_s_r"
    """``s ‖ r``, each big-endian and as long as the curve order (64 or 128 bytes in all)."""
    ECDSA_DER = "ecdsa_der"
    """DER ``Ecdsa-Sig-Value ::= SEQUENCE {r INTEGER, s INTEGER}`` (XMLDSig uses raw ``r ‖ s`` instead)."""
    RSA_PKCS1V15 = "rsa_pkcs1v15"
    """RSASSA-PKCS1-v1_5 octets, as long as the modulus."""
    RSA_PSS = "rsa_pss"
    """RSASSA-PSS with MGF1 of the same digest and a salt as long as the digest."""


@dataclass(frozen=True, slots=True)
class DigestAlgorithm:
    """A hash function as the formats name and compute it."""

    name: str
    """asn1crypto native name, e.g. ``streebog256``."""
    oid: str
    """Dotted OID of the DigestAlgorithmIdentifier."""
    size: int
    """Digest length in bytes."""
    hashlib_name: str
    """Name understood by :func:`hashlib.new` (Streebog needs the gost provider loaded)."""
    xml_uri: str
    """XMLDSig ``DigestMethod`` URI."""

    def new(self, data: bytes = b"") -> Any:
        """Return a fresh :mod:`hashlib` object, already fed with ``data``."""
        if self.hashlib_name.startswith("md_gost"):
            # hashlib sees Streebog only once the gost provider is in the default library context.
            libcrypto()
        return hashlib.new(self.hashlib_name, data)

    def hash(self, data: bytes) -> bytes:
        """Digest ``data`` in one call."""
        digest: bytes = self.new(data).digest()
        return digest

    def algorithm_identifier(self) -> algos.DigestAlgorithm:
        """The ASN.1 DigestAlgorithmIdentifier (parameters absent, as RFC 5754 and RFC 9215 say)."""
        return algos.DigestAlgorithm({"algorithm": self.oid})


@dataclass(frozen=True, slots=True)
class SignatureAlgorithm:
    """A signature algorithm: key family, digest and value encoding."""

    name: str
    """Registry name, e.g. ``streebog256_gost3410_2012_256`` or ``sha256_rsassa_pss``."""
    oid: str
    """Dotted OID of the signature AlgorithmIdentifier."""
    key_algorithm: KeyAlgorithm
    """The key family that makes and checks these signatures."""
    digest: DigestAlgorithm
    """The digest signed."""
    encoding: SignatureEncoding
    """Layout of the signature value."""
    xml_uri: str
    """XMLDSig ``SignatureMethod`` URI."""

    def algorithm_identifier(self) -> algos.SignedDigestAlgorithm:
        """The ASN.1 AlgorithmIdentifier as X.509 and CMS carry it.

        RSA PKCS#1 v1.5 gets NULL parameters (RFC 4055), PSS its RSASSA-PSS-params, ECDSA and GOST
        none (RFC 5758, RFC 9215).
        """
        value: dict[str, Any] = {"algorithm": self.oid}
        if self.encoding is SignatureEncoding.RSA_PSS:
            value["parameters"] = algos.RSASSAPSSParams(
                {
                    "hash_algorithm": {"algorithm": self.digest.name},
                    "mask_gen_algorithm": {
                        "algorithm": "mgf1",
                        "parameters": {"algorithm": self.digest.name},
                    },
                    "salt_length": self.digest.size,
                }
            )
        return algos.SignedDigestAlgorithm(value)


def _digest(name: str, oid: str, size: int, hashlib_name: str, xml_uri: str) -> DigestAlgorithm:
    return DigestAlgorithm(name=name, oid=oid, size=size, hashlib_name=hashlib_name, xml_uri=xml_uri)


_CPXML = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:"
_DIGESTS = (
    _digest("streebog256", asn1.OID.STREEBOG256, 32, "md_gost12_256", _CPXML + "gostr34112012-256"),
    _digest("streebog512", asn1.OID.STREEBOG512, 64, "md_gost12_512", _CPXML + "gostr34112012-512"),
    _digest("sha256", "2.16.840.1.101.3.4.2.1", 32, "sha256", "http://www.w3.org/2001/04/xmlenc#sha256"),
    _digest(
        "sha384", "2.16.840.1.101.3.4.2.2", 48, "sha384", "http://www.w3.org/2001/04/xmldsig-more#sha384"
    ),
    _digest("sha512", "2.16.840.1.101.3.4.2.3", 64, "sha512", "http://www.w3.org/2001/04/xmlenc#sha512"),
)
_DIGEST_BY_NAME: Mapping[str, DigestAlgorithm] = {d.name: d for d in _DIGESTS}
_DIGEST_BY_OID: Mapping[str, DigestAlgorithm] = {d.oid: d for d in _DIGESTS}

_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
_PSS_OID = "1.2.840.113549.1.1.10"


def _signatures() -> tuple[SignatureAlgorithm, ...]:
    d = _DIGEST_BY_NAME
    gost, ec, rsa = KeyAlgorithm, KeyAlgorithm.EC, KeyAlgorithm.RSA
    enc = SignatureEncoding
    return (
        SignatureAlgorithm(
            "streebog256_gost3410_2012_256",
            asn1.OID.SIGN_STREEBOG256_GOST3410_2012_256,
            gost.GOST3410_2012_256,
            d["streebog256"],
            enc.GOST_S_R,
            _CPXML + "gostr34102012-gostr34112012-256",
        ),
        SignatureAlgorithm(
            "streebog512_gost3410_2012_512",
            asn1.OID.SIGN_STREEBOG512_GOST3410_2012_512,
            gost.GOST3410_2012_512,
            d["streebog512"],
            enc.GOST_S_R,
            _CPXML + "gostr34102012-gostr34112012-512",
        ),
        SignatureAlgorithm(
            "sha256_ecdsa", "1.2.840.10045.4.3.2", ec, d["sha256"], enc.ECDSA_DER, _MORE + "ecdsa-sha256"
        ),
        SignatureAlgorithm(
            "sha384_ecdsa", "1.2.840.10045.4.3.3", ec, d["sha384"], enc.ECDSA_DER, _MORE + "ecdsa-sha384"
        ),
        SignatureAlgorithm(
            "sha512_ecdsa", "1.2.840.10045.4.3.4", ec, d["sha512"], enc.ECDSA_DER, _MORE + "ecdsa-sha512"
        ),
        SignatureAlgorithm(
            "sha256_rsa", "1.2.840.113549.1.1.11", rsa, d["sha256"], enc.RSA_PKCS1V15, _MORE + "rsa-sha256"
        ),
        SignatureAlgorithm(
            "sha384_rsa", "1.2.840.113549.1.1.12", rsa, d["sha384"], enc.RSA_PKCS1V15, _MORE + "rsa-sha384"
        ),
        SignatureAlgorithm(
            "sha512_rsa", "1.2.840.113549.1.1.13", rsa, d["sha512"], enc.RSA_PKCS1V15, _MORE + "rsa-sha512"
        ),
        SignatureAlgorithm(
            "sha256_rsassa_pss", _PSS_OID, rsa, d["sha256"], enc.RSA_PSS, _PSS_XML + "sha256-rsa-MGF1"
        ),
        SignatureAlgorithm(
            "sha384_rsassa_pss", _PSS_OID, rsa, d["sha384"], enc.RSA_PSS, _PSS_XML + "sha384-rsa-MGF1"
        ),
        SignatureAlgorithm(
            "sha512_rsassa_pss", _PSS_OID, rsa, d["sha512"], enc.RSA_PSS, _PSS_XML + "sha512-rsa-MGF1"
        ),
    )


_PSS_XML = "http://www.w3.org/2007/05/xmldsig-more#"
_SIGNATURES = _signatures()
_SIGNATURE_BY_NAME: Mapping[str, SignatureAlgorithm] = {s.name: s for s in _SIGNATURES}
# PSS shares one OID across digests: it is found through its parameters, never by OID alone.
_SIGNATURE_BY_OID: Mapping[str, SignatureAlgorithm] = {s.oid: s for s in _SIGNATURES if s.oid != _PSS_OID}
_PSS_BY_DIGEST: Mapping[str, SignatureAlgorithm] = {
    s.digest.name: s for s in _SIGNATURES if s.encoding is SignatureEncoding.RSA_PSS
}
# "Digest given elsewhere" signature OIDs (CMS signatureAlgorithm = the key OID, as OpenSSL writes).
_KEY_OID_SIGNATURES: Mapping[str, KeyAlgorithm] = {
    asn1.OID.GOST3410_2012_256: KeyAlgorithm.GOST3410_2012_256,
    asn1.OID.GOST3410_2012_512: KeyAlgorithm.GOST3410_2012_512,
    "1.2.840.113549.1.1.1": KeyAlgorithm.RSA,
    "1.2.840.10045.4": KeyAlgorithm.EC,
    "1.2.840.10045.2.1": KeyAlgorithm.EC,
}
_DEFAULTS = {
    KeyAlgorithm.GOST3410_2012_256: "streebog256_gost3410_2012_256",
    KeyAlgorithm.GOST3410_2012_512: "streebog512_gost3410_2012_512",
    KeyAlgorithm.RSA: "sha256_rsa",
}
_EC_DEFAULTS = {256: "sha256_ecdsa", 384: "sha384_ecdsa", 521: "sha512_ecdsa"}


def digest_algorithms() -> Iterator[DigestAlgorithm]:
    """Every supported digest algorithm."""
    return iter(_DIGESTS)


def signature_algorithms() -> Iterator[SignatureAlgorithm]:
    """Every supported signature algorithm."""
    return iter(_SIGNATURES)


def digest_algorithm(name: str) -> DigestAlgorithm:
    """Look a digest up by name (``streebog256``, ``sha384``...)."""
    try:
        return _DIGEST_BY_NAME[name]
    except KeyError:
        raise UnsupportedAlgorithmError(f"unsupported digest algorithm {name!r}") from None


def digest_algorithm_by_oid(oid: str) -> DigestAlgorithm:
    """Look a digest up by dotted OID."""
    try:
        return _DIGEST_BY_OID[oid]
    except KeyError:
        raise UnsupportedAlgorithmError(f"unsupported digest algorithm OID {oid}") from None


def signature_algorithm(name: str) -> SignatureAlgorithm:
    """Look a signature algorithm up by registry name."""
    try:
        return _SIGNATURE_BY_NAME[name]
    except KeyError:
        raise UnsupportedAlgorithmError(f"unsupported signature algorithm {name!r}") from None


def signature_algorithm_by_oid(oid: str) -> SignatureAlgorithm:
    """Look a signature algorithm up by dotted OID.

    RSASSA-PSS (one OID for every digest) needs its parameters: use
    :func:`signature_algorithm_from_identifier`.
    """
    try:
        return _SIGNATURE_BY_OID[oid]
    except KeyError:
        hint = "; RSASSA-PSS needs its parameters" if oid == _PSS_OID else ""
        raise UnsupportedAlgorithmError(f"unsupported signature algorithm OID {oid}{hint}") from None


def default_signature_algorithm(
    key_algorithm: KeyAlgorithm, *, key_bits: int | None = None
) -> SignatureAlgorithm:
    """The algorithm a key signs with unless told otherwise (by curve size for ECDSA)."""
    if key_algorithm is KeyAlgorithm.EC:
        name = _EC_DEFAULTS.get(key_bits or 256)
        if name is None:
            raise UnsupportedAlgorithmError(f"unsupported EC key size {key_bits}")
        return _SIGNATURE_BY_NAME[name]
    return _SIGNATURE_BY_NAME[_DEFAULTS[key_algorithm]]


def signature_algorithm_from_identifier(
    identifier: algos.SignedDigestAlgorithm | bytes, *, digest_oid: str | None = None
) -> SignatureAlgorithm:
    """Resolve a parsed or DER AlgorithmIdentifier, as found in X.509, PKCS#10 or CMS.

    ``digest_oid`` is the CMS ``digestAlgorithm``, used when the identifier is a bare key OID
    (``rsaEncryption``, the GOST key OIDs) whose digest is given elsewhere.
    """
    if isinstance(identifier, bytes):
        try:
            identifier = algos.SignedDigestAlgorithm.load(identifier)
            oid = identifier["algorithm"].dotted
        except (ValueError, TypeError) as exc:
            raise MalformedDataError(f"malformed signature AlgorithmIdentifier: {exc}") from exc
    else:
        oid = identifier["algorithm"].dotted
    if oid == _PSS_OID:
        return _pss_from_parameters(identifier)
    if oid in _KEY_OID_SIGNATURES:
        return _from_key_oid(_KEY_OID_SIGNATURES[oid], digest_oid)
    return signature_algorithm_by_oid(oid)


def _from_key_oid(key_algorithm: KeyAlgorithm, digest_oid: str | None) -> SignatureAlgorithm:
    if key_algorithm.is_gost:
        # GOST R 34.10-2012 fixes the digest by key size; a CMS digestAlgorithm must agree.
        algorithm = _SIGNATURE_BY_NAME[_DEFAULTS[key_algorithm]]
        if digest_oid is not None and digest_oid != algorithm.digest.oid:
            raise UnsupportedAlgorithmError(f"digest {digest_oid} does not go with {key_algorithm.value}")
        return algorithm
    if digest_oid is None:
        raise UnsupportedAlgorithmError(f"{key_algorithm.value} signature needs its digest algorithm")
    digest = digest_algorithm_by_oid(digest_oid)
    for candidate in _SIGNATURES:
        if (
            candidate.key_algorithm is key_algorithm
            and candidate.digest is digest
            and candidate.encoding is not SignatureEncoding.RSA_PSS
        ):
            return candidate
    raise UnsupportedAlgorithmError(f"no {key_algorithm.value} signature with digest {digest.name}")


def _pss_from_parameters(identifier: algos.SignedDigestAlgorithm) -> SignatureAlgorithm:
    try:
        params = identifier["parameters"]
        digest_name = params["hash_algorithm"]["algorithm"].native
        mgf = params["mask_gen_algorithm"]
        mgf_name = mgf["algorithm"].native
        mgf_digest = mgf["parameters"]["algorithm"].native
        salt_length = params["salt_length"].native
        trailer = params["trailer_field"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedDataError(f"malformed RSASSA-PSS parameters: {exc}") from exc
    algorithm = _PSS_BY_DIGEST.get(digest_name)
    if algorithm is None:
        raise UnsupportedAlgorithmError(f"unsupported RSASSA-PSS digest {digest_name!r}")
    if (mgf_name, mgf_digest, salt_length, trailer) != (
        "mgf1",
        digest_name,
        algorithm.digest.size,
        "trailer_field_bc",
    ):
        raise UnsupportedAlgorithmError(
            "only RSASSA-PSS with MGF1 of the same digest and a digest-sized salt is supported"
        )
    return algorithm
