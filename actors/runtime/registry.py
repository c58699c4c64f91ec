"""The registry of one actor system: ids to stable refs, registered on start and removed on stop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.errors import ActorIdTakenError, ActorNotFoundError
from actors.runtime.ref import ActorRef, LocalRef

if TYPE_CHECKING:
    from actors.runtime.cell import Cell


class Registration:
    """Ownership of one id: who registered it attaches each incarnation and closes it at the end.

    Holding the object (not just the id) keeps a stale owner from removing a newer owner's entry.
    """

    __slots__ = ("_registry", "cell", "id", "ref")

    def __init__(self, registry: Registry, actor_id: str) -> None:
        self._registry = registry
        self.id = actor_id
        """The registered id."""
        self.ref: ActorRef = LocalRef(actor_id, registry._entries)
        """The stable ref for this id."""
        self.cell: Cell | None = None
        """The running incarnation; ``None`` before start and between restarts."""

    def attach(self, cell: Cell) -> None:
        """Route the id to ``cell`` (a started incarnation)."""
        self.cell = cell

    def detach(self, cell: Cell) -> None:
        """Stop routing to ``cell`` if it is still the current incarnation."""
        if self.cell is cell:
            self.cell = None

    @property
    def is_active(self) -> bool:
        """True while this registration still owns its id."""
        return self._registry._entries.get(self.id) is self

    def close(self) -> None:
        """Unregister the id (idempotent; a no-op if someone else owns it by now)."""
        self.cell = None
        if self.is_active:
            del self._registry._entries[self.id]


class Registry:
    """Finds actors by id within one actor system (no module globals: one per ``ActorSystem``)."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, Registration] = {}

    def register(self, actor_id: str) -> Registration:
        """Claim ``actor_id``; ``ActorIdTakenError`` if it is taken. The runtime calls this on start."""
        if actor_id in self._entries:
            raise ActorIdTakenError(actor_id)
        registration = Registration(self, actor_id)
        self._entries[actor_id] = registration
        return registration

    def lookup(self, actor_id: str) -> ActorRef:
        """The ref registered as ``actor_id``; ``ActorNotFoundError`` if there is none."""
        registration = self._entries.get(actor_id)
        if registration is None:
            raise ActorNotFoundError(actor_id)
        return registration.ref

    def whereis(self, actor_id: str) -> ActorRef | None:
        """The ref registered as ``actor_id``, or ``None``."""
        registration = self._entries.get(actor_id)
        return None if registration is None else registration.ref

    def ids(self) -> list[str]:
        """Registered ids in registration order."""
        return list(self._entries)

    def __contains__(self, actor_id: object) -> bool:
        return actor_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)
