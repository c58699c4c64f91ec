"""``floor``: what the HTTP stack alone costs, the number every other scenario compares itself with.

Two phases, reported separately: ``healthz`` (``GET /healthz``, routing and a tiny JSON answer) and
``echo`` (``POST /api/v1/echo`` with a ~200-byte JSON body parsed, validated and serialised back).

A later scenario that wants "the floor measured in the same run" puts ``floor_phases()`` before its own
phases and reads the numbers back with ``floor_in_run(results)`` in its ``compare`` step, so both sides
saw the same machine, server build and load.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.errors import ScenarioPrepareError
from bench.scenario import Phase, Request
from bench.scenarios.base import BaseHttpScenario

if TYPE_CHECKING:
    from bench.client import BenchClient
    from bench.stats import PhaseResult

HEALTHZ = "healthz"
ECHO = "echo"

ECHO_PAYLOAD: dict[str, object] = {
    "operation": "sign",
    "format": "cades-bes",
    "certificate_id": "3f2c9a4e-7b1d-4c8e-9a55-0d6f1e2b7c90",
    "items": [{"name": "contract-2024-117.pdf", "digest": "9c1185a5c5e9fc54612808977ee8f548b2258d31"}],
    "comment": "floor",
}
"""A realistic ~200-byte request body (its exact size is in the report)."""

_ECHO_BODY = json.dumps(ECHO_PAYLOAD, separators=(",", ":")).encode()
_JSON = (("Content-Type", "application/json"),)


def _echo_matches(body: bytes) -> bool:
    try:
        return bool(json.loads(body) == ECHO_PAYLOAD)
    except ValueError:
        return False


HEALTHZ_REQUEST = Request(method="GET", path="/healthz")
ECHO_REQUEST = Request(
    method="POST", path="/api/v1/echo", body=_ECHO_BODY, headers=_JSON, check=_echo_matches
)


def _repeat(request: Request) -> Iterator[Request]:
    while True:
        yield request


def floor_phases() -> list[Phase]:
    """The two floor phases, for this scenario and for later ones that measure the floor alongside."""
    return [Phase(HEALTHZ, "GET /healthz", lambda: _repeat(HEALTHZ_REQUEST)), echo_phase(ECHO)]


def echo_phase(name: str) -> Phase:
    """An echo phase under ``name`` (a scenario that repeats the floor between its own phases)."""
    return Phase(name, f"POST /api/v1/echo, {len(_ECHO_BODY)}-byte JSON body", lambda: _repeat(ECHO_REQUEST))


@dataclass(frozen=True, slots=True)
class FloorBaseline:
    """The floor as measured in one run."""

    healthz: PhaseResult
    """``GET /healthz`` phase."""
    echo: PhaseResult
    """``POST /api/v1/echo`` phase."""

    def relative(self, other: PhaseResult) -> dict[str, float | None]:
        """``other``'s throughput as a fraction of the echo floor, and its p50/p99 over the floor's."""
        p50, p99 = self.echo.latency_ms.get("p50"), self.echo.latency_ms.get("p99")
        o50, o99 = other.latency_ms.get("p50"), other.latency_ms.get("p99")
        return {
            "rps_vs_echo": _ratio(other.achieved_rps, self.echo.achieved_rps),
            "p50_vs_echo": _ratio(o50, p50),
            "p99_vs_echo": _ratio(o99, p99),
        }


def floor_in_run(results: Mapping[str, PhaseResult]) -> FloorBaseline | None:
    """The floor from a run's phase results (name → result), or ``None`` if it was not measured."""
    healthz, echo = results.get(HEALTHZ), results.get(ECHO)
    if healthz is None or echo is None:
        return None
    return FloorBaseline(healthz=healthz, echo=echo)


class FloorScenario(BaseHttpScenario):
    """The framework floor: ``GET /healthz`` and ``POST /api/v1/echo``."""

    name = "floor"
    description = "framework floor: GET /healthz and POST /api/v1/echo (~200-byte JSON), separately"

    async def prepare(self, client: BenchClient) -> None:
        """Fail fast with a clear message if either endpoint does not answer as expected."""
        for request in (HEALTHZ_REQUEST, ECHO_REQUEST):
            response = await client.send(request)
            if response.status != request.expect_status:
                raise ScenarioPrepareError(
                    f"{request.method} {request.path} answered {response.status}, "
                    f"expected {request.expect_status}"
                )
            if request.check is not None and not request.check(response.body):
                raise ScenarioPrepareError(f"{request.method} {request.path} did not echo the body back")

    def phases(self) -> Sequence[Phase]:
        """``healthz`` then ``echo``."""
        return floor_phases()

    def compare(self, results: Mapping[str, PhaseResult]) -> dict[str, object]:
        """The echo phase relative to healthz: what JSON parsing and validation add."""
        floor = floor_in_run(results)
        if floor is None:
            return {}
        return {
            "echo_vs_healthz": {
                "rps": _ratio(floor.echo.achieved_rps, floor.healthz.achieved_rps),
                "p50": _ratio(floor.echo.latency_ms.get("p50"), floor.healthz.latency_ms.get("p50")),
                "p99": _ratio(floor.echo.latency_ms.get("p99"), floor.healthz.latency_ms.get("p99")),
            }
        }


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)
