"""The ``Actor`` base class: behaviour and lifecycle hooks; the runtime supplies task and mailbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import trio

from actors.errors import ActorError, UnknownMessageError

if TYPE_CHECKING:
    from actors.runtime.cell import Cell
    from actors.runtime.ref import ActorRef
    from actors.runtime.system import ActorSystem


@dataclass(frozen=True, slots=True)
class ActorContext:
    """What the runtime hands an actor for one incarnation."""

    id: str
    """Registry id (stable across restarts)."""
    ref: ActorRef
    """The actor's own stable ref."""
    system: ActorSystem
    """The actor system it runs in."""
    cell: Cell
    """The incarnation's plumbing (runtime internal)."""


class Actor:
    """Subclass and implement :meth:`receive`; start it with ``ActorSystem.spawn`` or a ``ChildSpec``.

    One incarnation runs in one trio task and handles one message at a time. Hooks:

    * :meth:`on_start` runs before the actor is announced ready; if it raises, the start fails.
    * :meth:`on_failure` runs after a crash (an exception while handling a ``tell``, or in a background task).
    * :meth:`on_stop` runs at every end of an incarnation that started (after ``on_failure`` on a crash).
      If the actor is being cancelled the hooks run shielded for at most :attr:`stop_grace` seconds.
    """

    mailbox_size: ClassVar[int | None] = None
    """Mailbox capacity for this class; ``None`` uses the system default."""
    stop_grace: ClassVar[float] = 1.0
    """Seconds granted to ``on_failure``/``on_stop`` when the actor is being cancelled."""

    _context: ActorContext | None = None

    @property
    def context(self) -> ActorContext:
        """The running incarnation's context; ``ActorError`` before the runtime started the actor."""
        if self._context is None:
            raise ActorError(f"{type(self).__name__} is not running in an actor system")
        return self._context

    @property
    def id(self) -> str:
        """Registry id of this actor."""
        return self.context.id

    @property
    def ref(self) -> ActorRef:
        """This actor's own stable ref (to hand to others)."""
        return self.context.ref

    @property
    def log(self) -> Any:
        """The system's logger; ``actor`` and the current message's ``op_id`` are bound as contextvars."""
        return self.context.system.log

    async def on_start(self) -> None:
        """Acquire resources before the first message (default: nothing)."""

    async def receive(self, message: Any) -> Any:
        """Handle one message; the return value answers an ``ask``. Default: ``UnknownMessageError``."""
        raise UnknownMessageError(self.id, message)

    async def on_failure(self, error: BaseException) -> None:
        """React to a crash before ``on_stop`` (default: nothing; the runtime already logged it)."""

    async def on_stop(self) -> None:
        """Release resources (default: nothing)."""

    def request_stop(self, *, drain: bool = True) -> None:
        """Ask this actor to stop after the current message (usable from inside ``receive``)."""
        self.context.cell.request_stop(drain=drain)

    def start_soon(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run ``fn(*args)`` as a background task bound to this incarnation.

        It is cancelled when the actor stops; an exception in it crashes the actor.
        """
        cell = self.context.cell
        assert cell.nursery is not None, "background tasks need a running actor"
        cell.nursery.start_soon(_guarded, cell, fn, args)

    async def start(self, fn: Callable[..., Awaitable[object]], *args: object) -> Any:
        """Like :meth:`start_soon` for a task taking ``task_status``; returns its ``started()`` value.

        An exception before ``started()`` is raised here; after it, it crashes the actor.
        """
        cell = self.context.cell
        assert cell.nursery is not None, "background tasks need a running actor"
        return await cell.nursery.start(_guarded_start, cell, fn, args)


async def _guarded(cell: Cell, fn: Callable[..., Awaitable[object]], args: tuple[object, ...]) -> None:
    # Turning the exception into an actor crash (instead of letting it reach the nursery) keeps
    # ExceptionGroups out of supervisors and runs on_failure like any other crash.
    try:
        await fn(*args)
    except Exception as exc:
        cell.fail_background(exc)


class TrackedStatus:
    """A ``task_status`` that forwards ``started()`` and remembers it: tells failures before from after."""

    __slots__ = ("_inner", "called")

    def __init__(self, inner: trio.TaskStatus[Any]) -> None:
        self._inner = inner
        self.called = False

    def started(self, value: Any = None) -> None:
        """Forward to the wrapped status."""
        self.called = True
        self._inner.started(value)


async def _guarded_start(
    cell: Cell,
    fn: Callable[..., Awaitable[object]],
    args: tuple[object, ...],
    *,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> None:
    status = TrackedStatus(task_status)
    try:
        await fn(*args, task_status=status)
    except Exception as exc:
        if not status.called:
            raise
        cell.fail_background(exc)
