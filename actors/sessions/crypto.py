"""Device cryptography: key separation, the authentication and decision MACs, byte layout by byte layout.

Every MAC is HMAC_GOSTR3411_2012_256 (R 50.1.113-2016 §4.1, 32 bytes). Notation: ``‖`` is
concatenation, ``[n]`` a field of exactly n bytes, UUIDs are their 16 RFC 4122 bytes (big-endian,
``uuid.UUID.bytes``), ASCII labels carry no terminator, integers are unsigned big-endian.

Keys (KDF_256 of R 50.1.113-2016 §4.4: ``HMAC_256(K, 0x01 ‖ label ‖ 0x00 ‖ seed ‖ 0x01 ‖ 0x00)``)::

    S          device secret, [32] random bytes, carried once in the enrolment QR code
    K_auth    = KDF_256(S, "klyuch device auth v1",    device_id[16])
    K_confirm = KDF_256(S, "klyuch device confirm v1", device_id[16])

Two keys from one secret with distinct labels (key separation): a MAC made for logging in can never
pass as a confirmation, and the reverse.

Authentication (challenge–response; the server's nonce makes every answer single-use)::

    device → hello   {device_id}
    server → challenge {nonce: server_nonce[32]}
    device → auth    {client_nonce[32], mac}
        mac = HMAC(K_auth, "klyuch-auth" ‖ device_id[16] ‖ server_nonce[32] ‖ client_nonce[32])
    server → authenticated {server_proof}
        server_proof = HMAC(K_auth, "klyuch-server" ‖ device_id[16] ‖ client_nonce[32] ‖ server_nonce[32])

The server proof (sent only after the device's MAC verified) lets the device check that it talks to
the server that enrolled it.

Decision (one per push of one operation to one device; ``nonce`` is the server nonce of that push)::

    mac = HMAC(K_confirm, "klyuch-decision" ‖ op_id[16] ‖ decision[1] ‖ nonce[32] ‖ count[4]
                          ‖ for each item, in order: alg_len[1] ‖ alg (ASCII) ‖ digest_len[1] ‖ digest)
        decision: 0x01 confirm, 0x02 decline; count: number of items; alg: the item's
        ``digest_algorithm``; digest: the item's digest bytes.

The counts and lengths make the encoding injective: no two different (op, decision, nonce, items)
give the same bytes. Verification compares in constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

from actors.sessions.protocol import Decision, NoticeItem
from signing.gost import hmac_gostr3411_2012_256, kdf_gostr3411_2012_256

SECRET_BYTES = 32
"""Length of a device secret (the initial authentication vector)."""
NONCE_BYTES = 32
"""Length of every nonce (server and client)."""
MAC_BYTES = 32
"""Length of every MAC."""

AUTH_KEY_LABEL = b"klyuch device auth v1"
CONFIRM_KEY_LABEL = b"klyuch device confirm v1"
AUTH_PREFIX = b"klyuch-auth"
SERVER_PREFIX = b"klyuch-server"
DECISION_PREFIX = b"klyuch-decision"
DECISION_BYTES = {Decision.CONFIRM: b"\x01", Decision.DECLINE: b"\x02"}


@dataclass(frozen=True, slots=True)
class DeviceKeys:
    """The two working keys of one device (derived, never stored)."""

    device_id: UUID
    """The device they belong to."""
    auth_key: bytes = field(repr=False)
    """K_auth: authentication MACs."""
    confirm_key: bytes = field(repr=False)
    """K_confirm: decision MACs."""

    @classmethod
    def derive(cls, device_id: UUID, secret: bytes) -> DeviceKeys:
        """Derive K_auth and K_confirm from the device secret."""
        if len(secret) != SECRET_BYTES:
            raise ValueError(f"a device secret is {SECRET_BYTES} bytes")
        seed = device_id.bytes
        return cls(
            device_id,
            kdf_gostr3411_2012_256(secret, AUTH_KEY_LABEL, seed),
            kdf_gostr3411_2012_256(secret, CONFIRM_KEY_LABEL, seed),
        )


def new_secret() -> bytes:
    """A fresh device secret."""
    return secrets.token_bytes(SECRET_BYTES)


def new_nonce() -> bytes:
    """A fresh nonce."""
    return secrets.token_bytes(NONCE_BYTES)


def _check(name: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise ValueError(f"{name} must be {size} bytes")


def auth_mac(keys: DeviceKeys, server_nonce: bytes, client_nonce: bytes) -> bytes:
    """The device's answer to a challenge (see the module docstring)."""
    _check("server_nonce", server_nonce, NONCE_BYTES)
    _check("client_nonce", client_nonce, NONCE_BYTES)
    data = AUTH_PREFIX + keys.device_id.bytes + server_nonce + client_nonce
    return hmac_gostr3411_2012_256(keys.auth_key, data)


def server_proof(keys: DeviceKeys, server_nonce: bytes, client_nonce: bytes) -> bytes:
    """The server's proof of knowing K_auth, sent once the device's MAC verified."""
    _check("server_nonce", server_nonce, NONCE_BYTES)
    _check("client_nonce", client_nonce, NONCE_BYTES)
    data = SERVER_PREFIX + keys.device_id.bytes + client_nonce + server_nonce
    return hmac_gostr3411_2012_256(keys.auth_key, data)


def decision_message(op_id: UUID, decision: Decision, nonce: bytes, items: Iterable[NoticeItem]) -> bytes:
    """The bytes a decision MAC covers (see the module docstring)."""
    _check("nonce", nonce, NONCE_BYTES)
    listed = tuple(items)
    parts = [DECISION_PREFIX, op_id.bytes, DECISION_BYTES[decision], nonce, len(listed).to_bytes(4, "big")]
    for item in listed:
        algorithm = item.digest_algorithm.encode("ascii")
        digest = item.digest
        parts += [bytes([len(algorithm)]), algorithm, bytes([len(digest)]), digest]
    return b"".join(parts)


def decision_mac(
    keys: DeviceKeys, op_id: UUID, decision: Decision, nonce: bytes, items: Iterable[NoticeItem]
) -> bytes:
    """The device's MAC over a decision."""
    return hmac_gostr3411_2012_256(keys.confirm_key, decision_message(op_id, decision, nonce, items))


def macs_equal(expected: bytes, given: bytes) -> bool:
    """Constant-time comparison (a length mismatch is simply False)."""
    return hmac.compare_digest(expected, given)
