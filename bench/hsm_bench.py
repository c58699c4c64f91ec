"""GOST-256 signatures through the whole server-side HSM layer, beside the raw engine, plus chaos.

Run from the repository root::

    .venv/bin/python -m bench.hsm_bench                              # 3 s per phase, ~40 s in all
    .venv/bin/python -m bench.hsm_bench --duration 5 --units 1,2 --batch 1,16 --json out.json

Phases, in one process (the server side's: the pool's trio loop shares the machine with the units):

1. **raw engine**: ``GostPrivateKey.sign_digest`` in a loop on one thread, then on two — the floor.
2. **through the layer**: ``Balancer`` → ``UnitHandle``/``UnitConnection`` → unit process → slot, a
   closed loop of ``concurrency`` caller tasks, each signing ``batch`` digest(s) per request (batch 1
   uses ``sign_digest``: concurrent single signatures are coalesced into shared frames), with 1 and
   2 soft units. Rates are signatures/s and ratios to both raw rates, and to a one-thread raw sample
   taken right before the row (``vs_adjacent_raw_1_thread``: fair when others load the machine).
3. **open loop**: requests of ``batch`` digest(s) due at fixed intervals, with the most units; latency
   counted from each request's *scheduled* time (no coordinated omission; trio's timers wake with
   ~1 ms granularity, which is counted too). Target: p99 < 5 ms at 80 % of the maximum rate.
   Two methods, both reported:

   * **old** (``open_loop_old_method``): one new task spawned per request, at 25/50/80 % of the
     best *closed-loop* rate (32 callers). That maximum is not the open loop's: a saturated closed
     loop coalesces ~30 signatures per frame, sparse arrivals go out alone and cost several times
     the CPU each, so "80 %" of it can exceed what the open loop can serve at all.
   * **new** (``open_loop``, the one the target reads): the maximum is found by a **rate sweep** of
     the open loop itself with the same request shape (``open_loop_sweep``: offered rates from
     15 % of the closed-loop rate up in 15 % steps, stopping at the first step that is not
     sustainable — a request failed, fewer than 97 % done on schedule, or p50 ≥ 10 ms, i.e. a
     growing queue — plus one bisection step; halving instead when even the first step fails;
     each step lasts half a phase). A rate is the maximum only if it holds a second time (the
     ``repeat`` step; otherwise the next lower good rate is repeated): on a shared machine one
     step can pass by luck. Then 80/50/25 % of that maximum, in that order, right after the
     sweep (the old method runs after them: its 80 % point overloads the layer). Requests are
     sent by 256 caller tasks created up front, to which one ticker task releases each request
     at its due time (one timer for all), so no task is spawned and no timer is set per request
     (``started_late`` counts requests sent over 1 ms after they were due: every caller busy).
   * The generator shares this process with the Balancer: its own CPU is measured by running the
     same schedule and callers with requests that only yield (``open_loop_generator``) and is
     subtracted in ``server_cpu_us_per_signature_less_generator``; the latency of those no-op
     requests (``no_op_latency``) is the floor the machine's scheduling sets at that moment.
     ``runqueue_wait`` (per open-loop point and process) is how many of its threads were, on
     average, runnable but waiting for a CPU: the others' load. ``call_p50_us``/``call_p99_us``
     count from the moment a caller sent each request, so the part of the tail the generator
     itself adds (a late ticker, no free caller) is the difference to ``p50_us``/``p99_us``.
4. **chaos**: the closed loop with the most units (≥ 2), one unit SIGKILLed in the middle; failed
   requests must be 0; reports how long the unit took to rejoin.

After start-up the bench sets the collector up as a worker has it: what exists moves to the
permanent generation (``gc.freeze``; a full collection of a worker-sized heap stops the loop for
10–30 ms, which would otherwise land in the measured tail) and the thresholds are the worker's
``server.gc_thresholds``.

Targets on the 2-core reference machine: 2 units ≥ 60 % of the one-thread raw engine rate; p99 < 5 ms
at 80 % of the max (``targets`` reports it by both methods). The machine may be shared: the load
average before each phase is reported, and so is the CPU each process used (``cpu_cores``;
``cpu_us_per_signature`` all processes together), which does not depend on what else runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
import trio

from actors.hsm.protocol import KeyAlgorithm
from actors.hsmpool import Balancer, HsmKey, UnitState, open_hsm_pool
from actors.runtime import ActorSystem
from config.settings import HsmSettings, ServerSettings
from signing.gost import GostPrivateKey, ParamSet

PARAMSET = ParamSet.TC26_256_A


def _percentile_us(ordered: Sequence[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1e6, 1)


def _latency(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_us": _percentile_us(ordered, 0.50),
        "p99_us": _percentile_us(ordered, 0.99),
        "max_us": round(ordered[-1] * 1e6, 1) if ordered else 0.0,
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _runqueue_wait_s(pid: int) -> float:
    """Seconds the threads of a process have spent runnable but waiting for a CPU (schedstat)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for task in tasks:
        try:
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


