"""The device CLI's small websocket client against RFC 6455's examples and wsproto as the server side.

wsproto (the library hypercorn serves the device channel with) is the independent implementation:
each scripted server below lets wsproto parse what the client sent (masking, pongs, close codes) and
frame what the server says.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketRequest, serve_websocket
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)

from edge.device_cli.client import DeviceClient, DeviceProtocolError
from edge.device_cli.state import DeviceState
from edge.device_cli.websocket import HandshakeError, WebSocket, mask, open_websocket, parse_frame

LIMIT = 1 << 20

# RFC 6455 §5.7 examples.
HELLO_UNMASKED = bytes.fromhex("810548656c6c6f")
HELLO_MASKED = bytes.fromhex("818537fa213d7f9f4d5158")
HELLO_FRAGMENTS = (bytes.fromhex("010348656c"), bytes.fromhex("80026c6f"))
PING_HELLO = bytes.fromhex("890548656c6c6f")


def test_rfc6455_examples_parse() -> None:
    assert parse_frame(bytearray(HELLO_UNMASKED), LIMIT) == (True, 0x1, b"Hello", 7)
    first, last = HELLO_FRAGMENTS
    assert parse_frame(bytearray(first + last), LIMIT) == (False, 0x1, b"Hel", 5)
    assert parse_frame(bytearray(last), LIMIT) == (True, 0x0, b"lo", 4)
    assert parse_frame(bytearray(PING_HELLO), LIMIT) == (True, 0x9, b"Hello", 7)
    sixteen = bytes.fromhex("827e0100") + bytes(256)
    assert parse_frame(bytearray(sixteen), LIMIT) == (True, 0x2, bytes(256), 260)
    sixty_four = bytes.fromhex("827f0000000000010000") + bytes(65536)
    assert parse_frame(bytearray(sixty_four), LIMIT) == (True, 0x2, bytes(65536), 65546)
    assert parse_frame(bytearray(sixty_four[:9]), LIMIT) is None  # partial header
    assert parse_frame(bytearray(HELLO_UNMASKED[:6]), LIMIT) is None  # partial payload


def test_rfc6455_masking_example() -> None:
    key, masked = HELLO_MASKED[2:6], HELLO_MASKED[6:]
    assert mask(key, masked) == b"Hello"
    assert mask(key, b"Hello") == masked
    assert mask(key, b"") == b""


# -- a scripted wsproto server --------------------------------------------------------------------------


class Peer:
    """The server side of one connection, framed and parsed by wsproto."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.SERVER)
        self.events: list[Event] = []

    async def handshake(self, *, accept: bool = True) -> None:
        request = await self.next_event()
        assert isinstance(request, Request)
        assert request.target == "/api/v1/devices/ws"
        answer = AcceptConnection() if accept else RejectConnection(status_code=403)
        await self.stream.send_all(self.ws.send(answer))

    async def send(self, event: Event) -> None:
        await self.stream.send_all(self.ws.send(event))

    async def next_event(self) -> Event:
        while not self.events:
            data = await self.stream.receive_some(65536)
            self.ws.receive_data(data or None)
            self.events.extend(self.ws.events())
        return self.events.pop(0)


Script = Callable[[Peer], Awaitable[None]]


@asynccontextmanager
async def scripted(script: Script) -> AsyncIterator[str]:
    """A server on loopback running ``script`` for its one connection; yields its ws:// URL."""
    done = trio.Event()

    async def handler(stream: trio.SocketStream) -> None:
        try:
            await script(Peer(stream))
        finally:
            done.set()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        yield f"ws://127.0.0.1:{port}/api/v1/devices/ws"
        with trio.fail_after(5):
            await done.wait()
        nursery.cancel_scope.cancel()


def opened(url: str, *, limit: int = LIMIT) -> AsyncIterator[WebSocket]:
    return open_websocket(url, connect_timeout=5, disconnect_timeout=2, max_message_bytes=limit)


async def test_messages_both_ways_with_trio_websocket() -> None:
    async def echo(request: WebSocketRequest) -> None:
        ws = await request.accept()
        with contextlib.suppress(ConnectionClosed):  # the client closed: the test is over
            while True:
                await ws.send_message(await ws.get_message())

    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_websocket, echo, "127.0.0.1", 0, None)
        url = f"ws://127.0.0.1:{server.port}/api/v1/devices/ws"
        async with opened(url) as ws:
            for message in ("{}", "ключ ✓", "x" * 200, "y" * 70_000, b"\x00\x01binary"):
                await ws.send_message(message)
                assert await ws.get_message() == message
        assert ws.closed is not None
        assert ws.closed.code == 1000
        nursery.cancel_scope.cancel()


