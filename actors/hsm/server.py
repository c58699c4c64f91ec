"""The unit's RPC server: plain threads on a unix socket, dispatching requests to the slot pool.

One thread accepts; one thread per connection reads frames, decodes them and submits jobs without
waiting for them (many requests in flight per connection, answered in completion order). Slot
threads encode their own replies and write them under the connection's send lock, so a reply
costs no extra thread hop. HEALTH and METRICS are answered on the reader thread at once, never
queued behind signing work.

The reader hands the jobs of what one ``recv`` brought to the slots only when it is about to wait
for more input. A woken slot thread needs the GIL at once; while the reader still held it (it used
to go on through a buffered reader and ``SocketIO``), the slot thread slept again on the GIL and
once more on its mutex.

The reader waits in ``poll`` for input, not in a blocking ``recv``: a unix socket wakes everything
sleeping in ``recv`` on it whenever its peer consumes what it sent, so a reader blocked in ``recv``
woke for nothing once per reply; ``poll`` sleeps for POLLIN only. Together (with the slots'
eventfd inbox) a lone signature costs one voluntary context switch on the reader and one on the
slot thread, where it cost two and 1.2–1.6.

Back-pressure: a connection may have ``max_in_flight`` slot jobs outstanding; beyond that its
reader stops reading (the client's writes then block in the kernel). A peer that stops reading
replies for ``send_timeout`` seconds is disconnected. The unit process does little else, so
threads are cheap here; the GIL is released by the engine and PKCS#11 calls.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import structlog

from actors.hsm import auth, wire
from actors.hsm.codec import decode_request, encode_error, encode_reply
from actors.hsm.errors import (
    FrameTooLargeError,
    HsmAuthError,
    HsmError,
    HsmProtocolError,
    HsmRequestError,
    HsmUnavailableError,
    UnitStoppingError,
    UnknownOperationError,
)
from actors.hsm.pool import Job, Outcome, SlotPool, items_of
from actors.hsm.protocol import (
    FaultKind,
    Health,
    HealthReport,
    InjectFault,
    Metrics,
    MetricsReport,
    Op,
    Reply,
    Request,
    SignDigests,
    SignMany,
)

log = structlog.get_logger("klyuch.hsm.server")

DEFAULT_MAX_IN_FLIGHT: Final = 1024
DEFAULT_MAX_CONNECTIONS: Final = 64
HANDSHAKE_TIMEOUT_S: Final = 5.0
SEND_TIMEOUT_S: Final = 10.0
FAULT_EXIT_STATUS: Final = 70
_READ_BUFFER: Final = 256 * 1024
_OP_NAMES: Final = {op.value: op.name.lower() for op in Op}
"""Metric names by operation code (decode_request has refused unknown codes already)."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What the server needs to know besides its collaborators."""

    unit_id: str
    """Announced in HELLO."""
    backend: str
    """``soft`` or ``pkcs11``, announced in HELLO."""
    auth_key: bytes
    """The shared secret of the handshake."""
    max_frame: int = wire.DEFAULT_MAX_FRAME
    """Largest frame accepted after authentication."""
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    """Slot jobs outstanding per connection before its reader pauses."""
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    """Connections served at once; more are closed at accept."""
    faults_enabled: bool = False
    """Accept INJECT_FAULT (tests only)."""
    handshake_timeout: float = HANDSHAKE_TIMEOUT_S
    send_timeout: float = SEND_TIMEOUT_S


class UnitServer:
    """Accepts authenticated connections and feeds their requests to the slot pool."""

    def __init__(
        self,
        *,
        listener: socket.socket,
        config: ServerConfig,
        pool: SlotPool,
        record: Callable[..., None],
        health: Callable[[], HealthReport],
        metrics: Callable[[], MetricsReport],
    ) -> None:
        """``listener`` is bound and listening; ``record`` is :meth:`UnitMetrics.record`."""
        self._listener = listener
        self.config = config
        self.pool = pool
        self.record = record
        self.health = health
        self.metrics = metrics
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()
        self._stopping = False
        self._outstanding = 0
        self._idle = threading.Condition(self._lock)
        self._accept_thread = threading.Thread(target=self._accept_loop, name="hsm-accept", daemon=True)

    @property
    def stopping(self) -> bool:
        """True once draining began: new requests are refused with :class:`UnitStoppingError`."""
        return self._stopping

    def start(self) -> None:
        """Start accepting connections."""
        self._accept_thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed: shutting down
            with self._lock:
                if self._stopping or len(self._connections) >= self.config.max_connections:
                    sock.close()
                    continue
                connection = _Connection(self, sock)
                self._connections.add(connection)
            threading.Thread(target=connection.run, name="hsm-conn", daemon=True).start()

    def forget(self, connection: _Connection) -> None:
        """Called by a connection when it ends."""
        with self._lock:
            self._connections.discard(connection)

    def connection_count(self) -> int:
        """Connections open now."""
        with self._lock:
            return len(self._connections)

    def job_started(self) -> None:
        """A slot job was accepted (its answer is not written yet)."""
        with self._lock:
            self._outstanding += 1

    def job_answered(self) -> None:
        """A slot job's answer was written (or its connection is gone)."""
        with self._lock:
            self._outstanding -= 1
            if not self._outstanding:
                self._idle.notify_all()

    def drain(self, grace: float) -> None:
        """Stop accepting, refuse new requests, and wait up to ``grace`` s until every accepted
        job's answer has been written (not merely computed)."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            self._idle.wait_for(lambda: not self._outstanding, timeout=grace)

    def close(self) -> None:
        """Close every connection (their readers end)."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close()


