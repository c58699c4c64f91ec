"""One benchmark run from options to report: start what is needed, measure the phases, stop, write.

For an HTTP scenario, in order: start the server (unless ``--url``), ``prepare``, then per phase a
warm-up (not recorded) and the measured load; stop the server; measure the generator's ceiling for the
same phases against the trivial server (after the real server is gone, so they do not compete); then
``compare`` and the report. The server is stopped in ``finally``, so an error or Ctrl-C anywhere
still leaves nothing running. A local scenario just runs and returns rows.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import trio

from bench.client import BenchClient
from bench.environment import snapshot
from bench.errors import BenchError, UsageError
from bench.http1 import Connection
from bench.loadgen import LoadSpec, Recorder, run_load
from bench.plot import write_plot
from bench.progress import phase_progress
from bench.report import SCHEMA, output_paths, write_json
from bench.scenario import HttpScenario, LocalResult, LocalScenario, Phase, Registry, Scenario
from bench.server import KlyuchServer, ServerProcess, StopReport, TrivialServer
from bench.stats import PhaseResult, summarise
from bench.target import Target, parse_target

T = TypeVar("T")

DEFAULT_PHASE_S = 4.0
"""Time limit of a measured phase unless ``--duration`` says otherwise."""
DEFAULT_PHASE_REQUESTS = 100_000
"""Request limit of a measured phase unless ``--requests`` says otherwise."""

GENERATOR = "bench.http1: hand-written HTTP/1.1 keep-alive client on trio sockets, in the harness process"


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Everything a run is configured with (the command-line flags)."""

    scenario: str
    """Registered scenario name."""
    url: str | None = None
    """Load this loopback server instead of starting one."""
    duration_s: float | None = None
    """Time limit of each measured phase (``DEFAULT_PHASE_S`` when unset); a local scenario's own meaning."""
    requests: int | None = None
    """Request limit of each measured phase (``DEFAULT_PHASE_REQUESTS`` when unset)."""
    concurrency: int = 32
    """Concurrent clients (connections)."""
    rate: float | None = None
    """Open-loop arrival rate (req/s); closed loop when ``None``."""
    workers: int = 1
    """Server worker processes when the harness starts the server."""
    warmup_s: float = 0.5
    """Unrecorded load before each phase."""
    timeout_s: float = 10.0
    """Per-request timeout."""
    ceiling_s: float = 1.0
    """Seconds per phase of generator-ceiling measurement; 0 skips it."""
    out_dir: Path = Path("bench-results")
    """Folder for the JSON and PNG."""
    server_command: tuple[str, ...] | None = None
    """Command that starts the server (default ``<python> -m edge serve``)."""
    start_timeout_s: float = 60.0
    """How long to wait for ``/readyz``."""
    stop_grace_s: float = 10.0
    """How long the server gets after SIGTERM before SIGKILL (leftover processes get up to 3 s of it)."""
    progress: bool = False
    """Draw a progress bar on stderr."""
    plot: bool = True
    """Write the PNG."""

    @property
    def phase_s(self) -> float:
        """The effective time limit of a measured phase."""
        return self.duration_s if self.duration_s is not None else DEFAULT_PHASE_S

    @property
    def phase_requests(self) -> int:
        """The effective request limit of a measured phase."""
        return self.requests if self.requests is not None else DEFAULT_PHASE_REQUESTS

    def load_spec(self) -> LoadSpec:
        """The measured-phase limits."""
        return LoadSpec(
            concurrency=self.concurrency,
            duration_s=self.phase_s,
            max_requests=self.phase_requests,
            rate=self.rate,
            timeout_s=self.timeout_s,
        )

    def warmup_spec(self) -> LoadSpec:
        """The warm-up: same shape, ``warmup_s`` long, no request limit, draining at its end."""
        return dataclasses.replace(
            self.load_spec(), duration_s=self.warmup_s, max_requests=10**12, drain=True
        )


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a run produced."""

    report: dict[str, Any]
    """The report written as JSON."""
    json_path: Path
    png_path: Path | None


def run(options: RunOptions, registry: Registry) -> RunOutcome:
    """Execute one run and write its report."""
    options.load_spec()  # validate limits before anything starts
    scenario = registry.create(options.scenario)
    started = datetime.now(UTC)
    environment = snapshot()
    if isinstance(scenario, LocalScenario):
        body = _local_body(scenario.run_local(duration_s=options.duration_s, requests=options.requests))
    elif isinstance(scenario, HttpScenario):
        body = _run_http(scenario, options)
    else:  # pragma: no cover - registry holds only the two kinds
        raise UsageError(f"scenario {options.scenario!r} is neither an HTTP nor a local scenario")
    report = {
        "schema": SCHEMA,
        "scenario": scenario.name,
        "description": scenario.description,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment,
        "config": _config(options),
        **body,
    }
    json_path, png_path = output_paths(options.out_dir, scenario.name, started)
    write_json(json_path, report)
    if options.plot:
        write_plot(png_path, report)
    return RunOutcome(report=report, json_path=json_path, png_path=png_path if options.plot else None)


def _config(options: RunOptions) -> dict[str, Any]:
    config = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    config["out_dir"] = str(options.out_dir)
    config["mode"] = "open" if options.rate else "closed"
    config["phase_s"] = options.phase_s
    config["phase_requests"] = options.phase_requests
    return config


def _local_body(result: LocalResult) -> dict[str, Any]:
    return {
        "rows": result.rows,
        "table_columns": list(result.columns),
        "plot": {"label": result.plot_label, "value": result.plot_value},
        "local": result.extra,
    }


def _run_http(scenario: HttpScenario, options: RunOptions) -> dict[str, Any]:
    server: ServerProcess | None = None
    stop: StopReport | None = None
    startup_s: float | None = None
    try:
        if options.url is not None:
            target = parse_target(options.url)
        else:
            server, startup_s = _start_server(scenario, options)
            target = parse_target(server.url)
        results = _trio_run(_measure_all, scenario, target, options, server)
    finally:
        if server is not None:
            stop = server.stop()
    ceilings = _measure_ceilings(scenario, options) if _wants_ceiling(scenario, options) else {}
    phases = [_with_ceiling(result, ceilings.get(result.name)) for result in results]
    return {
        "server": {
            "url": target.url,
            "managed": server is not None,
            "kind": scenario.server if server is not None else "external",
            "command": list(server.command) if isinstance(server, KlyuchServer) else None,
            "pid": server.pid if server is not None else None,
            "home": str(server.home) if server is not None else None,
            "startup_s": round(startup_s, 3) if startup_s is not None else None,
            "stop": dataclasses.asdict(stop) if stop is not None else None,
        },
        "generator": {"client": GENERATOR, "ceiling_rps": ceilings, "ceiling_s": options.ceiling_s},
        "phases": [p.to_json() for p in phases],
        "comparison": _compare(scenario, phases),
    }


def _trio_run(function: Callable[..., Awaitable[T]], *args: Any) -> T:
    """``trio.run`` that surfaces a Ctrl-C or a harness error from inside a task group as itself.

    A KeyboardInterrupt lands in whichever task was running, so it arrives wrapped in an exception
    group; the CLI handles the bare exception the same way wherever it came from.
    """
    try:
        return trio.run(function, *args)
    except BaseExceptionGroup as group:
        interrupted, _ = group.split(KeyboardInterrupt)
        if interrupted is not None:
            raise KeyboardInterrupt from group
        ours, rest = group.split(BenchError)
        if ours is not None and rest is None and len(ours.exceptions) == 1:
            leaf = ours.exceptions[0]
            while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
                leaf = leaf.exceptions[0]
            if isinstance(leaf, BenchError):
                raise leaf from group
        raise


def _start_server(scenario: HttpScenario, options: RunOptions) -> tuple[ServerProcess, float]:
    if scenario.server == "trivial":
        trivial = TrivialServer(stop_grace_s=options.stop_grace_s)
        return trivial, _started(trivial, trivial.start)
    klyuch = KlyuchServer(
        workers=options.workers,
        command=options.server_command,
        start_timeout_s=options.start_timeout_s,
        stop_grace_s=options.stop_grace_s,
        sweep_grace_s=min(3.0, options.stop_grace_s),
    )
    return klyuch, _started(klyuch, klyuch.start)


def _started(server: ServerProcess, start: Callable[[], float]) -> float:
    """Run ``start``; stop the half-started server if that fails (the caller has no handle yet)."""
    try:
        seconds = start()
    except BaseException:
        server.stop()
        raise
    return seconds


async def _measure_all(
    scenario: HttpScenario, target: Target, options: RunOptions, server: ServerProcess | None
) -> list[PhaseResult]:
    client = BenchClient(target, timeout_s=options.timeout_s)
    try:
        await scenario.prepare(client)
    finally:
        client.close()
    results = []
    for phase in scenario.phases():
        results.append(await measure_phase(phase, target, options, server=server))
    return results


async def measure_phase(
    phase: Phase, target: Target, options: RunOptions, *, server: ServerProcess | None = None
) -> PhaseResult:
    """Warm up, then measure one phase with ``options``' limits; the building block of every HTTP run."""
    client = BenchClient(target)
    connections = [Connection(target.address, target.family) for _ in range(options.concurrency)]
    try:
        if options.warmup_s > 0:
            await run_load(connections, phase.requests, client.encode, options.warmup_spec())
        rec = Recorder()
        cpu0, server_cpu0 = time.process_time(), _cpu(server)
        async with phase_progress(phase.name, options.load_spec(), rec, enabled=options.progress):
            await run_load(connections, phase.requests, client.encode, options.load_spec(), rec)
        cpu1, server_cpu1 = time.process_time(), _cpu(server)
    finally:
        for conn in connections:
            conn.close()
    wall = rec.elapsed_s or 1.0
    server_cpu = (
        (server_cpu1 - server_cpu0) / wall if server_cpu0 is not None and server_cpu1 is not None else None
    )
    result = summarise(
        rec,
        name=phase.name,
        description=phase.description,
        generator_cpu=(cpu1 - cpu0) / wall,
        server_cpu=server_cpu,
    )
    extra = {"rate": options.rate} if options.rate else {}
    return dataclasses.replace(result, extra={**result.extra, **extra})


