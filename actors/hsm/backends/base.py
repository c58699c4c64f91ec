"""What a slot worker needs from a backend: a process-wide :class:`Backend` that opens one
:class:`SlotSession` per slot.

A session is used by exactly one slot thread at a time (its owner), so it may keep state that is
not thread-safe (a PKCS#11 session, a key-handle cache). The backend object is shared by every slot and
must be thread-safe. Errors leave a session as :mod:`actors.hsm.errors` classes; anything else is
a bug or an unforeseen native failure, and crashes the slot (which is then replaced).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from actors.hsm.protocol import Agree, FaultKind, GenerateKey, KeyInfo, KeyRef, Unwrap


class SlotSession(Protocol):
    """One slot's handle on the backend: an engine context or a PKCS#11 session."""

    def generate_key(self, request: GenerateKey) -> KeyInfo:
        """Generate a key pair; soft units return the wrapped blob in the result."""
        ...

    def sign_digests(self, key: KeyRef, digests: Sequence[bytes]) -> list[bytes]:
        """Sign each digest with ``key``, in order."""
        ...

    def public_key(self, key: KeyRef) -> KeyInfo:
        """Describe ``key`` with its public half (no blob)."""
        ...

    def agree(self, request: Agree) -> bytes:
        """VKO (GOST) or ECDH (P-256) with our private key and the peer's public key."""
        ...

    def unwrap(self, request: Unwrap) -> bytes:
        """KEG + KImp15 of a key sent to our GOST key."""
        ...

    def inject_fault(self, kind: FaultKind) -> None:
        """Test-only faults that need the session (e.g. close a PKCS#11 session behind our back)."""
        ...

    def cache_stats(self) -> tuple[int, int]:
        """``(hits, misses)`` of this session's lookups of opened keys or key handles."""
        ...

    def close(self) -> None:
        """Release the session; called once, from the owning slot thread."""
        ...


class Backend(Protocol):
    """A unit's backend: shared by every slot, it opens their sessions."""

    name: str
    """``soft`` or ``pkcs11``."""
    default_slots: int
    """Slot count when none is configured (1 where calls must be serialized anyway)."""

    def open_session(self) -> SlotSession:
        """Open a session for a new slot worker (may raise an :class:`HsmError`)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Fields for the health report (``kek_id`` or ``token_label``)."""
        ...

    def close(self) -> None:
        """Release process-wide resources at unit shutdown, after every session is closed."""
        ...
