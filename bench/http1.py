"""A small keep-alive HTTP/1.1 client on raw trio sockets, built to cost the load generator little.

Why not httpx or h11: against a trivial server on this 2-core machine one trio process made ~32k req/s
with this client, ~13k with h11 and ~1.2k with httpx (16 connections, GET), and the generator shares
the two cores with the server it measures. The client only speaks what the harness needs: requests it
encoded itself, responses framed by ``Content-Length`` or ``chunked``, ``Connection: close`` honoured.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import trio

from bench.errors import ProtocolError

IDLE_CHECK_S = 1.0
"""Idle time after which a connection is checked for a server-side close before it is reused."""

_RECV_SIZE = 65536
_MAX_HEAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP response as the harness sees it."""

    status: int
    """Status code."""
    head: bytes
    """Status line and header lines, lowercased, without the final blank line."""
    body: bytes
    """The body, de-chunked."""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``None``."""
        return _header_value(self.head, name.lower().encode())


def encode_request(
    method: str,
    path: str,
    *,
    host: str,
    body: bytes = b"",
    headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """The bytes of one HTTP/1.1 request with ``Host`` and, when a body is sent, ``Content-Length``."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body or method not in ("GET", "HEAD", "DELETE"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One keep-alive connection; ``roundtrip`` sends a request and reads its whole response.

    Not safe for concurrent use: a load-generator client owns exactly one connection. After any
    exception the connection is closed and the next ``roundtrip`` reconnects. A connection left idle
    longer than ``idle_check_s`` is checked before reuse: if the server closed it meanwhile (its
    keep-alive timeout, e.g. at a low open-loop rate), it is replaced instead of failing the request.
    """

    def __init__(
        self, address: tuple[str, int], family: int = socket.AF_INET, *, idle_check_s: float = IDLE_CHECK_S
    ) -> None:
        self._address = address
        self._idle_check_s = idle_check_s
        self._family = family
        self._sock: trio.socket.SocketType | None = None
        self._raw: socket.socket | None = None  # same descriptor, read and written directly
        self._idle_since = 0.0
        self._buf = bytearray()

    @property
    def is_open(self) -> bool:
        """Whether a socket is currently connected."""
        return self._sock is not None

    async def connect(self) -> None:
        """Open the TCP connection (no-op when already open)."""
        if self._sock is not None:
            return
        raw = socket.socket(self._family, socket.SOCK_STREAM)
        sock = trio.socket.from_stdlib_socket(raw)
        try:
            # Requests are small and written in one call: Nagle would only add delay.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await sock.connect(self._address)
        except BaseException:
            sock.close()
            raise
        self._sock, self._raw = sock, raw
        self._idle_since = time.monotonic()
        self._buf.clear()

    def close(self) -> None:
        """Close the socket; safe to call twice."""
        if self._sock is not None:
            self._sock.close()
            self._sock = self._raw = None
        self._buf.clear()

    async def roundtrip(self, data: bytes) -> Response:
        """Send the encoded request ``data`` and return its response; reconnects if needed."""
        if (
            self._sock is not None
            and time.monotonic() - self._idle_since > self._idle_check_s
            and self._peer_closed()
        ):
            self.close()
        if self._sock is None:
            await self.connect()
        try:
            await self._send_all(data)
            response, keep = await self._read_response()
        except BaseException:
            self.close()
            raise
        if keep:
            self._idle_since = time.monotonic()
        else:
            self.close()
        return response

    def _peer_closed(self) -> bool:
        """Whether the server has closed this idle connection (EOF or an error is pending)."""
        assert self._raw is not None
        try:
            return self._raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False  # nothing to read: the connection is alive
        except OSError:
            return True

    # The raw descriptor is written and read directly, waiting through trio only when it would block:
    # trio's socket methods add a scheduling round to every call that did not block, and a
    # request–response costs one wait for readability this way (the answer cannot precede the
    # request), which is also the checkpoint ``roundtrip`` owes its caller.

    async def _send_all(self, data: bytes) -> None:
        raw = self._raw
        assert raw is not None
        view = memoryview(data)
        while view:
            try:
                view = view[raw.send(view) :]
            except BlockingIOError:
                await trio.lowlevel.wait_writable(raw)

    async def _recv_more(self) -> None:
        raw = self._raw
        assert raw is not None
        while True:
            await trio.lowlevel.wait_readable(raw)
            try:
                chunk = raw.recv(_RECV_SIZE)
            except BlockingIOError:
                continue  # woken without data
            if not chunk:
                raise ConnectionResetError("server closed the connection")
            self._buf += chunk
            return

    async def _read_response(self) -> tuple[Response, bool]:
        while (parsed := parse_response(self._buf)) is None:
            await self._recv_more()
        return parsed


def parse_response(buf: bytearray) -> tuple[Response, bool] | None:
    """Take one whole response off the front of ``buf``: (response, keep-alive); None while incomplete.

    Interim 1xx answers before it are skipped; nothing is consumed until the response is complete.
    Raises ``ProtocolError`` for framing this client does not accept.
    """
    at = 0
    while True:
        end = buf.find(b"\r\n\r\n", at)
        if end < 0:
            if len(buf) - at > _MAX_HEAD:
                raise ProtocolError("response head larger than 64 KiB")
            return None
        head = bytes(buf[at:end]).lower()
        status = _status_of(head)
        at = end + 4
        if not (100 <= status < 200 and status != 101):
            break  # interim responses are skipped: the real one follows
    framed = _body(buf, at, head, status)
    if framed is None:
        return None
    body, consumed = framed
    del buf[:consumed]
    keep = head.startswith(b"http/1.1") and b"\r\nconnection: close" not in head
    return Response(status=status, head=head, body=body), keep


def _body(buf: bytearray, at: int, head: bytes, status: int) -> tuple[bytes, int] | None:
    """The body starting at ``at`` and the offset just past it, or None while incomplete."""
    if status in (204, 304):
        return b"", at
    length = _header_value(head, b"content-length")
    if length is not None:
        end = at + _parse_int(length, 10)
        return (bytes(buf[at:end]), end) if len(buf) >= end else None
    encoding = _header_value(head, b"transfer-encoding")
    if encoding is not None and "chunked" in encoding:
        return _chunked(buf, at)
    raise ProtocolError("response has neither Content-Length nor chunked encoding")


def _chunked(buf: bytearray, at: int) -> tuple[bytes, int] | None:
    parts: list[bytes] = []
    while True:
        line = _line(buf, at)
        if line is None:
            return None
        text, at = line
        size = _parse_int(text.split(";", 1)[0], 16)
        if size == 0:
            while (line := _line(buf, at)) is not None:  # trailers end with an empty line
                text, at = line
                if not text:
                    return b"".join(parts), at
            return None
        if len(buf) < at + size:
            return None
        parts.append(bytes(buf[at : at + size]))
        line = _line(buf, at + size)
        if line is None:
            return None
        if line[0]:
            raise ProtocolError("chunk not followed by CRLF")
        at = line[1]


def _line(buf: bytearray, at: int) -> tuple[str, int] | None:
    """The CRLF-terminated line at ``at`` and the offset past it, or None while incomplete."""
    end = buf.find(b"\r\n", at)
    if end < 0:
        if len(buf) - at > _MAX_HEAD:
            raise ProtocolError("chunk line too long")
        return None
    return _text(bytes(buf[at:end])), end + 2


def _status_of(head: bytes) -> int:
    if not head.startswith(b"http/1.") or len(head) < 12:
        raise ProtocolError("response does not start with an HTTP/1.x status line")
    return _parse_int(_text(head[9:12]), 10)


def _header_value(head: bytes, name: bytes) -> str | None:
    """Find ``name`` in a lowercased head; header names are matched at line starts only."""
    at = head.find(b"\r\n" + name + b":")
    if at < 0:
        return None
    start = at + len(name) + 3
    end = head.find(b"\r\n", start)
    return _text(head[start : end if end >= 0 else len(head)]).strip()


def _parse_int(text: str, base: int) -> int:
    try:
        value = int(text.strip(), base)
    except ValueError:
        raise ProtocolError(f"bad number in response framing: {text[:20]!r}") from None
    if value < 0:
        raise ProtocolError("negative length in response framing")
    return value


def _text(raw: bytes) -> str:
    return raw.decode("latin-1")
