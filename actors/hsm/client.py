"""An async (trio) client for one HSM unit: connect, authenticate, call with a timeout, pipeline.

::

    async with open_unit_connection(path, auth_key=key) as unit:
        info = await unit.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        signature = await unit.sign_digest(info.ref(), digest)

Any number of tasks may call at once: each request gets a fresh id; the caller that finds no
write in progress writes every queued frame in one go (no writer task); a reader task routes
each reply to its caller by id. Single signatures asked for in the same scheduler pass, or while
a coalesced frame is out (:data:`BATCHES_IN_FLIGHT`; its reply sends them), are coalesced into
one SIGN_MANY frame (each still succeeds or fails alone), so a busy connection pays the
per-frame costs once per batch while a lone request leaves at once. A caller that times out or is
cancelled just stops waiting: the late reply is dropped, and the connection stays usable
(cancellation never cuts a frame in half).

Failures are typed (:mod:`actors.hsm.errors`): the unit's refusals come back as the classes it
raised; a connection that breaks — the process died, was killed, closed on us — fails every
pending and later call with :class:`UnitLostError`; no reply within the timeout is
:class:`UnitTimeoutError`. Both are ``retryable``: a balancer may send the request to another unit.
"""

# ASYNC109 ("use trio.fail_after instead of a timeout parameter") is silenced on purpose here: the
# timeout of a unit call is part of the protocol (it becomes UnitTimeoutError, a typed, retryable
# outcome the balancer acts on), not a plain cancellation.
# ruff: noqa: ASYNC109

from __future__ import annotations

import math
import os
import socket
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

import trio

from actors.hsm import wire
from actors.hsm.calls import Batch, Pending
from actors.hsm.codec import decode_error, decode_reply, encode_request, sign_item_size
from actors.hsm.errors import (
    FrameTooLargeError,
    HsmError,
    HsmProtocolError,
    HsmRequestError,
    UnitLostError,
    UnitTimeoutError,
)
from actors.hsm.handshake import client_handshake
from actors.hsm.protocol import (
    MAX_DIGESTS_PER_CALL,
    REPLY_TYPES,
    Agree,
    Done,
    FaultKind,
    GenerateKey,
    GetPublicKey,
    Health,
    HealthReport,
    InjectFault,
    KeyAlgorithm,
    KeyInfo,
    KeyRef,
    ManySignatures,
    Metrics,
    MetricsReport,
    Op,
    Request,
    Secret,
    Signatures,
    SignDigests,
    SignItem,
    SignMany,
    Unwrap,
)

_R = TypeVar("_R")

DEFAULT_CALL_TIMEOUT_S: Final = 5.0
DEFAULT_CONNECT_TIMEOUT_S: Final = 5.0
DEFAULT_SEND_TIMEOUT_S: Final = 10.0
_RECEIVE_SIZE: Final = 256 * 1024
DEADLINE_SWEEP_S: Final = 1.0
"""Longest sleep of a connection's deadline watchdog (it also drops answered calls then)."""
BATCHES_IN_FLIGHT: Final = 1
"""Coalesced SIGN_MANY frames a connection keeps in flight. A single signature asked for while that
many are out waits in the queue, and the reply that frees the place sends everything queued by
then in one write (Nagle's algorithm, clocked by replies): a lone request leaves at once, and the
busier the connection the more requests share a frame — a frame's cost (a write, a wake-up of the
unit's reader and of a slot, a reply, a wake-up here) is most of a lone signature's CPU."""
COALESCED_ITEMS_PER_FRAME: Final = 32
"""Most single signatures in one coalesced SIGN_MANY frame. Several frames still leave in one write,
but the unit answers each on its own: replies keep flowing (a busy unit is seen answering, not
hung) and the client's callers do not fall into lock-step behind one giant frame."""


