"""``ActorSystem``: the registry, defaults and logger shared by the actors of one worker process."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import structlog
import trio

from actors.errors import InvalidSpecError
from actors.runtime.registry import Registry
from actors.runtime.runner import run_actor

if TYPE_CHECKING:
    from actors.runtime.actor import Actor
    from actors.runtime.ref import ActorRef

DEFAULT_MAILBOX_SIZE = 100
"""Mailbox capacity when neither the spawn call nor the actor class sets one."""


class ActorSystem:
    """One per worker process, created in ``main()`` and passed down (there are no module globals).

    Actors run in nurseries their owner provides (``await nursery.start(system.run, actor, "id")`` or
    :meth:`spawn`); supervisors run their children through the same system.
    """

    def __init__(
        self, name: str = "klyuch", *, default_mailbox_size: int = DEFAULT_MAILBOX_SIZE, log: Any = None
    ) -> None:
        if default_mailbox_size < 1:
            raise InvalidSpecError("default_mailbox_size must be >= 1")
        self.name = name
        """Name of the system (appears in logs)."""
        self.registry = Registry()
        """Every running (or restarting) actor of this system by id."""
        self.default_mailbox_size = default_mailbox_size
        """Mailbox capacity used when nothing more specific is set."""
        self.log: Any = log if log is not None else structlog.get_logger("klyuch.actors")
        """structlog logger of the runtime (``actor``/``op_id`` come from contextvars)."""
        self._serial = itertools.count(1)

    def mailbox_size_for(self, actor: Actor, requested: int | None = None) -> int:
        """Capacity for ``actor``: ``requested``, else the class's ``mailbox_size``, else the default."""
        size = requested if requested is not None else type(actor).mailbox_size
        if size is None:
            size = self.default_mailbox_size
        if size < 1:
            raise InvalidSpecError("mailbox_size must be >= 1")
        return size

    def new_id(self, actor: Actor) -> str:
        """A fresh id for an actor spawned without one (``ClassName-<n>``)."""
        return f"{type(actor).__name__}-{next(self._serial)}"

    async def run(
        self,
        actor: Actor,
        actor_id: str | None = None,
        mailbox_size: int | None = None,
        *,
        task_status: trio.TaskStatus[ActorRef] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run an unsupervised actor until it stops; for ``nursery.start`` (which hands back its ref).

        The id is registered before ``on_start`` and unregistered when the actor ends. A crash is
        raised into the nursery: unsupervised actors fail loudly.
        """
        registration = self.registry.register(actor_id or self.new_id(actor))
        try:
            await run_actor(
                actor,
                system=self,
                registration=registration,
                mailbox_size=self.mailbox_size_for(actor, mailbox_size),
                task_status=task_status,
            )
        finally:
            registration.close()

    async def spawn(
        self, nursery: trio.Nursery, actor: Actor, *, id: str | None = None, mailbox_size: int | None = None
    ) -> ActorRef:
        """Start ``actor`` in ``nursery`` and return its ref once ``on_start`` has finished."""
        ref: ActorRef = await nursery.start(self.run, actor, id, mailbox_size)
        return ref

    def lookup(self, actor_id: str) -> ActorRef:
        """Shortcut for ``registry.lookup`` (``ActorNotFoundError`` if unknown)."""
        return self.registry.lookup(actor_id)

    def whereis(self, actor_id: str) -> ActorRef | None:
        """Shortcut for ``registry.whereis`` (``None`` if unknown)."""
        return self.registry.whereis(actor_id)
