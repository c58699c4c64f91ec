"""Key encodings (SPKI, PKCS#8, PEM) and the one key interface every format uses.

* :class:`PublicKey` — a public key that checks a signature over a digest and has a SPKI encoding;
* :class:`Signer` — anything that signs a digest: a software key, an HSM slot client, a CA key;
* :class:`PrivateKey` — a software :class:`Signer` that can also export itself as PKCS#8.

GOST keys (:class:`GostSigningKey`, :class:`GostVerifyingKey`, over the native binding in
:mod:`signing.gost`) and ECDSA/RSA keys (:mod:`signing.international`) both implement them, so
certificates, CMS, XML and PDF never care which algorithm is behind.

GOST encodings are byte-for-byte what OpenSSL's gost engine writes (RFC 9215):

* SPKI: algorithm 1.2.643.7.1.1.1.1 (256) or .1.2 (512) with parameters ``SEQUENCE {paramSet OID
  [, digest OID]}`` — the digest OID only for the CryptoPro sets and TC26 512 A/B — and the key
  ``BIT STRING ⊃ OCTET STRING(x_le ‖ y_le)``;
* PKCS#8: the same algorithm identifier and ``privateKey = OCTET STRING(d_le)``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from asn1crypto import core, keys, pem

from signing import asn1
from signing.algorithms import KeyAlgorithm, SignatureAlgorithm, default_signature_algorithm
from signing.errors import InvalidInputError, MalformedDataError, UnsupportedAlgorithmError
from signing.gost.keys import GostPrivateKey, GostPublicKey
from signing.gost.params import ParamSet
from signing.international import InternationalPrivateKey, InternationalPublicKey

_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)


__all__ = [
    "GostSigningKey",
    "GostVerifyingKey",
    "PrivateKey",
    "PublicKey",
    "Signer",
    "bit_string_octets",
    "decode_gost_pkcs8",
    "decode_gost_spki",
    "encode_gost_pkcs8",
    "encode_gost_spki",
    "gost_key_algorithm",
    "load_der_or_pem",
    "load_private_key",
    "load_public_key",
    "pem_decode",
    "pem_encode",
    "private_key_pem",
    "public_key_pem",
    "sign_data",
    "spki_key_algorithm",
    "verify_data",
]


@runtime_checkable
class PublicKey(Protocol):
    """A public key that verifies signatures over digests."""

    @property
    def key_algorithm(self) -> KeyAlgorithm:
        """The key family."""
        ...

    def spki(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        ...

    def verify_digest(self, digest: bytes, signature: bytes, algorithm: SignatureAlgorithm) -> None:
        """Check a signature (encoded as X.509/CMS carry it) over ``digest``.

        Raises ``InvalidSignatureError`` when it does not verify and ``UnsupportedAlgorithmError``
        when ``algorithm`` is not one this key makes.
        """
        ...


@runtime_checkable
class Signer(Protocol):
    """Signs digests with one signature algorithm; the only step that touches a private key."""

    @property
    def signature_algorithm(self) -> SignatureAlgorithm:
        """The algorithm :meth:`sign_digest` applies; its digest is what callers must compute."""
        ...

    def public_key(self) -> PublicKey:
        """The public half."""
        ...

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a precomputed digest; return the signature value as X.509/CMS carry it."""
        ...


@runtime_checkable
class PrivateKey(Signer, Protocol):
    """A software key: a :class:`Signer` that exports itself."""

    def pkcs8(self) -> bytes:
        """Unencrypted DER PKCS#8 PrivateKeyInfo."""
        ...


def sign_data(signer: Signer, data: bytes) -> bytes:
    """Hash ``data`` with the signer's digest and sign it."""
    return signer.sign_digest(signer.signature_algorithm.digest.hash(data))


def verify_data(public_key: PublicKey, data: bytes, signature: bytes, algorithm: SignatureAlgorithm) -> None:
    """Hash ``data`` with ``algorithm``'s digest and check ``signature``."""
    public_key.verify_digest(algorithm.digest.hash(data), signature, algorithm)


# --- GOST encodings ------------------------------------------------------------------------

