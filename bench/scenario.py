"""What a scenario is: a name, a description, a ``prepare(client)`` step and load phases of requests.

Two kinds share one registry:

* ``HttpScenario`` drives an HTTP server (the Klyuch server the harness starts, one given by ``--url``,
  or the trivial fixed-response server for ``ceiling``). Each of its ``Phase``\\ s is measured and
  reported on its own; a phase's ``requests()`` is an endless iterator of ``Request`` values (yield the
  same object again to let the client reuse its encoded bytes).
* ``LocalScenario`` needs no server: a microbenchmark that returns result rows (``crypto``).

Scenarios are registered as factories, so every run starts from fresh state: what ``prepare`` makes
(users, keys, tokens) is kept on the instance and read by the phases' request iterators, which are
created only after ``prepare`` has run. An HTTP scenario may also define ``compare(results)`` (see
``bench.scenarios.base``) to add derived numbers to the report, e.g. itself against the floor measured
in the same run (``bench.scenarios.floor.floor_phases`` / ``floor_in_run``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from bench.errors import UnknownScenarioError

if TYPE_CHECKING:
    from bench.client import BenchClient

ServerKind = Literal["klyuch", "trivial"]
Row = dict[str, object]


@dataclass(frozen=True, slots=True)
class Request:
    """One request a load phase sends."""

    method: str
    """HTTP method."""
    path: str
    """Path and query, starting with ``/``."""
    body: bytes = b""
    """Request body (already encoded)."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra headers (``Host`` and ``Content-Length`` are added by the client)."""
    expect_status: int = 200
    """Status that counts as success; anything else is counted as error ``http_<status>``."""
    check: Callable[[bytes], bool] | None = field(default=None, compare=False)
    """Optional test of the response body; ``False`` or an exception counts as error ``bad_body``."""


@dataclass(frozen=True, slots=True)
class Phase:
    """A measured part of a scenario, reported separately (the floor has ``healthz`` and ``echo``)."""

    name: str
    """Short name, unique within the scenario."""
    description: str
    """One line for the report."""
    requests: Callable[[], Iterator[Request]]
    """Returns an endless iterator of requests; called once per client connection."""


@runtime_checkable
class HttpScenario(Protocol):
    """A scenario measured through HTTP load phases."""

    name: str
    description: str
    server: ServerKind
    """Which server ``klyuch bench`` starts when no ``--url`` is given."""

    async def prepare(self, client: BenchClient) -> None:
        """Set up what the phases need (users, keys, tokens); raise ``ScenarioPrepareError`` if impossible."""

    def phases(self) -> Sequence[Phase]:
        """The load phases, measured in this order."""


@dataclass(frozen=True, slots=True)
class LocalResult:
    """What a server-less scenario measured: rows, and how to show them."""

    rows: list[Row]
    """One JSON-ready dict per measured case."""
    columns: tuple[str, ...] = ()
    """Columns of the printed table, in order (every column when empty)."""
    plot_value: str | None = None
    """Numeric column drawn as bars in the PNG (the first numeric column when ``None``)."""
    plot_label: str = "name"
    """Column naming each bar."""
    extra: dict[str, object] = field(default_factory=dict)
    """Anything else for the report (targets met, the microbenchmark's own environment, ...)."""


@runtime_checkable
class LocalScenario(Protocol):
    """A scenario that needs no server and returns result rows (a microbenchmark)."""

    name: str
    description: str

    def run_local(self, *, duration_s: float | None, requests: int | None) -> LocalResult:
        """Run and return rows; ``None`` limits mean the scenario's own defaults."""


Scenario = HttpScenario | LocalScenario
ScenarioFactory = Callable[[], Scenario]


@dataclass(slots=True)
class Registry:
    """Scenario factories by name."""

    factories: dict[str, ScenarioFactory] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)

    def register(self, name: str, description: str, factory: ScenarioFactory) -> None:
        """Add a scenario; registering a name twice is a programming error."""
        if name in self.factories:
            raise ValueError(f"scenario {name!r} is already registered")
        self.factories[name] = factory
        self.descriptions[name] = description

    def create(self, name: str) -> Scenario:
        """A fresh instance of scenario ``name``."""
        try:
            factory = self.factories[name]
        except KeyError:
            known = ", ".join(sorted(self.factories)) or "none"
            raise UnknownScenarioError(f"unknown scenario {name!r}; known: {known}") from None
        return factory()

    def available(self) -> Mapping[str, str]:
        """Name → description of every registered scenario."""
        return dict(sorted(self.descriptions.items()))
