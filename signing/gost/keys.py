"""GOST R 34.10-2012 key objects: generation, import/export, signing, verification, agreement.

Each object owns one ``EVP_PKEY*`` inside the gost engine, freed when the object is collected
(``weakref.finalize``, so also at interpreter exit). Objects are immutable; every operation makes
its own native context, so one key may sign from many threads at once, and the native calls
release the GIL. Private key arithmetic happens only in the engine.

Conventions (FACTS.md): a digest is read as e = int.from_bytes(digest, "little") by the engine;
a signature is s‖r, each big-endian and |q| bytes; a public key is x_le‖y_le; d is d_le.
"""

from __future__ import annotations

import weakref
from typing import NoReturn

from signing.errors import InvalidInputError, InvalidSignatureError
from signing.gost import _pkey, vko
from signing.gost.digest import BytesLike, streebog_digest
from signing.gost.params import ParamSet
from signing.gost.selftest import ensure_engine


class _Handle:
    """Owner of one ``EVP_PKEY*``: freed exactly once, when the owning key object dies."""

    __slots__ = ("__weakref__", "ptr")

    def __init__(self, ptr: int) -> None:
        self.ptr = ptr
        weakref.finalize(self, _pkey.free, ptr)


def _as_bytes(value: BytesLike, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise InvalidInputError(f"{what} must be bytes, got {type(value).__name__}")


def _check_digest(paramset: ParamSet, digest: BytesLike) -> bytes:
    digest = _as_bytes(digest, "digest")
    if len(digest) != paramset.size:
        raise InvalidInputError(
            f"a {paramset.key_size}-bit key signs {paramset.size}-byte digests, got {len(digest)} bytes"
        )
    return digest


class GostPublicKey:
    """A GOST R 34.10-2012 public key Q on one parameter set."""

    __slots__ = ("_handle", "_paramset", "_point")

    def __init__(self, paramset: ParamSet, handle: _Handle, point: bytes) -> None:
        """Internal: use :meth:`from_point_bytes` or :meth:`GostPrivateKey.public_key`."""
        self._paramset = paramset
        self._handle = handle
        self._point = point

    @classmethod
    def from_point_bytes(cls, paramset: ParamSet, point: BytesLike) -> GostPublicKey:
        """Load Q from ``x_le‖y_le`` (2·|q| bytes, the SPKI OCTET STRING content).

        Raises :class:`InvalidInputError` for a wrong length and :class:`MalformedDataError`
        for a point that is not on the curve.
        """
        ensure_engine()
        point = _as_bytes(point, "public key")
        return cls(paramset, _Handle(_pkey.load_public(paramset, point)), point)

    @property
    def paramset(self) -> ParamSet:
        """The parameter set (curve) of this key."""
        return self._paramset

    def point_bytes(self) -> bytes:
        """Q as ``x_le‖y_le``."""
        return self._point

    def is_valid_digest_signature(self, digest: BytesLike, signature: BytesLike) -> bool:
        """True when ``signature`` (s‖r) is valid for ``digest``; False for any bad signature.

        Raises :class:`InvalidInputError` only for a digest of the wrong length.
        """
        digest = _check_digest(self._paramset, digest)
        if not isinstance(signature, bytes | bytearray | memoryview):
            return False
        signature = bytes(signature)
        if len(signature) != self._paramset.signature_size:
            return False
        return _pkey.verify_digest(self._handle.ptr, digest, signature)

    def verify_digest(self, digest: BytesLike, signature: BytesLike) -> None:
        """Check ``signature`` over ``digest``; raises :class:`InvalidSignatureError` if it is bad."""
        if not self.is_valid_digest_signature(digest, signature):
            raise InvalidSignatureError(
                f"GOST R 34.10-2012 signature does not verify ({self._paramset.name})"
            )

    def is_valid_signature(self, data: BytesLike, signature: BytesLike) -> bool:
        """True when ``signature`` is valid for Streebog(``data``) of this key's size."""
        return self.is_valid_digest_signature(streebog_digest(data, size=self._paramset.size), signature)

    def verify(self, data: BytesLike, signature: BytesLike) -> None:
        """Hash ``data`` with Streebog of this key's size and check the signature over it."""
        self.verify_digest(streebog_digest(data, size=self._paramset.size), signature)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GostPublicKey):
            return NotImplemented
        return self._paramset is other._paramset and self._point == other._point

    def __hash__(self) -> int:
        return hash((self._paramset, self._point))

    def __reduce__(self) -> tuple[object, tuple[ParamSet, bytes]]:
        return (GostPublicKey.from_point_bytes, (self._paramset, self._point))

    def __repr__(self) -> str:
        return f"GostPublicKey({self._paramset.name}, {self._point[:8].hex()}…)"


