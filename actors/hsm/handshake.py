"""The client side of the connection handshake (:mod:`actors.hsm.auth`) over a trio stream."""

from __future__ import annotations

from typing import Any

import trio

from actors.hsm import auth, wire
from actors.hsm.codec import decode_error
from actors.hsm.errors import HsmAuthError, HsmProtocolError, UnitLostError


async def client_handshake(stream: trio.SocketStream, auth_key: bytes) -> dict[str, Any]:
    """Run HELLO / AUTH / WELCOME; return the unit's HELLO fields or raise :class:`HsmAuthError`."""
    hello_kind, hello = await _read_handshake_frame(stream)
    if hello_kind != wire.Kind.HELLO:
        raise HsmProtocolError("the unit did not start with HELLO")
    info = auth.parse_hello(hello)
    client_nonce = auth.new_nonce()
    await stream.send_all(wire.pack(wire.Kind.AUTH, 0, auth.auth_body(auth_key, hello, client_nonce)))
    kind, body = await _read_handshake_frame(stream)
    if kind == wire.Kind.ERROR:
        error = decode_error(body)
        raise error if isinstance(error, HsmAuthError) else HsmAuthError(str(error))
    if kind != wire.Kind.WELCOME:
        raise HsmProtocolError("the unit answered AUTH with neither WELCOME nor ERROR")
    auth.verify_welcome(auth_key, hello, client_nonce, body)
    return info


async def _read_handshake_frame(stream: trio.SocketStream) -> tuple[int, bytes]:
    prefix = await _receive_exactly(stream, wire.PREFIX_SIZE)
    (length,) = wire.LENGTH.unpack(prefix)
    wire.check_length(length, wire.HANDSHAKE_MAX_FRAME)
    kind, _, body = wire.split(await _receive_exactly(stream, length))
    return kind, body


async def _receive_exactly(stream: trio.SocketStream, size: int) -> bytes:
    # Handshake frames only: nothing may be read past them, so read no more than asked.
    data = bytearray()
    while len(data) < size:
        chunk = await stream.receive_some(size - len(data))
        if not chunk:
            raise UnitLostError("the unit closed the connection during the handshake")
        data += chunk
    return bytes(data)
