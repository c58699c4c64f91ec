"""A small RFC 6455 client for ``ws://`` URLs: text messages over one TCP connection, cheap per message.

Why not trio-websocket here: it runs a reader task per connection and hands every message over a
memory channel, takes a lock per send and parses frames with wsproto, a dozen trio scheduling rounds
per request–answer; ``klyuch bench sign`` runs a thousand devices in the process that shares two cores
with the server it measures. This client reads and writes the socket from the caller's task: a
message costs one wait for readability, one ``recv``, and one ``send`` for the answer.

It speaks what the device channel needs (RFC 6455 §4.1 opening handshake with the
``Sec-WebSocket-Accept`` check; masked client frames, §5.3; fragmented messages reassembled; pings
answered with pongs; the closing handshake, §7) and no extensions. Failures keep trio-websocket's
types, which the callers already handle: ``ConnectionClosed`` with a ``CloseReason`` (1006 when the
TCP connection ended without a close frame; 1002/1007/1009 when this side closed on a protocol
error, an invalid text message or an oversized message).

Receiving always waits for the socket (a trio checkpoint); sending writes at once and waits only
when the socket buffer is full, so answering a message costs no extra scheduling round.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import select
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import trio
from trio_websocket import CloseReason, ConnectionClosed

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_HEAD = 64 * 1024
_RECV_SIZE = 65536

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
"""Frame opcodes (RFC 6455 §5.2)."""
NO_STATUS, ABNORMAL, PROTOCOL_ERROR, INVALID_DATA, TOO_BIG = 1005, 1006, 1002, 1007, 1009
"""Close codes this client reports or sends (RFC 6455 §7.4.1)."""


class HandshakeError(Exception):
    """The server did not switch to the websocket protocol (``status`` is its HTTP status, if any)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status of the refusal, ``None`` when the answer was not HTTP."""


class _Protocol(Exception):
    """A frame this side must refuse: close with ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class WebSocket:
    """One open client connection; use :func:`open_websocket` to make one.

    One task receives at a time; sends may come from any task (a lock orders them only when the
    socket buffer is full). The synchronous methods (:meth:`read_available`, :meth:`next_message`,
    :meth:`send_blocking`) let a thread outside trio drive the connection (``bench`` runs a
    thousand devices from one ``epoll`` loop); while it does, no trio task may use the connection.
    """

    def __init__(self, sock: trio.socket.SocketType, raw: socket.socket, *, max_message_bytes: int) -> None:
        self._sock = sock  # trio's wrapper: connect and close (it tells trio the descriptor closes)
        self._raw = raw  # the same descriptor, read and written directly
        self._max = max_message_bytes
        self._buf = bytearray()
        self._parts: list[bytes] = []
        self._opcode: int | None = None  # of the message being reassembled
        self._send_lock = trio.Lock()
        self._backlog = bytearray()  # control frames the socket could not take at once
        self.closed: CloseReason | None = None
        """Why the connection ended, once it has."""

    def fileno(self) -> int:
        """The socket's descriptor."""
        return self._raw.fileno()

    # -- sending -----------------------------------------------------------------------------------

    async def send_message(self, message: str | bytes) -> None:
        """Send one text (``str``) or binary (``bytes``) message; ``ConnectionClosed`` once closed."""
        data = self._frame_of(message)
        try:
            self._send_lock.acquire_nowait()
        except trio.WouldBlock:
            await self._send_lock.acquire()  # another task's frame is still being written
        try:
            await self._send_all(data)
        except (OSError, trio.ClosedResourceError):
            raise ConnectionClosed(self._abort(ABNORMAL, "the connection broke while sending")) from None
        finally:
            self._send_lock.release()

    def send_blocking(self, message: str | bytes, *, timeout_s: float = 10.0) -> None:
        """Send one message from a thread that is not trio's (waits in ``select`` while it is full)."""
        data = self._frame_of(message)
        try:
            while data:
                try:
                    data = data[self._raw.send(data) :]
                except BlockingIOError:
                    if not select.select([], [self._raw], [], timeout_s)[1]:
                        raise TimeoutError("the server does not read") from None
        except OSError:
            raise ConnectionClosed(self._abort(ABNORMAL, "the connection broke while sending")) from None

    def _frame_of(self, message: str | bytes) -> bytes:
        """The frame of ``message``, after any control frame still waiting to be written."""
        if self.closed is not None:
            raise ConnectionClosed(self.closed)
        opcode, payload = (OP_TEXT, message.encode()) if isinstance(message, str) else (OP_BINARY, message)
        frame = encode_frame(opcode, payload)
        if self._backlog:
            frame, self._backlog = bytes(self._backlog) + frame, bytearray()
        return frame

    async def _send_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self._raw.send(view)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self._raw)
                continue
            view = view[sent:]
            if not view and self._backlog:  # a pong queued while this frame was being written
                view, self._backlog = memoryview(bytes(self._backlog)), bytearray()

    def _send_control(self, frame: bytes) -> None:
        """Write a control frame now if the socket takes it, else queue it behind the frame being sent."""
        if self._send_lock.locked() or self._backlog:
            self._backlog += frame
            return
        try:
            sent = self._raw.send(frame)
        except BlockingIOError:
            sent = 0
        self._backlog += frame[sent:]

    # -- receiving ---------------------------------------------------------------------------------

    async def get_message(self) -> str | bytes:
        """The next message (``str`` for text, ``bytes`` for binary), answering pings on the way.

        ``ConnectionClosed`` when the server closed (its code and reason), the connection broke
        (1006), or this side closed on a malformed frame.
        """
        while (message := self.next_message()) is None:
            try:
                await trio.lowlevel.wait_readable(self._raw)
            except trio.ClosedResourceError:  # closed by another task
                raise ConnectionClosed(self.closed or self._abort(ABNORMAL, "closed")) from None
            self.read_available()
        return message

    def next_message(self) -> str | bytes | None:
        """The next message already received, or None; answers pings and raises as :meth:`get_message`."""
        if self.closed is not None:
            raise ConnectionClosed(self.closed)
        try:
            while True:
                message = self._next_message()
                if message is not None or not self._pending_control():
                    return message
        except _Protocol as exc:
            reason = self._finish(exc.code, str(exc), answer=encode_close(exc.code, str(exc)))
            raise ConnectionClosed(reason) from None
        except OSError:
            raise ConnectionClosed(self._abort(ABNORMAL, "the connection broke while sending")) from None

    def read_available(self) -> None:
        """Take what the socket holds now (one ``recv``); ``ConnectionClosed`` (1006) at its end."""
        try:
            chunk = self._raw.recv(_RECV_SIZE)
        except BlockingIOError:
            return  # woken without data
        except OSError:
            chunk = b""  # reset
        if not chunk:
            raise ConnectionClosed(self.closed or self._abort(ABNORMAL, "the connection ended"))
        self._buf += chunk

    def _next_message(self) -> str | bytes | None:
        """Consume buffered data frames up to a complete message; stop at a control frame."""
        while (frame := parse_frame(self._buf, self._max)) is not None:
            fin, opcode, payload, size = frame
            if opcode >= OP_CLOSE:
                return None  # left in the buffer for _pending_control
            del self._buf[:size]
            if opcode == OP_CONTINUATION:
                if self._opcode is None:
                    raise _Protocol(PROTOCOL_ERROR, "continuation frame without a message")
            elif self._opcode is not None:
                raise _Protocol(PROTOCOL_ERROR, "new message inside a fragmented one")
            else:
                self._opcode = opcode
            self._parts.append(payload)
            if sum(len(part) for part in self._parts) > self._max:
                raise _Protocol(TOO_BIG, f"message larger than {self._max} bytes")
            if fin:
                whole = b"".join(self._parts) if len(self._parts) > 1 else payload
                kind, self._opcode, self._parts = self._opcode, None, []
                if kind == OP_BINARY:
                    return whole
                try:
                    return whole.decode()
                except UnicodeDecodeError:
                    raise _Protocol(INVALID_DATA, "text message is not UTF-8") from None
        return None

    def _pending_control(self) -> bool:
        """Handle a control frame at the head of the buffer; False when there is none."""
        frame = parse_frame(self._buf, self._max)
        if frame is None:
            return False
        _, opcode, payload, size = frame
        del self._buf[:size]
        if opcode == OP_PING:
            self._send_control(encode_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            code, reason = parse_close(payload)
            echo = encode_close(code, "") if code != NO_STATUS else b""
            raise ConnectionClosed(self._finish(code, reason, answer=echo))
        return True  # pongs need nothing

    # -- closing -----------------------------------------------------------------------------------

    async def aclose(self, code: int = 1000, reason: str = "", *, timeout_s: float = 5.0) -> None:
        """Close (RFC 6455 §7): send a close frame, wait up to ``timeout_s`` for the server's, end TCP."""
        if self.closed is not None:
            self._sock.close()
            return
        try:
            self.closed = CloseReason(code, reason or None)
            with trio.move_on_after(timeout_s):
                await self._send_all(encode_frame(OP_CLOSE, encode_close(code, reason)))
                while True:  # until the server's close frame or EOF; messages are dropped
                    frame = parse_frame(self._buf, self._max)
                    if frame is None:
                        await self._recv_more_quiet()
                    elif frame[1] == OP_CLOSE:
                        return
                    else:
                        del self._buf[: frame[3]]
        except (OSError, _Protocol, EOFError):
            pass
        finally:
            self._sock.close()

    async def _recv_more_quiet(self) -> None:
        await trio.lowlevel.wait_readable(self._raw)
        try:
            chunk = self._raw.recv(_RECV_SIZE)
        except BlockingIOError:
            return
        if not chunk:
            raise EOFError
        self._buf += chunk

    def _end_tcp(self) -> None:
        """Close the socket; from a thread outside trio only shut it down (trio closes it at exit)."""
        if trio.lowlevel.in_trio_run():
            self._sock.close()
        else:  # trio must hear of a closing descriptor from its own thread: aclose does it later
            with contextlib.suppress(OSError):
                self._raw.shutdown(socket.SHUT_RDWR)

    def _finish(self, code: int, reason: str | None, *, answer: bytes) -> CloseReason:
        """Send the close frame ``answer`` (best effort), end TCP; returns the reason to raise."""
        self.closed = CloseReason(code, reason)
        with contextlib.suppress(OSError):  # the peer is gone or its buffer is full: closed anyway
            self._raw.send(encode_frame(OP_CLOSE, answer))
        self._end_tcp()
        return self.closed

    def _abort(self, code: int, reason: str) -> CloseReason:
        """End TCP without a closing handshake; returns the reason to raise."""
        self.closed = CloseReason(code, reason)
        self._end_tcp()
        return self.closed


# -- frames ------------------------------------------------------------------------------------------


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One final client frame: FIN, ``opcode``, masked ``payload`` (a fresh key per frame, §5.3)."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0xFE, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0xFF, size)
    key = os.urandom(4)
    return head + key + mask(key, payload)


def mask(key: bytes, payload: bytes) -> bytes:
    """``payload`` XOR the repeated 4-byte ``key`` (masking and unmasking are the same)."""
    size = len(payload)
    if not size:
        return payload
    stream = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")


def parse_frame(buf: bytearray, max_bytes: int) -> tuple[bool, int, bytes, int] | None:
    """The server frame at the start of ``buf`` as (fin, opcode, payload, frame size); None if partial.

    Raises ``_Protocol`` for what a server must not send: reserved bits (no extension is
    negotiated), masked frames, unknown opcodes, fragmented or long control frames, and frames
    longer than ``max_bytes``.
    """
    if len(buf) < 2:
        return None
    first, second = buf[0], buf[1]
    fin, opcode, size, at = bool(first & 0x80), first & 0x0F, second & 0x7F, 2
    if first & 0x70:
        raise _Protocol(PROTOCOL_ERROR, "reserved bits set without an extension")
    if second & 0x80:
        raise _Protocol(PROTOCOL_ERROR, "the server masked a frame")
    if opcode not in (OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG):
        raise _Protocol(PROTOCOL_ERROR, f"unknown opcode {opcode}")
    if opcode >= OP_CLOSE and (not fin or size > 125):
        raise _Protocol(PROTOCOL_ERROR, "control frames are short and never fragmented")
    if size == 126:
        if len(buf) < 4:
            return None
        (size,) = struct.unpack_from("!H", buf, 2)
        at = 4
    elif size == 127:
        if len(buf) < 10:
            return None
        (size,) = struct.unpack_from("!Q", buf, 2)
        at = 10
    if size > max_bytes:
        raise _Protocol(TOO_BIG, f"frame larger than {max_bytes} bytes")
    end = at + size
    if len(buf) < end:
        return None
    return fin, opcode, bytes(buf[at:end]), end


def encode_close(code: int, reason: str) -> bytes:
    """A close frame's payload: the code, then the reason in UTF-8 (cut to fit 125 bytes)."""
    return struct.pack("!H", code) + reason.encode()[:123]


def parse_close(payload: bytes) -> tuple[int, str | None]:
    """(code, reason) of a close frame's payload; 1005 when it carries none."""
    if len(payload) < 2:
        return NO_STATUS, None
    (code,) = struct.unpack_from("!H", payload)
    return code, payload[2:].decode(errors="replace") or None


# -- opening -----------------------------------------------------------------------------------------


@asynccontextmanager
async def open_websocket(
    url: str, *, connect_timeout: float, disconnect_timeout: float, max_message_bytes: int
) -> AsyncIterator[WebSocket]:
    """Connect to ``url`` (``ws://`` only), handshake, yield the connection; closed on exit.

    Raises ``OSError`` (no TCP connection), ``trio.TooSlowError`` (connect and handshake took more
    than ``connect_timeout``) or :class:`HandshakeError`.
    """
    parts = urlsplit(url)
    if parts.scheme != "ws" or not parts.hostname:
        raise ValueError(f"not a ws:// URL: {url!r}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with trio.fail_after(connect_timeout):
        sock, raw = await _connect(parts.hostname, parts.port or 80)
        try:
            leftover = await _handshake(raw, host=parts.netloc, target=target)
        except BaseException:
            sock.close()
            raise
    ws = WebSocket(sock, raw, max_message_bytes=max_message_bytes)
    ws._buf += leftover  # frames the server sent right after its 101
    try:
        yield ws
    finally:
        await ws.aclose(timeout_s=disconnect_timeout)


async def _connect(host: str, port: int) -> tuple[trio.socket.SocketType, socket.socket]:
    """The first address of ``host`` that accepts a TCP connection (Nagle off: frames are small)."""
    infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, address in infos:
        raw = socket.socket(family, kind, proto)
        sock = trio.socket.from_stdlib_socket(raw)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await sock.connect(address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock, raw
    raise error


async def _handshake(raw: socket.socket, *, host: str, target: str) -> bytes:
    """Send the upgrade request, check the 101 answer; returns bytes read past its head."""
    key = base64.b64encode(os.urandom(16))
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode("latin-1")
    view = memoryview(request)
    while view:
        try:
            view = view[raw.send(view) :]
        except BlockingIOError:
            await trio.lowlevel.wait_writable(raw)
    buf = bytearray()
    while (end := buf.find(b"\r\n\r\n")) < 0:
        if len(buf) > _MAX_HEAD:
            raise HandshakeError("the handshake answer is larger than 64 KiB")
        await trio.lowlevel.wait_readable(raw)
        try:
            chunk = raw.recv(_RECV_SIZE)
        except BlockingIOError:
            continue
        if not chunk:
            raise HandshakeError("the server closed the connection during the handshake")
        buf += chunk
    _check_answer(bytes(buf[:end]).decode("latin-1"), key)
    return bytes(buf[end + 4 :])


def _check_answer(head: str, key: bytes) -> None:
    lines = head.split("\r\n")
    fields = lines[0].split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/1.") or not fields[1].isdigit():
        raise HandshakeError("the server's answer is not HTTP")
    status = int(fields[1])
    if status != 101:
        raise HandshakeError(f"the server refused the websocket: HTTP {status}", status=status)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
    if (
        headers.get("upgrade", "").lower() != "websocket"
        or "upgrade" not in headers.get("connection", "").lower()
    ):
        raise HandshakeError("the server's 101 does not upgrade to websocket", status=status)
    if headers.get("sec-websocket-accept") != accept:
        raise HandshakeError("the server's Sec-WebSocket-Accept does not match our key", status=status)
    if headers.get("sec-websocket-extensions"):
        raise HandshakeError("the server chose an extension this client never offered", status=status)
