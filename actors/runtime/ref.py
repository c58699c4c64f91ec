"""``ActorRef``: the one way to talk to a trio actor, stable across the actor's restarts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, final, runtime_checkable

import trio

from actors.errors import ActorRestartingError, ActorStoppedError, AskTimeoutError
from actors.runtime.messages import Envelope
from actors.runtime.reply import Reply

if TYPE_CHECKING:
    from actors.runtime.cell import Cell
    from actors.runtime.registry import Registration

# ASYNC109 ("use trio.fail_after instead of a timeout parameter") is silenced on purpose in this layer:
# the timeout of ask/stop is part of the message protocol (AskTimeoutError, kill after a stop grace),
# not a convenience the caller could replace with a cancel scope of its own.
DEFAULT_ASK_TIMEOUT = 5.0
"""Seconds an ``ask`` waits for its answer unless told otherwise."""


@runtime_checkable
class ActorRef(Protocol):
    """Address of an actor: messages are values, delivery is local and in order per sender.

    Refs belong to the trio run of their ``ActorSystem``; another thread reaches an actor through
    ``trio.from_thread.run_sync(ref.tell, message)`` (mailboxes are trio channels, not thread-safe).
    """

    @property
    def id(self) -> str:
        """Registry id of the actor."""
        ...

    @property
    def is_running(self) -> bool:
        """True if an incarnation is currently accepting messages."""
        ...

    def tell(self, message: object) -> None:
        """Queue ``message`` without waiting; ``MailboxFullError`` if full, ``ActorStoppedError`` if down.

        An exception while the actor handles it crashes the actor (its supervisor decides what next).
        """
        ...

    async def send(self, message: object) -> None:
        """Like :meth:`tell` but waits for room in a full mailbox (backpressure)."""
        ...

    async def ask(self, message: object, *, timeout: float | None = DEFAULT_ASK_TIMEOUT) -> Any:  # noqa: ASYNC109
        """Send ``message`` and return the actor's answer.

        An exception raised while handling it is raised here and the actor keeps running.
        ``AskTimeoutError`` after ``timeout`` seconds (``None``: wait forever); ``MailboxFullError`` at once
        if the mailbox is full (load shedding: the message was certainly not handled).
        """
        ...

    async def stop(self, *, drain: bool = True, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Stop the current incarnation and wait until it has finished.

        ``drain=True`` handles what is queued first (stop is ordered after it); ``drain=False`` answers
        queued asks with ``ActorStoppedError`` and drops queued tells. After ``timeout`` seconds the actor
        is cancelled. New messages are refused at once. A supervised permanent child is restarted
        afterwards: use ``SupervisorRef.terminate_child`` to remove one.
        """
        ...


@final
class LocalRef:
    """An ``ActorRef`` that resolves its id in a registry on every call, so restarts are invisible."""

    __slots__ = ("_entries", "_id")

    def __init__(self, actor_id: str, entries: dict[str, Registration]) -> None:
        self._id = actor_id
        # The registry's own dict: one lookup per message, no indirection through methods.
        self._entries = entries

    @property
    def id(self) -> str:
        """Registry id of the actor."""
        return self._id

    @property
    def is_running(self) -> bool:
        """True if an incarnation is currently accepting messages."""
        registration = self._entries.get(self._id)
        if registration is None or registration.cell is None:
            return False
        return not registration.cell.mailbox.closed

    def _cell(self) -> Cell:
        registration = self._entries.get(self._id)
        if registration is None:
            raise ActorStoppedError(self._id)
        cell = registration.cell
        if cell is None:
            raise ActorRestartingError(self._id)
        return cell

    def tell(self, message: object) -> None:
        """See :meth:`ActorRef.tell`."""
        self._cell().mailbox.put_nowait(Envelope(message, None))

    async def send(self, message: object) -> None:
        """See :meth:`ActorRef.send`."""
        await self._cell().mailbox.put(Envelope(message, None))

    async def ask(self, message: object, *, timeout: float | None = DEFAULT_ASK_TIMEOUT) -> Any:  # noqa: ASYNC109
        """See :meth:`ActorRef.ask`."""
        reply = Reply()
        self._cell().mailbox.put_nowait(Envelope(message, reply))
        if timeout is None:
            return await reply.wait()
        with trio.move_on_after(timeout):
            return await reply.wait()
        raise AskTimeoutError(self._id, timeout)

    async def stop(self, *, drain: bool = True, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """See :meth:`ActorRef.stop`; returns at once if no incarnation is running."""
        registration = self._entries.get(self._id)
        if registration is None or registration.cell is None:
            await trio.lowlevel.checkpoint()
            return
        await registration.cell.stop(drain=drain, timeout=timeout)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalRef) and other._id == self._id and other._entries is self._entries

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return f"<ActorRef {self._id!r}>"
