"""Cross-worker signals: small JSON payloads carried by PostgreSQL NOTIFY (ids only, never secrets).

Two kinds of channel (one LISTEN connection per worker carries both, see ``storage.notify``)::

    klyuch_sessions            every worker listens; routed by user id to the local UserSession, if any
      {"k":"push","o":op,"u":user,"n":node[,"t":notice]}  notice stored in device_notices: show it
                                                        (``t``, its JSON, when the payload stays small)
      {"k":"withdraw","o":op,"u":user|null,"n":node}   notice deleted: take it off the devices (null:
                                                        user unknown, every session checks)
      {"k":"auth","d":device,"u":user,"g":counter,"n":node}   device authenticated on node: older
                                                        connections of it elsewhere close (replaced)
      {"k":"revoke","d":device,"u":user}               device revoked: its connection closes
    klyuch_node_<node hex>     one worker listens: requests addressed to it and their answers
      {"k":"decide","c":call,"o":op,"u":user,"d":device,"v":"confirm"|"decline","r":reply node}
      {"k":"outcome","c":call,"s":status}

``n`` lets the sender skip its own signals where it already acted locally. Every payload is far below
NOTIFY's 8000-byte limit. A payload that does not parse is logged and dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from actors.sessions.protocol import Decision, OutcomeStatus

SHARED_CHANNEL = "klyuch_sessions"
"""The channel every worker listens on."""

NOTICE_PAYLOAD_LIMIT = 7000
"""Largest push payload (UTF-8 bytes) that carries its notice; NOTIFY refuses payloads of 8000 bytes."""


def sent_by(node_id: UUID) -> str:
    """Text found in every shared-channel signal ``node_id`` sends, and in no other payload.

    A worker acts on its own pushes, withdrawals and authentications locally, so its relay drops
    payloads holding this before they leave the storage thread (``Database.listen``). Keys are
    fixed and unique in a payload, and a carried notice is a JSON string, whose quotes are escaped.
    """
    return f'"n":"{node_id.hex}"'


def node_channel(node_id: UUID) -> str:
    """The channel only ``node_id`` listens on."""
    return f"klyuch_node_{node_id.hex}"


@dataclass(frozen=True, slots=True)
class Pushed:
    """A notice was stored for ``user_id``'s devices."""

    op_id: UUID
    """The operation."""
    user_id: UUID
    """Whose devices."""
    node: UUID
    """The worker that pushed it (it already delivered locally)."""
    notice: str | None = None
    """The stored notice's JSON, carried when the payload stays under ``NOTICE_PAYLOAD_LIMIT`` (the
    other workers then show it without reading ``device_notices``)."""


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """A notice was deleted."""

    op_id: UUID
    """The operation."""
    user_id: UUID | None
    """Whose devices; None when unknown (every session checks)."""
    node: UUID
    """The worker that withdrew it (it already acted locally)."""


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A device authenticated on ``node``; its connections with an older counter must close."""

    device_id: UUID
    """The device."""
    user_id: UUID
    """Its owner."""
    counter: int
    """The device's authentication counter after this authentication."""
    node: UUID
    """Where it connected."""


@dataclass(frozen=True, slots=True)
class Revoked:
    """A device was revoked."""

    device_id: UUID
    """The device."""
    user_id: UUID
    """Its owner."""


@dataclass(frozen=True, slots=True)
class DecideCall:
    """A verified decision for an operation owned by the receiving worker."""

    call_id: UUID
    """Correlates the answer."""
    op_id: UUID
    """The operation."""
    user_id: UUID
    """Its owner."""
    device_id: UUID
    """The deciding device."""
    decision: Decision
    """Confirm or decline."""
    reply_to: UUID
    """Node that waits for the outcome."""


@dataclass(frozen=True, slots=True)
class OutcomeReply:
    """The owner's answer to a ``DecideCall``."""

    call_id: UUID
    """The call answered."""
    status: OutcomeStatus
    """The sink's outcome."""


Signal = Pushed | Withdrawn | Authenticated | Revoked | DecideCall | OutcomeReply


def encode(signal: Signal) -> str:
    """The NOTIFY payload of ``signal``."""
    data: dict[str, Any]
    match signal:
        case Pushed(op_id, user_id, node, notice):
            data = {"k": "push", "o": op_id.hex, "u": user_id.hex, "n": node.hex}
            if notice is not None:
                with_notice = json.dumps({**data, "t": notice}, separators=(",", ":"), ensure_ascii=False)
                if len(with_notice.encode()) <= NOTICE_PAYLOAD_LIMIT:
                    return with_notice
        case Withdrawn(op_id, user_id, node):
            user = None if user_id is None else user_id.hex
            data = {"k": "withdraw", "o": op_id.hex, "u": user, "n": node.hex}
        case Authenticated(device_id, user_id, counter, node):
            data = {"k": "auth", "d": device_id.hex, "u": user_id.hex, "g": counter, "n": node.hex}
        case Revoked(device_id, user_id):
            data = {"k": "revoke", "d": device_id.hex, "u": user_id.hex}
        case DecideCall(call_id, op_id, user_id, device_id, decision, reply_to):
            data = {
                "k": "decide",
                "c": call_id.hex,
                "o": op_id.hex,
                "u": user_id.hex,
                "d": device_id.hex,
                "v": decision.value,
                "r": reply_to.hex,
            }
        case OutcomeReply(call_id, status):
            data = {"k": "outcome", "c": call_id.hex, "s": status.value}
    return json.dumps(data, separators=(",", ":"))


def decode(payload: str) -> Signal:
    """Parse a payload made by :func:`encode`; ``ValueError`` when it is not one."""
    try:
        data = json.loads(payload)
        kind = data["k"]
        if kind == "push":
            return Pushed(UUID(data["o"]), UUID(data["u"]), UUID(data["n"]), _optional_text(data.get("t")))
        if kind == "withdraw":
            user = None if data["u"] is None else UUID(data["u"])
            return Withdrawn(UUID(data["o"]), user, UUID(data["n"]))
        if kind == "auth":
            return Authenticated(UUID(data["d"]), UUID(data["u"]), int(data["g"]), UUID(data["n"]))
        if kind == "revoke":
            return Revoked(UUID(data["d"]), UUID(data["u"]))
        if kind == "decide":
            return DecideCall(
                UUID(data["c"]),
                UUID(data["o"]),
                UUID(data["u"]),
                UUID(data["d"]),
                Decision(data["v"]),
                UUID(data["r"]),
            )
        if kind == "outcome":
            return OutcomeReply(UUID(data["c"]), OutcomeStatus(data["s"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a sessions signal: {exc}") from None
    raise ValueError(f"unknown signal kind {kind!r}")


def _optional_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError("t must be a string")
