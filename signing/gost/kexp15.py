"""Key export and import KExp15 / KImp15 (R 1323565.1.017-2018; restated in RFC 9189 §8.2.1).

::

    KExp15(K, K_enc, K_mac, IV) = CTR(K_enc, IV, K ‖ OMAC(K_mac, IV ‖ K))
    KImp15(blob, K_enc, K_mac, IV) = K, if the OMAC inside the blob verifies

Both Kuznyechik (IV 8 bytes, 16-byte tag) and Magma (IV 4 bytes, 8-byte tag), the same cipher for
encryption and MAC, with two different 256-bit keys. The blob is ``len(K) + block_size`` bytes.
KImp15 compares tags in constant time and raises :class:`signing.errors.InvalidSignatureError` on a
mismatch (wrong keys, wrong IV or a damaged blob — they cannot be told apart, by design), never
returning a key that did not authenticate.
"""

from __future__ import annotations

import hmac
from typing import Final

from signing.errors import InvalidInputError, InvalidSignatureError
from signing.gost.cipher import Algorithm, BlockCipher, new_cipher
from signing.gost.cipher_native import BytesLike, wipe

MAX_KEY_SIZE: Final = 1 << 16
"""Longest key KExp15 accepts here: it wraps keys, not bulk data."""


def _ciphers(
    algorithm: Algorithm | str, enc_key: BytesLike, mac_key: BytesLike
) -> tuple[BlockCipher, BlockCipher]:
    return new_cipher(algorithm, enc_key), new_cipher(algorithm, mac_key)


def _check_iv(cipher: BlockCipher, iv: BytesLike) -> bytes:
    if len(iv) != cipher.ctr_iv_size:
        raise InvalidInputError(
            f"{cipher.algorithm} KExp15 IV must be {cipher.ctr_iv_size} bytes, not {len(iv)}"
        )
    return bytes(iv)


def kexp15(
    key: BytesLike,
    *,
    algorithm: Algorithm | str,
    enc_key: BytesLike,
    mac_key: BytesLike,
    iv: BytesLike,
) -> bytes:
    """Export (wrap) ``key`` under ``enc_key`` and ``mac_key``; return ``len(key) + block_size`` bytes."""
    encryptor, authenticator = _ciphers(algorithm, enc_key, mac_key)
    nonce = _check_iv(encryptor, iv)
    if not 1 <= len(key) <= MAX_KEY_SIZE:
        raise InvalidInputError(f"KExp15 key must be 1..{MAX_KEY_SIZE} bytes, not {len(key)}")
    with authenticator.mac_stream() as mac:
        mac.update(nonce)
        mac.update(key)
        tag = mac.finalize()
    with encryptor.encryptor("ctr", iv=nonce) as ctr:
        return ctr.update(key) + ctr.update(tag) + ctr.finalize()


def kimp15(
    blob: BytesLike,
    *,
    algorithm: Algorithm | str,
    enc_key: BytesLike,
    mac_key: BytesLike,
    iv: BytesLike,
) -> bytes:
    """Import (unwrap) a KExp15 ``blob``; raise :class:`InvalidSignatureError` if its tag does not verify."""
    encryptor, authenticator = _ciphers(algorithm, enc_key, mac_key)
    nonce = _check_iv(encryptor, iv)
    tag_size = encryptor.block_size
    if not tag_size < len(blob) <= MAX_KEY_SIZE + tag_size:
        raise InvalidInputError(
            f"{encryptor.algorithm} KExp15 blob must be {tag_size + 1}..{MAX_KEY_SIZE + tag_size} bytes, "
            f"not {len(blob)}"
        )
    opened = bytearray(encryptor.ctr(nonce, blob))
    try:
        # The key leaves this buffer (which is wiped) only after its tag has verified.
        view = memoryview(opened)
        with authenticator.mac_stream() as mac:
            mac.update(nonce)
            mac.update(view[:-tag_size])
            expected = mac.finalize()
        if not hmac.compare_digest(expected, view[-tag_size:]):
            raise InvalidSignatureError(
                "KImp15: the export tag does not verify (wrong keys or IV, or a damaged blob)"
            )
        return bytes(view[:-tag_size])
    finally:
        wipe(opened)
