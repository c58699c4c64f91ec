"""The generator's HTTP/1.1 client against real servers: hypercorn, and raw sockets with odd framing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
import trio

from bench.errors import ProtocolError
from bench.http1 import Connection, encode_request, parse_response
from bench.target import parse_target
from tests.bench.conftest import RawHandler, read_request

Start = Callable[[RawHandler], Awaitable[str]]


def _conn(url: str) -> Connection:
    target = parse_target(url)
    return Connection(target.address, target.family)


async def test_get_and_post_over_one_keepalive_connection(standin_url: str) -> None:
    host = parse_target(standin_url).host_header
    conn = _conn(standin_url)
    body = json.dumps({"a": [1, 2, 3]}).encode()
    post = encode_request(
        "POST", "/api/v1/echo", host=host, body=body, headers=(("Content-Type", "application/json"),)
    )
    for _ in range(3):
        health = await conn.roundtrip(encode_request("GET", "/healthz", host=host))
        assert health.status == 200
        assert json.loads(health.body) == {"status": "ok"}
        echo = await conn.roundtrip(post)
        assert echo.status == 200
        assert json.loads(echo.body) == {"a": [1, 2, 3]}
        assert echo.header("Content-Type") == "application/json"
        assert conn.is_open
    conn.close()


async def test_chunked_body_and_connection_close(raw_server: Start) -> None:
    accepted = 0

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal accepted
        accepted += 1
        buf = bytearray()
        await read_request(stream, buf)
        await stream.send_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
        )

    url = await raw_server(handler)
    conn = _conn(url)
    request = encode_request("GET", "/", host="x")
    first = await conn.roundtrip(request)
    assert (first.status, first.body) == (200, b"hello world")
    assert not conn.is_open  # the server said close
    second = await conn.roundtrip(request)  # reconnects by itself
    assert second.body == b"hello world"
    assert accepted == 2


async def test_interim_response_is_skipped_and_204_has_no_body(raw_server: Start) -> None:
    async def handler(stream: trio.SocketStream) -> None:
        buf = bytearray()
        await read_request(stream, buf)
        await stream.send_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX: y\r\n\r\n")
        await trio.sleep_forever()

    conn = _conn(await raw_server(handler))
    response = await conn.roundtrip(encode_request("DELETE", "/x", host="x"))
    assert (response.status, response.body) == (204, b"")
    conn.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: zz\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
    ],
)
async def test_broken_framing_is_a_protocol_error(raw_server: Start, answer: bytes) -> None:
    async def handler(stream: trio.SocketStream) -> None:
        await read_request(stream, bytearray())
        await stream.send_all(answer)
        await trio.sleep_forever()

    conn = _conn(await raw_server(handler))
    with pytest.raises(ProtocolError):
        await conn.roundtrip(encode_request("GET", "/", host="x"))
    assert not conn.is_open


async def test_server_closing_midway_is_a_connection_error(raw_server: Start) -> None:
    async def handler(stream: trio.SocketStream) -> None:
        await read_request(stream, bytearray())
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")

    conn = _conn(await raw_server(handler))
    with pytest.raises(ConnectionResetError):
        await conn.roundtrip(encode_request("GET", "/", host="x"))


def test_encoded_request_framing() -> None:
    assert encode_request("GET", "/a?b=1", host="h:1") == b"GET /a?b=1 HTTP/1.1\r\nHost: h:1\r\n\r\n"
    post = encode_request("POST", "/e", host="h", body=b"{}", headers=(("X-A", "1"),))
    assert post == b"POST /e HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n{}"
    assert b"Content-Length: 0" in encode_request("POST", "/e", host="h")


async def test_an_idle_connection_closed_by_the_server_is_replaced(raw_server: Start) -> None:
    async def keep_alive_then_close(stream: trio.SocketStream) -> None:
        await read_request(stream, bytearray())
        # Claims keep-alive, then closes as a keep-alive timeout would.
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await stream.aclose()

    target = parse_target(await raw_server(keep_alive_then_close))
    conn = Connection(target.address, target.family, idle_check_s=0.0)
    request = encode_request("GET", "/", host="x")
    assert (await conn.roundtrip(request)).body == b"ok"
    await trio.sleep(0.05)  # let the FIN arrive
    assert (await conn.roundtrip(request)).body == b"ok"  # reconnected instead of failing
    conn.close()


def test_a_response_is_taken_whole_whatever_the_pieces() -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n"
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    buf = bytearray()
    parsed = []
    for byte in answer:  # one byte at a time: every partial state says "not yet" and keeps the bytes
        buf.append(byte)
        if (response := parse_response(buf)) is not None:
            parsed.append(response)
    assert [(r.status, r.body, keep) for r, keep in parsed] == [(200, b"abcde", True), (202, b"{}", False)]
    assert buf == b""
    with pytest.raises(ProtocolError):
        parse_response(bytearray(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n"))