_G256, _G512 = KeyAlgorithm.GOST3410_2012_256, KeyAlgorithm.GOST3410_2012_512


def gost_key_algorithm(paramset: ParamSet) -> KeyAlgorithm:
    """The key family of a GOST parameter set (256- or 512-bit)."""
    return _G256 if paramset.key_size == 256 else _G512


def _gost_algorithm(paramset: ParamSet) -> dict[str, object]:
    parameters: dict[str, object] = {"public_key_param_set": paramset.oid}
    # OpenSSL writes the Streebog OID for the CryptoPro sets and TC26 512 A/B only (RFC 9215 §4).
    if paramset.digest_param_in_spki:
        parameters["digest_param_set"] = paramset.digest_oid
    return {"algorithm": paramset.public_key_algorithm_oid, "parameters": parameters}


def _production(paramset: ParamSet) -> ParamSet:
    if paramset.test_only:
        raise UnsupportedAlgorithmError(f"{paramset.name} is a test curve and never carries real keys")
    return paramset


def encode_gost_spki(paramset: ParamSet, point: bytes) -> bytes:
    """DER SubjectPublicKeyInfo of a GOST public key ``x_le ‖ y_le``."""
    if len(point) != 2 * _production(paramset).size:
        raise InvalidInputError(f"GOST public key must be {2 * paramset.size} bytes, got {len(point)}")
    info = keys.PublicKeyInfo({"algorithm": _gost_algorithm(paramset), "public_key": core.OctetString(point)})
    return bytes(info.dump())


def encode_gost_pkcs8(paramset: ParamSet, private_le: bytes) -> bytes:
    """DER PKCS#8 PrivateKeyInfo of a GOST private key ``d_le``, as OpenSSL writes it."""
    if len(private_le) != _production(paramset).size:
        raise InvalidInputError(f"GOST private key must be {paramset.size} bytes, got {len(private_le)}")
    info = keys.PrivateKeyInfo(
        {"version": 0, "private_key_algorithm": _gost_algorithm(paramset), "private_key": private_le}
    )
    return bytes(info.dump())


def _gost_parameters(algorithm: core.Sequence) -> ParamSet:
    key_name = algorithm["algorithm"].native
    if key_name not in (_G256.value, _G512.value):
        raise UnsupportedAlgorithmError(f"not a GOST R 34.10-2012 key: {algorithm['algorithm'].dotted}")
    parameters = algorithm["parameters"]
    if not isinstance(parameters, asn1.GostPublicKeyParameters):
        raise MalformedDataError("GOST key parameters are missing")
    paramset = ParamSet.from_oid(parameters["public_key_param_set"].dotted)
    if gost_key_algorithm(paramset).value != key_name:
        raise MalformedDataError(f"parameter set {paramset.name} does not belong to {key_name}")
    digest = parameters["digest_param_set"]
    if digest.native is not None and digest.dotted != paramset.digest_oid:
        raise MalformedDataError(f"digest {digest.dotted} does not belong to {key_name}")
    return paramset


def decode_gost_spki(der: bytes) -> tuple[ParamSet, bytes]:
    """Parse a GOST SubjectPublicKeyInfo into (parameter set, ``x_le ‖ y_le``)."""
    try:
        info = keys.PublicKeyInfo.load(der, strict=True)
        paramset = _gost_parameters(info["algorithm"])
        bit_string_octets(info["public_key"])
        point = info["public_key"].parsed.native
    except _PARSE_ERRORS as exc:
        raise MalformedDataError(f"malformed GOST SubjectPublicKeyInfo: {exc}") from exc
    if not isinstance(point, bytes) or len(point) != 2 * paramset.size:
        raise MalformedDataError(f"GOST public key must be {2 * paramset.size} bytes")
    return paramset, point


