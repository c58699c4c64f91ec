"""A one-shot answer slot for an ``ask``: the actor settles it once, the asking task waits on it."""

from __future__ import annotations

from typing import Any

import trio


class Reply:
    """Where the answer to one ``ask`` is delivered: a value or an exception, exactly once.

    The asking task parks on :meth:`wait`; the actor calls :meth:`succeed` or :meth:`fail`. If the asking
    task gives up first (timeout, cancellation) the reply is *abandoned*: later answers are dropped, and
    the actor skips the request if it has not started on it yet.
    """

    # Parking the task directly (instead of a trio.Event) keeps an ask to one reschedule: it is the hot path.
    __slots__ = ("_done", "_error", "_value", "_waiter", "abandoned")

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._waiter: trio.lowlevel.Task | None = None
        self.abandoned = False
        """True once the asking task stopped waiting; nobody will read the answer."""

    @property
    def done(self) -> bool:
        """True once an answer (value or exception) has been delivered."""
        return self._done

    def succeed(self, value: Any) -> None:
        """Deliver ``value`` to the asking task (ignored if already answered or abandoned)."""
        if self._done:
            return
        self._done = True
        self._value = value
        self._wake()

    def fail(self, error: BaseException) -> None:
        """Deliver ``error``: the asking task raises it (ignored if already answered or abandoned)."""
        if self._done:
            return
        self._done = True
        self._error = error
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            trio.lowlevel.reschedule(waiter)

    async def wait(self) -> Any:
        """Wait for the answer and return it (or raise the delivered exception).

        Cancellation of the waiting task abandons the reply and propagates as usual.
        """
        if self._done:
            await trio.lowlevel.checkpoint()
        else:
            self._waiter = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(self._abort)
        if self._error is not None:
            raise self._error
        return self._value

    def _abort(self, _raise_cancel: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
        self._waiter = None
        self.abandoned = True
        return trio.lowlevel.Abort.SUCCEEDED
