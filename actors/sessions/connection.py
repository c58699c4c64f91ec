"""``DeviceConnection``: one authenticated device socket as the session actors see it.

The edge owns the socket; the UserSession owns what is said on it. They meet in a bounded outbox:
the session queues ``Outgoing`` values with ``send_nowait`` (a device that reads too slowly is
closed, never waited for) and the edge's writer task turns them into JSON. To close a connection
the session sets ``close_reason`` and closes the outbox; the writer sends the reason as an error
message, then closes the socket with its ``close_code``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from uuid import UUID

import trio

from actors.sessions.crypto import DeviceKeys
from actors.sessions.errors import DeviceChannelError, SlowConsumerError
from actors.sessions.protocol import OperationNotice, OutcomeStatus

_serial = itertools.count(1)


@dataclass(frozen=True, slots=True)
class OperationOffer:
    """Show an operation: ``{"type": "operation", ...}`` with this push's server nonce."""

    notice: OperationNotice
    """The operation."""
    nonce: bytes
    """Fresh server nonce of this push to this device (the decision MAC covers it)."""

    @property
    def op_id(self) -> UUID:
        """The operation's id."""
        return self.notice.op_id


@dataclass(frozen=True, slots=True)
class OperationWithdrawn:
    """Take an operation off the device: ``{"type": "withdrawn", "op_id", "reason"}``."""

    op_id: UUID
    """The operation."""
    reason: str
    """``decided`` (by this user, on some device), ``withdrawn`` (by the operations layer) or ``expired``."""


@dataclass(frozen=True, slots=True)
class DecisionAnswer:
    """The outcome of the device's decision: ``{"type": "outcome", "op_id", "status", "reason"?}``."""

    op_id: UUID
    """The operation decided."""
    status: OutcomeStatus
    """``accepted`` or why not."""


@dataclass(frozen=True, slots=True)
class ChannelNotice:
    """A non-fatal error: ``{"type": "error", "code", "message", "op_id"?}``."""

    error: DeviceChannelError
    """What went wrong (its ``code`` is what the device dispatches on)."""
    op_id: UUID | None = None
    """The operation it concerns, if any."""


Outgoing = OperationOffer | OperationWithdrawn | DecisionAnswer | ChannelNotice


@dataclass(eq=False, slots=True)
class DeviceConnection:
    """One live, authenticated device socket (made by :func:`open_connection`)."""

    device_id: UUID
    """The device."""
    user_id: UUID
    """Its owner."""
    counter: int
    """The device's authentication counter at this connection (higher wins)."""
    keys: DeviceKeys = field(repr=False)
    """Its working keys (K_confirm checks decisions)."""
    outbox: trio.MemorySendChannel[Outgoing] = field(repr=False)
    """Where the session queues messages for the socket."""
    conn_id: int = field(default_factory=lambda: next(_serial))
    """Unique within the process (tells a connection from its replacement)."""
    close_reason: DeviceChannelError | None = None
    """Set by whoever closed the outbox: why the socket must close."""

    def close(self, reason: DeviceChannelError) -> None:
        """Close the outbox with ``reason`` (the first reason wins)."""
        if self.close_reason is None:
            self.close_reason = reason
        self.outbox.close()

    def offer(self, item: Outgoing) -> bool:
        """Queue ``item`` without waiting; False when the connection is gone or had to be closed."""
        try:
            self.outbox.send_nowait(item)
        except trio.WouldBlock:
            self.close(SlowConsumerError("the device does not read its messages fast enough"))
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True


def open_connection(
    device_id: UUID, user_id: UUID, *, counter: int, keys: DeviceKeys, capacity: int
) -> tuple[DeviceConnection, trio.MemoryReceiveChannel[Outgoing]]:
    """A connection handle and the receiving end of its outbox (for the socket's writer)."""
    send, receive = trio.open_memory_channel[Outgoing](capacity)
    return DeviceConnection(device_id, user_id, counter, keys, send), receive
