"""The load generator: both limits, open loop without coordinated omission, errors by kind."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable, Iterator

import pytest
import trio

from bench.client import BenchClient
from bench.http1 import Connection, encode_request
from bench.loadgen import LoadSpec, Recorder, Scheduled, ScheduleSpec, run_load, run_schedule
from bench.scenario import Request
from bench.scenarios.floor import floor_phases
from bench.server import free_port
from bench.stats import summarise
from bench.target import parse_target
from tests.bench.conftest import RawHandler, read_request

Start = Callable[[RawHandler], Awaitable[str]]
GET = Request(method="GET", path="/healthz")


def _repeat(request: Request) -> Callable[[], Iterator[Request]]:
    def requests() -> Iterator[Request]:
        while True:
            yield request

    return requests


async def _load(url: str, spec: LoadSpec, request: Request = GET) -> Recorder:
    target = parse_target(url)
    client = BenchClient(target)
    connections = [Connection(target.address, target.family) for _ in range(spec.concurrency)]
    try:
        return await run_load(connections, _repeat(request), client.encode, spec)
    finally:
        for conn in connections:
            conn.close()


def _slow_server(
    delay_s: float, answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
) -> RawHandler:
    async def handler(stream: trio.SocketStream) -> None:
        buf = bytearray()
        while await read_request(stream, buf):
            await trio.sleep(delay_s)
            await stream.send_all(answer)

    return handler


async def test_count_limit_is_exact(trivial_url: str) -> None:
    rec = await _load(trivial_url, LoadSpec(concurrency=8, duration_s=10.0, max_requests=250))
    assert rec.completed == 250
    assert len(rec.ok_at) == 250
    assert rec.stopped_by == "requests"
    assert rec.elapsed_s < 5.0


async def test_time_limit_is_enforced(trivial_url: str) -> None:
    rec = await _load(trivial_url, LoadSpec(concurrency=8, duration_s=0.4, max_requests=10**9))
    assert rec.stopped_by == "duration"
    assert 0.4 <= rec.elapsed_s < 0.6
    assert rec.completed > 100  # it did run flat out meanwhile
    assert max(rec.ok_at) <= rec.elapsed_s


async def test_time_limit_cancels_requests_in_flight(raw_server: Start) -> None:
    url = await raw_server(_slow_server(5.0))
    with trio.fail_after(2):
        rec = await _load(url, LoadSpec(concurrency=4, duration_s=0.3, max_requests=100, timeout_s=30))
    assert rec.completed == 0
    assert rec.elapsed_s < 0.5


async def test_a_draining_warmup_lets_requests_in_flight_finish(raw_server: Start) -> None:
    target = parse_target(await raw_server(_slow_server(0.3)))
    connections = [Connection(target.address) for _ in range(3)]
    spec = LoadSpec(concurrency=3, duration_s=0.1, max_requests=10**6, drain=True)
    rec = await run_load(connections, _repeat(GET), BenchClient(target).encode, spec)
    assert (rec.completed, dict(rec.errors)) == (3, {})  # one each, none sent after the deadline
    assert 0.3 <= rec.elapsed_s < 0.5
    assert all(conn.is_open for conn in connections)  # kept for the measured phase
    for conn in connections:
        conn.close()


async def test_floor_requests_against_the_standin_app(standin_url: str) -> None:
    for phase in floor_phases():
        target = parse_target(standin_url)
        client = BenchClient(target)
        connections = [Connection(target.address) for _ in range(4)]
        rec = await run_load(connections, phase.requests, client.encode, LoadSpec(4, 5.0, 60))
        assert (rec.completed, dict(rec.errors)) == (60, {}), phase.name


async def test_open_loop_keeps_its_rate(trivial_url: str) -> None:
    rec = await _load(trivial_url, LoadSpec(concurrency=8, duration_s=0.5, max_requests=10**6, rate=400.0))
    assert 120 <= rec.completed <= 200  # exactly 200 are due in 0.5 s; none is sent after the deadline
    result = summarise(rec, name="x", description="x")
    assert result.latency_ms["p50"] is not None
    assert result.latency_ms["p50"] < 50.0


async def test_open_loop_charges_queueing_to_the_server(raw_server: Start) -> None:
    """A server that takes 50 ms per request, one connection, 100 req/s due: the backlog is latency."""
    url = await raw_server(_slow_server(0.05))
    closed = summarise(await _load(url, LoadSpec(1, 0.6, 10**6)), name="c", description="")
    opened = summarise(await _load(url, LoadSpec(1, 0.6, 10**6, rate=100.0)), name="o", description="")
    assert closed.latency_ms["p50"] is not None
    assert opened.latency_ms["max"] is not None
    assert 45.0 <= closed.latency_ms["p50"] < 100.0
    # The k-th answer comes at ~50k ms but was due at 10k ms: by the end ~0.45 s of backlog.
    assert opened.latency_ms["max"] > 300.0
    assert opened.latency_ms["max"] > 4 * closed.latency_ms["p50"]


async def test_errors_are_counted_by_kind(raw_server: Start) -> None:
    unavailable = await raw_server(_slow_server(0, b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"))
    rec = await _load(unavailable, LoadSpec(2, 5.0, 20))
    assert dict(rec.errors) == {"http_503": 20}
    assert len(rec.ok_at) == 0

    silent = await raw_server(_slow_server(60))
    rec = await _load(silent, LoadSpec(2, 5.0, 4, timeout_s=0.1))
    assert dict(rec.errors) == {"timeout": 4}

    nobody = f"http://127.0.0.1:{free_port()}"
    rec = await _load(nobody, LoadSpec(2, 5.0, 6))
    assert dict(rec.errors) == {"connect_refused": 6}

    wrong_body = await raw_server(_slow_server(0))
    checked = Request(method="GET", path="/", check=lambda body: json.loads(body) == {"a": 1})
    rec = await _load(wrong_body, LoadSpec(1, 5.0, 3), checked)
    assert dict(rec.errors) == {"bad_body": 3}


@pytest.mark.parametrize(
    "kwargs", [{"concurrency": 0}, {"max_requests": 0}, {"duration_s": 0.0}, {"rate": -1.0}]
)
def test_invalid_specs_are_refused(kwargs: dict[str, float]) -> None:
    args = {"concurrency": 1, "duration_s": 1.0, "max_requests": 1, **kwargs}
    with pytest.raises(ValueError, match="positive"):
        LoadSpec(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs", [{"rate": 0.0}, {"rate": float("inf")}, {"connections": 0}, {"timeout_s": 0.0}]
)
def test_invalid_schedules_are_refused(kwargs: dict[str, float]) -> None:
    args = {"rate": 1.0, "connections": 1, "timeout_s": 1.0, **kwargs}
    with pytest.raises(ValueError, match="positive"):
        ScheduleSpec(address=("127.0.0.1", 1), requests=[], **args)  # type: ignore[arg-type]


async def _schedule(
    url: str, count: int, *, rate: float, connections: int, timeout_s: float = 5.0
) -> list[Scheduled]:
    target = parse_target(url)
    data = encode_request("GET", "/", host=target.host_header)
    requests = [Scheduled(data) for _ in range(count)]
    spec = ScheduleSpec(
        address=target.address,
        requests=requests,
        rate=rate,
        connections=connections,
        timeout_s=timeout_s,
    )
    await trio.to_thread.run_sync(run_schedule, spec)
    return requests


async def test_a_schedule_sends_on_time_and_keeps_the_answers(trivial_url: str) -> None:
    requests = await _schedule(trivial_url, 40, rate=400.0, connections=4)
    assert all(item.error is None and item.response is not None for item in requests)
    assert all(item.response is not None and item.response.status == 200 for item in requests)
    gaps = {round(b.due - a.due, 6) for a, b in itertools.pairwise(requests)}
    assert gaps == {0.0025}
    late = [item.answered - item.due for item in requests if item.answered is not None]
    assert min(late) > 0.0
    assert sorted(late)[len(late) // 2] < 0.05


async def test_a_schedule_charges_queueing_and_counts_errors(raw_server: Start) -> None:
    slow = await raw_server(_slow_server(0.05))
    requests = await _schedule(slow, 8, rate=100.0, connections=1)
    last = requests[-1]
    assert last.answered is not None
    assert last.answered - last.due > 0.25  # 8 x 50 ms of service, due 10 ms apart

    silent = await raw_server(_slow_server(60))
    requests = await _schedule(silent, 3, rate=100.0, connections=2, timeout_s=0.1)
    assert [item.error for item in requests] == ["timeout"] * 3

    refused = await _schedule(f"http://127.0.0.1:{free_port()}", 2, rate=100.0, connections=1)
    assert [item.error for item in refused] == ["ConnectionRefusedError"] * 2
