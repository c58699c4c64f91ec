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

``run_schedule`` sends the prepared requests of a ``ScheduleSpec`` open loop from a worker thread
with its own ``epoll`` loop; ``Schedule`` runs the same spec as a part of someone else's loop. The
device-confirmation phase of ``sign`` uses them, because a wake-up of a blocked thread costs a fifth
of a trio task's on this machine (measured: ~17 vs ~80 µs CPU with the cores busy, ~150 µs for a
trio sleep), and that phase's harness shares the cores with the server.
"""

from __future__ import annotations

import contextlib
import errno
import math
import select
import socket
import threading
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import trio

from bench.errors import ProtocolError
from bench.http1 import Connection, Response, parse_response
from bench.scenario import Request

Encoder = Callable[[Request], bytes]

# After a connection-level failure a client pauses briefly, so a dead server yields a readable error
# count instead of a busy loop that burns the request budget in milliseconds.
_ERROR_BACKOFF_S = 0.01
# The schedule's thread looks at its stop flag at least this often.
_POLL_CAP_S = 0.1
_RECV_SIZE = 65536


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


# -- a timed schedule, sent from a worker thread ------------------------------------------------------


@dataclass(slots=True)
class Scheduled:
    """One request of a timed schedule and what became of it (times are wall-clock)."""

    data: bytes
    """The encoded request."""
    due: float = 0.0
    """When it was due (set when the schedule starts)."""
    answered: float | None = None
    """When its whole response had arrived, or when it failed."""
    response: Response | None = None
    """The response, when one came."""
    error: str | None = None
    """``timeout`` or the exception's type name, when it failed."""


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """What a timed schedule is: which requests go where, how fast, on how many connections.

    The same value drives :func:`run_schedule` and :class:`Schedule`; only ``requests`` changes as
    the schedule runs (each item's due time and outcome are written into it).
    """

    address: tuple[str, int]
    """Where the requests go: the server's resolved (host, port)."""
    requests: Sequence[Scheduled]
    """The encoded requests in due order; ``requests[k]`` is due at ``t0 + k / rate``."""
    rate: float
    """Requests due per second."""
    connections: int
    """Keep-alive connections, one request in flight on each (the in-flight cap)."""
    timeout_s: float
    """Per-request timeout, also for connecting (counted as error ``timeout``)."""

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)) or self.connections < 1:
            raise ValueError("rate and connections must be positive")
        if not self.timeout_s > 0:
            raise ValueError("timeout_s must be positive")


def run_schedule(spec: ScheduleSpec, *, stop: threading.Event | None = None) -> float:
    """Send ``spec.requests[k]`` at ``t0 + k / spec.rate``, blocking; returns ``t0`` (wall clock).

    Meant for a worker thread (``trio.to_thread.run_sync``): one ``epoll`` loop serves every
    connection, so a request costs its ``send``, one wake-up for the answer and one for its due
    time (shared when they coincide), none of the scheduling rounds an async task pays per wait.
    The schedule is open loop as in :func:`run_load`: a request is sent at its due time, or as soon
    as a connection is free when all ``spec.connections`` are busy, and its ``due`` stays the time
    it was due. ``stop`` ends the loop early (requests not yet sent keep ``answered`` unset).
    """
    epoll = select.epoll()
    schedule = Schedule(epoll, spec)
    stop = stop or threading.Event()
    try:
        wall0 = schedule.start()
        now = time.monotonic()
        while (wake := schedule.step(now)) is not None and not stop.is_set():
            for fd, _ in epoll.poll(max(0.0, min(wake, now + _POLL_CAP_S) - now)):
                schedule.readable(fd)
            now = time.monotonic()
        return wall0
    finally:
        schedule.close()
        epoll.close()


