"""Ten thousand actors: standalone and as dynamic children of one supervisor, started and stopped quickly."""

from __future__ import annotations

import logging
import time
from typing import Any

import structlog
import trio

from actors.runtime import Actor, ActorSystem, ChildSpec, Restart, Supervisor, SupervisorRef

COUNT = 10_000
# Generous bound for a shared 2-core machine; bench/actor_probe.py reports the actual rates.
BUDGET_S = 30.0


def _quiet_system() -> ActorSystem:
    # Lifecycle events are debug lines; rendering 20,000 of them would dominate the measurement.
    quiet = structlog.wrap_logger(
        structlog.PrintLogger(), wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING)
    )
    return ActorSystem("scale", log=quiet)


class Session(Actor):
    """Stands in for a per-user actor: answers with its id."""

    mailbox_size = 8

    async def receive(self, message: Any) -> Any:
        return self.id


async def test_ten_thousand_standalone_actors_start_answer_and_stop() -> None:
    system = _quiet_system()
    began = time.perf_counter()
    async with trio.open_nursery() as nursery:
        refs = [await system.spawn(nursery, Session(), id=f"s-{i}") for i in range(COUNT)]
        assert len(system.registry) == COUNT
        for i in (0, COUNT // 2, COUNT - 1):
            assert await refs[i].ask("who") == f"s-{i}"
        for ref in reversed(refs):
            await ref.stop()
    assert len(system.registry) == 0
    assert time.perf_counter() - began < BUDGET_S


async def test_ten_thousand_dynamic_children_of_one_supervisor() -> None:
    system = _quiet_system()
    began = time.perf_counter()
    async with trio.open_nursery() as nursery:
        sup = SupervisorRef(await system.spawn(nursery, Supervisor(), id="sessions"))
        for i in range(COUNT):
            await sup.start_child(ChildSpec(id=f"user:{i}", start=Session, restart=Restart.TEMPORARY))
        assert await system.lookup(f"user:{COUNT - 1}").ask("who") == f"user:{COUNT - 1}"
        assert len(await sup.which_children()) == COUNT
        await sup.terminate_child("user:0")
        await sup.stop()
    assert len(system.registry) == 0
    assert time.perf_counter() - began < BUDGET_S
