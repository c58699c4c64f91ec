"""ECDSA (P-256, P-384) and RSA (PKCS#1 v1.5, PSS) keys behind the common key interface.

Both sign *digests*: the formats hash (prepare), the key signs the digest (raw sign), the formats
assemble the result (finish). ``cryptography``'s ``Prehashed`` makes that exact for every scheme.
ECDSA values are DER ``SEQUENCE {r, s}`` as X.509 and CMS carry them.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as PycaUnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from signing.algorithms import (
    KeyAlgorithm,
    SignatureAlgorithm,
    SignatureEncoding,
    default_signature_algorithm,
)
from signing.errors import (
    InvalidInputError,
    InvalidSignatureError,
    MalformedDataError,
    UnsupportedAlgorithmError,
)

__all__ = [
    "CURVES",
    "InternationalPrivateKey",
    "InternationalPublicKey",
    "generate_ec",
    "generate_rsa",
]

CURVES: dict[str, type[ec.EllipticCurve]] = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}
"""Supported named curves."""

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_PycaPrivate = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
_PycaPublic = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def generate_ec(curve: str = "P-256") -> InternationalPrivateKey:
    """Generate an ECDSA key on ``curve`` (``P-256`` or ``P-384``)."""
    try:
        curve_class = CURVES[curve]
    except KeyError:
        raise UnsupportedAlgorithmError(f"unsupported curve {curve!r}") from None
    return InternationalPrivateKey(ec.generate_private_key(curve_class()))


def generate_rsa(bits: int = 3072) -> InternationalPrivateKey:
    """Generate an RSA key of ``bits`` (2048 to 8192)."""
    if not 2048 <= bits <= 8192:
        raise InvalidInputError(f"RSA key size {bits} is outside 2048..8192")
    return InternationalPrivateKey(rsa.generate_private_key(public_exponent=65537, key_size=bits))


def _key_algorithm(key: _PycaPrivate | _PycaPublic) -> tuple[KeyAlgorithm, int]:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if type(key.curve) not in CURVES.values():
            raise UnsupportedAlgorithmError(f"unsupported curve {key.curve.name}")
        return KeyAlgorithm.EC, key.curve.key_size
    return KeyAlgorithm.RSA, key.key_size


def _check_algorithm(key_algorithm: KeyAlgorithm, algorithm: SignatureAlgorithm) -> hashes.HashAlgorithm:
    if algorithm.key_algorithm is not key_algorithm:
        raise UnsupportedAlgorithmError(f"{algorithm.name} does not work with an {key_algorithm.value} key")
    return _HASHES[algorithm.digest.name]()


def _padding(
    algorithm: SignatureAlgorithm, hash_algorithm: hashes.HashAlgorithm
) -> padding.AsymmetricPadding:
    if algorithm.encoding is SignatureEncoding.RSA_PSS:
        return padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size)
    return padding.PKCS1v15()


class InternationalPublicKey:
    """An ECDSA or RSA public key; implements :class:`signing.keys.PublicKey`."""

    __slots__ = ("_der", "_key", "_key_algorithm", "_key_bits")

    def __init__(self, key: _PycaPublic, *, der: bytes | None = None) -> None:
        self._key = key
        self._key_algorithm, self._key_bits = _key_algorithm(key)
        # Keep the bytes a key was loaded from, so parse → encode is byte-identical.
        self._der = der or key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def from_spki(cls, der: bytes) -> InternationalPublicKey:
        """Load a DER SubjectPublicKeyInfo holding an EC or RSA key."""
        try:
            key = serialization.load_der_public_key(der)
        except PycaUnsupportedAlgorithm as exc:
            raise UnsupportedAlgorithmError(f"unsupported public key: {exc}") from exc
        except ValueError as exc:
            raise MalformedDataError(f"malformed SubjectPublicKeyInfo: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise UnsupportedAlgorithmError(f"unsupported public key type {type(key).__name__}")
        return cls(key, der=der)

    @property
    def key_algorithm(self) -> KeyAlgorithm:
        """``KeyAlgorithm.EC`` or ``KeyAlgorithm.RSA``."""
        return self._key_algorithm

    @property
    def key_bits(self) -> int:
        """Curve size or modulus length in bits."""
        return self._key_bits

    @property
    def pyca_key(self) -> _PycaPublic:
        """The underlying ``cryptography`` key, for code that hands it to pyca-based libraries."""
        return self._key

    def spki(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        return self._der

    def verify_digest(self, digest: bytes, signature: bytes, algorithm: SignatureAlgorithm) -> None:
        """Check ``signature`` over a precomputed ``digest``; raise ``InvalidSignatureError`` if it fails."""
        hash_algorithm = _check_algorithm(self._key_algorithm, algorithm)
        if len(digest) != hash_algorithm.digest_size:
            raise InvalidInputError(
                f"{algorithm.digest.name} digest must be {hash_algorithm.digest_size} bytes"
            )
        try:
            if isinstance(self._key, ec.EllipticCurvePublicKey):
                self._key.verify(signature, digest, ec.ECDSA(Prehashed(hash_algorithm)))
            else:
                self._key.verify(
                    signature, digest, _padding(algorithm, hash_algorithm), Prehashed(hash_algorithm)
                )
        except InvalidSignature:
            raise InvalidSignatureError(f"{algorithm.name} signature does not verify") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InternationalPublicKey) and self.spki() == other.spki()

    def __hash__(self) -> int:
        return hash(self.spki())

    def __repr__(self) -> str:
        return f"InternationalPublicKey({self._key_algorithm.value}, {self._key_bits} bits)"


class InternationalPrivateKey:
    """An ECDSA or RSA private key; implements :class:`signing.keys.PrivateKey`.

    It signs with one :class:`SignatureAlgorithm` (by default SHA-256/384 ECDSA by curve size,
    RSA PKCS#1 v1.5 with SHA-256); :meth:`with_algorithm` gives a view signing with another.
    """

    __slots__ = ("_algorithm", "_der", "_key", "_key_algorithm", "_key_bits")

    def __init__(
        self, key: _PycaPrivate, *, algorithm: SignatureAlgorithm | None = None, der: bytes | None = None
    ) -> None:
        self._key = key
        self._key_algorithm, self._key_bits = _key_algorithm(key)
        self._algorithm = algorithm or default_signature_algorithm(
            self._key_algorithm, key_bits=self._key_bits
        )
        _check_algorithm(self._key_algorithm, self._algorithm)
        self._der = der

    @classmethod
    def from_pkcs8(cls, der: bytes) -> InternationalPrivateKey:
        """Load an unencrypted DER PKCS#8 PrivateKeyInfo holding an EC or RSA key."""
        try:
            key: Any = serialization.load_der_private_key(der, password=None)
        except PycaUnsupportedAlgorithm as exc:
            raise UnsupportedAlgorithmError(f"unsupported private key: {exc}") from exc
        except (ValueError, TypeError) as exc:
            raise MalformedDataError(f"malformed PKCS#8 private key: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise UnsupportedAlgorithmError(f"unsupported private key type {type(key).__name__}")
        return cls(key, der=der)

    @property
    def signature_algorithm(self) -> SignatureAlgorithm:
        """The algorithm :meth:`sign_digest` applies."""
        return self._algorithm

    @property
    def key_algorithm(self) -> KeyAlgorithm:
        """``KeyAlgorithm.EC`` or ``KeyAlgorithm.RSA``."""
        return self._key_algorithm

    def with_algorithm(self, algorithm: SignatureAlgorithm) -> InternationalPrivateKey:
        """The same key signing with ``algorithm`` (e.g. RSASSA-PSS, or SHA-512 ECDSA)."""
        return InternationalPrivateKey(self._key, algorithm=algorithm, der=self._der)

    def public_key(self) -> InternationalPublicKey:
        """The matching public key."""
        return InternationalPublicKey(self._key.public_key())

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a precomputed digest of :attr:`signature_algorithm`'s digest algorithm."""
        hash_algorithm = _check_algorithm(self._key_algorithm, self._algorithm)
        if len(digest) != hash_algorithm.digest_size:
            raise InvalidInputError(
                f"{self._algorithm.digest.name} digest must be {hash_algorithm.digest_size} bytes"
            )
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(digest, ec.ECDSA(Prehashed(hash_algorithm)))
        return self._key.sign(digest, _padding(self._algorithm, hash_algorithm), Prehashed(hash_algorithm))

    def pkcs8(self) -> bytes:
        """Unencrypted DER PKCS#8 PrivateKeyInfo."""
        if self._der is not None:
            return self._der
        return self._key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def __repr__(self) -> str:
        # Never show key material.
        algorithm = self._algorithm.name
        return f"InternationalPrivateKey({self._key_algorithm.value}, {self._key_bits} bits, {algorithm})"
