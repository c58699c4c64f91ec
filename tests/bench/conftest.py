"""Servers for the harness tests: the trivial server (subprocess), the stand-in app (in-process on
hypercorn), and small raw trio servers with scripted misbehaviour."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from bench.server import TrivialServer
from tests.bench.standin import create_standin_app

STANDIN = Path(__file__).with_name("standin.py")
STANDIN_COMMAND = (sys.executable, str(STANDIN))

RawHandler = Callable[[trio.SocketStream], Awaitable[None]]


@pytest.fixture(scope="module")
def trivial_url() -> Iterator[str]:
    """Base URL of a running ``bench.trivial_server`` (one per test module)."""
    with TrivialServer(stop_grace_s=2.0) as server:
        server.start()
        yield server.url


@pytest.fixture
async def standin_url(nursery: trio.Nursery) -> AsyncIterator[str]:
    """Base URL of the stand-in app served in-process by hypercorn (stopped after the test)."""
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    stop = trio.Event()
    binds: list[str] = await nursery.start(
        partial(serve, create_standin_app(), config, shutdown_trigger=stop.wait)
    )
    yield binds[0]
    stop.set()


@pytest.fixture
async def raw_server(nursery: trio.Nursery) -> Callable[[RawHandler], Awaitable[str]]:
    """``start(handler) -> base_url``: a loopback TCP server running ``handler`` per connection."""

    async def start(handler: RawHandler) -> str:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    return start


async def read_request(stream: trio.SocketStream, buf: bytearray) -> bool:
    """Consume one request head (and a Content-Length body) from ``stream``; False at EOF."""
    while b"\r\n\r\n" not in buf:
        data = await stream.receive_some(65536)
        if not data:
            return False
        buf += data
    end = buf.index(b"\r\n\r\n")
    head = bytes(buf[:end]).lower()
    length = 0
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(buf) < end + 4 + length:
        buf += await stream.receive_some(65536)
    del buf[: end + 4 + length]
    return True
