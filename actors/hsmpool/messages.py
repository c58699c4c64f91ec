"""Values of the HSM pool: how callers name keys, unit states and snapshots, the UnitClient's messages."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from actors.hsm.protocol import KeyInfo, KeyRef


@dataclass(frozen=True, slots=True)
class HsmKey:
    """A key as the pool addresses it: the key store that holds it and the unit-level reference.

    Store both fields with the key (a soft key's ``ref.blob`` is the wrapped private key).
    """

    domain: str
    """The key store: ``soft`` (every soft unit of the pool: one KEK) or ``pkcs11:<token label>``."""
    ref: KeyRef
    """Key id (and, for soft keys, the wrapped blob) as the units expect it."""


@dataclass(frozen=True, slots=True)
class HsmKeyInfo:
    """A generated key: where it lives and what the unit said about it."""

    domain: str
    """The key store that holds it (see :attr:`HsmKey.domain`)."""
    info: KeyInfo
    """Key id, algorithm, parameter set, public key and (soft) the wrapped blob."""

    @property
    def key(self) -> HsmKey:
        """The :class:`HsmKey` to sign with."""
        return HsmKey(self.domain, self.info.ref())


class UnitState(enum.StrEnum):
    """Where a unit is in its life, as the pool sees it. Only ``healthy`` units get requests."""

    STARTING = "starting"
    """The process is being spawned or connected to."""
    HEALTHY = "healthy"
    """Connected and answering health pings: requests are routed to it."""
    SUSPECT = "suspect"
    """A call timed out, a ping failed or the unit reports no live slot: not routed, being probed."""
    RESTARTING = "restarting"
    """The process died or was killed; a new one starts after the backoff delay."""
    OFFLINE = "offline"
    """Misconfigured, or restarted too often: left alone for a while (see ``offline_retry_s``)."""
    STOPPED = "stopped"
    """The pool is closing."""


@dataclass(frozen=True, slots=True)
class UnitStatus:
    """One unit's state and counters at a moment (for ``/readyz``, ``/metrics`` and tests)."""

    unit_id: str
    """The unit's name (also its actor id)."""
    backend: str
    """``soft`` or ``pkcs11``."""
    domain: str
    """The key store it serves."""
    state: UnitState
    """Current state."""
    pid: int | None
    """Process id of the current process (None while none runs)."""
    uptime_s: float
    """Seconds since the current process became healthy (0 when none runs)."""
    restarts: int
    """Processes replaced since the pool started."""
    outstanding: int
    """Calls in flight through the pool right now."""
    last_error: str | None
    """Why the unit last went down or could not start (no secrets in it)."""
    metrics: dict[str, Any]
    """Operations, items, errors by code, latency p50/p99 (see ``actors.hsmpool.metrics``)."""


# --- messages a UnitClient answers ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GetUnitStatus:
    """Ask a UnitClient for its :class:`UnitStatus`."""


@dataclass(frozen=True, slots=True)
class RestartUnit:
    """Ask a UnitClient to kill its process now (SIGKILL) and start a new one; answered with None."""

    reason: str = "requested"
    """Why (logged)."""
