"""Actor basics: tell/ask, where errors go, bounded mailboxes, timeouts, hooks, context, cancellation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import structlog
import trio
import trio.testing

from actors.errors import (
    ActorStartError,
    ActorStoppedError,
    AskTimeoutError,
    MailboxFullError,
    UnknownMessageError,
)
from actors.runtime import Actor, ActorRef, ActorSystem


@dataclass(frozen=True, slots=True)
class Add:
    """Add ``n`` to the counter; answered with the new total."""

    n: int


@dataclass(frozen=True, slots=True)
class Fail:
    """Raise ``ValueError(text)``."""

    text: str


@dataclass(frozen=True, slots=True)
class Block:
    """Wait until ``gate`` is set."""

    gate: trio.Event


@dataclass(frozen=True, slots=True)
class Sleep:
    """Sleep ``seconds``."""

    seconds: float


@dataclass(frozen=True, slots=True)
class WhatContext:
    """Answered with the structlog contextvars seen while handling it."""

    op_id: str | None = None


class Counter(Actor):
    """A counter that records its hooks and every message it handled."""

    def __init__(self, events: list[str] | None = None) -> None:
        self.total = 0
        self.handled: list[Any] = []
        self.events = events if events is not None else []

    async def on_start(self) -> None:
        self.events.append("on_start")

    async def receive(self, message: Any) -> Any:
        self.handled.append(message)
        match message:
            case Add(n):
                self.total += n
                return self.total
            case Fail(text):
                raise ValueError(text)
            case Block(gate):
                await gate.wait()
                return "unblocked"
            case Sleep(seconds):
                await trio.sleep(seconds)
                return "slept"
            case WhatContext():
                return structlog.contextvars.get_contextvars()
        return await super().receive(message)

    async def on_failure(self, error: BaseException) -> None:
        self.events.append(f"on_failure:{type(error).__name__}")

    async def on_stop(self) -> None:
        self.events.append("on_stop")


async def test_ask_answers_and_tells_are_handled_in_order() -> None:
    system = ActorSystem("t")
    actor = Counter()
    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, actor, id="counter")
        ref.tell(Add(1))
        ref.tell(Add(2))
        assert await ref.ask(Add(3)) == 6
        await ref.send(Add(4))
        assert await ref.ask(Add(0)) == 10
        await ref.stop()
    assert actor.handled == [Add(1), Add(2), Add(3), Add(4), Add(0)]
    assert actor.events == ["on_start", "on_stop"]


async def test_spawn_returns_only_after_on_start() -> None:
    system = ActorSystem("t")
    started = trio.Event()

    class Slow(Actor):
        async def on_start(self) -> None:
            await trio.sleep(0.01)
            started.set()

        async def receive(self, message: Any) -> Any:
            return message

    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, Slow(), id="slow")
        assert started.is_set()
        assert ref.is_running
        assert await ref.ask("ping") == "ping"
        await ref.stop()


async def test_error_in_ask_goes_back_to_caller_and_actor_keeps_running() -> None:
    system = ActorSystem("t")
    actor = Counter()
    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, actor, id="counter")
        await ref.ask(Add(5))
        with pytest.raises(ValueError, match="bad input"):
            await ref.ask(Fail("bad input"))
        assert await ref.ask(Add(1)) == 6  # same incarnation, state kept
        with pytest.raises(UnknownMessageError) as info:
            await ref.ask(object())
        assert info.value.code == "unknown_message"
        await ref.stop()
    assert actor.events == ["on_start", "on_stop"]


async def test_error_in_tell_crashes_the_actor_and_answers_queued_asks() -> None:
    system = ActorSystem("t")
    actor = Counter()
    gate = trio.Event()
    outcomes: list[BaseException] = []

    async def ask_later(ref: ActorRef) -> None:
        try:
            await ref.ask(Add(1))
        except ActorStoppedError as exc:
            outcomes.append(exc)

    with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="boom")):
        async with trio.open_nursery() as nursery:
            ref = await system.spawn(nursery, actor, id="counter")
            ref.tell(Block(gate))  # keeps the next messages queued
            ref.tell(Fail("boom"))
            async with trio.open_nursery() as askers:
                for _ in range(3):
                    askers.start_soon(ask_later, ref)
                await trio.testing.wait_all_tasks_blocked()
                gate.set()
    assert len(outcomes) == 3
    assert all(isinstance(exc.__cause__, ValueError) for exc in outcomes)
    assert actor.events == ["on_start", "on_failure:ValueError", "on_stop"]
    assert "counter" not in system.registry
    with pytest.raises(ActorStoppedError):
        ref.tell(Add(1))


async def test_full_mailbox_refuses_with_a_typed_error_and_loses_nothing() -> None:
    system = ActorSystem("t")
    actor = Counter()
    gate = trio.Event()
    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, actor, id="counter", mailbox_size=3)
        ref.tell(Block(gate))
        await trio.testing.wait_all_tasks_blocked()  # the actor holds Block: the mailbox is empty
        for _ in range(3):
            ref.tell(Add(1))
        with pytest.raises(MailboxFullError) as info:
            ref.tell(Add(1))
        accepted = 3
        assert info.value.code == "mailbox_full"
        with pytest.raises(MailboxFullError):
            await ref.ask(Add(1))
        gate.set()
        await trio.testing.wait_all_tasks_blocked()  # the actor has worked through the mailbox
        assert await ref.ask(Add(0)) == accepted
        await ref.stop()


async def test_send_waits_for_room_instead_of_failing() -> None:
    system = ActorSystem("t")
    gate = trio.Event()
    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, Counter(), id="counter", mailbox_size=1)
        ref.tell(Block(gate))
        await trio.testing.wait_all_tasks_blocked()
        ref.tell(Add(1))
        sent = trio.Event()

        async def sender() -> None:
            await ref.send(Add(2))
            sent.set()

        nursery.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()
        assert not sent.is_set()  # backpressure: waiting for room
        gate.set()
        await sent.wait()
        assert await ref.ask(Add(0)) == 3
        await ref.stop()


async def test_ask_timeout_raises_and_the_abandoned_ask_is_skipped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    system = ActorSystem("t")
    actor = Counter()
    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, actor, id="counter")
        ref.tell(Sleep(10))
        start = trio.current_time()
        with pytest.raises(AskTimeoutError) as info:
            await ref.ask(Add(1), timeout=2.5)
        assert trio.current_time() - start == pytest.approx(2.5)
        assert isinstance(info.value, TimeoutError)
        assert info.value.code == "ask_timeout"
        assert await ref.ask(Add(0), timeout=None) == 0  # Add(1) was never handled
        await ref.stop()
    assert Add(1) not in actor.handled


async def test_on_start_failure_fails_the_start_and_frees_the_id() -> None:
    system = ActorSystem("t")

    class Broken(Actor):
        async def on_start(self) -> None:
            raise OSError("no device")

    async with trio.open_nursery() as nursery:
        with pytest.raises(ActorStartError) as info:
            await system.spawn(nursery, Broken(), id="broken")
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.code == "actor_start_failed"
    assert system.whereis("broken") is None


async def test_context_binds_actor_and_op_id_per_message() -> None:
    system = ActorSystem("t")
    structlog.contextvars.bind_contextvars(op_id="from-the-spawner", user_id="u1")
    try:
        async with trio.open_nursery() as nursery:
            ref = await system.spawn(nursery, Counter(), id="ctx")
            with_op = await ref.ask(WhatContext(op_id="op-42"))
            without_op = await ref.ask(WhatContext())
            again = await ref.ask(WhatContext(op_id="op-43"))
            await ref.stop()
    finally:
        structlog.contextvars.clear_contextvars()
    assert with_op == {"actor": "ctx", "op_id": "op-42"}
    assert without_op == {"actor": "ctx"}  # nothing leaks from the spawner or the previous message
    assert again == {"actor": "ctx", "op_id": "op-43"}


async def test_cancellation_propagates_and_still_answers_every_ask() -> None:
    system = ActorSystem("t")
    actor = Counter()
    results: list[BaseException] = []

    async def ask(ref: ActorRef, message: Any) -> None:
        try:
            await ref.ask(message, timeout=None)
        except ActorStoppedError as exc:
            results.append(exc)

    async with trio.open_nursery() as outer:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as inner:
                ref = await system.spawn(inner, actor, id="counter")
                outer.start_soon(ask, ref, Block(trio.Event()))  # in flight when cancelled
                await trio.testing.wait_all_tasks_blocked()
                outer.start_soon(ask, ref, Add(1))  # queued behind it
                await trio.testing.wait_all_tasks_blocked()
                scope.cancel()
    assert scope.cancelled_caught  # Cancelled reached the scope: the runtime did not swallow it
    assert len(results) == 2
    assert actor.events == ["on_start", "on_stop"]  # on_stop ran, shielded, during cancellation
    assert "counter" not in system.registry


async def test_background_task_failure_crashes_the_actor() -> None:
    system = ActorSystem("t")
    events: list[str] = []

    class WithPinger(Counter):
        async def on_start(self) -> None:
            await super().on_start()
            self.start_soon(self.pinger)

        async def pinger(self) -> None:
            await trio.sleep(0.01)
            raise ConnectionError("unit gone")

    with pytest.RaisesGroup(ConnectionError):
        async with trio.open_nursery() as nursery:
            await system.spawn(nursery, WithPinger(events), id="client")
    assert events == ["on_start", "on_failure:ConnectionError", "on_stop"]


async def test_actor_can_stop_itself_from_receive() -> None:
    system = ActorSystem("t")

    class OneShot(Actor):
        async def receive(self, message: Any) -> Any:
            self.request_stop()
            return "bye"

    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, OneShot(), id="one-shot")
        assert await ref.ask("hi") == "bye"
    assert not ref.is_running
    with pytest.raises(ActorStoppedError):
        await ref.ask("again")


async def test_start_waits_for_a_background_task_to_be_ready_and_its_later_failure_crashes() -> None:
    system = ActorSystem("t")
    events: list[str] = []

    class WithListener(Counter):
        async def on_start(self) -> None:
            await super().on_start()
            self.port = await self.start(self.listener)

        async def listener(self, *, task_status: trio.TaskStatus[int]) -> None:
            task_status.started(8443)
            await trio.sleep(0.01)
            raise OSError("socket closed")

        async def receive(self, message: Any) -> Any:
            return self.port

    with pytest.RaisesGroup(OSError):
        async with trio.open_nursery() as nursery:
            ref = await system.spawn(nursery, WithListener(events), id="listener")
            assert await ref.ask("port?") == 8443
    assert events == ["on_start", "on_failure:OSError", "on_stop"]


async def test_a_failing_on_stop_turns_a_stop_into_a_failure() -> None:
    system = ActorSystem("t")

    class BadStop(Actor):
        async def on_stop(self) -> None:
            raise RuntimeError("could not flush")

    with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="flush")):
        async with trio.open_nursery() as nursery:
            ref = await system.spawn(nursery, BadStop(), id="bad")
            await ref.stop()


async def test_messages_sent_during_on_start_wait_and_are_handled_after_it() -> None:
    system = ActorSystem("t")

    class SelfPriming(Counter):
        async def on_start(self) -> None:
            self.ref.tell(Add(10))  # to itself, before it is ready
            await trio.sleep(0.01)

    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, SelfPriming(), id="primed")
        assert await ref.ask(Add(1)) == 11
        await ref.stop()


async def test_asks_queued_during_a_failing_on_start_get_actor_stopped() -> None:
    system = ActorSystem("t")
    answers: list[BaseException] = []

    class SlowBroken(Actor):
        async def on_start(self) -> None:
            await trio.sleep(0.01)
            raise OSError("no device")

    async def early_ask() -> None:
        await trio.testing.wait_all_tasks_blocked()
        try:
            await system.lookup("broken").ask("hello")
        except ActorStoppedError as exc:
            answers.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(early_ask)
        with pytest.raises(ActorStartError):
            await system.spawn(nursery, SlowBroken(), id="broken")
    assert len(answers) == 1
    assert isinstance(answers[0].__cause__, OSError)
