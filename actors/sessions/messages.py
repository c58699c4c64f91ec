"""Messages a UserSession handles (frozen values; ``op_id`` fields are bound into the log context)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from actors.sessions.connection import DeviceConnection
from actors.sessions.errors import DeviceChannelError
from actors.sessions.protocol import Decision, DeviceDecision, OperationNotice, OutcomeStatus


@dataclass(frozen=True, slots=True)
class Attach:
    """(ask) Take over an authenticated connection; an older one of the same device is replaced."""

    connection: DeviceConnection
    """The new connection."""


@dataclass(frozen=True, slots=True)
class Detach:
    """(tell) The socket of ``connection`` ended."""

    device_id: UUID
    """The device."""
    conn_id: int
    """Which of its connections (a replaced one is ignored)."""


@dataclass(frozen=True, slots=True)
class Offer:
    """(tell) Show ``notice`` on every connected device that does not have it yet."""

    notice: OperationNotice
    """The operation."""
    owner: UUID | None
    """Node whose sink takes decisions on it; None: this worker's sink."""
    replace: bool = False
    """A re-push: give every device a fresh nonce even if it already shows the operation."""

    @property
    def op_id(self) -> UUID:
        """The operation's id."""
        return self.notice.op_id


@dataclass(frozen=True, slots=True)
class Withdraw:
    """(tell) Take the operation off every device."""

    op_id: UUID
    """The operation."""
    reason: str = "withdrawn"
    """Told to the devices."""


@dataclass(frozen=True, slots=True)
class DecisionReceived:
    """(tell) A device sent a decision (not verified yet)."""

    device_id: UUID
    """The device."""
    conn_id: int
    """Its connection."""
    op_id: UUID
    """The operation it names."""
    decision: Decision
    """Confirm or decline."""
    nonce: bytes
    """The server nonce it quotes."""
    mac: bytes
    """Its MAC (never logged)."""


@dataclass(frozen=True, slots=True)
class DecisionSettled:
    """(tell, from the session's own delivery task) The owner answered a verified decision."""

    decision: DeviceDecision
    """The decision delivered."""
    conn_id: int
    """The connection to answer."""
    status: OutcomeStatus
    """The outcome."""

    @property
    def op_id(self) -> UUID:
        """The operation's id."""
        return self.decision.op_id


@dataclass(frozen=True, slots=True)
class Kick:
    """(tell) Close a device's connection, e.g. revoked, or replaced by a newer one elsewhere."""

    device_id: UUID
    """The device."""
    reason: DeviceChannelError
    """Why (told to the device)."""
    below_counter: int | None = None
    """Close only a connection whose counter is below this one; None: any."""


@dataclass(frozen=True, slots=True)
class Resync:
    """(tell) Pushes may have been missed (the LISTEN connection was lost): ask ``PendingLookup`` again."""


@dataclass(frozen=True, slots=True)
class IdleCheck:
    """(tell, from the session's own timer) Stop if still without connections since ``epoch``."""

    epoch: int
    """The idle period this check belongs to."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """(ask) For tests and diagnostics: connected device ids and indexed operation ids."""


@dataclass(frozen=True, slots=True)
class SessionState:
    """Answer to ``Snapshot``."""

    devices: frozenset[UUID]
    """Devices connected to this worker."""
    operations: frozenset[UUID]
    """Operations shown to them."""
