"""Padding procedure 2 of GOST R 34.13-2015 (§4.1.2): append ``0x80`` then zeros to a whole block.

The ECB and CBC functions of :mod:`signing.gost.cipher` never pad; callers that need to encrypt data
of any length pad explicitly with :func:`pad2` and strip with :func:`unpad2` after decryption.
Unpadding unauthenticated CBC output reveals whether the padding was valid (a padding oracle):
authenticate the ciphertext (OMAC, KExp15) before unpadding data that an attacker can alter.
"""

from __future__ import annotations

from signing.errors import InvalidInputError, MalformedDataError
from signing.gost.cipher_native import BytesLike


def _check_block_size(block_size: int) -> None:
    if block_size not in (8, 16):
        raise InvalidInputError(f"block size must be 8 (Magma) or 16 (Kuznyechik), not {block_size}")


def pad2(data: BytesLike, block_size: int) -> bytes:
    """Return ``data ‖ 0x80 ‖ 0…0`` of the next whole-block length (always adds 1..block_size bytes)."""
    _check_block_size(block_size)
    zeros = (-len(data) - 1) % block_size
    return bytes(data) + b"\x80" + bytes(zeros)


def unpad2(data: BytesLike, block_size: int) -> bytes:
    """Strip padding procedure 2; raise :class:`MalformedDataError` if ``data`` is not so padded."""
    _check_block_size(block_size)
    raw = bytes(data)
    if not raw or len(raw) % block_size:
        raise MalformedDataError(f"padded data must be a non-empty multiple of {block_size} bytes")
    # The marker sits in the last block; only zeros may follow it.
    tail = raw[-block_size:].rstrip(b"\x00")
    if not tail.endswith(b"\x80"):
        raise MalformedDataError("padding procedure 2 marker 0x80 not found in the last block")
    return raw[: len(raw) - block_size + len(tail) - 1]
