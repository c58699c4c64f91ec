"""Benchmark rows, the timing helper and the registry of extra row providers.

A row is one primitive measured through Klyuch's binding, optionally beside its C floor from the
same run. Other modules (the cipher benchmarks) add rows by registering a provider::

    from bench.crypto import BenchConfig, BenchRow, register_rows

    @register_rows
    def cipher_rows(config: BenchConfig) -> list[BenchRow]: ...
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """How long to measure."""

    seconds: float = 0.6
    """Wall time spent on one measured side of one row (split into ``rounds`` batches)."""
    rounds: int = 3
    """Batches per measurement; the median batch is reported."""


@dataclass(frozen=True, slots=True)
class BenchRow:
    """One measured primitive."""

    name: str
    """Stable identifier, e.g. ``gost3410_256.sign``."""
    unit: str
    """``us/op`` (lower is better) or ``MB/s`` (higher is better)."""
    value: float
    """Klyuch's binding, median of the rounds."""
    floor: float | None = None
    """The same operation in native code (C program or ``openssl speed``), same unit."""
    floor_source: str | None = None
    """How the floor was measured (command line)."""
    notes: str = ""
    """Free text: sizes, iterations."""
    extra: dict[str, float] = field(default_factory=dict)
    """Further numbers (ops counted, min/max of the rounds)."""

    @property
    def ratio(self) -> float | None:
        """How many times slower than the floor the binding is (1.0 = as fast as C)."""
        if self.floor is None or self.floor <= 0 or self.value <= 0:
            return None
        return self.value / self.floor if self.unit == "us/op" else self.floor / self.value

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, ``ratio`` included."""
        data = asdict(self)
        data["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        return data


RowProvider = Callable[[BenchConfig], Iterable[BenchRow]]
"""A callable producing rows; registered providers run after the built-in ones."""

_providers: list[RowProvider] = []


def register_rows(provider: RowProvider) -> RowProvider:
    """Add a row provider to every later :func:`bench.crypto.run_crypto_bench` (usable as a decorator)."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def registered_providers() -> list[RowProvider]:
    """The providers registered so far, in registration order."""
    return list(_providers)


def time_op(op: Callable[[], object], config: BenchConfig) -> tuple[float, dict[str, float]]:
    """Median CPU µs per call of ``op`` over ``config.rounds`` batches of ``config.seconds / rounds``.

    Time is this thread's CPU time (as ``openssl speed`` and ``floor.c`` count it), so other
    processes on a shared machine do not inflate the numbers; a batch also ends after three times
    its length in wall time. Returns the median and the extra numbers (min, max, calls).
    """
    op()  # warm-up: first-use initialisation is not what we measure
    batch = config.seconds / config.rounds
    per_round: list[float] = []
    calls = 0
    for _ in range(config.rounds):
        count, cpu_start, wall_start = 0, time.thread_time(), time.perf_counter()
        while (
            cpu := time.thread_time() - cpu_start
        ) < batch and time.perf_counter() - wall_start < 3 * batch:
            for _ in range(8):
                op()
            count += 8
        per_round.append(cpu / count * 1e6)
        calls += count
    return statistics.median(per_round), {"min": min(per_round), "max": max(per_round), "calls": calls}


def us_row(name: str, op: Callable[[], object], config: BenchConfig, *, notes: str = "") -> BenchRow:
    """A ``us/op`` row for ``op``."""
    value, extra = time_op(op, config)
    return BenchRow(name, "us/op", value, notes=notes, extra=extra)


def throughput_row(
    name: str, op: Callable[[], object], nbytes: int, config: BenchConfig, *, notes: str = ""
) -> BenchRow:
    """An ``MB/s`` row for ``op`` processing ``nbytes`` per call (MB = 10^6 bytes, as openssl speed)."""
    value, extra = time_op(op, config)
    return BenchRow(name, "MB/s", nbytes / value, notes=notes, extra=extra)
