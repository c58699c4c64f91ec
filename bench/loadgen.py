"""The load generator: C concurrent clients on keep-alive connections, closed- or open-loop.

* Closed loop (no ``rate``): each client sends its next request as soon as the previous answer arrived;
  latency = answer time - send time.
* Open loop (``rate`` R): request i is due at ``t0 + i/R`` whatever happened before. Clients take the
  next due slot when they become free and send at its due time or, when late, at once; latency is
  measured from the due time, so a stalled server is charged for the requests it kept from being sent
  (no coordinated omission, as in wrk2). ``concurrency`` caps the requests in flight.

Both stop at whichever comes first: ``max_requests`` sent or ``duration_s`` elapsed (requests still in
flight at the deadline are cancelled and not counted, unless ``drain``). One failed request is counted
by kind and never stops the phase.
"""

from __future__ import annotations

import errno
import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import trio

from bench.errors import ProtocolError
from bench.http1 import Connection
from bench.scenario import Request

Encoder = Callable[[Request], bytes]

# After a connection-level failure a client pauses briefly, so a dead server yields a readable error
# count instead of a busy loop that burns the request budget in milliseconds.
_ERROR_BACKOFF_S = 0.01


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """Limits and shape of one measured phase."""

    concurrency: int
    """Concurrent clients, one connection each (also the in-flight cap in open loop)."""
    duration_s: float
    """Hard time limit of the phase."""
    max_requests: int
    """Hard limit on requests sent."""
    rate: float | None = None
    """Open-loop arrival rate in requests per second; ``None`` for closed loop."""
    timeout_s: float = 10.0
    """Per-request timeout (counted as error ``timeout``)."""
    drain: bool = False
    """At the time limit let requests in flight finish instead of cancelling them (for warm-ups: the
    connections stay open and the server is not left working on requests nobody waits for)."""

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.max_requests < 1 or not self.duration_s > 0:
            raise ValueError("concurrency, max_requests and duration_s must be positive")
        if self.rate is not None and not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError("rate must be a positive number")


@dataclass(slots=True)
class Recorder:
    """What one phase measured: completion times (s from phase start), latencies (s), errors by kind."""

    ok_at: array[float] = field(default_factory=lambda: array("d"))
    ok_latency: array[float] = field(default_factory=lambda: array("d"))
    err_at: array[float] = field(default_factory=lambda: array("d"))
    errors: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    stopped_by: str = "duration"

    @property
    def completed(self) -> int:
        """Requests answered or failed so far."""
        return len(self.ok_at) + len(self.err_at)


@dataclass(slots=True)
class _Budget:
    """Hands out request slots until ``limit`` or ``deadline``; one trio thread, so no lock is needed."""

    limit: int
    t0: float
    deadline: float
    interval: float | None
    issued: int = 0

    def take(self) -> int | None:
        if self.issued >= self.limit:
            return None
        if self.interval is None:
            if trio.current_time() >= self.deadline:
                return None
        elif self.t0 + self.issued * self.interval >= self.deadline:
            return None  # due after the end: never sent, so never late
        self.issued += 1
        return self.issued - 1


async def run_load(
    connections: Sequence[Connection],
    requests: Callable[[], Iterator[Request]],
    encode: Encoder,
    spec: LoadSpec,
    recorder: Recorder | None = None,
) -> Recorder:
    """Drive ``spec`` through ``connections`` (one client each; ``len == spec.concurrency``)."""
    if len(connections) != spec.concurrency:
        raise ValueError("one connection per client is required")
    rec = recorder if recorder is not None else Recorder()
    await _connect_all(connections)
    t0 = trio.current_time()
    interval = 1.0 / spec.rate if spec.rate is not None else None
    budget = _Budget(spec.max_requests, t0, t0 + spec.duration_s, interval)
    with trio.move_on_at(budget.deadline + (spec.timeout_s if spec.drain else 0.0)):
        async with trio.open_nursery() as nursery:
            for conn in connections:
                client = _Client(conn, requests(), encode, spec, rec, t0)
                nursery.start_soon(client.run, budget)
    rec.elapsed_s = trio.current_time() - t0
    if budget.issued >= spec.max_requests:
        rec.stopped_by = "requests"
    return rec


async def _connect_all(connections: Sequence[Connection]) -> None:
    """Open every connection before the clock starts; failures surface later as request errors."""

    async def connect(conn: Connection) -> None:
        try:
            await conn.connect()
        except OSError:
            conn.close()

    async with trio.open_nursery() as nursery:
        for conn in connections:
            nursery.start_soon(connect, conn)


class _Client:
    """One simulated client: takes slots from the shared budget and sends on its own connection."""

    def __init__(
        self,
        conn: Connection,
        requests: Iterator[Request],
        encode: Encoder,
        spec: LoadSpec,
        rec: Recorder,
        t0: float,
    ) -> None:
        self._conn = conn
        self._requests = requests
        self._encode = encode
        self._timeout_s = spec.timeout_s
        self._interval = 1.0 / spec.rate if spec.rate is not None else None
        self._rec = rec
        self._t0 = t0
        self._last: Request | None = None
        self._data = b""

    async def run(self, budget: _Budget) -> None:
        rec, t0, interval = self._rec, self._t0, self._interval
        while (slot := budget.take()) is not None:
            request = next(self._requests)
            if request is not self._last:  # re-encode only when the scenario yields a new request
                self._data, self._last = self._encode(request), request
            if interval is None:
                started = trio.current_time()
            else:
                started = t0 + slot * interval
                if started > trio.current_time():
                    await trio.sleep_until(started)
            kind = await self._send(request)
            done = trio.current_time()
            if kind is None:
                rec.ok_at.append(done - t0)
                rec.ok_latency.append(done - started)
            else:
                rec.err_at.append(done - t0)
                rec.errors[kind] += 1
                if not self._conn.is_open:
                    await trio.sleep(_ERROR_BACKOFF_S)

    async def _send(self, request: Request) -> str | None:
        """``None`` on success, else the error kind."""
        try:
            with trio.move_on_after(self._timeout_s) as scope:
                response = await self._conn.roundtrip(self._data)
        except OSError as exc:
            return _os_error_kind(exc)
        except ProtocolError:
            return "protocol"
        if scope.cancelled_caught:
            self._conn.close()
            return "timeout"
        if response.status != request.expect_status:
            return f"http_{response.status}"
        if request.check is not None and not _passes(request.check, response.body):
            return "bad_body"
        return None


def _passes(check: Callable[[bytes], bool], body: bytes) -> bool:
    # A check that cannot even parse the body has found a bad body; it must not end the phase.
    try:
        return check(body)
    except Exception:
        return False


def _os_error_kind(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connect_refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "connection_reset"
    name = errno.errorcode.get(exc.errno or 0)
    return f"os_{name.lower()}" if name else "os_error"