class _CpuMeter:
    """CPU used by this process and the pool's unit processes over one phase."""

    def __init__(self, pool: Balancer) -> None:
        self._pids = {"server": os.getpid()} | {u.unit_id: u.pid for u in pool.units() if u.pid is not None}
        self._start = {name: _cpu_seconds(pid) for name, pid in self._pids.items()}
        self._waited = {name: _runqueue_wait_s(pid) for name, pid in self._pids.items()}
        self._began = time.perf_counter()

    def waiting(self) -> dict[str, float]:
        """Threads per process runnable but kept off a CPU, on average (others' load on the machine
        shows here: a request whose next step waits for a CPU waits in its latency)."""
        elapsed = time.perf_counter() - self._began
        return {
            name: round((_runqueue_wait_s(pid) - self._waited[name]) / elapsed, 2)
            for name, pid in self._pids.items()
        }

    def cores(self) -> dict[str, float]:
        """Cores busy on average per process since the meter started."""
        elapsed = time.perf_counter() - self._began
        return {
            name: round((_cpu_seconds(pid) - self._start[name]) / elapsed, 2)
            for name, pid in self._pids.items()
        }


def _cpu_fields(cores: dict[str, float], signatures_per_s: float) -> dict[str, Any]:
    total = sum(cores.values())
    per_signature = round(total / signatures_per_s * 1e6, 1) if signatures_per_s else None
    server = round(cores["server"] / signatures_per_s * 1e6, 1) if signatures_per_s else None
    return {
        "cpu_cores": cores,
        "cpu_us_per_signature": per_signature,
        "server_cpu_us_per_signature": server,
    }


# --- 1. the raw engine ---------------------------------------------------------------------------------


def raw_engine(duration_s: float, threads: int) -> dict[str, Any]:
    """``sign_digest`` in a tight loop on ``threads`` threads (the engine releases the GIL)."""
    key = GostPrivateKey.generate(PARAMSET)
    digest = os.urandom(32)
    counts = [0] * threads
    samples: list[list[float]] = [[] for _ in range(threads)]
    deadline = time.perf_counter() + duration_s

    def loop(index: int) -> None:
        clock, sign, record = time.perf_counter, key.sign_digest, samples[index].append
        while True:
            start = clock()
            sign(digest)
            end = clock()
            record(end - start)
            counts[index] += 1
            if end >= deadline:
                return

    cpu_before = _cpu_seconds(os.getpid())
    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds(os.getpid()) - cpu_before
    merged = [sample for per_thread in samples for sample in per_thread]
    signed = sum(counts)
    return {
        "threads": threads,
        "signatures_per_s": round(signed / elapsed, 1),
        **_latency(merged),
        "cpu_us_per_signature": round(cpu / signed * 1e6, 1) if signed else None,
    }


# --- 2. closed loop through the layer ------------------------------------------------------------------