def decode_gost_pkcs8(der: bytes) -> tuple[ParamSet, bytes]:
    """Parse a GOST PKCS#8 PrivateKeyInfo into (parameter set, ``d_le``).

    Besides OpenSSL's bare ``d_le`` it reads the wrapped forms older tools write: an inner DER
    OCTET STRING (little-endian) or INTEGER (big-endian). The length tells them apart, never the
    first byte (a bare ``d_le`` may start with any byte).
    """
    try:
        info = keys.PrivateKeyInfo.load(der, strict=True)
        paramset = _gost_parameters(info["private_key_algorithm"])
        raw = info["private_key"].contents
        if len(raw) != paramset.size:
            inner = core.load(raw, strict=True)
            if isinstance(inner, core.OctetString):
                raw = inner.native
            elif isinstance(inner, core.Integer):
                raw = inner.native.to_bytes(paramset.size, "big")[::-1]
            else:
                raise MalformedDataError("GOST private key is neither bare, OCTET STRING nor INTEGER")
    except _PARSE_ERRORS as exc:
        raise MalformedDataError(f"malformed GOST PKCS#8 private key: {exc}") from exc
    if len(raw) != paramset.size:
        raise MalformedDataError(f"GOST private key must be {paramset.size} bytes")
    return paramset, bytes(raw)


# --- GOST keys behind the common interface ---------------------------------------------------


class GostVerifyingKey:
    """A GOST R 34.10-2012 public key; implements :class:`PublicKey`."""

    __slots__ = ("_der", "_key")

    def __init__(self, key: GostPublicKey, *, der: bytes | None = None) -> None:
        self._key = key
        # Keep the bytes a key was loaded from, so parse → encode is byte-identical.
        self._der = der or encode_gost_spki(key.paramset, key.point_bytes())

    @classmethod
    def from_spki(cls, der: bytes) -> GostVerifyingKey:
        """Load a DER SubjectPublicKeyInfo (any supported parameter set)."""
        paramset, point = decode_gost_spki(der)
        return cls(GostPublicKey.from_point_bytes(paramset, point), der=der)

    @property
    def key_algorithm(self) -> KeyAlgorithm:
        """256- or 512-bit GOST R 34.10-2012."""
        return gost_key_algorithm(self._key.paramset)

    @property
    def paramset(self) -> ParamSet:
        """The curve parameter set."""
        return self._key.paramset

    @property
    def native(self) -> GostPublicKey:
        """The binding's key object."""
        return self._key

    def spki(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        return self._der

    def verify_digest(self, digest: bytes, signature: bytes, algorithm: SignatureAlgorithm) -> None:
        """Check ``s ‖ r`` over a Streebog digest; raise ``InvalidSignatureError`` if it fails."""
        if algorithm.key_algorithm is not self.key_algorithm:
            raise UnsupportedAlgorithmError(
                f"{algorithm.name} does not work with a {self.key_algorithm.value} key"
            )
        self._key.verify_digest(digest, signature)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GostVerifyingKey) and self.spki() == other.spki()

    def __hash__(self) -> int:
        return hash(self._der)

    def __repr__(self) -> str:
        return f"GostVerifyingKey({self._key.paramset.name})"


class GostSigningKey:
    """A software GOST R 34.10-2012 private key; implements :class:`PrivateKey`."""

    __slots__ = ("_key",)

    def __init__(self, key: GostPrivateKey) -> None:
        _production(key.paramset)
        self._key = key

    @classmethod
    def generate(cls, paramset: ParamSet) -> GostSigningKey:
        """Generate a key on ``paramset`` with the native binding."""
        return cls(GostPrivateKey.generate(_production(paramset)))

    @classmethod
    def from_pkcs8(cls, der: bytes) -> GostSigningKey:
        """Load a DER PKCS#8 PrivateKeyInfo as OpenSSL's gost engine writes it."""
        paramset, private_le = decode_gost_pkcs8(der)
        return cls(GostPrivateKey.from_private_bytes(paramset, private_le))

    @property
    def signature_algorithm(self) -> SignatureAlgorithm:
        """GOST R 34.10-2012 with the Streebog of the same size."""
        return default_signature_algorithm(gost_key_algorithm(self._key.paramset))

    @property
    def paramset(self) -> ParamSet:
        """The curve parameter set."""
        return self._key.paramset

    def public_key(self) -> GostVerifyingKey:
        """The matching public key."""
        return GostVerifyingKey(self._key.public_key())

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a Streebog digest; return ``s ‖ r``."""
        return self._key.sign_digest(digest)

    def pkcs8(self) -> bytes:
        """DER PKCS#8 PrivateKeyInfo, byte-identical to OpenSSL's."""
        return encode_gost_pkcs8(self._key.paramset, self._key.private_bytes())

    def __repr__(self) -> str:
        # Never show key material.
        return f"GostSigningKey({self._key.paramset.name})"


