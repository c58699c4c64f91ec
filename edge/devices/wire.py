"""The device websocket protocol (``GET /api/v1/devices/ws``): JSON text messages, one object each.

Bytes travel as lower-case hex; ids as canonical UUID strings; times as ISO 8601 with offset. The
MAC byte layouts are in ``actors.sessions.crypto``.

Device → server::

    {"type": "hello", "device_id": "<uuid>"}                                    first message
    {"type": "auth", "client_nonce": "<hex 32 B>", "mac": "<hex 32 B>"}         answer to challenge
    {"type": "decision", "op_id": "<uuid>", "decision": "confirm" | "decline",
     "nonce": "<hex 32 B: the nonce of that operation message>", "mac": "<hex 32 B>"}
    {"type": "ping"}  /  {"type": "pong"}                                       keepalive

Server → device::

    {"type": "challenge", "nonce": "<hex 32 B>"}
    {"type": "authenticated", "device_id", "user_id", "server_proof": "<hex>", "ping_interval_s"}
    {"type": "operation", "op_id", "created_at", "expires_at", "nonce": "<hex 32 B>",
     "items": [{"name", "digest_hex", "digest_algorithm", "preview_text"}, ...]}
    {"type": "withdrawn", "op_id", "reason": "decided" | "withdrawn" | "expired"}
    {"type": "outcome", "op_id", "status": "accepted" | "rejected",
     "reason"?: "expired" | "unknown" | "already_decided" | "unavailable"}
    {"type": "error", "code": "<actors.sessions.errors code>", "message", "op_id"?}
    {"type": "ping"}  /  {"type": "pong"}

After a fatal error the server closes the socket with the error's close code (see
``actors.sessions.errors``: 1008 policy, 1009 too large, 4000 replaced, 4003 revoked, 1001 going
away). An ``operation`` for an op id the device already shows replaces it (its nonce changed).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from actors.sessions import (
    ChannelNotice,
    DecisionAnswer,
    OperationOffer,
    OperationWithdrawn,
    OutcomeStatus,
    Outgoing,
)
from actors.sessions.codec import item_to_json
from actors.sessions.errors import DeviceChannelError
from actors.sessions.protocol import Decision

Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""32 bytes as 64 lower-case hex digits."""


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Hello(_Message):
    """Opens the handshake."""

    type: Literal["hello"]
    device_id: UUID
    """The enrolled device's id (from the QR code)."""


class Auth(_Message):
    """Answers the challenge."""

    type: Literal["auth"]
    client_nonce: Hex32
    """32 random bytes of the device."""
    mac: Hex32
    """HMAC(K_auth, "klyuch-auth" ‖ device_id ‖ server_nonce ‖ client_nonce)."""


class DecisionMessage(_Message):
    """The user's decision on one operation message."""

    type: Literal["decision"]
    op_id: UUID
    """The operation."""
    decision: Decision
    """confirm or decline."""
    nonce: Hex32
    """The nonce of the operation message being answered."""
    mac: Hex32
    """HMAC(K_confirm, ...) as in ``actors.sessions.crypto``."""


class Ping(_Message):
    """Keepalive request (answered with pong)."""

    type: Literal["ping"]


class Pong(_Message):
    """Keepalive answer."""

    type: Literal["pong"]


ClientMessage = Annotated[Hello | Auth | DecisionMessage | Ping | Pong, Field(discriminator="type")]
"""Anything a device may send."""

_CLIENT = TypeAdapter[Hello | Auth | DecisionMessage | Ping | Pong](ClientMessage)


def parse_client(text: str) -> Hello | Auth | DecisionMessage | Ping | Pong:
    """Parse one device message; ``pydantic.ValidationError`` when it is not one."""
    return _CLIENT.validate_json(text)


def dumps(message: dict[str, Any]) -> str:
    """Compact JSON text."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def challenge(nonce: bytes) -> dict[str, Any]:
    """The server's challenge."""
    return {"type": "challenge", "nonce": nonce.hex()}


def authenticated(device_id: UUID, user_id: UUID, proof: bytes, ping_interval_s: float) -> dict[str, Any]:
    """The handshake's last message."""
    return {
        "type": "authenticated",
        "device_id": str(device_id),
        "user_id": str(user_id),
        "server_proof": proof.hex(),
        "ping_interval_s": ping_interval_s,
    }


def error(exc: DeviceChannelError, op_id: UUID | None = None) -> dict[str, Any]:
    """A typed error."""
    message: dict[str, Any] = {"type": "error", "code": exc.code, "message": str(exc)}
    if op_id is not None:
        message["op_id"] = str(op_id)
    return message


def outgoing(item: Outgoing) -> dict[str, Any]:
    """A session's message as JSON."""
    match item:
        case OperationOffer(notice=notice, nonce=nonce):
            return {
                "type": "operation",
                "op_id": str(notice.op_id),
                "created_at": notice.created_at.isoformat(),
                "expires_at": notice.expires_at.isoformat(),
                "nonce": nonce.hex(),
                "items": [item_to_json(entry) for entry in notice.items],
            }
        case OperationWithdrawn(op_id=op_id, reason=reason):
            return {"type": "withdrawn", "op_id": str(op_id), "reason": reason}
        case DecisionAnswer(op_id=op_id, status=status):
            answer: dict[str, Any] = {"type": "outcome", "op_id": str(op_id)}
            if status is OutcomeStatus.ACCEPTED:
                answer["status"] = "accepted"
            else:
                answer.update(status="rejected", reason=status.value)
            return answer
        case ChannelNotice(error=exc, op_id=op_id):
            return error(exc, op_id)