class _Closed:
    """A closed loop: ``concurrency`` tasks, each sending its next request when the last one returned."""

    def __init__(self, pool: Balancer, key: HsmKey, *, batch: int) -> None:
        self.pool, self.key, self.batch = pool, key, batch
        self.measuring = False
        self.signed = 0
        self.failed = 0
        self.latencies: list[float] = []
        self.digests = [os.urandom(32) for _ in range(batch)]

    async def caller(self) -> None:
        clock = time.perf_counter
        while True:
            start = clock()
            try:
                if self.batch == 1:
                    await self.pool.sign_digest(self.key, self.digests[0])
                else:
                    await self.pool.sign_digests(self.key, self.digests)
            except Exception:  # counted and reported: a benchmark must not stop on one failure
                if self.measuring:
                    self.failed += 1
                await trio.sleep(0.001)
                continue
            if self.measuring:
                self.latencies.append(clock() - start)
                self.signed += self.batch


async def _closed_loop(
    pool: Balancer, key: HsmKey, *, concurrency: int, batch: int, duration_s: float, warmup_s: float
) -> dict[str, Any]:
    loop = _Closed(pool, key, batch=batch)
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(loop.caller)
        await trio.sleep(warmup_s)
        loop.measuring = True
        meter = _CpuMeter(pool)
        started = time.perf_counter()
        await trio.sleep(duration_s)
        loop.measuring = False
        elapsed = time.perf_counter() - started
        cores = meter.cores()
        nursery.cancel_scope.cancel()
    rate = loop.signed / elapsed
    return {
        "concurrency": concurrency,
        "batch": batch,
        "signatures_per_s": round(rate, 1),
        "requests_per_s": round(len(loop.latencies) / elapsed, 1),
        "failed": loop.failed,
        **_latency(loop.latencies),
        **_cpu_fields(cores, rate),
    }


# --- 3. open loop ---------------------------------------------------------------------------------------


async def _sign_once(pool: Balancer, key: HsmKey, digests: list[bytes]) -> None:
    if len(digests) == 1:
        await pool.sign_digest(key, digests[0])
    else:
        await pool.sign_digests(key, digests)


async def _open_loop_spawning(
    pool: Balancer, key: HsmKey, *, rate: float, batch: int, duration_s: float
) -> dict[str, Any]:
    """The old generator: one new task per request, spawned at its scheduled time."""
    digests = [os.urandom(32) for _ in range(batch)]
    latencies: list[float] = []
    failed = 0

    async def request(scheduled: float) -> None:
        nonlocal failed
        try:
            await _sign_once(pool, key, digests)
        except Exception:  # counted and reported
            failed += 1
            return
        latencies.append(trio.current_time() - scheduled)

    interval = 1.0 / rate
    total = int(duration_s * rate)
    meter = _CpuMeter(pool)
    start = trio.current_time() + 0.01
    async with trio.open_nursery() as nursery:
        for index in range(total):
            scheduled = start + index * interval
            if trio.current_time() < scheduled:
                await trio.sleep_until(scheduled)
            nursery.start_soon(request, scheduled)
        sent_by = trio.current_time()
    done_by = trio.current_time()
    cores = meter.cores()
    return {
        "generator": "task_per_request",
        "batch": batch,
        "target_rate_rps": round(rate, 1),
        "target_signatures_per_s": round(rate * batch, 1),
        "achieved_rps": round(total / (done_by - start), 1),
        "requests": total,
        "schedule_slip_ms": round((sent_by - (start + (total - 1) * interval)) * 1e3, 2),
        "failed": failed,
        **_latency(latencies),
        **_cpu_fields(cores, rate * batch),
    }


