"""Frames between a worker and its writer process, and the primitives-only body encoding.

::

    frame = length:u32be ‖ request_id:u32be ‖ body          (length = 4 + len(body))

Request 0 is the start-up exchange (settings → READY or FAILED); every other id pairs one group
with its reply, and replies come in completion order. A body is a pickle that may hold primitives
only: ``PrimitivesUnpickler`` refuses every global, so no frame can name a class or a function
to call. Both ends refuse a frame longer than their limit before reading it.
"""

from __future__ import annotations

import io
import pickle
import struct
from typing import Any, Final

from storage.writer.errors import WriterProtocolError

HEADER: Final = struct.Struct(">II")
"""length ‖ request id."""
LENGTH: Final = struct.Struct(">I")
ID_SIZE: Final = 4
START_ID: Final = 0
"""The request id of the start-up exchange."""
MAX_REQUEST_ID: Final = 0xFFFF_FFFF
PICKLE_PROTOCOL: Final = 5


class PrimitivesUnpickler(pickle.Unpickler):
    """An unpickler that builds containers and scalars only: any global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        """Refuse: a frame body never names a class or function."""
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a writer frame")


def pack(request_id: int, value: Any) -> bytes:
    """One frame carrying ``value`` (primitives only; checked by the receiving side)."""
    body = pickle.dumps(value, protocol=PICKLE_PROTOCOL)
    return HEADER.pack(ID_SIZE + len(body), request_id) + body


def body_length(length: int, max_frame: int) -> int:
    """Validate a received length prefix; the bytes of the body that follow the request id."""
    if length > max_frame:
        raise WriterProtocolError(f"frame of {length} bytes exceeds the limit of {max_frame}")
    if length < ID_SIZE:
        raise WriterProtocolError(f"frame length {length} is shorter than its request id")
    return length - ID_SIZE


def load(body: bytes | bytearray | memoryview) -> Any:
    """Decode a frame body; ``WriterProtocolError`` when it is not a pickle of primitives."""
    try:
        return PrimitivesUnpickler(io.BytesIO(body)).load()
    except Exception as exc:  # pickle raises many types on garbage: all mean the same here
        raise WriterProtocolError(f"undecodable frame body: {type(exc).__name__}") from exc
