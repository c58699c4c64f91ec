"""Supervisors: restart policies, strategies, backoff (MockClock), intensity escalation, dynamic children."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
import trio
import trio.testing
from structlog.testing import LogCapture

from actors.errors import (
    ActorIdTakenError,
    ActorRestartingError,
    ActorStartError,
    ChildNotFoundError,
    InvalidSpecError,
    RestartIntensityError,
)
from actors.runtime import (
    Actor,
    ActorSystem,
    Backoff,
    ChildSpec,
    Restart,
    Strategy,
    Supervisor,
    SupervisorRef,
)

IMMEDIATE = Backoff.immediate()


@dataclass(frozen=True, slots=True)
class Hold:
    """Wait for ``gate`` inside the handler."""

    gate: trio.Event


@dataclass
class Journal:
    """What every child did, shared by all incarnations."""

    events: list[tuple[str, str]] = field(default_factory=list)
    starts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def spec(
        self,
        name: str,
        *,
        restart: Restart = Restart.PERMANENT,
        lifetimes: Sequence[float | None] = (),
        fail_starts: Sequence[int] = (),
        shutdown: float | None = 5.0,
    ) -> ChildSpec:
        """A child that lives ``lifetimes[k]`` seconds in incarnation ``k`` (1-based; None: forever)."""

        def start() -> Actor:
            incarnation = len(self.starts[name]) + 1
            lifetime = lifetimes[incarnation - 1] if incarnation <= len(lifetimes) else None
            return Child(self, name, lifetime=lifetime, fail_start=incarnation in fail_starts)

        return ChildSpec(id=name, start=start, restart=restart, shutdown=shutdown)

    def of(self, kind: str) -> list[str]:
        """Names of the children that had an event of ``kind``, in order."""
        return [name for what, name in self.events if what == kind]


class Child(Actor):
    """Answers "incarnation"; "crash" raises in a tell; "exit" stops normally; may die on a timer."""

    def __init__(self, journal: Journal, name: str, *, lifetime: float | None, fail_start: bool) -> None:
        self.journal = journal
        self.name = name
        self.lifetime = lifetime
        self.fail_start = fail_start
        self.incarnation = 0

    async def on_start(self) -> None:
        self.journal.starts[self.name].append(trio.current_time())
        self.incarnation = len(self.journal.starts[self.name])
        if self.fail_start:
            raise OSError(f"{self.name} cannot start")
        self.journal.events.append(("start", self.name))
        if self.lifetime is not None:
            self.start_soon(self._die_after, self.lifetime)

    async def _die_after(self, seconds: float) -> None:
        await trio.sleep(seconds)
        raise RuntimeError(f"{self.name} died")

    async def receive(self, message: Any) -> Any:
        match message:
            case "incarnation":
                return self.incarnation
            case "crash":
                raise RuntimeError(f"{self.name} crashed")
            case "exit":
                self.request_stop()
            case Hold(gate):
                await gate.wait()
        return None

    async def on_stop(self) -> None:
        self.journal.events.append(("stop", self.name))


async def _supervisor(
    nursery: trio.Nursery, system: ActorSystem, children: Sequence[ChildSpec], **options: Any
) -> SupervisorRef:
    options.setdefault("backoff", IMMEDIATE)
    ref = await system.spawn(nursery, Supervisor(children, **options), id="sup")
    return SupervisorRef(ref)


async def _incarnations(system: ActorSystem, *names: str) -> list[int]:
    return [await system.lookup(name).ask("incarnation") for name in names]


async def test_children_start_in_order_and_stop_in_reverse() -> None:
    system, journal = ActorSystem("t"), Journal()
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [journal.spec(n) for n in "abc"])
        assert journal.of("start") == ["a", "b", "c"]
        assert [c.id for c in await sup.which_children()] == ["a", "b", "c"]
        assert sorted(system.registry.ids()) == ["a", "b", "c", "sup"]
        await sup.stop()
    assert journal.of("stop") == ["c", "b", "a"]
    assert len(system.registry) == 0


async def test_permanent_child_is_restarted_after_a_crash_and_after_a_normal_exit() -> None:
    system, journal = ActorSystem("t"), Journal()
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [journal.spec("a")], intensity=10)
        ref = system.lookup("a")
        ref.tell("crash")
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask("incarnation") == 2
        ref.tell("exit")
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask("incarnation") == 3
        assert [c.restarts for c in await sup.which_children()] == [2]
        await sup.stop()


async def test_transient_child_is_restarted_after_a_crash_only() -> None:
    system, journal = ActorSystem("t"), Journal()
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [journal.spec("a", restart=Restart.TRANSIENT)])
        system.lookup("a").tell("crash")
        await trio.testing.wait_all_tasks_blocked()
        assert await system.lookup("a").ask("incarnation") == 2
        system.lookup("a").tell("exit")
        await trio.testing.wait_all_tasks_blocked()
        assert system.whereis("a") is None
        assert await sup.which_children() == []
        await sup.stop()


async def test_temporary_child_is_never_restarted() -> None:
    system, journal = ActorSystem("t"), Journal()
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [journal.spec("a", restart=Restart.TEMPORARY)])
        system.lookup("a").tell("crash")
        await trio.testing.wait_all_tasks_blocked()
        assert system.whereis("a") is None
        assert journal.of("start") == ["a"]
        await sup.stop()


async def test_one_for_one_restarts_only_the_failed_child() -> None:
    system, journal = ActorSystem("t"), Journal()
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [journal.spec(n) for n in "abc"])
        system.lookup("b").tell("crash")
        await trio.testing.wait_all_tasks_blocked()
        assert await _incarnations(system, "a", "b", "c") == [1, 2, 1]
        await sup.stop()


async def test_one_for_all_stops_the_others_in_reverse_then_starts_all_in_order() -> None:
    system, journal = ActorSystem("t"), Journal()
    children = [
        journal.spec("a"),
        journal.spec("b"),
        journal.spec("t", restart=Restart.TEMPORARY),
        journal.spec("c"),
    ]
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, children, strategy=Strategy.ONE_FOR_ALL)
        journal.events.clear()
        system.lookup("b").tell("crash")
        await trio.testing.wait_all_tasks_blocked()
        # b stops by crashing; then the others in reverse order; the temporary sibling is not restarted
        assert journal.events == [
            ("stop", "b"),
            ("stop", "c"),
            ("stop", "t"),
            ("stop", "a"),
            ("start", "a"),
            ("start", "b"),
            ("start", "c"),
        ]
        assert await _incarnations(system, "a", "b", "c") == [2, 2, 2]
        assert system.whereis("t") is None
        await sup.stop()


async def test_rest_for_one_restarts_the_failed_child_and_those_started_after_it() -> None:
    system, journal = ActorSystem("t"), Journal()
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(
            nursery, system, [journal.spec(n) for n in "abcd"], strategy=Strategy.REST_FOR_ONE
        )
        journal.events.clear()
        system.lookup("b").tell("crash")
        await trio.testing.wait_all_tasks_blocked()
        assert journal.events == [
            ("stop", "b"),
            ("stop", "d"),
            ("stop", "c"),
            ("start", "b"),
            ("start", "c"),
            ("start", "d"),
        ]
        assert await _incarnations(system, "a", "b", "c", "d") == [1, 2, 2, 2]
        await sup.stop()


async def test_ref_is_stable_across_restarts_and_refuses_during_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    system, journal = ActorSystem("t"), Journal()
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [journal.spec("a")], backoff=Backoff(initial=1.0))
        ref = system.lookup("a")
        assert await ref.ask("incarnation") == 1
        ref.tell("crash")
        await trio.testing.wait_all_tasks_blocked()
        assert system.lookup("a") == ref  # still registered while the restart is pending
        assert not ref.is_running
        with pytest.raises(ActorRestartingError) as info:
            ref.tell("incarnation")
        assert info.value.code == "actor_restarting"
        await trio.sleep(1.0)
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask("incarnation") == 2  # same ref object, new incarnation and mailbox
        await sup.stop()


async def test_backoff_delays_are_exact_under_mock_clock(autojump_clock: trio.testing.MockClock) -> None:
    system, journal = ActorSystem("t"), Journal()
    spec = journal.spec("a", lifetimes=[0, 0, 0, 0, 0, None])  # dies at once five times, then lives
    backoff = Backoff(initial=1.0, factor=2.0, cap=5.0)
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [spec], backoff=backoff, intensity=10, period=100.0)
        await trio.sleep(60)
        starts = journal.starts["a"]
        assert [b - a for a, b in itertools.pairwise(starts)] == [1.0, 2.0, 4.0, 5.0, 5.0]
        await sup.stop()


async def test_backoff_starts_over_after_a_healthy_run(autojump_clock: trio.testing.MockClock) -> None:
    system, journal = ActorSystem("t"), Journal()
    spec = journal.spec("a", lifetimes=[0, 0, 30, 0, None])
    backoff = Backoff(initial=1.0, factor=2.0, cap=8.0, reset_after=10.0)
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [spec], backoff=backoff, intensity=10, period=100.0)
        await trio.sleep(100)
        starts = journal.starts["a"]
        # 1, 2, then a 30 s run (the third start) resets the sequence: 1, then 2 again
        assert [b - a for a, b in itertools.pairwise(starts)] == [1.0, 2.0, 30.0 + 1.0, 2.0]
        await sup.stop()


async def test_failed_restarts_count_and_back_off_like_crashes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    system, journal = ActorSystem("t"), Journal()
    spec = journal.spec("a", lifetimes=[0], fail_starts=[2, 3])
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [spec], backoff=Backoff(initial=1.0, cap=10.0), intensity=5)
        await trio.sleep(30)
        starts = journal.starts["a"]
        assert [b - a for a, b in itertools.pairwise(starts)] == [1.0, 2.0, 4.0]
        assert await system.lookup("a").ask("incarnation") == 4
        await sup.stop()


async def test_too_many_restarts_escalate_through_a_nested_supervisor() -> None:
    capture = LogCapture()
    log = structlog.wrap_logger(None, processors=[structlog.contextvars.merge_contextvars, capture])
    system, journal = ActorSystem("t", log=log), Journal()
    worker = journal.spec("worker", lifetimes=[0, 0, 0, None])  # the 3rd crash exceeds intensity=2
    mid = Supervisor.child_spec(
        "mid", [journal.spec("helper"), worker], intensity=2, period=10.0, backoff=IMMEDIATE
    )
    async with trio.open_nursery() as nursery:
        root = await _supervisor(nursery, system, [mid], intensity=5, period=10.0)
        await trio.testing.wait_all_tasks_blocked()
        assert [(c.id, c.restarts) for c in await root.which_children()] == [("mid", 1)]
        # the new mid started a fresh subtree; old refs still work
        assert await _incarnations(system, "helper", "worker") == [2, 4]
        await root.stop()
    logs = capture.entries
    gave_up = [e for e in logs if e["event"] == "supervisor_gave_up"]
    assert [e["actor"] for e in gave_up] == ["mid"]
    escalated = [e for e in logs if e["event"] == "child_restarting" and e["child"] == "mid"]
    assert [e["error_type"] for e in escalated] == ["RestartIntensityError"]
    # mid stopped its subtree in reverse order before crashing
    assert journal.events[:8] == [
        ("start", "helper"),
        ("start", "worker"),
        ("stop", "worker"),
        ("start", "worker"),
        ("stop", "worker"),
        ("start", "worker"),
        ("stop", "worker"),
        ("stop", "helper"),
    ]


async def test_top_level_supervisor_that_gives_up_crashes_its_nursery() -> None:
    system, journal = ActorSystem("t"), Journal()
    spec = journal.spec("a", lifetimes=[0] * 10)
    with pytest.RaisesGroup(
        pytest.RaisesExc(RestartIntensityError, check=lambda e: e.supervisor_id == "sup")
    ):
        async with trio.open_nursery() as nursery:
            await _supervisor(nursery, system, [journal.spec("b"), spec], intensity=1, period=5.0)
    assert journal.of("stop")[-1] == "b"
    assert len(system.registry) == 0


async def test_dynamic_children_start_terminate_and_errors() -> None:
    system, journal = ActorSystem("t"), Journal()
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [journal.spec("static")])
        ref = await sup.start_child(journal.spec("session:1", restart=Restart.TEMPORARY))
        assert await ref.ask("incarnation") == 1
        assert system.lookup("session:1") == ref
        with pytest.raises(ActorIdTakenError):
            await sup.start_child(journal.spec("session:1"))
        with pytest.raises(ActorStartError) as info:
            await sup.start_child(journal.spec("session:2", fail_starts=[1]))
        assert isinstance(info.value.__cause__, OSError)
        assert system.whereis("session:2") is None
        assert [c.id for c in await sup.which_children()] == ["static", "session:1"]
        await sup.terminate_child("session:1")
        assert system.whereis("session:1") is None
        assert journal.of("stop") == ["session:1"]
        with pytest.raises(ChildNotFoundError):
            await sup.terminate_child("session:1")
        await sup.stop()


async def test_supervisor_start_fails_if_a_child_cannot_start() -> None:
    system, journal = ActorSystem("t"), Journal()
    children = [journal.spec("a"), journal.spec("broken", fail_starts=[1]), journal.spec("c")]
    async with trio.open_nursery() as nursery:
        with pytest.raises(ActorStartError) as info:
            await _supervisor(nursery, system, children)
    assert info.value.actor_id == "sup"
    assert isinstance(info.value.__cause__, ActorStartError)
    assert info.value.__cause__.actor_id == "broken"
    assert journal.events == [("start", "a"), ("stop", "a")]
    assert len(system.registry) == 0


async def test_shutdown_timeout_cancels_a_child_that_does_not_stop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    system, journal = ActorSystem("t"), Journal()
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [journal.spec("stuck", shutdown=2.0)])
        system.lookup("stuck").tell(Hold(trio.Event()))
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        await sup.terminate_child("stuck")
        assert trio.current_time() - start == pytest.approx(2.0)
        assert journal.of("stop") == ["stuck"]
        await sup.stop()


async def test_stopping_a_supervisor_cancels_pending_restarts(autojump_clock: trio.testing.MockClock) -> None:
    system, journal = ActorSystem("t"), Journal()
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [journal.spec("a")], backoff=Backoff(initial=10.0, cap=10.0))
        system.lookup("a").tell("crash")
        await trio.sleep(1)
        await sup.stop()
    await trio.sleep(60)
    assert journal.of("start") == ["a"]
    assert len(system.registry) == 0


def test_specs_reject_impossible_values() -> None:
    journal = Journal()
    with pytest.raises(InvalidSpecError):
        ChildSpec(id="", start=lambda: Child(journal, "x", lifetime=None, fail_start=False))
    with pytest.raises(InvalidSpecError):
        journal.spec("a", shutdown=-1.0)
    with pytest.raises(InvalidSpecError):
        Supervisor([journal.spec("a"), journal.spec("a")])
    with pytest.raises(InvalidSpecError):
        Supervisor(intensity=-1)
    with pytest.raises(InvalidSpecError):
        Backoff(initial=5.0, cap=1.0)
    with pytest.raises(ValueError, match="period"):
        Supervisor(period=0)


async def test_a_stopping_supervisor_does_not_restart_children(
    autojump_clock: trio.testing.MockClock,
) -> None:
    system, journal = ActorSystem("t"), Journal()
    async with trio.open_nursery() as nursery:
        sup = await _supervisor(nursery, system, [journal.spec("stuck", shutdown=2.0), journal.spec("a")])
        system.lookup("stuck").tell(Hold(trio.Event()))
        nursery.start_soon(sup.terminate_child, "stuck")  # keeps the supervisor busy for 2 s
        await trio.testing.wait_all_tasks_blocked()
        system.lookup("a").tell("crash")  # its exit note waits in the supervisor's mailbox
        await trio.testing.wait_all_tasks_blocked()
        await sup.stop()  # drains the note, but must not restart "a" on its way out
    assert journal.starts["a"] == [0.0]
    assert len(system.registry) == 0