class _Schedule:
    """Request ``index`` is due at ``start + index / rate``: one ticker task releases each at its
    due time to the caller tasks parked waiting for work.

    One timer for all requests, not one per caller: the generator's own cost per request (a
    deadline and a cancel scope per sleeping caller) is what the server process would otherwise
    spend on the measurement instead of the layer.
    """

    def __init__(self, *, rate: float, duration_s: float) -> None:
        self.interval = 1.0 / rate
        self.total = int(duration_s * rate)
        self.start = trio.current_time() + 0.01
        self.latencies: list[float] = []
        self.call_latencies: list[float] = []
        """From the moment a caller sent each request (the layer, the units and the machine's
        scheduling of them, without the wait for a free caller or a late ticker)."""
        self.failed = 0
        self.started_late = 0
        """Requests sent over 1 ms after they were due (the loop or every caller was busy; the wait
        is in their latency)."""
        self._due: deque[float] = deque()
        self._idle = trio.lowlevel.ParkingLot()
        self._released_all = False

    async def ticker(self) -> None:
        """Release every request at its due time (all those due by now at once), then the callers."""
        clock = trio.current_time
        for index in range(self.total):
            scheduled = self.start + index * self.interval
            if clock() < scheduled:
                await trio.sleep_until(scheduled)
            self._due.append(scheduled)
            self._idle.unpark()
        self._released_all = True
        self._idle.unpark_all()

    async def caller(self, request: Callable[[], Awaitable[None]]) -> None:
        """Send released requests one at a time; park while none is waiting."""
        clock = trio.current_time
        while True:
            if not self._due:
                if self._released_all:
                    return
                await self._idle.park()
                continue
            scheduled = self._due.popleft()
            sent = clock()
            if sent - scheduled > 0.001:
                self.started_late += 1
            try:
                await request()
            except Exception:  # counted and reported: a benchmark must not stop on one failure
                self.failed += 1
                continue
            done = clock()
            self.latencies.append(done - scheduled)
            self.call_latencies.append(done - sent)


async def _open_loop(
    pool: Balancer,
    key: HsmKey,
    *,
    rate: float,
    batch: int,
    duration_s: float,
    callers: int = 256,
    no_op: bool = False,
) -> dict[str, Any]:
    """Requests due every ``1/rate`` s for ``duration_s``, sent by ``callers`` pre-created tasks.

    Latency counts from each request's scheduled time (no coordinated omission). ``no_op``: the same
    schedule and callers with a request that only yields once — the generator's own CPU.
    """
    digests = [os.urandom(32) for _ in range(batch)]

    async def request() -> None:
        if no_op:
            await trio.lowlevel.checkpoint()
        else:
            await _sign_once(pool, key, digests)

    schedule = _Schedule(rate=rate, duration_s=duration_s)
    meter = _CpuMeter(pool)
    async with trio.open_nursery() as nursery:
        for _ in range(callers):
            nursery.start_soon(schedule.caller, request)
        nursery.start_soon(schedule.ticker)
    done_by = trio.current_time()
    cores, waiting = meter.cores(), meter.waiting()
    elapsed = done_by - schedule.start
    return {
        "generator": "pre_created_callers",
        "batch": batch,
        "target_rate_rps": round(rate, 1),
        "target_signatures_per_s": round(rate * batch, 1),
        "achieved_rps": round(schedule.total / elapsed, 1),
        "requests": schedule.total,
        "callers": callers,
        "started_late": schedule.started_late,
        "failed": schedule.failed,
        **_latency(schedule.latencies),
        **{f"call_{name}": value for name, value in _latency(schedule.call_latencies).items()},
        **_cpu_fields(cores, rate * batch),
        "runqueue_wait": waiting,
    }


def _sustainable(point: dict[str, Any]) -> bool:
    """Served, not queued: every request done within ~3 % of the schedule, none failed, p50 < 10 ms."""
    return bool(
        point["failed"] == 0
        and point["achieved_rps"] >= 0.97 * point["target_rate_rps"]
        and point["p50_us"] < 10_000
    )


