"""Property tests of restart bookkeeping: the intensity window and backoff, alone and in a live supervisor."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.errors import RestartIntensityError
from actors.runtime import Actor, ActorSystem, Backoff, ChildSpec, RestartIntensity, Supervisor

gaps = st.lists(st.floats(min_value=0.0, max_value=20.0, allow_nan=False), min_size=1, max_size=40)


def _oracle_gives_up_at(times: list[float], intensity: int, period: float) -> int | None:
    """Index of the first restart that makes more than ``intensity`` restarts within ``period``."""
    for i, now in enumerate(times):
        recent = [t for t in times[: i + 1] if t > now - period]
        if len(recent) > intensity:
            return i
    return None


def _times(deltas: list[float]) -> list[float]:
    out, now = [], 0.0
    for delta in deltas:
        now += delta
        out.append(now)
    return out


@given(deltas=gaps, intensity=st.integers(0, 6), period=st.floats(0.5, 60.0))
def test_intensity_matches_a_brute_force_window(deltas: list[float], intensity: int, period: float) -> None:
    times = _times(deltas)
    window = RestartIntensity(intensity, period)
    verdicts = [window.record(t) for t in times]
    expected = _oracle_gives_up_at(times, intensity, period)
    first_refusal = verdicts.index(False) if False in verdicts else None
    assert first_refusal == expected
    assert len(window) <= len(times)


@given(
    initial=st.floats(0.0, 10.0),
    factor=st.floats(1.0, 4.0),
    extra=st.floats(0.0, 100.0),
    attempts=st.integers(0, 3000),
)
def test_backoff_grows_geometrically_up_to_the_cap(
    initial: float, factor: float, extra: float, attempts: int
) -> None:
    backoff = Backoff(initial=initial, factor=factor, cap=initial + extra)
    delays = [backoff.delay(n) for n in (0, 1, 2, attempts)]
    assert delays[0] == initial
    assert all(0 <= d <= backoff.cap for d in delays)
    assert delays[0] <= delays[1] <= delays[2]
    assert delays[1] == min(backoff.cap, initial * factor)


class Crasher(Actor):
    """Crashes on any tell."""

    async def receive(self, message: Any) -> Any:
        raise RuntimeError("crash")


async def _crash_at(times: list[float], intensity: int, period: float) -> bool:
    """Crash a supervised child at each time; return whether the supervisor gave up."""
    system = ActorSystem("p")
    supervisor = Supervisor(
        [ChildSpec(id="c", start=Crasher)], intensity=intensity, period=period, backoff=Backoff.immediate()
    )
    gave_up = False
    try:
        async with trio.open_nursery() as nursery:
            sup = await system.spawn(nursery, supervisor, id="sup")
            for when in times:
                await trio.sleep_until(when)
                system.lookup("c").tell("boom")
                await trio.testing.wait_all_tasks_blocked()
            await sup.stop()
    except* RestartIntensityError:
        gave_up = True
    return gave_up


@settings(max_examples=40, deadline=None)
@given(deltas=st.lists(st.floats(0.01, 5.0), min_size=1, max_size=12), intensity=st.integers(0, 4))
def test_a_live_supervisor_gives_up_exactly_when_the_window_says(deltas: list[float], intensity: int) -> None:
    period = 5.0
    times = _times(deltas)
    expected = _oracle_gives_up_at(times, intensity, period)
    crash_times = times if expected is None else times[: expected + 1]
    clock = trio.testing.MockClock(autojump_threshold=0)
    gave_up = trio.run(_crash_at, crash_times, intensity, period, clock=clock)
    assert gave_up == (expected is not None)
