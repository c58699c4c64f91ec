"""Mutual challenge–response on connect, keyed by the secret handed to the unit at start.

::

    unit   → client   HELLO    {"protocol", "unit_id", "backend", "max_frame", "nonce": N_u}
    client → unit     AUTH     {"nonce": N_c, "mac": HMAC(K, "klyuch-hsm/client" ‖ 0 ‖ HELLO body ‖ N_c)}
    unit   → client   WELCOME  {"mac": HMAC(K, "klyuch-hsm/unit" ‖ 0 ‖ HELLO body ‖ N_c)}
                      or ERROR {"code": "hsm_auth_failed"} and the unit closes the connection

HMAC is HMAC_GOSTR3411_2012_256 (R 50.1.113-2016); nonces are 32 random bytes. The client proves
it knows K for this fresh HELLO (which carries N_u), the unit proves it for the client's fresh N_c,
so neither side can be replayed. K itself never crosses the socket.
"""

from __future__ import annotations

import hmac
import json
import os
from typing import Any, Final

from actors.hsm import wire
from actors.hsm.errors import HsmAuthError, HsmProtocolError
from actors.hsm.protocol import PROTOCOL_VERSION
from signing.gost.mac import hmac_gostr3411_2012_256

NONCE_SIZE: Final = 32
AUTH_KEY_SIZE: Final = 32
"""Length of the shared secret a launcher generates."""
_CLIENT_LABEL: Final = b"klyuch-hsm/client\x00"
_UNIT_LABEL: Final = b"klyuch-hsm/unit\x00"


def new_nonce() -> bytes:
    """A fresh random nonce."""
    return os.urandom(NONCE_SIZE)


def hello_body(*, unit_id: str, backend: str, max_frame: int, nonce: bytes) -> bytes:
    """The unit's HELLO body (``max_frame`` lets a client refuse oversized requests itself)."""
    return _json(
        {
            "protocol": PROTOCOL_VERSION,
            "unit_id": unit_id,
            "backend": backend,
            "max_frame": max_frame,
            "nonce": nonce.hex(),
        }
    )


def parse_hello(body: bytes) -> dict[str, Any]:
    """Check a HELLO body (protocol version, nonce) and return it as a dict."""
    data = _load(body, "HELLO")
    if data.get("protocol") != PROTOCOL_VERSION:
        raise HsmProtocolError(f"unit speaks protocol {data.get('protocol')!r}, we speak {PROTOCOL_VERSION}")
    _hex_field(data, "nonce", NONCE_SIZE)
    if not isinstance(data.get("unit_id"), str) or not isinstance(data.get("backend"), str):
        raise HsmProtocolError("HELLO lacks unit_id or backend")
    if not isinstance(data.get("max_frame"), int) or data["max_frame"] < wire.MIN_LENGTH:
        raise HsmProtocolError("HELLO lacks a valid max_frame")
    return data


def client_mac(key: bytes, hello: bytes, client_nonce: bytes) -> bytes:
    """The MAC a client sends in AUTH."""
    return hmac_gostr3411_2012_256(key, _CLIENT_LABEL + hello + client_nonce)


def unit_mac(key: bytes, hello: bytes, client_nonce: bytes) -> bytes:
    """The MAC a unit sends in WELCOME."""
    return hmac_gostr3411_2012_256(key, _UNIT_LABEL + hello + client_nonce)


def auth_body(key: bytes, hello: bytes, client_nonce: bytes) -> bytes:
    """The client's AUTH body."""
    return _json({"nonce": client_nonce.hex(), "mac": client_mac(key, hello, client_nonce).hex()})


def verify_auth(key: bytes, hello: bytes, body: bytes) -> bytes:
    """Check a client's AUTH against our HELLO; return the client nonce or raise :class:`HsmAuthError`."""
    try:
        data = _load(body, "AUTH")
        nonce = _hex_field(data, "nonce", NONCE_SIZE)
        mac = _hex_field(data, "mac", 32)
    except HsmProtocolError as exc:
        raise HsmAuthError("malformed AUTH") from exc
    if not hmac.compare_digest(mac, client_mac(key, hello, nonce)):
        raise HsmAuthError("authentication failed")
    return nonce


def welcome_body(key: bytes, hello: bytes, client_nonce: bytes) -> bytes:
    """The unit's WELCOME body."""
    return _json({"mac": unit_mac(key, hello, client_nonce).hex()})


def verify_welcome(key: bytes, hello: bytes, client_nonce: bytes, body: bytes) -> None:
    """Check the unit's WELCOME; raise :class:`HsmAuthError` when the unit does not hold our secret."""
    try:
        mac = _hex_field(_load(body, "WELCOME"), "mac", 32)
    except HsmProtocolError as exc:
        raise HsmAuthError("malformed WELCOME") from exc
    if not hmac.compare_digest(mac, unit_mac(key, hello, client_nonce)):
        raise HsmAuthError("the unit failed to prove it holds the shared secret")


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _load(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HsmProtocolError(f"{what} is not JSON") from exc
    if not isinstance(data, dict):
        raise HsmProtocolError(f"{what} is not a JSON object")
    return data


def _hex_field(data: dict[str, Any], name: str, size: int) -> bytes:
    value = data.get(name)
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise HsmProtocolError(f"{name} must be {size} bytes in hex")
    return raw