async def _rate_sweep(
    pool: Balancer, key: HsmKey, *, batch: int, around_rps: float, step_s: float
) -> dict[str, Any]:
    """The highest open-loop rate the layer sustains for this request shape.

    Offered rates rise in steps of 15 % of ``around_rps`` (the closed-loop rate) from 15 %, stop at
    the first unsustainable step (:func:`_sustainable`), then one bisection step between the last
    good and the first bad rate. If even the first step fails (a busy machine), rates halve until
    one holds (down to 1 % of ``around_rps``). The best rate is then run once more: a rate counts as
    sustainable only if it holds twice (one lucky step on a shared machine is not a maximum); if
    the repeat fails, the next lower good rate is repeated in turn.
    """
    steps: list[dict[str, Any]] = []

    async def holds(rate: float, role: str) -> bool:
        point = await _open_loop(pool, key, rate=rate, batch=batch, duration_s=step_s)
        steps.append(_sweep_step(point, role))
        return _sustainable(point)

    good: list[float] = []
    bad: float | None = None
    for fraction in (0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05, 1.2, 1.35):
        rate = fraction * around_rps
        if not await holds(rate, "rise"):
            bad = rate
            break
        good.append(rate)
    if not good:
        rate = (bad or around_rps) / 2
        while rate >= 0.01 * around_rps:
            if await holds(rate, "fall"):
                good.append(rate)
                break
            bad, rate = rate, rate / 2
    if good and bad is not None:
        rate = (good[-1] + bad) / 2
        if await holds(rate, "bisect"):
            good.append(rate)
    best: float | None = None
    for rate in reversed(good):
        if await holds(rate, "repeat"):
            best = rate
            break
    return {"max_sustainable_rps": None if best is None else round(best, 1), "steps": steps}


def _sweep_step(point: dict[str, Any], role: str) -> dict[str, Any]:
    step: dict[str, Any] = {"role": role}
    step |= {key: point[key] for key in ("target_rate_rps", "achieved_rps", "failed", "p50_us", "p99_us")}
    step["sustainable"] = _sustainable(point)
    _print("sweep", step)
    return step


# --- 4. chaos ---------------------------------------------------------------------------------------------


async def _chaos(
    pool: Balancer, key: HsmKey, *, concurrency: int, batch: int, duration_s: float
) -> dict[str, Any]:
    loop = _Closed(pool, key, batch=batch)
    victim = pool.units()[0]
    assert victim.pid is not None
    rejoined_after: float | None = None
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(loop.caller)
        loop.measuring = True
        started = time.perf_counter()
        await trio.sleep(duration_s / 2)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.perf_counter()
        while time.perf_counter() - started < duration_s or rejoined_after is None:
            unit = pool.units()[0]
            if (
                rejoined_after is None
                and unit.state is UnitState.HEALTHY
                and unit.restarts == victim.restarts + 1
            ):
                rejoined_after = time.perf_counter() - killed_at
            if time.perf_counter() - started > 4 * duration_s + 30:
                break  # never wait forever for a unit that does not come back
            await trio.sleep(0.005)
        loop.measuring = False
        elapsed = time.perf_counter() - started
        nursery.cancel_scope.cancel()
    return {
        "units": len(pool.units()),
        "concurrency": concurrency,
        "batch": batch,
        "killed_pid": victim.pid,
        "failed_requests": loop.failed,
        "signatures": loop.signed,
        "signatures_per_s": round(loop.signed / elapsed, 1),
        "rejoined_after_s": None if rejoined_after is None else round(rejoined_after, 3),
        "retries": dict(pool.counters.retries),
        **_latency(loop.latencies),
    }


