"""What the client keeps for a call until its reply arrives: one call, or a coalesced batch.

The reader task resolves them by request id. A task is only rescheduled while it is parked in
:meth:`Pending.wait` (never while it is sending, when trio has it blocked on something else).
"""

from __future__ import annotations

import trio

from actors.hsm import wire
from actors.hsm.codec import decode_error, decode_reply
from actors.hsm.errors import HsmError, HsmProtocolError
from actors.hsm.protocol import ManySignatures


class Pending:
    """A call waiting for its reply. The reader fills it and wakes the task if it is parked."""

    __slots__ = ("abandoned", "body", "done", "error", "expired", "kind", "task", "waiting")

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task = task
        self.waiting = False
        """True only while the task is parked in :meth:`Pending.wait` (never while it sends)."""
        self.done = False
        self.expired = False
        """Its time ran out before the reply (set by the connection's deadline watchdog)."""
        self.abandoned = False
        """The caller left without the reply (timed out or cancelled): nothing waits for it now."""
        self.kind = 0
        self.body = b""
        self.error: HsmError | None = None

    def resolve(self, kind: int, body: bytes, error: HsmError | None = None) -> None:
        """Record the reply (or ``error``) and wake the task if it is parked."""
        self.kind, self.body, self.error, self.done = kind, body, error, True
        if self.waiting:
            self.waiting = False
            trio.lowlevel.reschedule(self.task)

    def expire(self) -> None:
        """The call's time is up: mark it and wake the task if it is parked (no-op once resolved)."""
        if self.done:
            return
        self.expired = True
        if self.waiting:
            self.waiting = False
            trio.lowlevel.reschedule(self.task)

    async def wait(self) -> None:
        """Park until :meth:`resolve` or :meth:`expire` (or a cancellation aborts the wait)."""

        def abort(_: object) -> trio.lowlevel.Abort:
            self.waiting = False
            return trio.lowlevel.Abort.SUCCEEDED

        self.waiting = True
        await trio.lowlevel.wait_task_rescheduled(abort)


class Batch:
    """The coalesced single signatures of one SIGN_MANY frame; its reply fans out to them."""

    __slots__ = ("calls",)

    def __init__(self, calls: list[Pending]) -> None:
        self.calls = calls

    def resolve(self, kind: int, body: bytes, error: HsmError | None = None) -> None:
        """Fan the SIGN_MANY reply (or a frame-level ``error``) out to the calls, in order."""
        outcomes: tuple[bytes | HsmError, ...] = ()
        if error is None:
            try:
                outcomes = self._outcomes(kind, body)
            except HsmError as exc:
                error = exc
        if error is not None:
            for call in self.calls:
                call.resolve(wire.Kind.ERROR, b"", error)
            return
        for call, outcome in zip(self.calls, outcomes, strict=True):
            if isinstance(outcome, HsmError):
                call.resolve(wire.Kind.ERROR, b"", outcome)
            else:
                call.resolve(wire.Kind.OK, outcome)

    def _outcomes(self, kind: int, body: bytes) -> tuple[bytes | HsmError, ...]:
        if kind != wire.Kind.OK:
            raise decode_error(body)  # the whole frame was refused (e.g. the unit is stopping)
        outcomes = decode_reply(ManySignatures, body).outcomes
        if len(outcomes) != len(self.calls):
            raise HsmProtocolError("the unit answered a different number of items")
        return outcomes
