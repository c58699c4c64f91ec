"""Stopping an actor: draining or not, killing after a timeout, and nothing left hanging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import trio
import trio.testing

from actors.errors import ActorStartError, ActorStoppedError
from actors.runtime import Actor, ActorRef, ActorSystem


@dataclass(frozen=True, slots=True)
class Work:
    """Handled by appending ``n``; answered with ``n``."""

    n: int


@dataclass(frozen=True, slots=True)
class Hold:
    """Wait until ``gate`` is set (forever if it never is)."""

    gate: trio.Event


class Worker(Actor):
    """Records what it handled and whether ``on_stop`` ran."""

    def __init__(self, stop_takes: float = 0.0) -> None:
        self.done: list[int] = []
        self.stopped_at: float | None = None
        self.stop_takes = stop_takes

    async def receive(self, message: Any) -> Any:
        match message:
            case Work(n):
                self.done.append(n)
                return n
            case Hold(gate):
                await gate.wait()
        return None

    async def on_stop(self) -> None:
        await trio.sleep(self.stop_takes)
        self.stopped_at = trio.current_time()


async def _ask_collect(ref: ActorRef, message: Any, into: list[object]) -> None:
    try:
        into.append(await ref.ask(message, timeout=None))
    except ActorStoppedError as exc:
        into.append(exc)


async def _queue_behind_hold(
    nursery: trio.Nursery, ref: ActorRef, gate: trio.Event, answers: list[object]
) -> None:
    """Occupy the actor with Hold, then queue a tell and three asks behind it."""
    ref.tell(Hold(gate))
    await trio.testing.wait_all_tasks_blocked()
    ref.tell(Work(0))
    for n in (1, 2, 3):
        nursery.start_soon(_ask_collect, ref, Work(n), answers)
        await trio.testing.wait_all_tasks_blocked()


async def test_draining_stop_handles_what_is_queued_then_refuses_new_messages() -> None:
    system = ActorSystem("t")
    actor = Worker()
    answers: list[object] = []
    gate = trio.Event()
    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, actor, id="w")
        await _queue_behind_hold(nursery, ref, gate, answers)

        async def stopper() -> None:
            await ref.stop()  # drain=True is the default

        nursery.start_soon(stopper)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(ActorStoppedError):  # refused at once while draining
            ref.tell(Work(99))
        gate.set()
    assert actor.done == [0, 1, 2, 3]
    assert answers == [1, 2, 3]
    assert actor.stopped_at is not None
    assert system.whereis("w") is None


async def test_non_draining_stop_answers_every_queued_ask_with_actor_stopped() -> None:
    system = ActorSystem("t")
    actor = Worker()
    answers: list[object] = []
    gate = trio.Event()
    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, actor, id="w")
        await _queue_behind_hold(nursery, ref, gate, answers)

        async def stopper() -> None:
            await ref.stop(drain=False)

        nursery.start_soon(stopper)
        await trio.testing.wait_all_tasks_blocked()
        assert len(answers) == 3  # answered before the actor even finished its current message
        gate.set()
    assert all(isinstance(a, ActorStoppedError) for a in answers)
    assert actor.done == []  # the queued tell was dropped, not handled
    assert actor.stopped_at is not None


async def test_ask_after_stop_fails_immediately(autojump_clock: trio.testing.MockClock) -> None:
    system = ActorSystem("t")
    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, Worker(), id="w")
        await ref.stop()
    start = trio.current_time()
    with pytest.raises(ActorStoppedError) as info:
        await ref.ask(Work(1), timeout=30)
    assert trio.current_time() == start
    assert info.value.code == "actor_stopped"
    with pytest.raises(ActorStoppedError):
        await ref.send(Work(1))
    await ref.stop()  # stopping a stopped actor is a no-op


async def test_stop_timeout_kills_a_stuck_actor_at_the_exact_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    system = ActorSystem("t")
    actor = Worker()
    answers: list[object] = []
    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, actor, id="w")
        nursery.start_soon(_ask_collect, ref, Hold(trio.Event()), answers)  # never finishes by itself
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        await ref.stop(timeout=3.0)
        assert trio.current_time() - start == pytest.approx(3.0)
    assert len(answers) == 1
    assert isinstance(answers[0], ActorStoppedError)  # the interrupted ask is answered too
    assert actor.stopped_at == pytest.approx(start + 3.0)  # on_stop still ran (shielded)


async def test_hooks_of_a_cancelled_actor_are_bounded_by_stop_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    system = ActorSystem("t")
    actor = Worker(stop_takes=60.0)  # longer than Actor.stop_grace
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            await system.spawn(nursery, actor, id="w")
            start = trio.current_time()
            scope.cancel()
    assert trio.current_time() - start == pytest.approx(Worker.stop_grace)
    assert actor.stopped_at is None  # on_stop was cut off after the grace period


async def test_stop_is_idempotent_and_concurrent_stops_all_return() -> None:
    system = ActorSystem("t")
    gate = trio.Event()
    finished: list[int] = []
    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, Worker(), id="w")
        ref.tell(Hold(gate))

        async def stopper(i: int) -> None:
            await ref.stop()
            finished.append(i)

        for i in range(3):
            nursery.start_soon(stopper, i)
        await trio.testing.wait_all_tasks_blocked()
        assert finished == []
        gate.set()
    assert sorted(finished) == [0, 1, 2]


async def test_a_stopping_actor_refuses_messages_as_stopped_not_restarting() -> None:
    system = ActorSystem("t")
    seen: list[BaseException] = []

    class Stopping(Actor):
        async def on_stop(self) -> None:
            try:
                self.ref.tell("late")
            except ActorStoppedError as exc:
                seen.append(exc)

    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, Stopping(), id="w")
        assert ref.is_running
        await ref.stop()
    assert [type(e).__name__ for e in seen] == ["ActorStoppedError"]
    assert not ref.is_running


async def test_killing_an_actor_during_on_start_fails_its_start(
    autojump_clock: trio.testing.MockClock,
) -> None:
    system = ActorSystem("t")

    class Hangs(Actor):
        async def on_start(self) -> None:
            await trio.sleep_forever()

    async def impatient() -> None:
        await trio.sleep(1)
        await system.lookup("hangs").stop(timeout=2)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(impatient)
        with pytest.raises(ActorStartError) as info:
            await system.spawn(nursery, Hangs(), id="hangs")
    assert isinstance(info.value.__cause__, ActorStoppedError)
    assert trio.current_time() == pytest.approx(3.0)
    assert system.whereis("hangs") is None