class UnitConnection:
    """An authenticated connection to one unit. Create it with :func:`open_unit_connection`."""

    def __init__(
        self,
        stream: trio.SocketStream,
        hello: dict[str, Any],
        *,
        raw_socket: socket.socket,
        call_timeout: float,
        max_frame: int,
        send_timeout: float = DEFAULT_SEND_TIMEOUT_S,
        coalesce: bool = True,
    ) -> None:
        """Internal: the stream has passed the handshake."""
        self._stream = stream
        # The stdlib socket under the stream (non-blocking): the data path sends and receives on it
        # directly and parks only when the kernel would block. trio's send_all/recv_into add a
        # checkpoint (a scheduler pass) to every call and try recv once more only to get EAGAIN.
        self._sock: socket.socket = raw_socket
        self.unit_id: str = hello["unit_id"]
        """The unit's id, from its HELLO."""
        self.backend: str = hello["backend"]
        """``soft`` or ``pkcs11``."""
        self.unit_max_frame: int = hello["max_frame"]
        """Largest request frame the unit accepts (larger calls fail here, before sending)."""
        self._call_timeout = call_timeout
        self._send_timeout = send_timeout
        self._max_frame = max_frame
        self._coalesce = coalesce
        self._pending: dict[int, Pending | Batch] = {}
        self._next_id = 0
        self._lost: UnitLostError | None = None
        self._outgoing: list[bytes] = []
        self._queued_items: list[tuple[SignItem, Pending, int]] = []
        """Single signatures waiting for a frame, each with its size there (``sign_item_size``)."""
        self._flushing = False
        self._batches_in_flight = 0
        self._nursery: trio.Nursery | None = None
        """Where a write the reader could not finish without parking continues (set when served)."""
        self._deadlines: dict[float, deque[tuple[float, Pending]]] = {}
        """Calls in flight by their timeout, each queue in deadline order (see :meth:`_expire_calls`)."""
        self._deadline_wakeup = trio.Event()
        self._watch_until = math.inf
        """When the watchdog looks next (a call due before that wakes it)."""
        self._calls = 0

    @property
    def is_lost(self) -> bool:
        """True once the connection broke or was closed; every call then raises :class:`UnitLostError`."""
        return self._lost is not None

    @property
    def in_flight(self) -> int:
        """Calls waiting for their reply."""
        return self._calls

    @property
    def deadlines_held(self) -> int:
        """Calls whose deadline entry is still kept (finished calls are dropped as they finish,
        unless a slower call started before them is still out)."""
        return sum(len(queue) for queue in self._deadlines.values())

    @property
    def joinable(self) -> bool:
        """True while single signatures wait for a flush that has not written yet (during its
        yield) and their frame has room: one more :meth:`sign_digest` now shares their frame,
        their write and their reply instead of costing its own."""
        return self._flushing and 0 < len(self._queued_items) < COALESCED_ITEMS_PER_FRAME

    # --- the generic call ----------------------------------------------------------------------

    async def call(
        self,
        request: Request,
        reply_type: type[_R],
        *,
        timeout: float | None = None,
        op_id: str | None = None,
    ) -> _R:
        """Send ``request`` and wait for its reply (``reply_type`` is what this operation answers)."""
        if REPLY_TYPES[request.op] is not reply_type:
            raise TypeError(f"{request.op.name} answers {REPLY_TYPES[request.op].__name__}")
        self._raise_if_lost()
        body = encode_request(request, op_id=op_id)
        if wire.MIN_LENGTH + len(body) > self.unit_max_frame:
            raise FrameTooLargeError(f"request of {len(body)} bytes exceeds the unit's frame limit")
        request_id = self._new_id()
        pending = self._pending[request_id] = Pending(trio.lowlevel.current_task())
        try:
            await self._complete(pending, wire.pack(request.op, request_id, body), request.op.name, timeout)
        finally:
            self._pending.pop(request_id, None)
        return decode_reply(reply_type, pending.body)

    def _new_id(self) -> int:
        self._next_id = self._next_id % wire.MAX_REQUEST_ID + 1
        return self._next_id

    async def _complete(
        self, pending: Pending, frame: bytes | None, what: str, timeout: float | None
    ) -> None:
        """Send (``frame``, or the queued items), wait for ``pending``, raise its error if it failed."""
        limit = self._call_timeout if timeout is None else timeout
        # No cancel scope per call (entering and leaving one with a deadline was a large share of
        # a lone signature's cost on the event loop): the call's deadline joins its timeout's queue
        # and one watchdog task expires what is overdue. Only the wait for the reply needs it: the
        # write is shielded and bounded by the send timeout on its own.
        deadline = trio.current_time() + limit
        queue = self._deadlines.get(limit)
        if queue is None:
            queue = self._deadlines[limit] = deque()
        queue.append((deadline, pending))
        if deadline < self._watch_until:
            self._deadline_wakeup.set()
        self._calls += 1
        try:
            await self._send(frame)
            if not pending.done and not pending.expired:
                await pending.wait()
        finally:
            self._calls -= 1
            if not pending.done:
                pending.abandoned = True
            # Drop the calls at the front that are over, a few per call: left to the watchdog's
            # pass once a second, a second's worth (thousands of Pendings, each holding its task)
            # was freed in one go and stalled the loop for ~7 ms every second. A cancelled call
            # counts as over too, or it would hold every later one until its own deadline.
            while queue and (queue[0][1].done or queue[0][1].abandoned):
                queue.popleft()
        if not pending.done:
            self._raise_if_lost()
            raise UnitTimeoutError(f"unit {self.unit_id!r} did not answer {what} within {limit} s")
        if pending.error is not None:
            raise pending.error
        if pending.kind == wire.Kind.ERROR:
            raise decode_error(pending.body)

    async def _send(self, frame: bytes | None) -> None:
        """Queue ``frame`` (None: a single signature was queued); write what is queued unless
        someone else will.

        No writer task, so a quiet connection costs no task switch per call. The flushing task
        first yields once (one scheduler pass, shielded): every other task of the same batch — a
        burst of open-loop arrivals, or the callers a batch of replies just woke — queues behind
        it meanwhile, and single signatures queued together leave as SIGN_MANY frames in one
        write (each write wakes the unit's reader thread). Single signatures queued while
        :data:`BATCHES_IN_FLIGHT` coalesced frames are out are not written here: the reader sends
        them when a reply frees a place (:meth:`_flush_waiting`).
        """
        self._raise_if_lost()
        if frame is not None:
            self._outgoing.append(frame)
        if self._flushing or (frame is None and self._batches_in_flight >= BATCHES_IN_FLIGHT):
            return
        self._flushing = True
        try:
            await trio.lowlevel.cancel_shielded_checkpoint()
            await self._write_queued()
        finally:
            self._flushing = False
        self._raise_if_lost()

    async def _write_queued(self) -> None:
        """Write every queued frame and single signature (the caller holds ``_flushing``)."""
        try:
            while (self._outgoing or self._queued_items) and self._lost is None:
                self._pack_items()
                data = b"".join(self._outgoing) if len(self._outgoing) > 1 else self._outgoing[0]
                self._outgoing.clear()
                await self._write(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self._mark_lost(f"cannot write to unit {self.unit_id!r}: {exc!r}")

    def _flush_waiting(self) -> None:
        """On the reader, after routing replies: send the single signatures that waited for a
        place among the coalesced frames in flight, in one write and without parking; what the
        kernel does not take at once is finished by a task of its own (rare)."""
        if self._flushing or not self._queued_items or self._batches_in_flight >= BATCHES_IN_FLIGHT:
            return
        self._pack_items()
        data = b"".join(self._outgoing) if len(self._outgoing) > 1 else self._outgoing[0]
        self._outgoing.clear()
        try:
            sent = self._sock.send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self._outgoing.insert(0, data[sent:])
            self._flushing = True
            assert self._nursery is not None, "open_unit_connection sets it before the reader runs"
            self._nursery.start_soon(self._finish_flush)

    async def _finish_flush(self) -> None:
        try:
            await self._write_queued()
        finally:
            self._flushing = False

    async def _write(self, data: bytes) -> None:
        """Write all of ``data``; park (shielded, up to ``send_timeout``) only while the kernel is full.

        The common case — the socket buffer has room — is one ``send`` and no scheduler pass.
        """
        try:
            sent = self._sock.send(data)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
        view = memoryview(data)[sent:]
        with trio.CancelScope(shield=True, deadline=trio.current_time() + self._send_timeout) as scope:
            while view:
                try:
                    sent = self._sock.send(view)
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(self._sock)
                    continue
                view = view[sent:]
        if scope.cancelled_caught:
            self._mark_lost(f"unit {self.unit_id!r} took no bytes for {self._send_timeout} s")

    def _raise_if_lost(self) -> None:
        if self._lost is not None:
            raise UnitLostError(str(self._lost))

    # --- typed operations ----------------------------------------------------------------------

    async def health(self, *, timeout: float | None = None) -> HealthReport:
        """The unit's health report."""
        return await self.call(Health(), HealthReport, timeout=timeout)

    async def metrics(self, *, timeout: float | None = None) -> MetricsReport:
        """The unit's counters and latency percentiles."""
        return await self.call(Metrics(), MetricsReport, timeout=timeout)

    async def generate_key(
        self,
        algorithm: KeyAlgorithm | str,
        paramset: str | None = None,
        *,
        timeout: float | None = None,
        op_id: str | None = None,
    ) -> KeyInfo:
        """Generate a key pair (``paramset``: a GOST ``ParamSet`` member name; None for ECDSA)."""
        request = GenerateKey(algorithm=str(algorithm), paramset=paramset)
        return await self.call(request, KeyInfo, timeout=timeout, op_id=op_id)

    async def sign_digests(
        self, key: KeyRef, digests: Sequence[bytes], *, timeout: float | None = None, op_id: str | None = None
    ) -> list[bytes]:
        """Sign several digests with one key in one call; signatures in the same order."""
        request = SignDigests(key=key, digests=tuple(digests))
        reply = await self.call(request, Signatures, timeout=timeout, op_id=op_id)
        if len(reply.signatures) != len(request.digests):
            raise HsmProtocolError("the unit returned a different number of signatures")
        return list(reply.signatures)

    async def sign_digest(
        self, key: KeyRef, digest: bytes, *, timeout: float | None = None, op_id: str | None = None
    ) -> bytes:
        """Sign one digest.

        Single signatures requested while the socket is busy are coalesced into one SIGN_MANY
        frame (items still succeed or fail on their own); a quiet connection sends at once.
        """
        if not self._coalesce:
            return (await self.sign_digests(key, [digest], timeout=timeout, op_id=op_id))[0]
        if not 1 <= len(digest) <= 255:
            raise HsmRequestError(f"a digest is 1..255 bytes, not {len(digest)}")
        item = SignItem(key=key, digest=digest, op_id=op_id)
        # Refuse a malformed or oversized item here: inside a batch it would fail the whole frame.
        size = sign_item_size(item)
        if wire.MIN_LENGTH + 2 + size > self.unit_max_frame:
            raise FrameTooLargeError("this signing request exceeds the unit's frame limit")
        pending = Pending(trio.lowlevel.current_task())
        self._raise_if_lost()
        self._queued_items.append((item, pending, size))
        await self._complete(pending, None, "SIGN_MANY", timeout)
        return pending.body

    async def sign_many(
        self, items: Sequence[SignItem], *, timeout: float | None = None
    ) -> list[bytes | HsmError]:
        """Sign one digest per item, each with its own key; per item: the signature or its error."""
        reply = await self.call(SignMany(items=tuple(items)), ManySignatures, timeout=timeout)
        if len(reply.outcomes) != len(items):
            raise HsmProtocolError("the unit answered a different number of items")
        return list(reply.outcomes)

    def _pack_items(self) -> None:
        """Turn the queued single signatures into SIGN_MANY frames within the unit's frame limit."""
        queued, self._queued_items = self._queued_items, []
        while queued:
            budget, count = self.unit_max_frame - wire.MIN_LENGTH - 2, 0
            most = min(len(queued), MAX_DIGESTS_PER_CALL, COALESCED_ITEMS_PER_FRAME)
            while count < most:
                size = queued[count][2]
                if size > budget and count:
                    break
                budget -= size
                count += 1
            chunk, queued = queued[:count], queued[count:]
            request_id = self._new_id()
            self._pending[request_id] = Batch([pending for _, pending, _ in chunk])
            self._batches_in_flight += 1
            body = encode_request(SignMany(items=tuple([item for item, _, _ in chunk])))
            self._outgoing.append(wire.pack(Op.SIGN_MANY, request_id, body))

    async def public_key(self, key: KeyRef, *, timeout: float | None = None) -> KeyInfo:
        """The key's public half."""
        return await self.call(GetPublicKey(key=key), KeyInfo, timeout=timeout)

    async def agree(
        self,
        key: KeyRef,
        peer_public: bytes,
        *,
        ukm: bytes = b"",
        output_size: int = 32,
        timeout: float | None = None,
        op_id: str | None = None,
    ) -> bytes:
        """VKO (GOST) or ECDH (P-256) shared secret with the peer's public key."""
        request = Agree(key=key, peer_public=peer_public, ukm=ukm, output_size=output_size)
        return (await self.call(request, Secret, timeout=timeout, op_id=op_id)).secret

    async def unwrap(
        self,
        key: KeyRef,
        *,
        peer_public: bytes,
        ukm: bytes,
        iv: bytes,
        wrapped: bytes,
        cipher: str = "kuznyechik",
        timeout: float | None = None,
        op_id: str | None = None,
    ) -> bytes:
        """KEG + KImp15 inside the unit: the content-encryption key sent to our GOST key."""
        request = Unwrap(key=key, peer_public=peer_public, ukm=ukm, iv=iv, wrapped=wrapped, cipher=cipher)
        return (await self.call(request, Secret, timeout=timeout, op_id=op_id)).secret

    async def inject_fault(self, kind: FaultKind, *, timeout: float | None = None) -> None:
        """Test-only: make the unit fail (the unit must run with ``--enable-test-faults``)."""
        await self.call(InjectFault(kind=kind.value), Done, timeout=timeout)

    # --- background tasks ----------------------------------------------------------------------

    async def _expire_calls(self) -> None:
        """Expire overdue calls: one task and one timer for all of them.

        Each queue holds the calls of one timeout in the order they started, so its deadlines only
        grow; answered calls are dropped as they reach the front (or, behind a slower one, when it
        leaves). The watchdog sleeps until the earliest deadline, or :data:`DEADLINE_SWEEP_S` to
        drop answered calls; a call due before that wakes it.
        """
        while True:
            now = trio.current_time()
            earliest = math.inf
            for queue in self._deadlines.values():
                while queue and (queue[0][1].done or queue[0][1].abandoned or queue[0][0] <= now):
                    queue.popleft()[1].expire()
                if queue:
                    earliest = min(earliest, queue[0][0])
            self._deadline_wakeup = trio.Event()
            self._watch_until = min(earliest, now + DEADLINE_SWEEP_S)
            with trio.move_on_at(self._watch_until):
                await self._deadline_wakeup.wait()
            self._watch_until = math.inf

    async def _read_loop(self) -> None:
        reason = f"unit {self.unit_id!r} closed the connection"
        try:
            await self._receive_frames()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            reason = f"connection to unit {self.unit_id!r} broke: {exc!r}"
        except HsmError as exc:
            reason = f"unit {self.unit_id!r} broke the protocol: {exc}"
        self._mark_lost(reason)

    async def _receive_frames(self) -> None:
        # recv_into a reused buffer: a plain recv(256 KiB) allocates that much per call (~25 µs).
        # Park until readable, then read what is there; a short read means the kernel had no more,
        # so go back to waiting rather than paying a recv that only says EAGAIN.
        sock = self._sock
        buffer = bytearray(_RECEIVE_SIZE)
        view = memoryview(buffer)
        filled = 0
        while True:
            await trio.lowlevel.wait_readable(sock)
            while True:
                if filled == len(buffer):  # one frame bigger than the buffer: grow (up to max_frame)
                    view.release()
                    buffer = buffer + bytearray(len(buffer))
                    view = memoryview(buffer)
                space = len(buffer) - filled
                try:
                    received = sock.recv_into(view[filled:])
                except BlockingIOError:
                    break
                if not received:
                    return
                filled += received
                consumed = self._route_frames(buffer, filled)
                if consumed:
                    buffer[: filled - consumed] = buffer[consumed:filled]
                    filled -= consumed
                    self._flush_waiting()
                if received < space:
                    break

    def _route_frames(self, buffer: bytearray, filled: int) -> int:
        offset = 0
        while filled - offset >= wire.PREFIX_SIZE:
            (length,) = wire.LENGTH.unpack_from(buffer, offset)
            wire.check_length(length, self._max_frame)
            end = offset + wire.PREFIX_SIZE + length
            if filled < end:
                break
            kind, request_id = wire.KIND_AND_ID.unpack_from(buffer, offset + wire.PREFIX_SIZE)
            body = bytes(buffer[offset + wire.HEADER_SIZE : end])
            offset = end
            if request_id == 0 and kind == wire.Kind.ERROR:
                raise decode_error(body)  # a connection-level error: the unit hangs up after it
            waiting = self._pending.pop(request_id, None)
            if waiting is not None:
                if isinstance(waiting, Batch):
                    self._batches_in_flight -= 1
                waiting.resolve(kind, body)
        return offset

    def _mark_lost(self, reason: str) -> None:
        if self._lost is None:
            self._lost = UnitLostError(reason)
        waiting: list[Pending | Batch] = list(self._pending.values())
        waiting += [pending for _, pending, _ in self._queued_items]
        self._pending, self._queued_items = {}, []
        for call in waiting:
            call.resolve(wire.Kind.ERROR, b"", UnitLostError(str(self._lost)))

    async def aclose(self) -> None:
        """Close the connection; pending calls fail with :class:`UnitLostError`."""
        self._mark_lost(f"connection to unit {self.unit_id!r} was closed by us")
        await self._stream.aclose()


@asynccontextmanager
async def open_unit_connection(
    path: str | os.PathLike[str],
    *,
    auth_key: bytes,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
    call_timeout: float = DEFAULT_CALL_TIMEOUT_S,
    max_frame: int = wire.DEFAULT_MAX_FRAME,
    coalesce: bool = True,
) -> AsyncIterator[UnitConnection]:
    """Connect to the unit at ``path``, authenticate with ``auth_key``, and serve calls in the block.

    Raises :class:`UnitLostError` when nothing listens at ``path`` (or it hangs up), :class:`HsmAuthError`
    when the keys differ, :class:`UnitTimeoutError` when the handshake takes longer than
    ``connect_timeout``. ``call_timeout`` is the default of every call; ``max_frame`` bounds replies;
    ``coalesce`` lets concurrent :meth:`UnitConnection.sign_digest` calls share SIGN_MANY frames.
    """
    try:
        with trio.fail_after(connect_timeout):
            raw_socket, stream = await _connect_unix(os.fspath(path))
            try:
                hello = await client_handshake(stream, auth_key)
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
    except trio.TooSlowError:
        raise UnitTimeoutError(
            f"no handshake with the unit at {Path(path)} within {connect_timeout} s"
        ) from None
    except OSError as exc:
        raise UnitLostError(f"cannot connect to the unit at {Path(path)}: {exc.strerror or exc}") from exc
    connection = UnitConnection(
        stream,
        hello,
        raw_socket=raw_socket,
        call_timeout=call_timeout,
        max_frame=max_frame,
        coalesce=coalesce,
    )
    async with trio.open_nursery() as nursery:
        connection._nursery = nursery
        nursery.start_soon(connection._read_loop)
        nursery.start_soon(connection._expire_calls)
        try:
            yield connection
        finally:
            await connection.aclose()
            nursery.cancel_scope.cancel()


async def _connect_unix(path: str) -> tuple[socket.socket, trio.SocketStream]:
    """Connect to ``path``; return the stdlib socket (non-blocking) and the trio stream over it.

    Like :func:`trio.open_unix_socket`, but we keep the stdlib object the trio socket wraps, for
    the data path's direct sends and receives.
    """
    raw_socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        trio_socket = trio.socket.from_stdlib_socket(raw_socket)  # makes it non-blocking
        await trio_socket.connect(path)
    except BaseException:
        raw_socket.close()
        raise
    return raw_socket, trio.SocketStream(trio_socket)
