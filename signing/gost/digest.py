"""GOST R 34.11-2012 (Streebog) hashes through the native OpenSSL provider.

The objects are plain :mod:`hashlib` objects (``update``/``digest``/``copy``); after the first
call here, ``hashlib.new("md_gost12_256")`` works anywhere in the process as well.
"""

from __future__ import annotations

import hashlib

from signing.errors import InvalidInputError
from signing.gost.selftest import ensure_digests

BytesLike = bytes | bytearray | memoryview
"""Byte inputs the GOST functions accept."""

STREEBOG256 = "md_gost12_256"
"""OpenSSL/hashlib name of Streebog-256."""
STREEBOG512 = "md_gost12_512"
"""OpenSSL/hashlib name of Streebog-512."""


def streebog256(data: BytesLike = b"") -> hashlib._Hash:
    """A new Streebog-256 hash object, optionally fed ``data``."""
    ensure_digests()
    return hashlib.new(STREEBOG256, data)


def streebog512(data: BytesLike = b"") -> hashlib._Hash:
    """A new Streebog-512 hash object, optionally fed ``data``."""
    ensure_digests()
    return hashlib.new(STREEBOG512, data)


def streebog_name(size: int) -> str:
    """The hashlib name of Streebog with a ``size``-byte output (32 or 64)."""
    if size == 32:
        return STREEBOG256
    if size == 64:
        return STREEBOG512
    raise InvalidInputError(f"Streebog output size must be 32 or 64 bytes, got {size}")


def streebog_digest(data: BytesLike, *, size: int = 32) -> bytes:
    """One-shot Streebog digest of ``data`` with a 32- or 64-byte output."""
    name = streebog_name(size)
    ensure_digests()
    return hashlib.new(name, data).digest()
