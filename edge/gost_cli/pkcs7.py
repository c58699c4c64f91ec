"""The block padding ``openssl enc`` applies to ECB/CBC unless ``-nopad`` (EVP's PKCS#7 padding).

It is byte bookkeeping, not cryptography, and the library pads only with GOST R 34.13 procedure 2
(:func:`signing.gost.pad2`), which openssl does not read: hence this module.
"""

from __future__ import annotations

from edge.gost_cli.errors import InputError


def padding(length: int, block_size: int) -> bytes:
    """The 1..``block_size`` bytes that follow ``length`` bytes of data: n copies of n."""
    count = block_size - length % block_size
    return bytes([count]) * count


def unpad(last_block: bytes, block_size: int) -> bytes:
    """Strip the padding from the decrypted last block; :class:`InputError` if it is not valid."""
    count = last_block[-1] if len(last_block) == block_size else 0
    if not 1 <= count <= block_size or last_block[-count:] != bytes([count]) * count:
        raise InputError("bad decrypt (wrong key or IV, or the data was not padded: try -nopad)")
    return last_block[:-count]
