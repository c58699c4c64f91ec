"""Pieces of the confirmation phase (c) that need no server: the request body and the schedule."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Awaitable, Callable

import trio

from bench.scenarios import sign_confirm
from bench.scenarios.sign_options import ConfirmSpec
from bench.scenarios.sign_setup import Account
from bench.target import parse_target
from tests.bench.conftest import RawHandler

Start = Callable[[RawHandler], Awaitable[str]]


def test_the_body_is_the_json_of_one_raw_document_confirmed_on_the_device() -> None:
    spec = ConfirmSpec(document_bytes=1024)
    body = sign_confirm._operation_body(spec, 7)
    payload = json.loads(body)
    assert payload["type"] == "sign"
    assert payload["format"] == "raw"
    assert payload["confirmation"] == "device"
    [item] = payload["items"]
    assert item["name"] == "confirm-7.bin"
    assert len(base64.b64decode(item["content"], validate=True)) == 1024
    assert body == json.dumps(payload, separators=(",", ":")).encode()
    assert sign_confirm._operation_body(spec, 7) != body  # a fresh random document each time


def _accounts(n: int) -> list[Account]:
    return [Account(f"u{k}", f"id{k}", f"token-{k}", "cert") for k in range(n)]


def _server(*, delay_s: float, seen: list[tuple[float, str]], in_flight: list[int]) -> RawHandler:
    """Answers each POST with 202 after ``delay_s``; notes arrival times, tokens and the concurrency."""
    count = itertools.count()

    async def handler(stream: trio.SocketStream) -> None:
        buf = bytearray()
        while True:
            head_end = -1
            while head_end < 0:
                data = await stream.receive_some(65536)
                if not data:
                    return
                buf += data
                head_end = buf.find(b"\r\n\r\n")
            token = bytes(buf[:head_end]).split(b"Bearer ", 1)[1].split(b"\r\n", 1)[0].decode()
            seen.append((time.time(), token))
            buf.clear()  # the test's bodies arrive with their head (one small send)
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
            await trio.sleep(delay_s)
            in_flight[0] -= 1
            view = json.dumps({"id": f"op-{next(count)}", "created_at": "2026-01-01T00:00:00+00:00"})
            await stream.send_all(
                b"HTTP/1.1 202 Accepted\r\ncontent-length: %d\r\n\r\n%s" % (len(view), view.encode())
            )

    return handler


async def test_each_operation_is_sent_at_its_due_time_round_robin_over_users(raw_server: Start) -> None:
    seen: list[tuple[float, str]] = []
    in_flight = [0, 0]
    url = await raw_server(_server(delay_s=0.0, seen=seen, in_flight=in_flight))
    spec = ConfirmSpec(rate=200.0, duration_s=0.1, connections=4, document_bytes=16, warmup_s=0.0)
    target = parse_target(url)
    ops, wall0 = await sign_confirm._drive(target, sign_confirm._plan(target, _accounts(3), spec), spec)
    assert [op.index for op in ops] == list(range(20))
    assert all(op.op_id is not None and op.error is None for op in ops)
    assert [op.account.token for op in ops[:4]] == ["token-0", "token-1", "token-2", "token-0"]
    arrivals = sorted(seen)
    for op, (arrived, _) in zip(ops, arrivals, strict=True):
        assert op.due == wall0 + op.index / 200.0
        assert arrived >= op.due - 0.002  # never before its due time
    assert {token for _, token in seen} == {"token-0", "token-1", "token-2"}


async def test_a_slow_server_gets_at_most_one_request_per_connection_and_is_charged(
    raw_server: Start,
) -> None:
    seen: list[tuple[float, str]] = []
    in_flight = [0, 0]
    url = await raw_server(_server(delay_s=0.03, seen=seen, in_flight=in_flight))
    spec = ConfirmSpec(rate=400.0, duration_s=0.05, connections=2, document_bytes=16, warmup_s=0.0)
    target = parse_target(url)
    ops, _ = await sign_confirm._drive(target, sign_confirm._plan(target, _accounts(2), spec), spec)
    assert len(ops) == 20
    assert all(op.op_id is not None for op in ops)
    assert in_flight[1] == 2
    last = ops[-1]
    assert last.answered is not None
    assert last.answered - last.due > 0.2  # 10 rounds of 30 ms behind: charged from its due time
