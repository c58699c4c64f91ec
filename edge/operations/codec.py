"""Base64 fields → bytes, against the configured limits, with errors that name the field.

The length of the text is checked before decoding, so an oversized document costs no decoding.
"""

from __future__ import annotations

import base64
import binascii

from actors.operations import InvalidOperationError


def decode(text: str, field: str, *, limit: int) -> bytes:
    """Decode standard base64 ``text``; ``InvalidOperationError`` naming ``field`` when it is not, or
    when it decodes to more than ``limit`` bytes."""
    if len(text) > 4 * ((limit + 2) // 3):
        raise InvalidOperationError(field, f"at most {limit} bytes are accepted")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidOperationError(field, "not valid base64 (standard alphabet, with padding)") from exc
    if len(data) > limit:
        raise InvalidOperationError(field, f"at most {limit} bytes are accepted")
    return data