def _collect_as_a_worker() -> None:
    """Set the collector up as a worker process has it (``edge.asgi``), once start-up is done.

    What start-up built (modules, the pool) leaves the collector's sight (``gc.freeze``): a full
    collection walks every tracked object of the process — here ~10–20 ms with the imports a
    worker has — while the trio loop stands still, a pause that lands in the tail of whatever is
    measured then; the units do the same themselves (:mod:`actors.hsm.unit`). The thresholds are
    the worker's (``server.gc_thresholds``), where the Balancer runs in production: CPython's
    defaults collect several times per second at these rates.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*ServerSettings().gc_thresholds)


def _quiet_logger() -> Any:
    """Warnings and errors of the pool (a unit going down) only, without touching structlog's global setup."""
    return structlog.wrap_logger(
        structlog.PrintLogger(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
    )


# --- the run ----------------------------------------------------------------------------------------------


async def _open_loop_phase(
    pool: Balancer, key: HsmKey, best: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Open-loop curves by both methods, the rate sweep, and the generator's own cost."""
    count, batch, duration = len(pool.units()), params["open_loop_batch"], params["duration_s"]
    closed_max = best["requests_per_s"]
    # The generator alone (no-op requests) at the closed-loop rate: its CPU is not the layer's.
    idle = await _open_loop(
        pool, key, rate=closed_max, batch=batch, duration_s=min(1.0, duration), no_op=True
    )
    generator_us = idle["server_cpu_us_per_signature"] or 0.0
    floor = {"p50_us": idle["p50_us"], "p99_us": idle["p99_us"]}
    _print("generator", {"rate_rps": closed_max, "server_cpu_us_per_request": generator_us, **floor})
    sweep = await _rate_sweep(pool, key, batch=batch, around_rps=closed_max, step_s=duration / 2)
    sweep_max = sweep["max_sustainable_rps"]

    async def curve(method: str, max_rps: float) -> list[dict[str, Any]]:
        points = []
        # Highest load first: the target's point runs right after the sweep that found its maximum.
        for fraction in sorted(params["load_fractions"], reverse=True):
            point: dict[str, Any] = {
                "method": method,
                "units": count,
                "load_fraction": fraction,
                "max_requests_per_s": max_rps,
                "load_average": round(os.getloadavg()[0], 2),
            }
            run = _open_loop if method == "sweep_max" else _open_loop_spawning
            point |= await run(pool, key, rate=fraction * max_rps, batch=batch, duration_s=duration)
            server = point["server_cpu_us_per_signature"]
            if server is not None:
                point["server_cpu_us_per_signature_less_generator"] = round(server - generator_us / batch, 1)
            points.append(point)
            _print("open loop", point)
        return sorted(points, key=lambda point: point["load_fraction"])

    # The new method first: the old one's 80 % point overloads the layer (see the docstring) and
    # must not leave its backlog to the target's measurement.
    new = await curve("sweep_max", sweep_max) if sweep_max else []
    old = await curve("closed_loop_max", closed_max)
    return {
        "open_loop_generator": {
            "rate_rps": closed_max,
            "server_cpu_us_per_request": generator_us,
            "started_late": idle["started_late"],
            "no_op_latency": floor,
        },
        "open_loop_sweep": sweep,
        "open_loop_old_method": old,
        "open_loop": new,
    }


async def _through_layer(params: dict[str, Any]) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="klyuch-hsm-bench-"))
    results: dict[str, Any] = {"layer": []}
    try:
        best: dict[str, Any] | None = None
        for count in params["units"]:
            # The layer is compared with raw signing, so its units do the same work: signing only.
            # The units' self-check (on by default) verifies each signature too and halves this rate;
            # `klyuch bench sign` measures the service with it on.
            hsm = HsmSettings(
                soft_units=count,
                slots_per_unit=params["slots"],
                kek_kdf_iterations=1000,
                kek_passphrase=None,
                self_check=False,
            )
            system = ActorSystem("hsm-bench", log=_quiet_logger())
            async with open_hsm_pool(hsm, home=home, system=system, log_level="warning") as pool:
                await pool.wait_ready(units=count, timeout=60)
                key = (await pool.generate_key(KeyAlgorithm.GOST3410_2012_256, PARAMSET.name)).key
                _collect_as_a_worker()
                for batch in params["batch"]:
                    # The machine may be shared: a raw sample right before each row gives a fair ratio.
                    adjacent = await trio.to_thread.run_sync(raw_engine, params["adjacent_raw_s"], 1)
                    row = {"units": count, "load_average": round(os.getloadavg()[0], 2)}
                    row["raw_adjacent_signatures_per_s"] = adjacent["signatures_per_s"]
                    row |= await _closed_loop(
                        pool,
                        key,
                        concurrency=params["concurrency"],
                        batch=batch,
                        duration_s=params["duration_s"],
                        warmup_s=params["warmup_s"],
                    )
                    results["layer"].append(row)
                    _print("layer", row)
                    if count == max(params["units"]) and batch == params["open_loop_batch"]:
                        best = row
                if count == max(params["units"]) and best is not None and params["open_loop"]:
                    results |= await _open_loop_phase(pool, key, best, params)
                if count == max(params["units"]) and count >= 2 and params["chaos"]:
                    await pool.wait_ready(units=count, timeout=30)
                    results["chaos"] = await _chaos(
                        pool,
                        key,
                        concurrency=params["concurrency"],
                        batch=params["open_loop_batch"],
                        duration_s=params["duration_s"],
                    )
                    _print("chaos", results["chaos"])
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return results