class GostPrivateKey:
    """A GOST R 34.10-2012 private key d held inside the gost engine."""

    __slots__ = ("_handle", "_paramset", "_public")

    def __init__(self, paramset: ParamSet, handle: _Handle) -> None:
        """Internal: use :meth:`generate` or :meth:`from_private_bytes`."""
        self._paramset = paramset
        self._handle = handle
        # Q comes from the engine (d·P), so the costly order check of outside points is skipped.
        point = _pkey.public_point(handle.ptr)
        self._public = GostPublicKey(
            paramset, _Handle(_pkey.load_public(paramset, point, check=False)), point
        )

    @classmethod
    def generate(cls, paramset: ParamSet) -> GostPrivateKey:
        """Generate a new key pair on ``paramset`` with the engine's random generator."""
        ensure_engine()
        return cls(paramset, _Handle(_pkey.generate(paramset)))

    @classmethod
    def from_private_bytes(cls, paramset: ParamSet, d_le: BytesLike) -> GostPrivateKey:
        """Load d from |q| little-endian bytes (the OpenSSL PKCS#8 form); Q is derived by the engine.

        Raises :class:`InvalidInputError` for a wrong length or d outside [1, q-1].
        """
        ensure_engine()
        return cls(paramset, _Handle(_pkey.load_private(paramset, _as_bytes(d_le, "private key"))))

    @property
    def paramset(self) -> ParamSet:
        """The parameter set (curve) of this key."""
        return self._paramset

    def private_bytes(self) -> bytes:
        """d as |q| little-endian bytes — only for wrapping by the HSM unit and PKCS#8 export."""
        return _pkey.private_scalar(self._handle.ptr, self._paramset)

    def public_key(self) -> GostPublicKey:
        """The matching public key Q = d·P."""
        return self._public

    def sign_digest(self, digest: BytesLike) -> bytes:
        """Sign a |q|-byte digest; returns s‖r (2·|q| bytes, each half big-endian)."""
        digest = _check_digest(self._paramset, digest)
        return _pkey.sign_digest(self._handle.ptr, digest, self._paramset.signature_size)

    def sign(self, data: BytesLike) -> bytes:
        """Hash ``data`` with Streebog-256 or -512 (by key size) and sign the digest."""
        return self.sign_digest(streebog_digest(data, size=self._paramset.size))

    def vko(self, peer_public: GostPublicKey, ukm: BytesLike, *, output_size: int = 32) -> bytes:
        """VKO_GOSTR3410_2012_256 (``output_size=32``) or _512 (64, 512-bit keys only).

        R 50.1.113-2016 §4.3 / RFC 7836 §4.3: Streebog of x‖y (little-endian) of (UKM·d mod q)·Q_peer,
        with ``ukm`` read little-endian, 1 ≤ UKM < 2^(n/2). See :func:`signing.gost.vko.vko`.
        """
        peer = self._peer(peer_public)
        return vko.vko(self._handle.ptr, self._paramset, peer, _as_bytes(ukm, "UKM"), output_size=output_size)

    def keg(self, peer_public: GostPublicKey, ukm: BytesLike) -> bytes:
        """KEG (R 1323565.1.020-2018 §5): the 64-byte export keys from a 32-byte UKM.

        See :func:`signing.gost.vko.keg`.
        """
        peer = self._peer(peer_public)
        return vko.keg(self._handle.ptr, self._paramset, peer, _as_bytes(ukm, "UKM"))

    def _peer(self, peer_public: GostPublicKey) -> int:
        if not isinstance(peer_public, GostPublicKey):
            raise InvalidInputError(f"peer key must be a GostPublicKey, got {type(peer_public).__name__}")
        if peer_public.paramset is not self._paramset:
            raise InvalidInputError(
                f"peer key is on {peer_public.paramset.name}, this key on {self._paramset.name}"
            )
        return peer_public._handle.ptr

    def __reduce__(self) -> NoReturn:
        raise TypeError("GostPrivateKey cannot be pickled; export it wrapped (HSM unit) or as PKCS#8")

    def __repr__(self) -> str:
        return f"GostPrivateKey({self._paramset.name}, public={self._public.point_bytes()[:8].hex()}…)"
