"""Key derivation on Streebog: KDF_256 and KDF_TREE_256 (R 50.1.113-2016 §4.4–4.5, RFC 7836
§4.4–4.5) and PBKDF2 with HMAC_GOSTR3411_2012_512 (R 50.1.111-2016).
"""

from __future__ import annotations

import hashlib

from signing.errors import InvalidInputError
from signing.gost.digest import STREEBOG512
from signing.gost.mac import hmac_gostr3411_2012_256
from signing.gost.selftest import ensure_digests


def kdf_gostr3411_2012_256(key: bytes, label: bytes, seed: bytes) -> bytes:
    """KDF_256(K, label, seed) = HMAC_256(K, 0x01 ‖ label ‖ 0x00 ‖ seed ‖ 0x01 ‖ 0x00): 32 bytes."""
    return hmac_gostr3411_2012_256(key, b"\x01" + label + b"\x00" + seed + b"\x01\x00")


def kdf_tree_gostr3411_2012_256(key: bytes, label: bytes, seed: bytes, *, length: int, r: int = 1) -> bytes:
    """KDF_TREE_GOSTR3411_2012_256(K, label, seed, R) with ``length`` output bytes.

    Block i is HMAC_256(K, [i]_R ‖ label ‖ 0x00 ‖ seed ‖ [L]), with i as ``r`` big-endian bytes
    and L = 8·length in the fewest big-endian bytes. ``length`` is a positive multiple of 32.
    """
    if length <= 0 or length % 32:
        raise InvalidInputError(f"KDF_TREE output length must be a positive multiple of 32, got {length}")
    if not 1 <= r <= 4:
        raise InvalidInputError(f"KDF_TREE counter width R must be 1..4 bytes, got {r}")
    blocks = length // 32
    if blocks >= 1 << (8 * r):
        raise InvalidInputError(f"KDF_TREE: {blocks} blocks do not fit a {r}-byte counter")
    bits = 8 * length
    suffix = label + b"\x00" + seed + bits.to_bytes((bits.bit_length() + 7) // 8, "big")
    return b"".join(hmac_gostr3411_2012_256(key, i.to_bytes(r, "big") + suffix) for i in range(1, blocks + 1))


def pbkdf2_gostr3411_2012_512(password: bytes, salt: bytes, iterations: int, *, length: int = 64) -> bytes:
    """PBKDF2 (RFC 8018) with HMAC_GOSTR3411_2012_512 as the PRF, per R 50.1.111-2016."""
    if iterations < 1:
        raise InvalidInputError(f"PBKDF2 needs at least one iteration, got {iterations}")
    if length < 1:
        raise InvalidInputError(f"PBKDF2 output length must be positive, got {length}")
    ensure_digests()
    return hashlib.pbkdf2_hmac(STREEBOG512, password, salt, iterations, length)
