"""Scenario composition: a later scenario measures the floor in its own run and compares with it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
import trio

from bench.client import BenchClient
from bench.errors import ScenarioPrepareError, UnknownScenarioError
from bench.report import load_report
from bench.runner import RunOptions, run
from bench.scenario import HttpScenario, Phase, Registry, Request
from bench.scenarios import default_registry
from bench.scenarios.base import BaseHttpScenario
from bench.scenarios.floor import ECHO_REQUEST, FloorScenario, floor_in_run, floor_phases
from bench.stats import PhaseResult
from bench.target import parse_target
from tests.bench.conftest import RawHandler, read_request

Start = Callable[[RawHandler], Awaitable[str]]


class _LaterScenario(BaseHttpScenario):
    """Shaped like a future ``sign``: set-up state used by its requests, the floor alongside."""

    name = "later"
    description = "floor plus a phase of its own"

    def __init__(self) -> None:
        self.token: str | None = None

    async def prepare(self, client: BenchClient) -> None:
        response = await client.request("POST", "/api/v1/echo", json={"token": "t-1"})
        self.token = json.loads(response.body)["token"]

    def phases(self) -> Sequence[Phase]:
        def requests() -> Iterator[Request]:
            assert self.token is not None  # prepare ran first
            request = Request(
                "POST", "/api/v1/echo", body=b'{"k":1}', headers=(("Authorization", self.token),)
            )
            while True:
                yield request

        return [*floor_phases(), Phase("own", "its own requests", requests)]

    def compare(self, results: Mapping[str, PhaseResult]) -> dict[str, object]:
        floor = floor_in_run(results)
        assert floor is not None
        return {"own_vs_floor": floor.relative(results["own"])}


def test_a_later_scenario_compares_itself_with_the_floor_of_the_same_run(
    trivial_url: str, tmp_path: Path
) -> None:
    registry = Registry()
    registry.register("later", "floor plus its own", _LaterScenario)
    options = RunOptions(
        scenario="later",
        url=trivial_url,
        duration_s=0.3,
        warmup_s=0,
        ceiling_s=0,
        out_dir=tmp_path,
        plot=False,
    )
    report = load_report(run(options, registry).json_path)
    assert [p["name"] for p in report["phases"]] == ["healthz", "echo", "own"]
    relative = report["comparison"]["own_vs_floor"]
    assert set(relative) == {"rps_vs_echo", "p50_vs_echo", "p99_vs_echo"}
    assert relative["rps_vs_echo"] > 0


def test_floor_in_run_needs_both_phases() -> None:
    assert floor_in_run({}) is None


async def test_floor_prepare_fails_fast_when_echo_is_missing(raw_server: Start) -> None:
    async def not_found(stream: trio.SocketStream) -> None:
        buf = bytearray()
        while await read_request(stream, buf):
            await stream.send_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    client = BenchClient(parse_target(await raw_server(not_found)))
    with pytest.raises(ScenarioPrepareError, match="answered 404"):
        await FloorScenario().prepare(client)
    client.close()


def test_registry() -> None:
    registry = default_registry()
    assert {"floor", "ceiling"} <= set(registry.available())
    assert isinstance(registry.create("floor"), HttpScenario)
    assert registry.create("floor") is not registry.create("floor")  # fresh state per run
    with pytest.raises(UnknownScenarioError):
        registry.create("nope")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("floor", "again", FloorScenario)
    assert 180 <= len(ECHO_REQUEST.body) <= 230