# --- loading any key ---------------------------------------------------------------------------


def spki_key_algorithm(der: bytes) -> KeyAlgorithm:
    """The key family of a DER SubjectPublicKeyInfo, without loading the key."""
    try:
        name = keys.PublicKeyInfo.load(der, strict=True)["algorithm"]["algorithm"].native
    except _PARSE_ERRORS as exc:
        raise MalformedDataError(f"malformed SubjectPublicKeyInfo: {exc}") from exc
    try:
        return KeyAlgorithm(name)
    except ValueError:
        raise UnsupportedAlgorithmError(f"unsupported public key algorithm {name}") from None


def load_public_key(data: bytes) -> PublicKey:
    """Load a SubjectPublicKeyInfo (DER or PEM ``PUBLIC KEY``) of any supported algorithm."""
    der = load_der_or_pem(data, "PUBLIC KEY")
    if spki_key_algorithm(der).is_gost:
        return GostVerifyingKey.from_spki(der)
    return InternationalPublicKey.from_spki(der)


def load_private_key(data: bytes) -> PrivateKey:
    """Load an unencrypted PKCS#8 PrivateKeyInfo (DER or PEM ``PRIVATE KEY``)."""
    der = load_der_or_pem(data, "PRIVATE KEY")
    try:
        name = keys.PrivateKeyInfo.load(der, strict=True)["private_key_algorithm"]["algorithm"].native
    except _PARSE_ERRORS as exc:
        raise MalformedDataError(f"malformed PKCS#8 private key: {exc}") from exc
    if name in (_G256.value, _G512.value):
        return GostSigningKey.from_pkcs8(der)
    return InternationalPrivateKey.from_pkcs8(der)


def bit_string_octets(value: core.Asn1Value) -> bytes:
    """The octets of a DER BIT STRING that must hold whole bytes (signatures, public keys).

    DER leaves no room for unused bits there; OpenSSL refuses them too. Accepting them would let
    a changed encoding carry the same signature.
    """
    contents = value.contents
    if not contents or contents[0] != 0:
        raise MalformedDataError("BIT STRING with unused bits where whole octets are required")
    return bytes(contents[1:])


# --- PEM ---------------------------------------------------------------------------------------


def pem_encode(der: bytes, label: str) -> bytes:
    """Armor DER as PEM (64-column base64, as OpenSSL writes it)."""
    armored: bytes = pem.armor(label, der)
    return armored


def pem_decode(data: bytes, *labels: str) -> bytes:
    """Unarmor one PEM block whose label is one of ``labels`` (any label when none are given)."""
    try:
        label, _headers, der = pem.unarmor(data)
    except (ValueError, TypeError) as exc:
        raise MalformedDataError(f"malformed PEM: {exc}") from exc
    if labels and label not in labels:
        raise MalformedDataError(f"expected PEM {' or '.join(labels)}, got {label}")
    return bytes(der)


def load_der_or_pem(data: bytes, *labels: str) -> bytes:
    """Return DER from either DER or PEM input (PEM label checked against ``labels``)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInputError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if data.lstrip().startswith(b"-----BEGIN"):
        return pem_decode(data, *labels)
    return data


def public_key_pem(key: PublicKey) -> bytes:
    """PEM ``PUBLIC KEY``."""
    return pem_encode(key.spki(), "PUBLIC KEY")


def private_key_pem(key: PrivateKey) -> bytes:
    """PEM ``PRIVATE KEY`` (unencrypted PKCS#8)."""
    return pem_encode(key.pkcs8(), "PRIVATE KEY")