def run_hsm_bench(
    *,
    duration_s: float = 3.0,
    units: Sequence[int] = (1, 2),
    concurrency: int = 32,
    batch: Sequence[int] = (1, 16),
    open_loop_batch: int = 1,
    load_fractions: Sequence[float] = (0.25, 0.5, 0.8),
    warmup_s: float = 0.5,
    adjacent_raw_s: float = 1.0,
    slots: int | None = None,
    open_loop: bool = True,
    chaos: bool = True,
) -> dict[str, Any]:
    """Run every phase and return the numbers (see the module docstring); blocking (runs its own trio).

    ``units``: unit counts to measure; ``batch``: digests per request in the closed loops;
    ``open_loop_batch``: the request shape of the open loop and the chaos run (also measured closed);
    ``load_fractions``: open-loop rates as shares of the best closed-loop rate (the target is at 0.8);
    ``adjacent_raw_s``: length of the one-thread raw sample taken right before each layer row (the
    ``vs_adjacent_raw_1_thread`` ratio, fair on a shared machine); ``slots``: slot workers per unit
    (None: the unit's default).
    """
    if open_loop_batch not in batch:
        batch = (*batch, open_loop_batch)
    params: dict[str, Any] = {
        "duration_s": duration_s,
        "units": sorted(units),
        "concurrency": concurrency,
        "batch": list(batch),
        "open_loop_batch": open_loop_batch,
        "load_fractions": list(load_fractions),
        "warmup_s": warmup_s,
        "adjacent_raw_s": adjacent_raw_s,
        "slots": slots,
        "open_loop": open_loop,
        "chaos": chaos,
    }
    report: dict[str, Any] = {
        "params": params,
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": round(os.getloadavg()[0], 2)},
        "raw": {},
    }
    for threads in (1, 2):
        row = raw_engine(duration_s, threads)
        report["raw"][f"{threads}_thread{'s' if threads > 1 else ''}"] = row
        _print("raw", row)
    report |= trio.run(_through_layer, params)
    raw1 = report["raw"]["1_thread"]["signatures_per_s"]
    raw2 = report["raw"]["2_threads"]["signatures_per_s"]
    for row in report["layer"]:
        row["vs_raw_1_thread"] = round(row["signatures_per_s"] / raw1, 3)
        row["vs_raw_2_threads"] = round(row["signatures_per_s"] / raw2, 3)
        row["vs_adjacent_raw_1_thread"] = round(
            row["signatures_per_s"] / row["raw_adjacent_signatures_per_s"], 3
        )
    report["targets"] = _targets(report)
    report["machine"]["load_average_at_end"] = round(os.getloadavg()[0], 2)
    return report


