"""Framing of the unit RPC: length-prefixed frames on a unix stream socket.

::

    frame  = length:u32be ‖ kind:u8 ‖ request_id:u32be ‖ body
    length = 5 + len(body)          (so the whole frame is 4 + length bytes)

``kind`` is an operation code (1..0x7F, :class:`actors.hsm.protocol.Op`) in a request, ``OK`` or
``ERROR`` in a reply, or one of the three handshake kinds. ``request_id`` pairs a reply with its
request: replies come back in completion order, not request order (pipelining). The body's encoding is
:mod:`actors.hsm.codec` (binary for signing, JSON otherwise). A receiver refuses a frame whose ``length``
exceeds its limit before reading the body.
"""

from __future__ import annotations

import enum
import struct
from typing import Final

from actors.hsm.errors import FrameTooLargeError, HsmProtocolError

LENGTH: Final = struct.Struct(">I")
"""The 4-byte length prefix."""
HEADER: Final = struct.Struct(">IBI")
"""length ‖ kind ‖ request id: 9 bytes."""
KIND_AND_ID: Final = struct.Struct(">BI")
"""kind ‖ request id, the header after the length prefix."""
HEADER_SIZE: Final = HEADER.size
PREFIX_SIZE: Final = LENGTH.size
MIN_LENGTH: Final = HEADER_SIZE - PREFIX_SIZE
"""The smallest valid ``length``: kind and request id with an empty body."""
DEFAULT_MAX_FRAME: Final = 4 << 20
"""Default limit on ``length`` (4 MiB: ~20,000 base64 digests of 64 bytes)."""
HANDSHAKE_MAX_FRAME: Final = 4096
"""Limit on frames before authentication, so an unauthenticated peer cannot make us buffer much."""
MAX_REQUEST_ID: Final = 0xFFFF_FFFF


class Kind(enum.IntEnum):
    """Frame kinds that are not operation codes."""

    OK = 0x80
    """A successful reply; the body is the reply message."""
    ERROR = 0x81
    """A failed reply; the body is ``{"code", "message"}``. Request id 0: a connection-level error."""
    HELLO = 0xF0
    """Unit → client, first frame: protocol version, unit id, the unit's nonce."""
    AUTH = 0xF1
    """Client → unit: the client's nonce and its MAC over the HELLO."""
    WELCOME = 0xF2
    """Unit → client: the unit's MAC, proving it holds the same secret."""


def pack(kind: int, request_id: int, body: bytes) -> bytes:
    """Build one frame."""
    return HEADER.pack(MIN_LENGTH + len(body), kind, request_id) + body


def check_length(length: int, max_frame: int) -> int:
    """Validate a received ``length`` prefix; return the number of bytes that follow it.

    Raises :class:`FrameTooLargeError` above ``max_frame`` and :class:`HsmProtocolError` below
    the header size.
    """
    if length > max_frame:
        raise FrameTooLargeError(f"frame of {length} bytes exceeds the limit of {max_frame}")
    if length < MIN_LENGTH:
        raise HsmProtocolError(f"frame length {length} is shorter than its header")
    return length


def split(payload: bytes | bytearray | memoryview) -> tuple[int, int, bytes]:
    """Split what follows the length prefix into ``(kind, request_id, body)``."""
    kind = payload[0]
    request_id = int.from_bytes(payload[1:5], "big")
    return kind, request_id, bytes(payload[5:])