class _Connection:
    """One authenticated client: a reader thread plus replies written by slot threads."""

    def __init__(self, server: UnitServer, sock: socket.socket) -> None:
        self._server = server
        self._config = server.config
        self._sock = sock
        self._send_lock = threading.Lock()
        # Jobs outstanding on this connection: a counter under a C lock (threading's semaphores
        # are Python-level Conditions, several µs per job on the hot path); ``_room`` is waited
        # on only when the limit is reached.
        self._count_lock = threading.Lock()
        self._in_flight = 0
        self._room = threading.Event()
        self._closed = False
        self._ready: list[Job] = []
        """Jobs decoded from the bytes of the last ``recv``, handed over just before the next."""

    def run(self) -> None:
        try:
            if self._handshake():
                self._serve()
        except (OSError, HsmProtocolError, ValueError) as exc:
            log.debug("connection_ended", error=repr(exc))
        finally:
            self.close()
            self._server.forget(self)

    # --- frames ---------------------------------------------------------------------------------

    def _receive_exactly(self, size: int) -> bytes:
        """``size`` bytes (fewer only at the end of the stream); the handshake's reads, which must
        not take bytes beyond their frame."""
        data = b""
        while len(data) < size:
            chunk = self._sock.recv(size - len(data), socket.MSG_WAITALL)
            if not chunk:
                break
            data += chunk
        return data

    def _read_one(self, max_frame: int) -> tuple[int, int, bytes] | None:
        """One whole frame, or None at the end of the stream (handshake only)."""
        prefix = self._receive_exactly(wire.PREFIX_SIZE)
        if not prefix:
            return None
        if len(prefix) < wire.PREFIX_SIZE:
            raise HsmProtocolError("connection closed inside a frame header")
        (length,) = wire.LENGTH.unpack(prefix)
        wire.check_length(length, max_frame)
        payload = self._receive_exactly(length)
        if len(payload) < length:
            raise HsmProtocolError("connection closed inside a frame")
        return wire.split(payload)

    def send(self, frame: bytes) -> None:
        """Write one frame (from any thread); a broken peer closes the connection."""
        try:
            with self._send_lock:
                self._sock.sendall(frame)
        except OSError:
            self.close()

    def _send_error(self, request_id: int, error: HsmError) -> None:
        self.send(wire.pack(wire.Kind.ERROR, request_id, encode_error(error)))

    def _take_room(self) -> None:
        """Count one more outstanding job; wait while ``max_in_flight`` are outstanding (after
        handing over the jobs decoded so far: they are what frees the room)."""
        limit = self._config.max_in_flight
        while True:
            with self._count_lock:
                if self._in_flight < limit:
                    self._in_flight += 1
                    return
                self._room.clear()
            self._submit_ready()
            self._room.wait()

    def _submit_ready(self) -> None:
        """Hand the decoded jobs to the slots."""
        ready, self._ready = self._ready, []
        submit = self._server.pool.submit
        for job in ready:
            submit(job)

    def _job_done(self) -> None:
        with self._count_lock:
            self._in_flight -= 1
            if self._in_flight == self._config.max_in_flight - 1:
                self._room.set()
        self._server.job_answered()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()

    # --- handshake ------------------------------------------------------------------------------

    def _handshake(self) -> bool:
        config = self._config
        self._sock.settimeout(config.handshake_timeout)
        hello = auth.hello_body(
            unit_id=config.unit_id, backend=config.backend, max_frame=config.max_frame, nonce=auth.new_nonce()
        )
        self.send(wire.pack(wire.Kind.HELLO, 0, hello))
        try:
            frame = self._read_one(wire.HANDSHAKE_MAX_FRAME)
            if frame is None:
                return False
            client_nonce = _check_auth(config.auth_key, hello, frame)
        except (HsmAuthError, FrameTooLargeError, HsmProtocolError) as exc:
            log.warning("connection_refused", reason=str(exc))
            self._send_error(0, exc if isinstance(exc, HsmAuthError) else HsmAuthError("handshake failed"))
            return False
        except TimeoutError:
            log.warning("connection_refused", reason="handshake timeout")
            return False
        self.send(wire.pack(wire.Kind.WELCOME, 0, auth.welcome_body(config.auth_key, hello, client_nonce)))
        self._sock.settimeout(None)
        timeout = struct.pack("ll", int(config.send_timeout), int(config.send_timeout % 1 * 1e6))
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout)
        return True

    # --- requests -------------------------------------------------------------------------------

    def _serve(self) -> None:
        """Read frames until the peer hangs up: one ``recv`` into a reused buffer, every whole
        frame in it dispatched, the resulting jobs handed over, then the next ``recv``."""
        sock, max_frame = self._sock, self._config.max_frame
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        buffer = bytearray(_READ_BUFFER)
        view = memoryview(buffer)
        filled = 0
        try:
            while not self._closed:
                self._submit_ready()
                if filled == len(buffer):  # a frame longer than the buffer (within max_frame): grow
                    view.release()
                    buffer += bytes(len(buffer))
                    view = memoryview(buffer)
                poller.poll()
                try:
                    received = sock.recv_into(view[filled:], 0, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                if not received:
                    if filled:
                        raise HsmProtocolError("connection closed inside a frame")
                    return
                filled += received
                try:
                    consumed = self._dispatch_frames(buffer, filled, max_frame)
                except FrameTooLargeError as exc:
                    # The body cannot be skipped safely without reading it: answer and hang up.
                    self._send_error(0, exc)
                    return
                if consumed:
                    buffer[: filled - consumed] = buffer[consumed:filled]  # a copy: the ranges may overlap
                    filled -= consumed
        finally:
            self._submit_ready()  # accepted jobs are answered even when the connection is gone
            view.release()

    def _dispatch_frames(self, buffer: bytearray, filled: int, max_frame: int) -> int:
        """Dispatch every whole frame in ``buffer[:filled]``; return the bytes they took."""
        offset = 0
        while filled - offset >= wire.PREFIX_SIZE:
            (length,) = wire.LENGTH.unpack_from(buffer, offset)
            wire.check_length(length, max_frame)
            end = offset + wire.PREFIX_SIZE + length
            if end > filled:
                break
            kind, request_id = wire.KIND_AND_ID.unpack_from(buffer, offset + wire.PREFIX_SIZE)
            self._dispatch(kind, request_id, bytes(buffer[offset + wire.HEADER_SIZE : end]))
            offset = end
        return offset

    def _dispatch(self, kind: int, request_id: int, body: bytes) -> None:
        received = time.perf_counter()
        try:
            request, op_id = decode_request(kind, body)
        except HsmRequestError as exc:
            self._send_error(request_id, exc)
            return
        answer = _Answer(self, request_id, _OP_NAMES[kind], received, op_id)
        if isinstance(request, SignMany | SignDigests) and not self._server.stopping:
            self._accept(request, answer, op_id)  # the hot path first
        elif isinstance(request, Health):
            answer(self._server.health())
        elif isinstance(request, Metrics):
            answer(self._server.metrics())
        elif isinstance(request, InjectFault) and not self._config.faults_enabled:
            answer(UnknownOperationError("fault injection is disabled on this unit"))
        elif isinstance(request, InjectFault) and request.kind == FaultKind.EXIT_UNIT:
            log.warning("injected_fault_exit")
            os._exit(FAULT_EXIT_STATUS)
        elif self._server.stopping:
            answer(UnitStoppingError("the unit is shutting down"))
        else:
            self._accept(request, answer, op_id)

    def _accept(self, request: Request, answer: _Answer, op_id: str | None) -> None:
        """Count a slot job and queue it for the next hand-over."""
        self._take_room()
        answer.release = self._job_done
        self._server.job_started()
        answer.items = items = items_of(request)
        self._ready.append(Job(request=request, respond=answer, op_id=op_id, items=items))


def _check_auth(key: bytes, hello: bytes, frame: tuple[int, int, bytes]) -> bytes:
    kind, _, body = frame
    if kind != wire.Kind.AUTH:
        raise HsmAuthError("expected AUTH")
    return auth.verify_auth(key, hello, body)


class _Answer:
    """The ``respond`` callback of one request: encodes, records metrics, writes the frame."""

    __slots__ = ("connection", "items", "op_id", "op_name", "received", "release", "request_id")

    def __init__(
        self, connection: _Connection, request_id: int, op_name: str, received: float, op_id: str | None
    ) -> None:
        self.connection = connection
        self.request_id = request_id
        self.op_name = op_name
        self.received = received
        self.op_id = op_id
        self.items = 1
        self.release: Callable[[], None] | None = None

    def __call__(self, outcome: Outcome | Reply) -> None:
        if isinstance(outcome, HsmError):
            frame = wire.pack(wire.Kind.ERROR, self.request_id, encode_error(outcome))
            code: str | None = outcome.code
            if isinstance(outcome, HsmUnavailableError):
                log.warning(
                    "request_failed", op=self.op_name, op_id=self.op_id, code=code, error=str(outcome)
                )
        else:
            frame = wire.pack(wire.Kind.OK, self.request_id, encode_reply(outcome))
            code = None
        server = self.connection._server
        server.record(self.op_name, time.perf_counter() - self.received, items=self.items, error_code=code)
        self.connection.send(frame)
        if self.release is not None:
            self.release()
