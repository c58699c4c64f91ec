"""HMAC_GOSTR3411_2012_256 and _512 (R 50.1.113-2016 §4.1, RFC 7836 §4.1).

Plain HMAC (RFC 2104) over Streebog with its 64-byte block, computed by OpenSSL.
"""

from __future__ import annotations

import hmac

from signing.gost.digest import STREEBOG256, STREEBOG512, streebog_name
from signing.gost.selftest import ensure_digests


def hmac_gostr3411_2012_256(key: bytes, data: bytes) -> bytes:
    """HMAC_GOSTR3411_2012_256(key, data): 32 bytes."""
    ensure_digests()
    return hmac.digest(key, data, STREEBOG256)


def hmac_gostr3411_2012_512(key: bytes, data: bytes) -> bytes:
    """HMAC_GOSTR3411_2012_512(key, data): 64 bytes."""
    ensure_digests()
    return hmac.digest(key, data, STREEBOG512)


def new_hmac(key: bytes, data: bytes = b"", *, size: int = 32) -> hmac.HMAC:
    """A streaming :class:`hmac.HMAC` over Streebog with a 32- or 64-byte output."""
    name = streebog_name(size)
    ensure_digests()
    return hmac.new(key, data, name)
