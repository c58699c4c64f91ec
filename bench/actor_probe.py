"""Microbenchmark of the trio actor runtime: ask latency, tell throughput, spawn/stop rate, memory.

Run from the repository root::

    .venv/bin/python -m bench.actor_probe            # defaults: 20k asks, 10k actors
    .venv/bin/python -m bench.actor_probe --asks 50000 --actors 20000

Prints one line per measurement (medians over rounds); FACTS.md quotes ask ~13.5 µs for a bare
task + memory channel on this kind of machine. An ask with a timeout pays for one trio cancel scope
(~6 µs in trio 0.35), which is why both variants are shown.
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

import structlog
import trio

from actors.runtime import Actor, ActorRef, ActorSystem, ChildSpec, Restart, Supervisor, SupervisorRef


@dataclass(frozen=True, slots=True)
class Ping:
    """Answered with its own ``n``."""

    n: int
    """Payload."""


class Echo(Actor):
    """Answers ``Ping`` with its payload; counts tells."""

    def __init__(self) -> None:
        self.seen = 0

    async def receive(self, message: Any) -> Any:
        """Echo the payload."""
        self.seen += 1
        return message.n


async def _ask_latency(ref: ActorRef, asks: int, rounds: int, ask_timeout: float | None) -> list[float]:
    per_ask = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(asks):
            await ref.ask(Ping(i), timeout=ask_timeout)
        per_ask.append((time.perf_counter() - start) / asks * 1e6)
    return per_ask


async def _bare_channel_latency(asks: int, rounds: int) -> list[float]:
    """The floor: a task serving a memory channel, answering through a trio.Event (no runtime)."""
    send, receive = trio.open_memory_channel[tuple[int, list[Any]]](100)

    async def server() -> None:
        async for n, slot in receive:
            slot.append(n)
            slot[0].set()

    per_ask = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        for _ in range(rounds):
            start = time.perf_counter()
            for i in range(asks):
                slot: list[Any] = [trio.Event()]
                send.send_nowait((i, slot))
                await slot[0].wait()
            per_ask.append((time.perf_counter() - start) / asks * 1e6)
        await send.aclose()
    return per_ask


async def _tell_rate(ref: ActorRef, tells: int) -> float:
    start = time.perf_counter()
    for i in range(tells):
        await ref.send(Ping(i))
    await ref.ask(Ping(0))  # everything before it has been handled
    return tells / (time.perf_counter() - start)


async def _spawn_rate(system: ActorSystem, count: int) -> tuple[float, float]:
    async with trio.open_nursery() as nursery:
        start = time.perf_counter()
        refs = [await system.spawn(nursery, Echo(), id=f"echo-{i}") for i in range(count)]
        spawned = time.perf_counter() - start
        start = time.perf_counter()
        for ref in reversed(refs):
            await ref.stop()
        stopped = time.perf_counter() - start
    return count / spawned, count / stopped


async def _bytes_per_actor(system: ActorSystem, count: int) -> float:
    """Python heap per idle actor (tracemalloc slows allocation: measured apart from the rates)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    async with trio.open_nursery() as nursery:
        refs = [await system.spawn(nursery, Echo(), id=f"mem-{i}") for i in range(count)]
        per_actor = (tracemalloc.get_traced_memory()[0] - before) / count
        tracemalloc.stop()
        for ref in refs:
            await ref.stop()
    return per_actor


async def _dynamic_children_rate(system: ActorSystem, count: int) -> tuple[float, float]:
    async with trio.open_nursery() as nursery:
        sup = SupervisorRef(await system.spawn(nursery, Supervisor(), id="sessions"))
        start = time.perf_counter()
        for i in range(count):
            await sup.start_child(ChildSpec(id=f"s-{i}", start=Echo, restart=Restart.TEMPORARY))
        started = time.perf_counter() - start
        start = time.perf_counter()
        await sup.stop()
        stopped = time.perf_counter() - start
    return count / started, count / stopped


async def _main(asks: int, actors: int, rounds: int) -> None:
    system = ActorSystem("probe")
    async with trio.open_nursery() as nursery:
        ref = await system.spawn(nursery, Echo(), id="echo")
        await _ask_latency(ref, 2000, 1, None)  # warm-up
        ask_us = await _ask_latency(ref, asks, rounds, 5.0)
        ask_bare_us = await _ask_latency(ref, asks, rounds, None)
        tell_rate = await _tell_rate(ref, asks)
        await ref.stop()
    bare_us = await _bare_channel_latency(asks, rounds)
    spawned, stopped = await _spawn_rate(system, actors)
    bytes_each = await _bytes_per_actor(system, 2000)
    dyn_started, dyn_stopped = await _dynamic_children_rate(system, actors)
    for label, values in (
        ("ask, timeout=5 s (default)", ask_us),
        ("ask, timeout=None", ask_bare_us),
        ("bare channel + Event floor", bare_us),
    ):
        print(f"{label:<27} median {statistics.median(values):6.2f} µs  rounds {_fmt(values)}")
    print(f"tell (send) throughput     {tell_rate:,.0f} msg/s")
    print(
        f"spawn {actors} actors       {spawned:,.0f} actors/s; stop {stopped:,.0f} actors/s (gc {_gc_mode()})"
    )
    print(f"memory per idle actor      {bytes_each / 1024:.1f} KiB (tracemalloc, 2000 actors)")
    print(f"supervisor dynamic children start {dyn_started:,.0f}/s; supervisor stop {dyn_stopped:,.0f}/s")


def _gc_mode() -> str:
    return "on, thresholds " + "/".join(str(t) for t in gc.get_threshold()) if gc.isenabled() else "off"


def _fmt(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=20_000, help="asks per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of asks")
    parser.add_argument("--actors", type=int, default=10_000, help="actors to spawn and stop")
    parser.add_argument(
        "--gc-threshold", type=int, default=None, help="gen-0 GC threshold to try (CPython default 700)"
    )
    args = parser.parse_args()
    if args.gc_threshold is not None:
        gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
    # Lifecycle events are debug lines: keep them out of the measurement.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    trio.run(_main, args.asks, args.actors, args.rounds)


if __name__ == "__main__":
    main()
