"""A trivially fast HTTP/1.1 server (fixed response) that measures the load generator's own ceiling.

Run as ``python -m bench.trivial_server [--port P]``: it binds 127.0.0.1, prints the port on one line
of stdout, then answers every request (any method, any path, body skipped by ``Content-Length``) with
the same small JSON response until SIGTERM/SIGINT; a request with a body gets that body echoed back
(as ``POST /api/v1/echo`` would), so the generator does the same work it does against Klyuch.

It runs in its own process so it does not share the generator's GIL, and it is written on asyncio's
``Protocol`` callbacks rather than trio streams because callbacks cost a fraction of a coroutine per
request: the point is a server far faster than the generator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

RESPONSE_BODY = b'{"status":"ok"}'
_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "


def response_for(body: bytes) -> bytes:
    """The answer to a request with ``body``: the body echoed, or ``RESPONSE_BODY`` when empty."""
    payload = body or RESPONSE_BODY
    return _HEAD + str(len(payload)).encode() + b"\r\n\r\n" + payload


RESPONSE = response_for(b"")


class _FixedResponder(asyncio.Protocol):
    """Answers each complete request in the stream (pipelined ones included) as ``response_for`` says."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        answers: list[bytes] = []
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                break
            length = _content_length(self._buf, end)
            need = end + 4 + length
            if len(self._buf) < need:
                break
            answers.append(response_for(bytes(self._buf[end + 4 : need])) if length else RESPONSE)
            del self._buf[:need]
        if answers and self._transport is not None:
            self._transport.write(b"".join(answers))


def _content_length(buf: bytearray, head_end: int) -> int:
    head = bytes(buf[:head_end]).lower()
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    stop = head.find(b"\r\n", at + 2)
    return int(head[at + 17 : stop if stop >= 0 else len(head)])


async def _serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_FixedResponder, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"{bound}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Serve until signalled; the bound port is the first line of stdout."""
    parser = argparse.ArgumentParser(prog="python -m bench.trivial_server")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
