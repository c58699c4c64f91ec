"""The soft-HSM backend: keys wrapped under the unit's KEK, used through the gost engine
(GOST R 34.10-2012, every production parameter set) or ``cryptography`` (ECDSA P-256).

The slots of a unit share one bounded LRU cache of opened keys, keyed by the exact blob bytes
(:mod:`actors.hsm.backends.keycache`): opening a blob costs two KDFs, a KImp15 and an engine key
load (about a millisecond for GOST, mostly deriving Q), so a hot key is opened once per unit. Key
objects never leave the process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Final, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
)

from actors.hsm import blobs
from actors.hsm.backends.keycache import DEFAULT_SIZE, KeyCache
from actors.hsm.errors import (
    BackendError,
    BlobInvalidError,
    HsmRequestError,
    UnsupportedAlgorithmError,
)
from actors.hsm.kek import Kek
from actors.hsm.protocol import Agree, FaultKind, GenerateKey, KeyAlgorithm, KeyInfo, KeyRef, Unwrap
from actors.hsm.selfcheck import Check, Corrupter, checked, ecdsa_check, gost_check, p256_prehash
from signing.errors import InvalidInputError, InvalidSignatureError, SigningError
from signing.errors import UnsupportedAlgorithmError as SigningUnsupportedError
from signing.gost.kexp15 import kimp15
from signing.gost.keys import GostPrivateKey, GostPublicKey
from signing.gost.params import ParamSet

DEFAULT_KEY_CACHE_SIZE: Final = DEFAULT_SIZE
"""Opened keys kept per unit (:data:`actors.hsm.backends.keycache.DEFAULT_SIZE`)."""
_GOST_ALGORITHMS: Final = {256: KeyAlgorithm.GOST3410_2012_256, 512: KeyAlgorithm.GOST3410_2012_512}


class _OpenKey(Protocol):
    """A usable private key inside a session."""

    key_id: str
    algorithm: KeyAlgorithm
    paramset: ParamSet | None

    check: Check
    """Whether a raw signature verifies under this key (``actors.hsm.selfcheck``)."""

    def sign(self, digest: bytes) -> bytes: ...

    def public_bytes(self) -> bytes: ...

    def agree(self, peer_public: bytes, ukm: bytes, output_size: int) -> bytes: ...

    def unwrap(self, request: Unwrap) -> bytes: ...


class _GostKey:
    __slots__ = ("algorithm", "check", "key", "key_id", "paramset")

    def __init__(self, key_id: str, key: GostPrivateKey) -> None:
        self.key_id = key_id
        self.key = key
        self.check = gost_check(key.public_key())
        self.paramset: ParamSet | None = key.paramset
        self.algorithm = _GOST_ALGORITHMS[key.paramset.key_size]

    def sign(self, digest: bytes) -> bytes:
        return self.key.sign_digest(digest)

    def public_bytes(self) -> bytes:
        return self.key.public_key().point_bytes()

    def _peer(self, peer_public: bytes) -> GostPublicKey:
        return GostPublicKey.from_point_bytes(self.key.paramset, peer_public)

    def agree(self, peer_public: bytes, ukm: bytes, output_size: int) -> bytes:
        return self.key.vko(self._peer(peer_public), ukm, output_size=output_size)

    def unwrap(self, request: Unwrap) -> bytes:
        export_keys = self.key.keg(self._peer(request.peer_public), request.ukm)
        mac_key, enc_key = export_keys[:32], export_keys[32:]
        return kimp15(
            request.wrapped, algorithm=request.cipher, enc_key=enc_key, mac_key=mac_key, iv=request.iv
        )


class _EcKey:
    __slots__ = ("algorithm", "check", "key", "key_id", "paramset")

    def __init__(self, key_id: str, key: ec.EllipticCurvePrivateKey) -> None:
        self.key_id = key_id
        self.key = key
        self.check = ecdsa_check(key.public_key(), p256_prehash)
        self.paramset: ParamSet | None = None
        self.algorithm = KeyAlgorithm.ECDSA_P256

    def sign(self, digest: bytes) -> bytes:
        prehash = p256_prehash(len(digest))
        if prehash is None:
            raise HsmRequestError(f"an ECDSA digest must be 32, 48 or 64 bytes, got {len(digest)}")
        r, s = decode_dss_signature(self.key.sign(digest, ec.ECDSA(prehash)))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def public_bytes(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def agree(self, peer_public: bytes, ukm: bytes, output_size: int) -> bytes:
        if ukm or output_size != 32:
            raise HsmRequestError("ECDH takes no UKM and gives 32 bytes")
        try:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer_public)
        except ValueError as exc:
            raise HsmRequestError(f"peer public key is not a P-256 point: {exc}") from exc
        return self.key.exchange(ec.ECDH(), peer)

    def unwrap(self, request: Unwrap) -> bytes:
        raise UnsupportedAlgorithmError("UNWRAP (KEG + KImp15) needs a GOST key")


def _open(unwrapped: blobs.UnwrappedKey) -> _OpenKey:
    if unwrapped.algorithm is KeyAlgorithm.ECDSA_P256:
        scalar = int.from_bytes(unwrapped.private, "big")
        return _EcKey(unwrapped.key_id, ec.derive_private_key(scalar, ec.SECP256R1()))
    assert unwrapped.paramset is not None  # blobs.unwrap guarantees a GOST blob names its set
    return _GostKey(
        unwrapped.key_id, GostPrivateKey.from_private_bytes(unwrapped.paramset, unwrapped.private)
    )


def _paramset(algorithm: KeyAlgorithm, name: str | None) -> ParamSet | None:
    if algorithm is KeyAlgorithm.ECDSA_P256:
        if name is not None:
            raise HsmRequestError("ECDSA P-256 takes no parameter set")
        return None
    try:
        paramset = ParamSet[name] if name is not None else None
    except KeyError:
        paramset = None
    if paramset is None or paramset.test_only or paramset not in blobs.PARAMSET_CODES:
        raise UnsupportedAlgorithmError(f"unknown or test-only GOST parameter set {name!r}")
    if _GOST_ALGORITHMS[paramset.key_size] is not algorithm:
        raise HsmRequestError(f"{name} is a {paramset.key_size}-bit set, not {algorithm}")
    return paramset


def key_algorithm(name: str) -> KeyAlgorithm:
    """Parse a key algorithm name from a request."""
    try:
        return KeyAlgorithm(name)
    except ValueError:
        raise UnsupportedAlgorithmError(f"unknown key algorithm {name!r}") from None


def signing_errors_as_hsm(exc: SigningError) -> Exception:
    """Map an error of the signing layer to this layer's tree (bad input vs. engine trouble)."""
    if isinstance(exc, SigningUnsupportedError):
        return UnsupportedAlgorithmError(str(exc))
    if isinstance(exc, InvalidInputError | InvalidSignatureError):
        return HsmRequestError(str(exc))
    return BackendError(f"engine failure: {exc}")


