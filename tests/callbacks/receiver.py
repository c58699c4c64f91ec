"""A real HTTP/1.1 callback receiver on loopback for the tests: trio sockets + h11, scripted answers.

Every request is recorded with its arrival time (``trio.current_time``), raw body and headers; the
answer is the next scripted status (the last one repeats), after an optional scripted delay.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import h11
import trio


@dataclass(frozen=True, slots=True)
class Received:
    """One request the receiver got."""

    at: float
    """``trio.current_time()`` when the request was complete."""
    method: str
    """HTTP method."""
    target: str
    """Request target (path and query)."""
    headers: dict[str, str]
    """Headers, names lower-cased."""
    body: bytes
    """The raw body."""

    @property
    def document(self) -> dict[str, Any]:
        """The body parsed as JSON."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """Scripted answers and what arrived."""

    statuses: list[int] = field(default_factory=lambda: [200])
    """Statuses to answer in order; the last one repeats."""
    delay_s: float = 0.0
    """Pause before each answer (to hold deliveries in flight)."""
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    """Headers added to every answer."""
    received: list[Received] = field(default_factory=list)
    """Requests so far."""
    in_flight: dict[str, int] = field(default_factory=dict)
    """Requests being answered now, by ``X-Klyuch-Delivery``."""
    max_in_flight_same_delivery: int = 0
    """Most requests of one delivery id ever in flight at once."""
    port: int = 0
    """Bound port once serving."""
    host: str = "127.0.0.1"
    """Bound address."""
    changed: trio.Event = field(default_factory=trio.Event)

    @property
    def url(self) -> str:
        """Base URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:  # noqa: ASYNC109
        """Wait until ``count`` requests arrived; returns them."""
        with trio.fail_after(timeout):
            while len(self.received) < count:
                await self.changed.wait()
        return self.received

    def _next_status(self) -> int:
        index = min(len(self.received) - 1, len(self.statuses) - 1)
        return self.statuses[index]

    async def handle(self, stream: trio.SocketStream) -> None:
        """Serve one connection (keep-alive: several requests)."""
        conn = h11.Connection(h11.SERVER)
        async with stream:
            while True:
                request = await _read_request(conn, stream)
                if request is None:
                    return
                await self._answer(conn, stream, request)
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                try:
                    conn.start_next_cycle()
                except h11.LocalProtocolError:
                    return

    async def _answer(self, conn: h11.Connection, stream: trio.SocketStream, request: Received) -> None:
        self.received.append(request)
        status = self._next_status()
        delivery = request.headers.get("x-klyuch-delivery", "")
        self.in_flight[delivery] = self.in_flight.get(delivery, 0) + 1
        self.max_in_flight_same_delivery = max(self.max_in_flight_same_delivery, self.in_flight[delivery])
        self._changed()
        try:
            await trio.sleep(self.delay_s)
            body = b"" if status in (204, 304) else b"ok"
            headers = [("content-length", str(len(body))), *self.extra_headers]
            await stream.send_all(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
            if body:
                await stream.send_all(conn.send(h11.Data(data=body)) or b"")
            await stream.send_all(conn.send(h11.EndOfMessage()) or b"")
        finally:
            self.in_flight[delivery] -= 1

    def _changed(self) -> None:
        self.changed.set()
        self.changed = trio.Event()


async def _read_request(conn: h11.Connection, stream: trio.SocketStream) -> Received | None:
    head: h11.Request | None = None
    chunks: list[bytes] = []
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive_some(65536)
            except trio.BrokenResourceError:
                return None
            conn.receive_data(data)
            if not data and head is None:
                return None
            continue
        if isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            headers = {k.decode().lower(): v.decode() for k, v in head.headers}
            return Received(
                trio.current_time(), head.method.decode(), head.target.decode(), headers, b"".join(chunks)
            )
        elif isinstance(event, h11.ConnectionClosed):
            return None


@asynccontextmanager
async def serve_receiver(
    statuses: Sequence[int] = (200,),
    *,
    delay_s: float = 0.0,
    port: int = 0,
    headers: Sequence[tuple[str, str]] = (),
    host: str = "127.0.0.1",
) -> AsyncIterator[Receiver]:
    """Run a ``Receiver`` on ``host`` (``port`` 0: any free port) for the duration of the block."""
    receiver = Receiver(statuses=list(statuses), delay_s=delay_s, extra_headers=list(headers), host=host)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, receiver.handle, port, host=host))
        receiver.port = listeners[0].socket.getsockname()[1]
        yield receiver
        nursery.cancel_scope.cancel()


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
