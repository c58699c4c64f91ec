"""Glue between HSM keys and the signing layer: key specs, SPKI, signature encodings, async signing.

A unit signs a digest and answers the raw value: GOST ``s ‖ r`` (already what X.509 and CMS carry),
ECDSA ``r ‖ s`` (X.509 and CMS carry DER ``Ecdsa-Sig-Value``). :func:`x509_signature` turns the
one into the other; :func:`sign_prepared` is the prepare → raw sign (in the HSM) → encode step
every format here uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from actors.hsm.errors import HsmError, HsmUnavailableError
from actors.hsm.protocol import KeyAlgorithm, KeyInfo, KeyRef
from actors.hsmpool import Balancer, HsmKey
from actors.keys.errors import InvalidKeyRequestError, KeyStoreUnavailableError
from signing.algorithms import SignatureAlgorithm, SignatureEncoding, signature_algorithm
from signing.errors import SigningError, UnsupportedAlgorithmError
from signing.gost.params import ParamSet
from signing.international import InternationalPublicKey
from signing.keys import GostVerifyingKey, PublicKey, encode_gost_spki, load_public_key

DEFAULT_PARAMSETS = {
    KeyAlgorithm.GOST3410_2012_256: ParamSet.CRYPTOPRO_A,
    KeyAlgorithm.GOST3410_2012_512: ParamSet.TC26_512_A,
}
"""Parameter set used when a GOST key request names none (the sets OpenSSL's gost engine calls ``A``)."""

_SIGNATURE_ALGORITHMS = {
    KeyAlgorithm.GOST3410_2012_256: "streebog256_gost3410_2012_256",
    KeyAlgorithm.GOST3410_2012_512: "streebog512_gost3410_2012_512",
    KeyAlgorithm.ECDSA_P256: "sha256_ecdsa",
}


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What kind of key to generate: algorithm and (GOST) parameter set."""

    algorithm: KeyAlgorithm
    """The key algorithm as HSM units name it."""
    paramset: ParamSet | None
    """GOST parameter set; None for ECDSA."""

    @classmethod
    def parse(cls, algorithm: str, paramset: str | None) -> KeySpec:
        """Resolve request values: ``paramset`` is a member name (any case) or a dotted OID.

        ``InvalidKeyRequestError`` names what is wrong (unknown set, a set of the other key size,
        a test curve, a parameter set for ECDSA).
        """
        try:
            key_algorithm = KeyAlgorithm(algorithm)
        except ValueError:
            known = ", ".join(member.value for member in KeyAlgorithm)
            raise InvalidKeyRequestError(f"unknown key algorithm {algorithm!r} (one of: {known})") from None
        if key_algorithm is KeyAlgorithm.ECDSA_P256:
            if paramset is not None:
                raise InvalidKeyRequestError("ecdsa_p256 keys take no paramset (the curve is P-256)")
            return cls(key_algorithm, None)
        if paramset is None:
            return cls(key_algorithm, DEFAULT_PARAMSETS[key_algorithm])
        chosen = _paramset_by_name(paramset)
        size = 256 if key_algorithm is KeyAlgorithm.GOST3410_2012_256 else 512
        if chosen.key_size != size:
            names = ", ".join(p.name for p in ParamSet.production() if p.key_size == size)
            raise InvalidKeyRequestError(
                f"parameter set {chosen.name} is for {chosen.key_size}-bit keys;"
                f" {algorithm} takes one of: {names}"
            )
        return cls(key_algorithm, chosen)

    @property
    def signature_algorithm(self) -> SignatureAlgorithm:
        """The algorithm keys of this kind sign with."""
        return signature_algorithm(_SIGNATURE_ALGORITHMS[self.algorithm])


def _paramset_by_name(text: str) -> ParamSet:
    if text and text[0].isdigit():
        try:
            return ParamSet.from_oid(text)
        except UnsupportedAlgorithmError:
            raise InvalidKeyRequestError(f"unknown or test-only GOST parameter set OID {text!r}") from None
    member = ParamSet.__members__.get(text.upper().replace("-", "_"))
    if member is None or member.test_only:
        names = ", ".join(p.name for p in ParamSet.production())
        raise InvalidKeyRequestError(f"unknown GOST parameter set {text!r} (one of: {names})")
    return member


def signature_algorithm_of(algorithm: str) -> SignatureAlgorithm:
    """The signature algorithm of a stored key algorithm value."""
    return signature_algorithm(_SIGNATURE_ALGORITHMS[KeyAlgorithm(algorithm)])


def spki_of(info: KeyInfo) -> bytes:
    """DER SubjectPublicKeyInfo of a key a unit generated (GOST ``x_le‖y_le`` or an X9.62 point)."""
    algorithm = KeyAlgorithm(info.algorithm)
    if algorithm is KeyAlgorithm.ECDSA_P256:
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), info.public_key)
        return point.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if info.paramset is None:
        raise InvalidKeyRequestError("the HSM unit returned a GOST key without its parameter set")
    return encode_gost_spki(ParamSet[info.paramset], info.public_key)


def hsm_key(domain: str, key_id: str, blob: bytes | None) -> HsmKey:
    """How the pool names a stored key."""
    return HsmKey(domain, KeyRef(key_id=key_id, blob=blob))


def x509_signature(algorithm: SignatureAlgorithm, raw: bytes) -> bytes:
    """A unit's raw signature as X.509 and CMS carry it (ECDSA ``r‖s`` → DER; GOST unchanged)."""
    if algorithm.encoding is SignatureEncoding.ECDSA_DER:
        half = len(raw) // 2
        return bytes(
            encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
        )
    return raw


class _Prepared(Protocol):
    """Anything prepared for signing: a digest to sign (``PreparedRequest``, ``PreparedCertificate``)."""

    @property
    def digest(self) -> bytes: ...


async def sign_prepared(
    hsm: Balancer,
    key: HsmKey,
    algorithm: SignatureAlgorithm,
    prepared: _Prepared,
    *,
    op_id: str | None = None,
) -> bytes:
    """Sign ``prepared.digest`` in the HSM; return the value ``prepared.finish`` expects.

    HSM failures leave as :class:`KeyStoreUnavailableError` (no unit up: try later) or
    :class:`InvalidKeyRequestError` (a unit refused the key: a blob under another KEK, a missing
    token object), from the HSM error.
    """
    try:
        raw = await hsm.sign_digest(key, prepared.digest, op_id=op_id)
    except HsmUnavailableError as exc:
        raise KeyStoreUnavailableError(f"no HSM unit can sign with this key now: {exc}") from exc
    except HsmError as exc:
        raise InvalidKeyRequestError(f"the HSM refused the key ({exc.code})") from exc
    return x509_signature(algorithm, raw)


class PublicHalf:
    """A :class:`~signing.keys.Signer` face for an HSM key, for code that only reads the public half.

    ``signing.x509.CertificateAuthority.prepare`` needs the CA key's public key and algorithm; the
    signature itself is made asynchronously through the Balancer (:func:`sign_prepared`), so
    :meth:`sign_digest` refuses: calling it would mean a blocking HSM call from the event loop.
    """

    __slots__ = ("_algorithm", "_public_key")

    def __init__(self, spki: bytes, algorithm: SignatureAlgorithm) -> None:
        self._public_key = load_public_key(spki)
        self._algorithm = algorithm

    @property
    def signature_algorithm(self) -> SignatureAlgorithm:
        """The key's signature algorithm."""
        return self._algorithm

    def public_key(self) -> PublicKey:
        """The public half."""
        return self._public_key

    def sign_digest(self, digest: bytes) -> bytes:
        """Refused: sign through the Balancer (``sign_prepared``)."""
        raise NotImplementedError("HSM keys sign asynchronously through actors.keys.hsmkeys.sign_prepared")


def same_public_key(first: bytes, second: bytes) -> bool:
    """True when two SubjectPublicKeyInfo encodings hold the same key.

    Byte equality is not required: a CA may re-encode a GOST key's parameters (with or without
    the digest OID, a parameter-set alias of the same curve) or an EC point.
    """
    if first == second:
        return True
    try:
        one, other = load_public_key(first), load_public_key(second)
    except SigningError:
        return False
    if isinstance(one, GostVerifyingKey) and isinstance(other, GostVerifyingKey):
        return one.paramset.curve == other.paramset.curve and (
            one.native.point_bytes() == other.native.point_bytes()
        )
    if isinstance(one, InternationalPublicKey) and isinstance(other, InternationalPublicKey):
        return _canonical(one) == _canonical(other)
    return False


def describe_public_key(spki: bytes) -> str:
    """A short description for error details: ``gost3410_2012_256/CRYPTOPRO_A``, ``ec/256``..."""
    try:
        key = load_public_key(spki)
    except SigningError:
        return "an unsupported key"
    if isinstance(key, GostVerifyingKey):
        return f"{key.key_algorithm.value}/{key.paramset.name}"
    if isinstance(key, InternationalPublicKey):
        return f"{key.key_algorithm.value}/{key.key_bits}"
    return key.key_algorithm.value


def _canonical(key: InternationalPublicKey) -> bytes:
    return key.pyca_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
