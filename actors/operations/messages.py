"""What a ``PendingOperation`` actor handles. Every message names its ``op_id`` (bound in logs)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from actors.sessions.protocol import DeviceDecision


@dataclass(frozen=True, slots=True)
class Advance:
    """Do whatever the current state calls for (push and wait, execute, or finish and stop)."""

    op_id: UUID
    """The operation."""


@dataclass(frozen=True, slots=True)
class Decide:
    """A verified device decision (ask; the answer is a ``DecisionOutcome``)."""

    op_id: UUID
    """The operation."""
    decision: DeviceDecision
    """What the device decided."""


@dataclass(frozen=True, slots=True)
class Expire:
    """The confirmation window ended (sent by the actor's own timer)."""

    op_id: UUID
    """The operation."""


@dataclass(frozen=True, slots=True)
class Wake:
    """The stored row may have changed elsewhere (a decision in another worker, a deletion, a lost
    lease): re-read it and advance."""

    op_id: UUID
    """The operation."""


@dataclass(frozen=True, slots=True)
class Repush:
    """The device channel (re)appeared: show the operation again if it still awaits a decision."""

    op_id: UUID
    """The operation."""