async def test_fragments_are_joined_and_pings_answered() -> None:
    pongs: list[bytes] = []

    async def script(peer: Peer) -> None:
        await peer.handshake()
        await peer.send(Message(data="Hel", message_finished=False))
        await peer.send(Ping(payload=b"are you there"))
        await peer.send(Message(data="lo", message_finished=True))
        pong = await peer.next_event()
        assert isinstance(pong, Pong)
        pongs.append(bytes(pong.payload))
        text = await peer.next_event()
        assert isinstance(text, TextMessage)
        assert text.data == "got Hello"
        close = await peer.next_event()
        assert isinstance(close, CloseConnection)
        assert close.code == 1000
        await peer.send(close.response())

    async with scripted(script) as url, opened(url) as ws:
        assert await ws.get_message() == "Hello"
        await ws.send_message("got Hello")
    assert pongs == [b"are you there"]


async def test_the_servers_close_code_and_reason_are_reported_and_echoed() -> None:
    echoed: list[int] = []

    async def script(peer: Peer) -> None:
        await peer.handshake()
        await peer.send(TextMessage(data="last words"))
        await peer.send(CloseConnection(code=4000, reason="replaced"))
        answer = await peer.next_event()
        assert isinstance(answer, CloseConnection)
        echoed.append(answer.code)

    async with scripted(script) as url, opened(url) as ws:
        assert await ws.get_message() == "last words"
        with pytest.raises(ConnectionClosed) as caught:
            await ws.get_message()
        assert caught.value.reason is not None
        assert (caught.value.reason.code, caught.value.reason.reason) == (4000, "replaced")
        with pytest.raises(ConnectionClosed):
            await ws.send_message("too late")
    assert echoed == [4000]


async def test_an_oversized_message_closes_with_1009() -> None:
    codes: list[int] = []

    async def script(peer: Peer) -> None:
        await peer.handshake()
        await peer.send(BytesMessage(data=bytes(2000)))
        close = await peer.next_event()
        assert isinstance(close, CloseConnection)
        codes.append(close.code)

    async with scripted(script) as url, opened(url, limit=1000) as ws:
        with pytest.raises(ConnectionClosed) as caught:
            await ws.get_message()
    assert caught.value.reason is not None
    assert caught.value.reason.code == 1009
    assert codes == [1009]


async def test_a_dropped_connection_is_1006() -> None:
    async def script(peer: Peer) -> None:
        await peer.handshake()
        await peer.send(TextMessage(data="bye"))
        await peer.stream.aclose()

    async with scripted(script) as url, opened(url) as ws:
        assert await ws.get_message() == "bye"
        with pytest.raises(ConnectionClosed) as caught:
            await ws.get_message()
    assert caught.value.reason is not None
    assert caught.value.reason.code == 1006


async def test_a_masked_server_frame_is_a_protocol_error() -> None:
    async def script(peer: Peer) -> None:
        await peer.handshake()
        await peer.stream.send_all(HELLO_MASKED)
        close = await peer.next_event()  # wsproto refuses the masked frame of its own side too
        assert isinstance(close, CloseConnection)

    async with scripted(script) as url, opened(url) as ws:
        with pytest.raises(ConnectionClosed) as caught:
            await ws.get_message()
    assert caught.value.reason is not None
    assert caught.value.reason.code == 1002


async def test_a_refused_upgrade_is_a_handshake_error() -> None:
    async def script(peer: Peer) -> None:
        await peer.handshake(accept=False)

    async with scripted(script) as url:
        with pytest.raises(HandshakeError) as caught:
            async with opened(url):
                pass
    assert caught.value.status == 403


async def test_a_wrong_accept_key_is_a_handshake_error() -> None:
    async def script(peer: Peer) -> None:
        await peer.next_event()
        wrong = base64.b64encode(hashlib.sha1(b"not your key").digest()).decode()
        await peer.stream.send_all(
            f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {wrong}\r\n\r\n".encode()
        )

    async with scripted(script) as url:
        with pytest.raises(HandshakeError, match="Accept"):
            async with opened(url):
                pass


async def test_the_device_client_reports_a_refusal_as_a_protocol_error() -> None:
    async def script(peer: Peer) -> None:
        await peer.handshake(accept=False)

    async with scripted(script) as url:
        state = DeviceState(url.replace("ws://", "http://").split("/api/")[0], uuid.uuid4(), bytes(32))
        with pytest.raises(DeviceProtocolError) as caught:
            async with DeviceClient.connect(state, timeout_s=5):
                pass
    assert caught.value.code == "http_403"
