"""The contract between the sessions layer and the operations layer (PendingOperation actors).

What the operations layer **calls** (on the ``SessionHub`` of its worker process)::

    await hub.push(notice: OperationNotice)   # the op awaits confirmation: show it on the user's devices
    await hub.withdraw(op_id: UUID)           # the op completed / expired / was declined elsewhere

What the operations layer **implements** and hands to ``start_sessions``::

    ConfirmationSink.on_decision(decision: DeviceDecision) -> DecisionOutcome
    PendingLookup.awaiting(user_id: UUID) -> Sequence[OperationNotice]

Guarantees the sessions layer gives the sink:

* ``on_decision`` is called only after the decision's HMAC (``K_confirm``, see
  ``actors.sessions.crypto``) verified over the op id, the decision, the server nonce of that very
  push to that very device and every item digest of the notice the device was shown;
* each server nonce is accepted once, so one push to one device yields at most one call;
* the call happens in the worker process that pushed the notice (its *owner*), even when the device
  is connected to another worker (routed through PostgreSQL NOTIFY). A notice the device got only
  from ``PendingLookup`` (never pushed through a hub) is decided in the worker holding the socket.

The sink answers with a ``DecisionOutcome``; the device is told ``accepted`` or ``rejected`` with
the reason. The sink must itself be idempotent per operation: two devices of one user may decide
the same operation, and after a worker restart a re-pushed notice carries a fresh nonce.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

MAX_ITEMS = 100_000
"""Most items one notice may carry (the batch limit of the operations layer is far below)."""

MAX_NAME_CHARS = 255
"""Longest document name shown to the device."""

MAX_PREVIEW_CHARS = 2000
"""Longest text preview shown to the device."""

MAX_DIGEST_BYTES = 64
"""Longest digest (Streebog-512)."""


class Decision(enum.StrEnum):
    """What the user chose on the device."""

    CONFIRM = "confirm"
    """Sign."""
    DECLINE = "decline"
    """Do not sign."""


class OutcomeStatus(enum.StrEnum):
    """What became of a verified decision (the sink's answer)."""

    ACCEPTED = "accepted"
    """The operation took the decision (it moves to confirmed / declined)."""
    EXPIRED = "expired"
    """The operation's TTL ran out before the decision arrived."""
    UNKNOWN = "unknown"
    """No such operation awaits a decision (never existed, deleted, or not this user's)."""
    ALREADY_DECIDED = "already_decided"
    """Another decision (e.g. from another device) was taken first."""
    UNAVAILABLE = "unavailable"
    """Set by the sessions layer, never by a sink: the owning worker did not answer in time."""


@dataclass(frozen=True, slots=True)
class NoticeItem:
    """One document of an operation, as the device shows it."""

    name: str
    """Document name (at most ``MAX_NAME_CHARS``)."""
    digest_hex: str
    """Lower-case hex of the document digest that will be signed (what the device's MAC covers)."""
    digest_algorithm: str
    """Name of the digest algorithm, e.g. ``streebog256`` (ASCII, at most 32 characters)."""
    preview_text: str
    """Human-readable preview of the content (at most ``MAX_PREVIEW_CHARS``; may be empty)."""

    def __post_init__(self) -> None:
        if not 1 <= len(self.name) <= MAX_NAME_CHARS:
            raise ValueError(f"item name must be 1..{MAX_NAME_CHARS} characters")
        digest = bytes.fromhex(self.digest_hex)  # ValueError when not hex
        if not 1 <= len(digest) <= MAX_DIGEST_BYTES or self.digest_hex != digest.hex():
            raise ValueError(f"digest_hex must be lower-case hex of 1..{MAX_DIGEST_BYTES} bytes")
        if not (1 <= len(self.digest_algorithm) <= 32 and self.digest_algorithm.isascii()):
            raise ValueError("digest_algorithm must be 1..32 ASCII characters")
        if len(self.preview_text) > MAX_PREVIEW_CHARS:
            raise ValueError(f"preview_text must be at most {MAX_PREVIEW_CHARS} characters")

    @property
    def digest(self) -> bytes:
        """The digest bytes."""
        return bytes.fromhex(self.digest_hex)


@dataclass(frozen=True, slots=True)
class OperationNotice:
    """An operation awaiting confirmation on the devices of one user."""

    op_id: UUID
    """The operation."""
    user_id: UUID
    """Its owner: only this user's devices see it and may decide it."""
    items: tuple[NoticeItem, ...]
    """The documents, in the operation's order (the decision MAC covers their digests in this order)."""
    created_at: datetime
    """When the operation was created (aware UTC)."""
    expires_at: datetime
    """When it expires (aware UTC); decisions after this are rejected without asking the sink."""

    def __post_init__(self) -> None:
        if not 1 <= len(self.items) <= MAX_ITEMS:
            raise ValueError(f"a notice needs 1..{MAX_ITEMS} items")
        if self.created_at.tzinfo is None or self.expires_at.tzinfo is None:
            raise ValueError("created_at and expires_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class DeviceDecision:
    """A decision whose HMAC verified, for the sink."""

    op_id: UUID
    """The operation decided."""
    user_id: UUID
    """The operation's owner (the device belongs to this user)."""
    device_id: UUID
    """The device that decided."""
    decision: Decision
    """Confirm or decline."""


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    """The sink's answer to one decision."""

    status: OutcomeStatus
    """Accepted, or why not."""

    @property
    def accepted(self) -> bool:
        """True when the operation took the decision."""
        return self.status is OutcomeStatus.ACCEPTED


ACCEPTED = DecisionOutcome(OutcomeStatus.ACCEPTED)
"""The common answer."""


class ConfirmationSink(Protocol):
    """Implemented by the operations layer: receives verified decisions."""

    async def on_decision(self, decision: DeviceDecision) -> DecisionOutcome:
        """Apply ``decision`` to its operation (persist the transition) and say what became of it.

        Called in the operation's owning worker; must not raise for unknown / expired / decided
        operations (answer the matching status). An exception is logged and the device is told
        ``unavailable``.
        """
        ...


class PendingLookup(Protocol):
    """Implemented by the operations layer: what a freshly connected device must be shown."""

    async def awaiting(self, user_id: UUID) -> Sequence[OperationNotice]:
        """Every operation of ``user_id`` in state ``awaiting_confirmation`` and not expired."""
        ...
