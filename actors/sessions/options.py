"""``SessionOptions``: the timeouts and sizes of the device channel and of the session actors."""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOptions:
    """Tunables of the sessions layer; ``from_settings`` takes what ``Settings`` already has."""

    max_message_bytes: int = 64 * 1024
    """Largest message a device may send (``limits.max_websocket_message_bytes``)."""
    auth_timeout_s: float = 10.0
    """``hello`` and ``auth`` must both arrive within this many seconds of the connection."""
    ping_interval_s: float = 20.0
    """The server sends ``{"type": "ping"}`` this often; the device answers ``pong``."""
    idle_timeout_s: float = 60.0
    """A connection that sent nothing (not even a pong) for this long is closed."""
    session_idle_grace_s: float = 30.0
    """A UserSession with no connected device stops after this many seconds."""
    outbox_size: int = 256
    """Messages waiting for one device's socket before it counts as a slow consumer and is closed."""
    max_bad_macs: int = 3
    """Decisions with a wrong MAC in a row before the connection is closed."""
    spent_nonces_kept: int = 1024
    """Spent server nonces remembered per connection (to tell a replay from a wrong nonce)."""
    remote_decision_timeout_s: float = 5.0
    """How long a decision routed to another worker may take before the device is told ``unavailable``."""
    purge_interval_s: float = 300.0
    """How often expired notices are deleted from ``device_notices``."""
    session_mailbox_size: int = 1000
    """Mailbox capacity of one UserSession."""

    def __post_init__(self) -> None:
        for name in ("auth_timeout_s", "ping_interval_s", "idle_timeout_s", "remote_decision_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.idle_timeout_s <= self.ping_interval_s:
            raise ValueError("idle_timeout_s must exceed ping_interval_s (a pong needs time to arrive)")
        if min(self.outbox_size, self.max_bad_macs, self.spent_nonces_kept, self.session_mailbox_size) < 1:
            raise ValueError("sizes and counts must be at least 1")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> SessionOptions:
        """Options with the limits of ``settings`` and any explicit ``overrides``."""
        values: dict[str, object] = {"max_message_bytes": settings.limits.max_websocket_message_bytes}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
