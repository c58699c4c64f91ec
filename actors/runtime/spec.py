"""Supervision as data: restart policies, strategies, child specs and what a supervisor reports."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from actors.errors import InvalidSpecError

if TYPE_CHECKING:
    from actors.runtime.actor import Actor
    from actors.runtime.ref import ActorRef


class Restart(StrEnum):
    """When a child that exited is started again (OTP restart values)."""

    PERMANENT = "permanent"
    """Always restarted, whether it crashed or stopped normally."""
    TRANSIENT = "transient"
    """Restarted only after a crash; a normal stop removes it."""
    TEMPORARY = "temporary"
    """Never restarted: any exit removes it (also when a sibling's failure stops it)."""


class Strategy(StrEnum):
    """Which children a supervisor restarts when one of them must be restarted."""

    ONE_FOR_ONE = "one_for_one"
    """Only the child that exited."""
    ONE_FOR_ALL = "one_for_all"
    """Every child: the others are stopped in reverse order, then all are started in order."""
    REST_FOR_ONE = "rest_for_one"
    """The child that exited and the children started after it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildSpec:
    """How a supervisor starts, restarts and stops one child."""

    id: str
    """Registry id of the child; its ref stays the same across restarts."""
    start: Callable[[], Actor]
    """Factory called for every incarnation: a fresh actor object (a ``Supervisor`` for a subtree)."""
    restart: Restart = Restart.PERMANENT
    """Restart policy."""
    shutdown: float | None = 5.0
    """Seconds a graceful stop may take before the child is cancelled; ``None`` waits forever."""
    mailbox_size: int | None = None
    """Mailbox capacity; ``None`` uses the actor class's ``mailbox_size`` or the system default."""

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidSpecError("a child spec needs a non-empty id")
        if self.shutdown is not None and not (self.shutdown >= 0 and math.isfinite(self.shutdown)):
            raise InvalidSpecError(f"child {self.id!r}: shutdown must be a finite number >= 0 or None")
        if self.mailbox_size is not None and self.mailbox_size < 1:
            raise InvalidSpecError(f"child {self.id!r}: mailbox_size must be >= 1")


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One child as its supervisor sees it (answer to ``WhichChildren``)."""

    id: str
    """Registry id of the child."""
    ref: ActorRef
    """Its stable ref."""
    restart: Restart
    """Its restart policy."""
    running: bool
    """False while a restart is pending (backoff)."""
    restarts: int
    """How many times this supervisor has restarted it."""
