"""Messages of the runtime itself: the mailbox envelope and the commands a supervisor answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.runtime.reply import Reply
from actors.runtime.spec import ChildSpec


@dataclass(frozen=True, slots=True)
class Envelope:
    """What travels through a mailbox: the message and, for an ``ask``, where to answer."""

    message: Any
    """The message value (a frozen dataclass by convention)."""
    reply: Reply | None
    """Answer slot of an ``ask``; ``None`` for a ``tell``."""


@dataclass(frozen=True, slots=True)
class StartChild:
    """Ask a supervisor to add and start a child; answered with the child's ``ActorRef``."""

    spec: ChildSpec
    """The child to start (its id must be unused in the registry)."""


@dataclass(frozen=True, slots=True)
class TerminateChild:
    """Ask a supervisor to stop a child for good and forget it; answered with ``None``."""

    child_id: str
    """Id of the child."""


@dataclass(frozen=True, slots=True)
class WhichChildren:
    """Ask a supervisor for its children in start order; answered with a list of ``ChildInfo``."""
