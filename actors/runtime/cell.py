"""A ``Cell`` is one running incarnation of an actor: its mailbox and the switches that stop it."""

from __future__ import annotations

import trio

from actors.errors import ActorStoppedError
from actors.runtime.mailbox import Mailbox


class Cell:
    """The runtime state of one incarnation; a restart makes a new cell behind the same ref."""

    __slots__ = (
        "actor_id",
        "background_failure",
        "dropped_tells",
        "loop_scope",
        "mailbox",
        "nursery",
        "stopped",
        "task",
    )

    def __init__(self, actor_id: str, capacity: int) -> None:
        self.actor_id = actor_id
        """Registry id of the actor."""
        self.mailbox = Mailbox(actor_id, capacity)
        """The incarnation's bounded mailbox."""
        self.loop_scope = trio.CancelScope()
        """Cancels only the message loop (a background task failed)."""
        self.stopped = trio.Event()
        """Set once the incarnation has finished, hooks included."""
        self.background_failure: Exception | None = None
        """The first exception of a background task, which crashes the actor."""
        self.dropped_tells = 0
        """Tells discarded by a non-draining stop (reported when the actor stops)."""
        self.nursery: trio.Nursery | None = None
        """Nursery of the incarnation (background tasks); cancelling it kills the incarnation."""
        self.task: trio.lowlevel.Task | None = None
        """The task running the incarnation."""

    def request_stop(self, *, drain: bool) -> None:
        """Close the mailbox; without ``drain`` also answer every queued ask with ``ActorStoppedError``."""
        self.mailbox.close()
        if not drain:
            self.dropped_tells += self.mailbox.reject_queued(self.not_handled_error)

    def not_handled_error(self) -> ActorStoppedError:
        """The error a queued ask gets when the incarnation ends before handling it."""
        return ActorStoppedError(self.actor_id, "stopped before handling the request")

    async def stop(self, *, drain: bool, timeout: float | None) -> None:  # noqa: ASYNC109
        """Request a stop and wait until the incarnation has finished; cancel it after ``timeout`` seconds.

        Called from the actor's own task it only requests the stop (waiting there would deadlock).
        """
        self.request_stop(drain=drain)
        if self.task is trio.lowlevel.current_task():
            return
        if timeout is not None:
            with trio.move_on_after(timeout):
                await self.stopped.wait()
                return
            self.kill()
        await self.stopped.wait()

    def kill(self) -> None:
        """Cancel the incarnation now; queued asks are answered with ``ActorStoppedError``."""
        if self.nursery is not None:
            self.nursery.cancel_scope.cancel()

    def fail_background(self, error: Exception) -> None:
        """Record a background task's failure and end the message loop: the actor crashes with it."""
        if self.background_failure is None:
            self.background_failure = error
        self.loop_scope.cancel()
