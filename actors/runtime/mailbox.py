"""The bounded mailbox of one actor incarnation, and the plumbing that incarnation is stopped through."""

from __future__ import annotations

from collections.abc import Callable

import trio

from actors.errors import ActorStoppedError, MailboxFullError
from actors.runtime.messages import Envelope


class Mailbox:
    """A bounded FIFO of envelopes (a trio memory channel) with typed errors instead of channel states.

    Closing it stops new messages; what is already queued is either handled by the actor (a draining
    stop) or answered with an error by :meth:`reject_queued`. Nothing is dropped silently.
    """

    __slots__ = ("_receive", "_send", "actor_id", "capacity", "closed")

    def __init__(self, actor_id: str, capacity: int) -> None:
        self.actor_id = actor_id
        """Id of the owning actor (for error messages)."""
        self.capacity = capacity
        """How many envelopes may wait."""
        self.closed = False
        """True once no new messages are accepted."""
        self._send, self._receive = trio.open_memory_channel[Envelope](capacity)

    @property
    def receiver(self) -> trio.MemoryReceiveChannel[Envelope]:
        """The actor's end: iterate it to get envelopes until the mailbox is closed and empty."""
        return self._receive

    def put_nowait(self, envelope: Envelope) -> None:
        """Queue ``envelope`` now or raise ``MailboxFullError`` / ``ActorStoppedError``."""
        try:
            self._send.send_nowait(envelope)
        except trio.WouldBlock:
            raise MailboxFullError(self.actor_id) from None
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise ActorStoppedError(self.actor_id) from None

    async def put(self, envelope: Envelope) -> None:
        """Queue ``envelope``, waiting for room (backpressure); ``ActorStoppedError`` once closed."""
        try:
            await self._send.send(envelope)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise ActorStoppedError(self.actor_id) from None

    def close(self) -> None:
        """Accept no new messages; the actor still sees what is queued, then the end of the mailbox."""
        self.closed = True
        self._send.close()

    def reject_queued(self, make_error: Callable[[], BaseException]) -> int:
        """Answer every queued ask with ``make_error()`` and drop queued tells; return how many tells.

        Synchronous on purpose: nothing can slip in between the last envelope and the caller's next step.
        """
        dropped = 0
        while True:
            try:
                envelope = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return dropped
            if envelope.reply is None:
                dropped += 1
            else:
                envelope.reply.fail(make_error())

    def seal(self, make_error: Callable[[], BaseException]) -> int:
        """Close both ends after rejecting what is queued (:meth:`reject_queued`); return dropped tells."""
        self.close()
        dropped = self.reject_queued(make_error)
        # Closing the receive side last: trio discards a closed channel's buffer, and the buffer is empty now.
        self._receive.close()
        return dropped