class _Wire:
    """One keep-alive connection of :func:`run_schedule` (blocking socket calls with a timeout)."""

    def __init__(self, address: tuple[str, int], timeout_s: float) -> None:
        self.address, self.timeout_s = address, timeout_s
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self.item: Scheduled | None = None
        self.deadline = 0.0

    def connect(self) -> socket.socket:
        """Open the TCP connection (Nagle off: a request is written in one call)."""
        sock = socket.create_connection(self.address, timeout=self.timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.buf.clear()
        return sock


class Schedule:
    """A :class:`ScheduleSpec` run as a part of someone's ``epoll`` loop (see :func:`run_schedule`).

    The loop calls :meth:`start` once, then :meth:`step` whenever it wakes (it answers when to wake
    next, ``None`` once every request is done) and :meth:`readable` for each ready descriptor the
    schedule :meth:`owns`. The connections open (blocking) on construction and register themselves
    with ``epoll``; :meth:`close` takes them out.
    """

    def __init__(self, epoll: select.epoll, spec: ScheduleSpec) -> None:
        self._epoll = epoll
        self._requests = spec.requests
        self._interval = 1.0 / spec.rate
        self._timeout_s = spec.timeout_s
        self._wires = [_Wire(spec.address, spec.timeout_s) for _ in range(spec.connections)]
        self._by_fd: dict[int, _Wire] = {}
        self._idle = deque(self._wires)
        self._busy: dict[int, _Wire] = {}
        self._sent = 0
        self._mono0 = 0.0
        for wire in self._wires:
            with contextlib.suppress(OSError):  # a refused connection shows up as each request's error
                self._open(wire)

    def start(self) -> float:
        """Fix the due times (the first 50 ms from now); returns the first one (wall clock)."""
        self._mono0, wall0 = time.monotonic() + 0.05, time.time() + 0.05
        for k, item in enumerate(self._requests):
            item.due = wall0 + k * self._interval
        return wall0

    def step(self, now: float) -> float | None:
        """Send what is due, fail what timed out; the monotonic time to wake at, None when done."""
        self._expire(now)
        requests, interval = self._requests, self._interval
        while self._sent < len(requests) and self._idle and self._mono0 + self._sent * interval <= now:
            self._send(self._idle.popleft(), requests[self._sent], now)
            self._sent += 1
        if self._sent >= len(requests) and not self._busy:
            return None
        wake = now + self._timeout_s
        if self._sent < len(requests) and self._idle:
            wake = min(wake, self._mono0 + self._sent * interval)
        if self._busy:
            wake = min(wake, next(iter(self._busy.values())).deadline)
        return wake

    def owns(self, fd: int) -> bool:
        """Whether ``fd`` is one of the schedule's connections."""
        return fd in self._by_fd

    def close(self) -> None:
        """Close every connection (and take it out of ``epoll``)."""
        for wire in self._wires:
            self._drop(wire)

    def _open(self, wire: _Wire) -> None:
        sock = wire.connect()
        self._by_fd[sock.fileno()] = wire
        self._epoll.register(sock.fileno(), select.EPOLLIN)

    def _drop(self, wire: _Wire) -> None:
        if wire.sock is not None:
            fd = wire.sock.fileno()
            self._by_fd.pop(fd, None)
            self._busy.pop(fd, None)
            with contextlib.suppress(OSError):
                self._epoll.unregister(fd)
            wire.sock.close()
            wire.sock = None

    def _send(self, wire: _Wire, item: Scheduled, now: float) -> None:
        try:
            if wire.sock is None:
                self._open(wire)
            assert wire.sock is not None
            wire.sock.sendall(item.data)
        except OSError as exc:
            self._drop(wire)
            self._idle.append(wire)
            item.answered = time.time()
            item.error = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            return
        wire.item, wire.deadline = item, now + self._timeout_s
        # Sent in due order with one timeout, so the first busy connection has the nearest deadline.
        self._busy[wire.sock.fileno()] = wire

    def readable(self, fd: int) -> None:
        """Read from a connection ``epoll`` reported ready."""
        wire = self._by_fd.get(fd)
        if wire is None or wire.sock is None:
            return
        if wire.item is None:  # an idle connection: the server closed it (or sent junk)
            self._drop(wire)
            return
        try:
            chunk = wire.sock.recv(_RECV_SIZE)
            if not chunk:
                raise ConnectionResetError("server closed the connection")
            wire.buf += chunk
            parsed = parse_response(wire.buf)
        except BlockingIOError:
            return
        except (OSError, ProtocolError) as exc:
            self._fail(wire, type(exc).__name__)
            return
        if parsed is None:
            return
        wire.item.answered = time.time()
        wire.item.response, keep = parsed
        self._release(wire, keep=keep)

    def _expire(self, now: float) -> None:
        while self._busy:
            wire = next(iter(self._busy.values()))
            if wire.deadline > now:
                return
            self._fail(wire, "timeout")

    def _fail(self, wire: _Wire, error: str) -> None:
        assert wire.item is not None
        wire.item.answered, wire.item.error = time.time(), error
        self._release(wire, keep=False)

    def _release(self, wire: _Wire, *, keep: bool) -> None:
        if wire.sock is not None:
            self._busy.pop(wire.sock.fileno(), None)
        wire.item = None
        if not keep:
            self._drop(wire)
        self._idle.append(wire)