def _cpu(server: ServerProcess | None) -> float | None:
    return server.cpu_seconds() if server is not None else None


def _wants_ceiling(scenario: HttpScenario, options: RunOptions) -> bool:
    return options.ceiling_s > 0 and not (scenario.server == "trivial" and options.url is None)


def _measure_ceilings(scenario: HttpScenario, options: RunOptions) -> dict[str, float]:
    """Requests answered per second by the trivial server for each phase: what the generator can do.

    Counted over every answered request, whatever its verdict (the trivial server's answers need not
    satisfy a scenario's checks); closed loop at the run's concurrency, without a progress bar.
    """
    spec = dataclasses.replace(options, rate=None, warmup_s=min(options.warmup_s, 0.3), progress=False)
    spec = dataclasses.replace(spec, duration_s=options.ceiling_s)
    with TrivialServer(stop_grace_s=options.stop_grace_s) as trivial:
        trivial.start()
        target = parse_target(trivial.url)
        return _trio_run(_ceiling_rates, scenario.phases(), target, spec)


async def _ceiling_rates(phases: Sequence[Phase], target: Target, options: RunOptions) -> dict[str, float]:
    rates = {}
    for phase in phases:
        result = await measure_phase(phase, target, options)
        rates[phase.name] = round(result.requests / result.duration_s, 1) if result.duration_s else 0.0
    return rates


def _with_ceiling(result: PhaseResult, ceiling: float | None) -> PhaseResult:
    if ceiling is None:
        return result
    extra: dict[str, object] = {**result.extra, "generator_ceiling_rps": ceiling}
    if result.achieved_rps:
        extra["ceiling_headroom"] = round(ceiling / result.achieved_rps, 2)
    return dataclasses.replace(result, extra=extra)


def _compare(scenario: Scenario, phases: Sequence[PhaseResult]) -> dict[str, object]:
    compare = getattr(scenario, "compare", None)
    if compare is None:
        return {}
    comparison: dict[str, object] = compare({p.name: p for p in phases})
    return comparison


def stderr_is_terminal() -> bool:
    """Whether a progress bar would be seen (the default for ``--progress``)."""
    return sys.stderr.isatty()