def _targets(report: dict[str, Any]) -> dict[str, Any]:
    two = [row for row in report["layer"] if row["units"] >= 2]
    best_two = max((row["vs_raw_1_thread"] for row in two), default=None)
    best_adjacent = max((row["vs_adjacent_raw_1_thread"] for row in two), default=None)
    targets: dict[str, Any] = {
        "best_2_units_vs_raw_1_thread": best_two,
        "best_2_units_vs_adjacent_raw_1_thread": best_adjacent,
        "two_units_at_least_60_percent_of_raw": None if best_adjacent is None else best_adjacent >= 0.6,
    }
    at_80 = [row for row in report.get("open_loop", []) if abs(row["load_fraction"] - 0.8) < 1e-9]
    if at_80:
        targets["open_loop_max_rps_by_sweep"] = at_80[0]["max_requests_per_s"]
        targets["open_loop_p99_us_at_80_percent"] = at_80[0]["p99_us"]
        targets["open_loop_p99_under_5_ms_at_80_percent"] = at_80[0]["p99_us"] < 5000
        # Context for reading it on a shared machine: the others' load at that point, and the
        # latency of no-op requests from the same generator (what scheduling alone costs).
        targets["open_loop_load_average_at_80_percent"] = at_80[0]["load_average"]
        targets["open_loop_runqueue_wait_at_80_percent"] = at_80[0].get("runqueue_wait")
        generator = report.get("open_loop_generator", {})
        targets["open_loop_no_op_p99_us"] = generator.get("no_op_latency", {}).get("p99_us")
    old = [row for row in report.get("open_loop_old_method", []) if abs(row["load_fraction"] - 0.8) < 1e-9]
    if old:
        targets["old_method_max_rps_closed_loop"] = old[0]["max_requests_per_s"]
        targets["old_method_p99_us_at_80_percent"] = old[0]["p99_us"]
        targets["old_method_p99_under_5_ms_at_80_percent"] = old[0]["p99_us"] < 5000
    if "chaos" in report:
        targets["chaos_failed_requests"] = report["chaos"]["failed_requests"]
        targets["chaos_no_failed_request"] = report["chaos"]["failed_requests"] == 0
    return targets


def _print(phase: str, row: dict[str, Any]) -> None:
    shown = {key: value for key, value in row.items() if key not in ("retries",)}
    print(f"{phase:10} " + "  ".join(f"{key}={value}" for key, value in shown.items()), flush=True)


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.hsm_bench``: run, print each phase, a summary, and optionally write JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.hsm_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="measured seconds per phase")
    parser.add_argument("--units", type=_ints, default=[1, 2], help="unit counts, e.g. 1,2")
    parser.add_argument("--concurrency", type=int, default=32, help="caller tasks in the closed loops")
    parser.add_argument("--batch", type=_ints, default=[1, 16], help="digests per request, e.g. 1,16")
    parser.add_argument(
        "--open-loop-batch", type=int, default=1, help="digests per request (open loop, chaos)"
    )
    parser.add_argument(
        "--load", type=_floats, default=[0.25, 0.5, 0.8], help="open-loop rates as shares of the max"
    )
    parser.add_argument("--slots", type=int, default=None, help="slot workers per unit")
    parser.add_argument("--adjacent-raw", type=float, default=1.0, help="raw sample seconds before each row")
    parser.add_argument("--no-open-loop", action="store_true")
    parser.add_argument("--no-chaos", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    started = time.time()
    report = run_hsm_bench(
        duration_s=args.duration,
        units=args.units,
        concurrency=args.concurrency,
        batch=args.batch,
        open_loop_batch=args.open_loop_batch,
        load_fractions=args.load,
        slots=args.slots,
        adjacent_raw_s=args.adjacent_raw,
        open_loop=not args.no_open_loop,
        chaos=not args.no_chaos,
    )
    print("targets   " + json.dumps(report["targets"]))
    print(f"done in {time.time() - started:.0f} s; load average {os.getloadavg()[0]:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
