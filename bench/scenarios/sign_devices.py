"""``DeviceFleet``: N reference device clients (``edge.device_cli``) that confirm whatever they are shown.

Each device is one ``DeviceClient`` on its own websocket: it authenticates (HMAC challenge–response),
then for every ``operation`` message sends a ``confirm`` decision MACed over the operation id, the
digests and the server nonce, exactly as the mobile app would, and answers the server's pings. The
fleet notes, per operation id, the wall-clock time the push arrived and the time (and status) of the
server's ``outcome``; joined with the driver's send times and the server's ``finished_at`` they give
the latency breakdown.

Devices connect and authenticate in trio tasks (``connect_all``); once connected they are served by
one thread (``serve``): an ``epoll`` loop over their sockets that reads each message and answers it
with the same ``DeviceClient`` methods the CLI uses. Why a thread: the fleet shares two cores with
the server it measures, and a blocked thread wakes for ~17 µs of CPU where a trio task takes ~80 µs
(measured on this machine with the cores busy), so a device's operation and outcome cost a quarter
of what a task per device costs. Devices whose websocket that loop cannot drive (``wss://``, through
trio-websocket) keep a task of their own.

A device whose connection fails after the handshake is counted (``disconnected``), never allowed to
take the fleet down; handshakes run ``parallel`` at a time so a thousand devices do not all race
the server's authentication timeout at once.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import trio

from actors.sessions.protocol import Decision
from bench.loadgen import Schedule
from edge.device_cli.client import ConnectionClosed, DeviceClient, DeviceProtocolError, ShownOperation
from edge.device_cli.state import DeviceState
from edge.device_cli.websocket import WebSocket

CONNECT_TIMEOUT_S = 30.0
"""Connection plus handshake of one device."""
ANSWER_POLL_S = 0.02
"""How often ``wait_answered`` looks at the outcomes (the serving thread cannot wake a trio task)."""
_LOOP_POLL_S = 0.1
"""The serving thread looks at its stop flag at least this often."""
_RELEASE_WAIT_S = 15.0
"""Longest wait for the serving thread to let go of the sockets (a send it is in times out in 10 s)."""

_PONG = DeviceClient.encode({"type": "pong"})

_LOST = (OSError, ConnectionClosed, DeviceProtocolError, ValueError)
"""What ends one device: a broken or closed connection, or a message that is not the protocol."""


class DeviceFleet:
    """Connected devices that auto-confirm; what they saw is in ``shown``/``answered``/``errors``."""

    def __init__(self) -> None:
        self.shown: dict[str, float] = {}
        """Operation id → wall-clock time its push reached a device."""
        self.answered: dict[str, tuple[float, str]] = {}
        """Operation id → wall-clock time of the server's ``outcome`` and its status."""
        self.errors: Counter[str] = Counter()
        """Protocol errors and lost connections by kind."""
        self.listening: set[UUID] = set()
        """Ids of the devices authenticated and listening now."""
        self.connect_failures: Counter[str] = Counter()
        """Devices that could not connect or authenticate, by error type."""
        self._threaded: list[DeviceClient] = []  # connected, waiting for ``serve``
        self._loop: _ServeLoop | None = None  # while ``serve`` runs
        self._serving = False
        self._released = trio.Event()  # the serving thread is done with the sockets

    @property
    def serving(self) -> bool:
        """Whether the serving thread runs (and takes schedules: :meth:`run_schedule`)."""
        return self._loop is not None and not self._loop.done.is_set()

    async def run_schedule(self, make: Callable[[select.epoll], Schedule]) -> float:
        """Run the schedule ``make`` builds in the serving thread's loop, beside the devices.

        One loop for both halves of an operation means one wake-up where the ``202`` and the push
        arrive together. Returns the schedule's first due time (wall clock).
        """
        loop = self._loop
        if loop is None or loop.done.is_set():
            raise RuntimeError("the fleet is not serving")
        token = trio.lowlevel.current_trio_token()
        finished = trio.Event()
        outcome: list[float | Exception] = []

        def done(result: float | Exception) -> None:  # in the serving thread
            outcome.append(result)
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(finished.set)

        loop.submit(_Job(make, done))
        await finished.wait()
        [result] = outcome
        if isinstance(result, Exception):
            raise result
        return result

    async def wait_answered(self, op_ids: Iterable[str], *, timeout_s: float) -> bool:
        """Wait until every operation in ``op_ids`` had its outcome; False if ``timeout_s`` ran out."""
        missing = {op_id for op_id in op_ids if op_id not in self.answered}
        with trio.move_on_after(max(0.0, timeout_s)):
            while missing:
                await trio.sleep(ANSWER_POLL_S)
                missing = {op_id for op_id in missing if op_id not in self.answered}
        return not missing

    async def connect_all(
        self, nursery: trio.Nursery, devices: Sequence[DeviceState], *, parallel: int = 50
    ) -> float:
        """Connect every device (``parallel`` handshakes at a time) into ``nursery``; returns seconds taken.

        Returns when each device is authenticated or has failed; failures are counted, not raised.
        The devices answer nothing until :meth:`serve` runs.
        """
        began = trio.current_time()
        gate = trio.Semaphore(max(1, parallel))

        async def one(state: DeviceState) -> None:
            async with gate:
                try:
                    await nursery.start(self._run_device, state)
                except Exception as exc:  # any refusal or timeout: counted and reported, not fatal
                    self.connect_failures[_name(exc)] += 1

        async with trio.open_nursery() as starters:
            for state in devices:
                starters.start_soon(one, state)
        return trio.current_time() - began

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the devices connected so far from one thread, until cancelled."""
        loop = self._loop = _ServeLoop(self, self._threaded)
        self._serving = True
        task_status.started()
        try:
            await trio.to_thread.run_sync(loop.run, abandon_on_cancel=True)
        finally:
            loop.stop.set()
            with trio.CancelScope(shield=True):  # the sockets are closed only once the thread let go
                await trio.to_thread.run_sync(loop.done.wait, _RELEASE_WAIT_S)
            self._released.set()

    async def _run_device(
        self, state: DeviceState, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        # Errors while connecting go to ``connect_all`` through ``nursery.start``.
        async with DeviceClient.connect(state, timeout_s=CONNECT_TIMEOUT_S) as client:
            self.listening.add(state.device_id)
            task_status.started()
            try:
                if isinstance(client.ws, WebSocket):
                    self._threaded.append(client)
                    await self._until_released()
                else:
                    await self._confirm_forever(client)
            except _LOST:
                self.lost(client)

    async def _until_released(self) -> None:
        try:
            await trio.sleep_forever()
        finally:
            if self._serving:
                with trio.CancelScope(shield=True):
                    await self._released.wait()

    async def _confirm_forever(self, client: DeviceClient) -> None:
        while True:
            await self.handle(client, await client.receive())

    async def handle(self, client: DeviceClient, message: dict[str, Any]) -> None:
        """React to one message from a trio task (see :meth:`react`)."""
        answer = self.react(client, message)
        if answer is not None:
            await client.send(answer)

    def react(self, client: DeviceClient, message: dict[str, Any]) -> str | None:
        """Note one message (not a ping) and return the text to answer it with, if any."""
        now = time.time()
        kind = message["type"]
        if kind == "operation":
            operation = ShownOperation.parse(message)
            self.shown[str(operation.op_id)] = now
            return client.encode(client.decision_message(operation, Decision.CONFIRM))
        if kind == "outcome":
            self.answered[str(message.get("op_id"))] = (now, str(message.get("status")))
        elif kind == "error":
            self.errors[f"error_{message.get('code')}"] += 1
        # ``withdrawn`` (the operation is being signed) and anything newer need no answer.
        return None

    def lost(self, client: DeviceClient) -> None:
        """Count a device whose connection ended."""
        self.errors["disconnected"] += 1
        self.listening.discard(client.state.device_id)


@dataclass(slots=True)
class _Job:
    """A schedule handed to the serving thread."""

    make: Callable[[select.epoll], Schedule]
    """Builds it (in the thread, on the thread's ``epoll``)."""
    done: Callable[[float | Exception], None]
    """Called in the thread with the first due time, or the error that stopped it."""
    schedule: Schedule | None = None
    wall0: float = 0.0


class _ServeLoop:
    """The serving thread: one level-triggered ``epoll`` over the devices' sockets and a schedule's."""

    def __init__(self, fleet: DeviceFleet, clients: Sequence[DeviceClient]) -> None:
        self.fleet = fleet
        self.stop = threading.Event()
        """Set to end :meth:`run`."""
        self.done = threading.Event()
        """Set when :meth:`run` has returned."""
        self._clients: dict[int, tuple[DeviceClient, WebSocket]] = {}
        for client in clients:
            assert isinstance(client.ws, WebSocket)
            self._clients[client.ws.fileno()] = (client, client.ws)
        self._jobs: deque[_Job] = deque()
        self._job: _Job | None = None
        self._step_at = 0.0  # monotonic time the running schedule wants its next step
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)

    def submit(self, job: _Job) -> None:
        """Queue ``job`` (from any thread); it starts when the running one is done."""
        self._jobs.append(job)
        os.write(self._wake_w, b"j")

    def run(self) -> None:
        """Serve until :attr:`stop` is set."""
        epoll = select.epoll()
        try:
            epoll.register(self._wake_r, select.EPOLLIN)
            for fd in self._clients:
                epoll.register(fd, select.EPOLLIN)
            for fd in list(self._clients):  # messages that came with the handshake
                self._serve(epoll, fd, read=False)
            while not self.stop.is_set():
                for fd, _ in epoll.poll(self._timeout(epoll)):
                    if fd == self._wake_r:
                        os.read(self._wake_r, 4096)
                        self._next_job(epoll)
                    elif self._job is not None and self._job.schedule and self._job.schedule.owns(fd):
                        self._job.schedule.readable(fd)
                        self._step_at = 0.0  # a connection may be free for a late request
                    elif fd in self._clients:
                        self._serve(epoll, fd)
        finally:
            self._abandon_jobs()
            epoll.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            self.done.set()

    def _timeout(self, epoll: select.epoll) -> float:
        """Step the running schedule if it is time; seconds until it (or the stop flag) wants a look.

        A device's message changes nothing in the schedule: after one, only the time left is computed.
        """
        while (job := self._job) is not None and (schedule := job.schedule) is not None:
            now = time.monotonic()
            if now < self._step_at:
                return min(self._step_at - now, _LOOP_POLL_S)
            wake = schedule.step(now)
            if wake is not None:
                self._step_at = wake
                return max(0.0, min(wake - now, _LOOP_POLL_S))
            schedule.close()
            self._job = None
            job.done(job.wall0)
            self._next_job(epoll)
        return _LOOP_POLL_S

    def _next_job(self, epoll: select.epoll) -> None:
        """Start the next queued schedule unless one runs."""
        if self._job is not None or not self._jobs:
            return
        job = self._jobs.popleft()
        try:
            job.schedule = job.make(epoll)
            job.wall0 = job.schedule.start()
        except Exception as exc:  # handed to the waiting task
            job.done(exc)
            return
        self._job = job
        self._step_at = 0.0

    def _abandon_jobs(self) -> None:
        """Tell whoever waits for a schedule that it will not finish."""
        if self._job is not None and self._job.schedule is not None:
            self._job.schedule.close()
        for job in [*([self._job] if self._job else []), *self._jobs]:
            job.done(RuntimeError("the fleet stopped serving"))
        self._job = None
        self._jobs.clear()

    def _serve(self, epoll: select.epoll, fd: int, *, read: bool = True) -> None:
        """Read what one socket holds and answer every whole message in it."""
        client, ws = self._clients[fd]
        send: Callable[[str], None] = ws.send_blocking
        try:
            if read:
                ws.read_available()
            while (data := ws.next_message()) is not None:
                message = client.parse(data)
                if message["type"] == "ping":
                    send(_PONG)
                elif message["type"] != "pong" and (answer := self.fleet.react(client, message)):
                    send(answer)
        except _LOST:
            self.fleet.lost(client)
            epoll.unregister(fd)
            del self._clients[fd]


def _name(exc: BaseException) -> str:
    """The exception's type name, looking through single-member groups (trio-websocket wraps)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return type(exc).__name__
