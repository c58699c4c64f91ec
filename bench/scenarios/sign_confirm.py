"""Phase (c) of ``sign``: the device confirmation round trip, open loop, measured from POST to completion.

Shape: ``devices`` users each have a GOST-256 certificate and one enrolled device, connected through a
``DeviceFleet`` that confirms everything it is shown. Operations (one 1 KiB document, raw, policy
``device``) are due at ``t0 + k / rate`` round-robin over the users, whatever happened before (open
loop, as ``bench.loadgen`` does: at most ``connections`` POSTs in flight, and a late send is charged
from its due time). Operations due in the first ``warmup_s`` load the server but are not counted.

Latency of an operation = the server's ``finished_at`` (PostgreSQL ``now()`` of the transaction that
stores its results and marks it completed) − its due time (harness wall clock). Both clocks are this
machine's ``CLOCK_REALTIME``, so nothing is estimated: the span holds the wait for a connection, the
POST, the push to the device, its decision and MAC check, the signature in the HSM and the write.
Nobody polls during the measurement (polling would load the server being measured): each operation
is read back once (``GET /operations/{id}``) after the load, until it has finished or ``drain_s`` ran
out. Before the schedule, every user signs one operation the same way (``_prime``, not counted): a
worker parses a user's certificate once, and the target is the steady state of 1,000 devices, not the
first operation of each. The breakdown adds what the harness saw itself: the 202 answer, the push
reaching the device, and the ``outcome`` (decision accepted) reaching it.

The harness shares the cores with the server, so what it spends per operation is taken from the
server: the requests are encoded before the window, the POSTs and the thousand devices are served by
one thread's ``epoll`` loop (``DeviceFleet.serve``, ``bench.loadgen.Schedule``), not by trio tasks, and
the harness's own garbage collector is held back during the window. That brought its CPU from ~1.1 to
~0.4 ms per operation on the 2-core machine (``generator_cpu`` in the report).
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import numpy as np
import psutil
import trio

from bench.errors import ProtocolError, ScenarioPrepareError
from bench.http1 import Connection, Response, encode_request
from bench.loadgen import Recorder, Schedule, Scheduled, ScheduleSpec, run_schedule
from bench.scenarios.sign_devices import DeviceFleet
from bench.scenarios.sign_options import ConfirmSpec
from bench.scenarios.sign_setup import Account
from bench.stats import PhaseResult, nearest_rank, summarise
from bench.target import Target

CONFIRM = "confirm"
"""Name of the phase in the report."""
SETTLE_S = 0.5
"""Pause between the last handshake and the first operation (authenticated → attached to a session)."""


@dataclass(slots=True)
class _Op:
    """One scheduled operation and what became of it."""

    index: int
    due: float
    """Wall-clock due time."""
    account: Account
    op_id: str | None = None
    created: float | None = None
    """Server ``created_at``."""
    answered: float | None = None
    """Wall-clock time the 202 arrived."""
    finished: float | None = None
    """Server ``finished_at``."""
    state: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ConfirmOutcome:
    """What the confirmation phase measured."""

    result: PhaseResult
    """Latency POST → completion of every counted operation, as a phase result."""
    breakdown_ms: dict[str, dict[str, float | None]]
    """n/p50/p99/max of each span: ``post_to_created`` (due time → the server's ``created_at``),
    ``post_to_202``, ``post_to_shown`` (push at the device), ``shown_to_accepted`` (decision sent →
    ``outcome`` back), ``accepted_to_finished``, ``created_to_finished`` (server clock only) and
    ``post_to_finished`` (the phase's latency)."""
    devices: int
    """Devices asked for."""
    devices_connected: int
    """Devices authenticated when the schedule began."""
    connect_s: float
    """Time to connect and authenticate them."""
    extra: dict[str, object] = field(default_factory=dict)
    """Rates, counts, errors seen by the devices, CPU of both sides."""

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            **self.result.to_json(),
            "devices": self.devices,
            "devices_connected": self.devices_connected,
            "connect_s": round(self.connect_s, 3),
            "breakdown_ms": self.breakdown_ms,
            **self.extra,
        }


async def measure_confirmation(
    target: Target,
    accounts: Sequence[Account],
    spec: ConfirmSpec,
    *,
    operator_token: str | None = None,
    say: Callable[[str], None] | None = None,
) -> ConfirmOutcome:
    """Connect the accounts' devices, run the schedule, read the outcomes back, disconnect.

    ``operator_token`` (an operator's or administrator's access token) reads the worker's
    garbage-collector totals from ``/metrics`` around the schedule; without it they are not reported.

    ``say`` receives a line of progress at each step (the run is silent for tens of seconds).
    """
    say = say or _quiet
    fleet = DeviceFleet()
    async with trio.open_nursery() as nursery:
        devices = [a.device for a in accounts if a.device is not None]
        connect_s = await fleet.connect_all(nursery, devices)
        await nursery.start(fleet.serve)
        # Operations go only to users whose device listens: the others' could never finish.
        live = [a for a in accounts if a.device is not None and a.device.device_id in fleet.listening]
        if not live:
            raise ScenarioPrepareError(f"no device could connect: {dict(fleet.connect_failures)}")
        connected = len(live)
        say(
            f"{connected} of {len(accounts)} devices connected in {connect_s:.1f} s; {spec.planned_ops} "
            f"operations at {spec.rate:g}/s"
        )
        await trio.sleep(SETTLE_S)
        pool = _Pool(target, spec)
        say(f"priming: one operation per user at {spec.rate:g}/s")
        primed, prime_s = await _prime(pool, fleet, live, spec)
        await trio.sleep(SETTLE_S)
        plan = _plan(target, live, spec)
        with _own_collections_deferred():
            cpu = _CpuMeter(target)
            gc_before = await _gc_snapshot(pool, operator_token)
            ops, wall0 = await _drive(target, plan, spec, fleet)
            deadline = wall0 + spec.duration_s + spec.drain_s
            await _await_devices(fleet, ops, deadline=deadline)
            harness_cpu, server_cpu = cpu.read()  # before the read-back, which is not part of the load
        gc_pauses = _gc_delta(gc_before, await _gc_snapshot(pool, operator_token))
        say("reading the operations back")
        await _read_back(pool, ops, deadline=deadline)
        pool.close()
        nursery.cancel_scope.cancel()
    result = _phase_result(ops, wall0, spec, harness_cpu=harness_cpu, server_cpu=server_cpu)
    counted = [op for op in ops if op.due >= wall0 + spec.warmup_s]
    return ConfirmOutcome(
        result=result,
        breakdown_ms=_breakdown(counted, fleet),
        devices=len(accounts),
        devices_connected=connected,
        connect_s=connect_s,
        extra={
            "rate": spec.rate,
            "ops_created": sum(1 for op in ops if op.op_id is not None),
            "primed_ops": primed,
            "prime_s": round(prime_s, 3),
            "ops_counted": len(counted),
            "warmup_s": spec.warmup_s,
            "device_connect_failures": dict(fleet.connect_failures),
            "device_errors": dict(fleet.errors),
            "server_gc": gc_pauses,
            "latency_definition": "server finished_at - intended POST time (open loop), same machine clock",
        },
    )


@contextlib.contextmanager
def _own_collections_deferred() -> Iterator[None]:
    """This process's garbage collector held back during the measured window.

    What is alive before it (a thousand device clients, the planned requests) is collected once and
    frozen, and young objects wait for 50,000 allocations instead of 700: the harness's collections
    would take CPU from the server it measures. The server's own are reported as ``server_gc``.
    """
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _quiet(line: str) -> None:
    """Progress nobody asked for."""


# -- the schedule ------------------------------------------------------------------------------------


class _Pool:
    """Keep-alive connections lent out one request at a time, for the reads around the schedule."""

    def __init__(self, target: Target, spec: ConfirmSpec) -> None:
        self.target = target
        self.timeout_s = spec.timeout_s
        self._send, self._receive = trio.open_memory_channel[Connection](spec.connections)
        self._all = [Connection(target.address, target.family) for _ in range(spec.connections)]
        for conn in self._all:
            self._send.send_nowait(conn)

    async def request(self, method: str, path: str, headers: tuple[tuple[str, str], ...]) -> Response:
        """One request on a free connection; raises ``OSError``, ``ProtocolError`` or ``TooSlowError``."""
        data = encode_request(
            method, self.target.base_path + path, host=self.target.host_header, headers=headers
        )
        conn = await self._receive.receive()
        try:
            with trio.fail_after(self.timeout_s):
                return await conn.roundtrip(data)
        finally:
            self._send.send_nowait(conn)

    def close(self) -> None:
        for conn in self._all:
            conn.close()


_BODY = (
    b'{"type":"sign","format":"raw","confirmation":"device",'
    b'"items":[{"name":"confirm-%d.bin","content":"%s"}]}'
)
"""``POST /operations`` body: the index and the base64 of the document fill it (no escaping needed)."""


def _operation_body(spec: ConfirmSpec, index: int) -> bytes:
    """One random document of ``spec.document_bytes``, raw, confirmed on the device (compact JSON)."""
    return _BODY % (index, base64.b64encode(os.urandom(spec.document_bytes)))


@dataclass(frozen=True, slots=True)
class _Plan:
    """A schedule prepared before it runs: its operations and their encoded ``POST`` requests."""

    ops: list[_Op]
    requests: list[Scheduled]


def _plan(target: Target, accounts: Sequence[Account], spec: ConfirmSpec) -> _Plan:
    """Encode every request beforehand, so that the measured window holds only sending them."""
    path = target.base_path + "/api/v1/operations"
    ops = [_Op(index=k, due=0.0, account=accounts[k % len(accounts)]) for k in range(spec.planned_ops)]
    requests = [
        Scheduled(
            encode_request(
                "POST",
                path,
                host=target.host_header,
                body=_operation_body(spec, op.index),
                headers=(("Content-Type", "application/json"), *op.account.auth_headers),
            )
        )
        for op in ops
    ]
    return _Plan(ops, requests)


async def _drive(
    target: Target, plan: _Plan, spec: ConfirmSpec, fleet: DeviceFleet | None = None
) -> tuple[list[_Op], float]:
    """Create the planned operations on schedule; returns them and the wall-clock time of the first due.

    The requests go out open loop (``bench.loadgen.Schedule``: at most ``connections`` in flight, a
    late one charged from its due time) from the fleet's serving thread when it serves, so that one
    wake-up there can take both the ``202`` and the push to the device; else from a worker thread.
    """

    schedule = ScheduleSpec(
        address=target.address,
        requests=plan.requests,
        rate=spec.rate,
        connections=spec.connections,
        timeout_s=spec.timeout_s,
    )
    if fleet is not None and fleet.serving:
        wall0 = await fleet.run_schedule(partial(Schedule, spec=schedule))
    else:
        stop = threading.Event()
        try:
            wall0 = await trio.to_thread.run_sync(
                partial(run_schedule, schedule, stop=stop), abandon_on_cancel=True
            )
        finally:
            stop.set()  # a cancelled run leaves its thread, which ends at its next look at the flag
    for op, sent in zip(plan.ops, plan.requests, strict=True):
        op.due = sent.due
        _record(op, sent)
    return plan.ops, wall0


async def _prime(
    pool: _Pool, fleet: DeviceFleet, accounts: Sequence[Account], spec: ConfirmSpec
) -> tuple[int, float]:
    """One operation per account on the schedule's rate, waited for: the steady state's warm caches.

    A worker parses a user's certificate once (its signing-material cache holds more users than the
    fleet has); without this, the measured window would be each user's first operation, a start-up
    transient rather than 1,000 devices confirming at a steady rate. Returns (operations answered,
    seconds taken); none of them is counted.
    """
    started = time.monotonic()
    prime = ConfirmSpec(
        rate=spec.rate,
        duration_s=len(accounts) / spec.rate,
        max_ops=len(accounts),
        warmup_s=0.0,
        drain_s=spec.drain_s,
        connections=spec.connections,
        timeout_s=spec.timeout_s,
        document_bytes=spec.document_bytes,
    )
    ops, wall0 = await _drive(pool.target, _plan(pool.target, accounts, prime), prime, fleet)
    created = [op.op_id for op in ops if op.op_id is not None]
    await fleet.wait_answered(created, timeout_s=wall0 + prime.duration_s + prime.drain_s - time.time())
    await trio.sleep(0.2)  # accepted → signed and stored
    answered = sum(1 for op_id in created if op_id in fleet.answered)
    return answered, time.monotonic() - started


def _record(op: _Op, sent: Scheduled) -> None:
    """Note what the ``POST`` of ``op`` gave: its id and creation time, or an error."""
    if sent.error is not None:
        op.error = sent.error
        return
    if sent.response is None:
        return  # never sent: the schedule was stopped
    op.answered = sent.answered
    if sent.response.status != 202:
        op.error = f"http_{sent.response.status}"
        return
    try:
        view = json.loads(sent.response.body)
        op.op_id = str(view["id"])
        op.created = datetime.fromisoformat(view["created_at"]).timestamp()
    except (ValueError, KeyError, TypeError):
        op.error = "bad_body"


async def _await_devices(fleet: DeviceFleet, ops: Sequence[_Op], *, deadline: float) -> None:
    """Wait (without loading the server) until the devices had an outcome for every created operation."""
    wanted = [op.op_id for op in ops if op.op_id is not None]
    await fleet.wait_answered(wanted, timeout_s=deadline - time.time())
    await trio.sleep(0.2)  # accepted → signed and stored: tens of milliseconds


async def _read_back(pool: _Pool, ops: Sequence[_Op], *, deadline: float) -> None:
    """``GET`` each created operation until it has finished or the deadline passed."""
    pending = [op for op in ops if op.op_id is not None]
    while pending:
        async with trio.open_nursery() as nursery:
            for op in pending:
                nursery.start_soon(_read_one, pool, op)
        pending = [op for op in pending if op.finished is None and op.error is None]
        if not pending or time.time() >= deadline:
            break
        await trio.sleep(0.25)
    for op in pending:
        op.error = f"not_finished_{op.state or 'unknown'}"


async def _read_one(pool: _Pool, op: _Op) -> None:
    try:
        response = await pool.request("GET", f"/api/v1/operations/{op.op_id}", op.account.auth_headers)
    except (OSError, ProtocolError, trio.TooSlowError):
        return  # tried again in the next round
    if response.status != 200:
        op.error = f"read_http_{response.status}"
        return
    try:
        view = json.loads(response.body)
        op.state = str(view["state"])
        finished_at = view.get("finished_at")
        if finished_at is not None:
            op.finished = datetime.fromisoformat(finished_at).timestamp()
            signed = bool(view["items"]) and all(item["status"] == "signed" for item in view["items"])
    except (ValueError, KeyError, TypeError):
        op.error = "bad_body"
        return
    if finished_at is not None and (op.state != "completed" or not signed):
        op.error = op.state if op.state != "completed" else "item_not_signed"
    elif finished_at is None and op.state in ("declined", "expired", "failed"):
        op.error = op.state


async def _gc_snapshot(pool: _Pool, operator_token: str | None) -> dict[str, Any] | None:
    """The answering worker's garbage-collector totals from ``/metrics`` (None if unavailable:
    ``/metrics`` answers operators only)."""
    if operator_token is None:
        return None
    try:
        response = await pool.request("GET", "/metrics", (("Authorization", f"Bearer {operator_token}"),))
        snapshot = json.loads(response.body)["gc"]
    except (OSError, ProtocolError, trio.TooSlowError, ValueError, KeyError, TypeError):
        return None
    return snapshot if isinstance(snapshot, dict) else None


def _gc_delta(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any] | None:
    """Collections and pause seconds per generation between two snapshots of one worker.

    With several workers the two reads may reach different workers: then nothing is reported.
    """
    if before is None or after is None:
        return None
    try:
        old, new = before["generations"], after["generations"]
        delta = {
            number: {
                "collections": new[number]["collections"] - old[number]["collections"],
                "pause_s": round(new[number]["pause_seconds"] - old[number]["pause_seconds"], 4),
                "collected": new[number]["collected"] - old[number]["collected"],
                "max_pause_since_start_s": new[number]["max_pause_seconds"],
            }
            for number in new
        }
    except (KeyError, TypeError):
        return None
    if any(values["collections"] < 0 for values in delta.values()):
        return None  # another worker answered the second read
    return {"generations": delta, "thresholds": after.get("thresholds")}


# -- results -----------------------------------------------------------------------------------------


def _phase_result(
    ops: Sequence[_Op],
    wall0: float,
    spec: ConfirmSpec,
    *,
    harness_cpu: float | None,
    server_cpu: float | None,
) -> PhaseResult:
    start = wall0 + spec.warmup_s
    rec = Recorder()
    last = start
    for op in ops:
        if op.due < start:
            continue
        if op.error is None and op.finished is not None:
            rec.ok_at.append(op.finished - start)
            rec.ok_latency.append(op.finished - op.due)
            last = max(last, op.finished)
        else:
            done = op.answered if op.answered is not None else op.due
            rec.err_at.append(max(0.0, done - start))
            rec.errors[op.error or "unknown"] += 1
            last = max(last, done)
    end_of_schedule = wall0 + spec.planned_ops / spec.rate
    rec.elapsed_s = max(last, end_of_schedule) - start
    rec.stopped_by = "requests" if spec.planned_ops == spec.max_ops else "duration"
    description = (
        f"device confirmation: POST (1 KiB, raw, confirmation device) → device confirms → completed; "
        f"open loop {spec.rate:g}/s"
    )
    return summarise(
        rec, name=CONFIRM, description=description, generator_cpu=harness_cpu, server_cpu=server_cpu
    )


def _breakdown(ops: Sequence[_Op], fleet: DeviceFleet) -> dict[str, dict[str, float | None]]:
    spans: dict[str, list[float]] = {
        "post_to_created": [],
        "post_to_202": [],
        "post_to_shown": [],
        "shown_to_accepted": [],
        "accepted_to_finished": [],
        "created_to_finished": [],
        "post_to_finished": [],
    }
    for op in ops:
        if op.created is not None:
            spans["post_to_created"].append(op.created - op.due)
            if op.finished is not None:
                spans["created_to_finished"].append(op.finished - op.created)
        if op.answered is not None:
            spans["post_to_202"].append(op.answered - op.due)
        shown = fleet.shown.get(op.op_id or "")
        accepted = fleet.answered.get(op.op_id or "")
        if shown is not None:
            spans["post_to_shown"].append(shown - op.due)
        if shown is not None and accepted is not None:
            spans["shown_to_accepted"].append(accepted[0] - shown)
        if accepted is not None and op.finished is not None:
            spans["accepted_to_finished"].append(op.finished - accepted[0])
        if op.finished is not None:
            spans["post_to_finished"].append(op.finished - op.due)
    return {name: _percentiles(values) for name, values in spans.items()}


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    ms = np.sort(np.array(values) * 1000.0)
    return {
        "n": len(values),
        "p50": round(nearest_rank(ms, 50.0), 3),
        "p99": round(nearest_rank(ms, 99.0), 3),
        "max": round(float(ms[-1]), 3),
    }


class _CpuMeter:
    """CPU seconds per wall second, over a span, of this process and of the server.

    The server is the process tree of whoever listens on the target's port, walked up to the
    ``serve`` parent, plus every process naming its ``KLYUCH_HOME`` on the command line and their
    children (the embedded PostgreSQL and its backends, which ``pg_ctl`` detaches). Processes that
    end during the span take their CPU time with them, so this is a lower bound.
    """

    def __init__(self, target: Target) -> None:
        self._root, self._home = _server_root(target.address[1])
        self._wall = time.monotonic()
        self._server = self._server_cpu()
        self._own = time.process_time()  # after the walk over the server's processes: not the load

    def read(self) -> tuple[float | None, float | None]:
        """(harness, server) CPU seconds per wall second since construction."""
        wall = time.monotonic() - self._wall or 1.0
        own = round((time.process_time() - self._own) / wall, 3)
        server_now = self._server_cpu()
        if server_now is None or self._server is None:
            return own, None
        return own, round((server_now - self._server) / wall, 3)

    def _server_cpu(self) -> float | None:
        if self._root is None:
            return None
        try:
            processes = {self._root, *self._root.children(recursive=True)}
        except psutil.Error:
            return None
        if self._home:
            for process in psutil.process_iter(["cmdline"]):
                if self._home in " ".join(process.info["cmdline"] or ()):
                    processes.add(process)
                    with contextlib.suppress(psutil.Error):  # PostgreSQL's backends name no folder
                        processes.update(process.children(recursive=True))
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total


def _server_root(port: int) -> tuple[psutil.Process | None, str | None]:
    """The ``serve`` process above whoever listens on ``port``, and its ``KLYUCH_HOME``."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                process = psutil.Process(conn.pid)
                home = _home_of(process)
                parent = process.parent()
                while parent is not None and home and _home_of(parent) == home:
                    process, parent = parent, parent.parent()
                return process, home
    except psutil.Error:
        pass
    return None, None


def _home_of(process: psutil.Process) -> str | None:
    try:
        home: str | None = process.environ().get("KLYUCH_HOME")
    except psutil.Error:  # another user's process, or init: not part of the server
        return None
    return home