class SoftSession:
    """One slot's engine context: the KEK and the unit's shared cache of opened keys."""

    def __init__(self, kek: Kek, cache: KeyCache[_OpenKey], *, self_check: bool = False) -> None:
        """``cache``: the unit's opened keys; ``self_check``: verify each signature."""
        self._self_check = self_check
        self._corrupt = Corrupter()
        self._kek = kek
        self._cache = cache
        self.hits = 0
        """Keys this session found opened already (by any slot)."""
        self.misses = 0
        """Blobs this session opened."""

    def _key(self, ref: KeyRef) -> _OpenKey:
        if ref.blob is None:
            raise HsmRequestError("a soft unit needs the key's wrapped blob")
        key = self._cache.get(ref.blob)
        if key is not None:
            self.hits += 1
        else:
            self.misses += 1
            key = self._load(ref.blob)
        if key.key_id != ref.key_id:
            raise BlobInvalidError("the key blob belongs to another key id")
        return key

    def _load(self, blob: bytes) -> _OpenKey:
        try:
            key = _open(blobs.unwrap(self._kek, blob))
        except SigningError as exc:
            raise BlobInvalidError(f"the key in the blob does not load: {exc}") from exc
        self._cache.put(blob, key)
        return key

    def generate_key(self, request: GenerateKey) -> KeyInfo:
        """Generate a key, wrap it under the KEK and return it with its blob."""
        algorithm = key_algorithm(request.algorithm)
        paramset = _paramset(algorithm, request.paramset)
        key_id = os.urandom(blobs.KEY_ID_SIZE).hex()
        try:
            key, private = _generate(key_id, algorithm, paramset)
        except SigningError as exc:
            raise signing_errors_as_hsm(exc) from exc
        blob = blobs.wrap(
            self._kek,
            blobs.UnwrappedKey(algorithm=algorithm, paramset=paramset, key_id=key_id, private=private),
        )
        self._cache.put(blob, key)
        return KeyInfo(
            key_id=key_id,
            algorithm=algorithm.value,
            paramset=None if paramset is None else paramset.name,
            public_key=key.public_bytes(),
            blob=blob,
        )

    def sign_digests(self, key: KeyRef, digests: Sequence[bytes]) -> list[bytes]:
        """Sign each digest with the key in ``key.blob``."""
        opened = self._key(key)
        try:
            signatures = [self._corrupt(opened.sign(digest)) for digest in digests]
        except SigningError as exc:
            raise signing_errors_as_hsm(exc) from exc
        if not self._self_check:
            return signatures
        return checked(opened.check, digests, signatures, opened.key_id)

    def public_key(self, key: KeyRef) -> KeyInfo:
        """The key's public half."""
        opened = self._key(key)
        return KeyInfo(
            key_id=opened.key_id,
            algorithm=opened.algorithm.value,
            paramset=None if opened.paramset is None else opened.paramset.name,
            public_key=opened.public_bytes(),
        )

    def agree(self, request: Agree) -> bytes:
        """VKO or ECDH."""
        opened = self._key(request.key)
        try:
            return opened.agree(request.peer_public, request.ukm, request.output_size)
        except SigningError as exc:
            raise signing_errors_as_hsm(exc) from exc

    def unwrap(self, request: Unwrap) -> bytes:
        """KEG + KImp15 (GOST keys only)."""
        opened = self._key(request.key)
        try:
            return opened.unwrap(request)
        except InvalidSignatureError as exc:
            raise HsmRequestError(f"the wrapped key does not authenticate: {exc}") from exc
        except SigningError as exc:
            raise signing_errors_as_hsm(exc) from exc

    def inject_fault(self, kind: FaultKind) -> None:
        """``corrupt_signature``: the next signature of this session is faulty (the check must catch it)."""
        if kind is not FaultKind.CORRUPT_SIGNATURE:
            raise UnsupportedAlgorithmError(f"the soft backend has no {kind} fault")
        self._corrupt.armed = True

    def cache_stats(self) -> tuple[int, int]:
        """``(hits, misses)``."""
        return self.hits, self.misses

    def close(self) -> None:
        """Nothing of its own to release: the opened keys belong to the unit's cache."""


