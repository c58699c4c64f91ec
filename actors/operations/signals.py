"""The NOTIFY channel that wakes the actor driving an operation in whichever worker holds it.

NOTIFY is a wake-up signal: the payload is only the operation id, the state is re-read from the
table. Sent in the same transaction as the change (delivered when, and only if, it commits) by a
worker that changed a row it does not drive: a device decision taken where the socket is, a
deletion.
"""

from __future__ import annotations

from uuid import UUID

CHANNEL = "klyuch_operations"
"""Shared by every worker; each looks the id up in its own actor registry."""

ACTOR_PREFIX = "op:"
"""Registry ids of PendingOperation actors are ``op:<uuid>``."""


def actor_id(op_id: UUID) -> str:
    """Registry id of the actor driving ``op_id``."""
    return f"{ACTOR_PREFIX}{op_id}"


def op_id_of(actor: str) -> UUID | None:
    """The operation an actor id names, or None for other actors."""
    if not actor.startswith(ACTOR_PREFIX):
        return None
    try:
        return UUID(actor[len(ACTOR_PREFIX) :])
    except ValueError:
        return None


def decode(payload: str) -> UUID | None:
    """The operation id of a payload, or None when it is not one (ignored)."""
    try:
        return UUID(payload)
    except ValueError:
        return None
