"""Key export and import KExp15 / KImp15 (R 1323565.1.017-2018; restated in RFC 9189 §8.2.1).

::

    KExp15(K, K_enc, K_mac, IV) = CTR(K_enc, IV, K ‖ OMAC(K_mac, IV ‖ K))
    KImp15(blob, K_enc, K_mac, IV) = K, if the OMAC inside the blob verifies

Both Kuznyechik (IV 8 bytes, 16-byte tag) and Magma (IV 4 bytes, 8-byte tag), the same cipher for
encryption and MAC, with two different 256-bit keys. The blob is ``len(K) + block_size`` bytes.
KImp15 compares tags in constant time and raises :class:`signing.errors.IntegrityCheckError` on a
mismatch (wrong keys, wrong IV or a damaged blob — they cannot be told apart, by design), never
returning a key that did not authenticate.

:func:`kexp15` / :func:`kimp15` schedule both keys on every call (~0.2 ms for Kuznyechik); a holder
of long-lived keys (an HSM unit's KEK pair) keeps one :class:`Kexp15` instead, whose ``wrap`` and
``unwrap`` reuse the schedules and may be called from any thread.
"""

from __future__ import annotations

import hmac
from typing import Final

from signing.errors import IntegrityCheckError, InvalidInputError
from signing.gost.cipher import Algorithm, Mode, new_cipher
from signing.gost.cipher_native import BytesLike, wipe

MAX_KEY_SIZE: Final = 1 << 16
"""Longest key KExp15 accepts here: it wraps keys, not bulk data."""


class Kexp15:
    """KExp15 / KImp15 under one pair of 256-bit keys ``enc_key`` ≠ ``mac_key`` of ``algorithm``."""

    __slots__ = ("_enc", "_mac")

    def __init__(self, algorithm: Algorithm | str, *, enc_key: BytesLike, mac_key: BytesLike) -> None:
        self._enc = new_cipher(algorithm, enc_key)
        self._mac = new_cipher(algorithm, mac_key)

    def __repr__(self) -> str:
        return f"Kexp15({self.algorithm}, keys=<hidden>)"

    @property
    def algorithm(self) -> Algorithm:
        """The block cipher used for both encryption and the MAC."""
        return self._enc.algorithm

    @property
    def tag_size(self) -> int:
        """Bytes a blob adds to the key: one cipher block."""
        return self._enc.block_size

    def _nonce(self, iv: BytesLike) -> bytes:
        if len(iv) != self._enc.ctr_iv_size:
            raise InvalidInputError(
                f"{self.algorithm} KExp15 IV must be {self._enc.ctr_iv_size} bytes, not {len(iv)}"
            )
        return bytes(iv)

    def _tag(self, nonce: bytes, key: BytesLike) -> bytes:
        with self._mac.mac_stream() as mac:
            mac.update(nonce)
            mac.update(key)
            return mac.finalize()

    def wrap(self, key: BytesLike, *, iv: BytesLike) -> bytes:
        """KExp15: return ``len(key) + tag_size`` bytes that only these two keys open."""
        nonce = self._nonce(iv)
        if not 1 <= len(key) <= MAX_KEY_SIZE:
            raise InvalidInputError(f"KExp15 key must be 1..{MAX_KEY_SIZE} bytes, not {len(key)}")
        tag = self._tag(nonce, key)
        with self._enc.encryptor(Mode.CTR, iv=nonce) as ctr:
            return ctr.update(key) + ctr.update(tag) + ctr.finalize()

    def unwrap(self, blob: BytesLike, *, iv: BytesLike) -> bytes:
        """KImp15: return the key in ``blob``; raise :class:`IntegrityCheckError` if it does not verify."""
        nonce = self._nonce(iv)
        tag_size = self.tag_size
        if not tag_size < len(blob) <= MAX_KEY_SIZE + tag_size:
            raise InvalidInputError(
                f"{self.algorithm} KExp15 blob must be {tag_size + 1}..{MAX_KEY_SIZE + tag_size} bytes, "
                f"not {len(blob)}"
            )
        opened = bytearray(self._enc.ctr(nonce, blob))
        try:
            # The key leaves this buffer (which is wiped) only after its tag has verified.
            view = memoryview(opened)
            expected = self._tag(nonce, view[:-tag_size])
            if not hmac.compare_digest(expected, view[-tag_size:]):
                raise IntegrityCheckError(
                    "KImp15: the export tag does not verify (wrong keys or IV, or a damaged blob)"
                )
            return bytes(view[:-tag_size])
        finally:
            wipe(opened)


def kexp15(
    key: BytesLike,
    *,
    algorithm: Algorithm | str,
    enc_key: BytesLike,
    mac_key: BytesLike,
    iv: BytesLike,
) -> bytes:
    """Export (wrap) ``key`` under ``enc_key`` and ``mac_key``; return ``len(key) + block_size`` bytes."""
    return Kexp15(algorithm, enc_key=enc_key, mac_key=mac_key).wrap(key, iv=iv)


def kimp15(
    blob: BytesLike,
    *,
    algorithm: Algorithm | str,
    enc_key: BytesLike,
    mac_key: BytesLike,
    iv: BytesLike,
) -> bytes:
    """Import (unwrap) a KExp15 ``blob``; raise :class:`IntegrityCheckError` if its tag does not verify."""
    return Kexp15(algorithm, enc_key=enc_key, mac_key=mac_key).unwrap(blob, iv=iv)