def _generate(key_id: str, algorithm: KeyAlgorithm, paramset: ParamSet | None) -> tuple[_OpenKey, bytes]:
    if paramset is None:
        ec_key = ec.generate_private_key(ec.SECP256R1())
        private = ec_key.private_numbers().private_value.to_bytes(32, "big")
        return _EcKey(key_id, ec_key), private
    gost_key = GostPrivateKey.generate(paramset)
    return _GostKey(key_id, gost_key), gost_key.private_bytes()


class SoftBackend:
    """Process-wide part of a soft unit: the unsealed KEK and the cache of opened keys."""

    name = "soft"
    default_slots = 2

    def __init__(
        self, kek: Kek, *, key_cache_size: int = DEFAULT_KEY_CACHE_SIZE, self_check: bool = False
    ) -> None:
        """``key_cache_size``: opened keys the unit keeps (0: none); ``self_check``: verify each signature."""
        self._kek = kek
        self._keys: KeyCache[_OpenKey] = KeyCache(key_cache_size)
        self._self_check = self_check

    def open_session(self) -> SoftSession:
        """A new slot session (sharing the unit's opened keys)."""
        return SoftSession(self._kek, self._keys, self_check=self._self_check)

    def describe(self) -> dict[str, Any]:
        """The KEK fingerprint (equal on a hot-standby pair)."""
        return {"kek_id": self._kek.kek_id}

    def close(self) -> None:
        """Drop the opened keys."""
        self._keys.clear()
