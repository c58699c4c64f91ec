"""Minimal DER writing: tag-length-value and SET OF from already-encoded elements.

asn1crypto re-checks every node of a tree it is asked to encode, which made a composite of a few
hundred nodes cost milliseconds; encoding the parts with asn1crypto and joining them here costs
microseconds and keeps received encodings untouched.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["der_set_of", "tlv"]

SEQUENCE = 0x30
SET = 0x31
CONTEXT_0 = 0xA0


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def tlv(tag: int, contents: bytes) -> bytes:
    """One DER element with a single-byte ``tag`` and definite length."""
    return bytes([tag]) + _length(len(contents)) + contents


def der_set_of(encodings: Iterable[bytes]) -> bytes:
    """The contents of a DER ``SET OF``: the elements deduplicated and in ascending byte order."""
    return b"".join(sorted(set(encodings)))
