"""Counters and latency percentiles of the pool, per unit and per pool, and their Prometheus text form.

Latency is measured in the server process around each unit call (queueing in the client and the
unit included), over the most recent ``window`` calls per unit, so percentiles follow the current
load. Everything here runs on the trio thread: no locks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from actors.hsmpool.messages import UnitStatus

DEFAULT_WINDOW: Final = 4096


class LatencyRing:
    """The most recent ``window`` durations (seconds); percentiles in microseconds."""

    __slots__ = ("_next", "_samples", "_window")

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        self._window = window
        self._samples: list[float] = []
        self._next = 0

    def add(self, seconds: float) -> None:
        """Record one duration, replacing the oldest once the ring is full."""
        if len(self._samples) < self._window:
            self._samples.append(seconds)
        else:
            self._samples[self._next] = seconds
            self._next = (self._next + 1) % self._window

    def percentiles_us(self, *fractions: float) -> list[float]:
        """The requested percentiles (0..1) of the samples, in µs (0 when there are none)."""
        ordered = sorted(self._samples)
        if not ordered:
            return [0.0 for _ in fractions]
        last = len(ordered) - 1
        return [round(ordered[min(last, int(f * len(ordered)))] * 1e6, 1) for f in fractions]


class UnitCounters:
    """What one unit did for the pool: calls and items per operation, errors by code, latency."""

    __slots__ = ("errors", "items", "latency", "operations")

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        self.operations: Counter[str] = Counter()
        """Calls per operation name (``sign``, ``generate_key`` ...), failed ones included."""
        self.items: Counter[str] = Counter()
        """Items per operation (digests for ``sign``; 1 per call otherwise)."""
        self.errors: Counter[str] = Counter()
        """Failed calls per error code."""
        self.latency = LatencyRing(window)
        """Durations of the recent calls."""

    def record(self, operation: str, items: int, seconds: float, error_code: str | None) -> None:
        """Count one finished call."""
        self.operations[operation] += 1
        self.items[operation] += items
        self.latency.add(seconds)
        if error_code is not None:
            self.errors[error_code] += 1

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: ``operations``, ``items``, ``errors``, ``latency_p50_us``, ``latency_p99_us``."""
        p50, p99 = self.latency.percentiles_us(0.50, 0.99)
        return {
            "operations": dict(self.operations),
            "items": dict(self.items),
            "errors": dict(self.errors),
            "latency_p50_us": p50,
            "latency_p99_us": p99,
        }


class PoolCounters:
    """What the balancer did: requests per operation, retries, and requests that failed by code."""

    __slots__ = ("failures", "requests", "retries")

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        """Requests per operation."""
        self.retries: Counter[str] = Counter()
        """Attempts repeated on another unit, per operation."""
        self.failures: Counter[str] = Counter()
        """Requests that failed, per error code (``hsm_unavailable`` ...)."""

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready counters."""
        return {
            "requests": dict(self.requests),
            "retries": dict(self.retries),
            "failures": dict(self.failures),
        }


# --- Prometheus text exposition format (version 0.0.4) ---------------------------------------------

PROMETHEUS_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'"{text}"'


def prometheus_labels(**labels: object) -> str:
    """``{name="value",...}`` with the values escaped as the text format requires."""
    return "{" + ",".join(f"{name}={_label(value)}" for name, value in labels.items()) + "}"


def prometheus_family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]
) -> list[str]:
    """One metric family: its HELP and TYPE lines and a line per (labels, value) sample."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value:g}" for labels, value in samples]
    return lines


def prometheus_text(units: list[UnitStatus], pool: dict[str, Any], *, worker: int) -> str:
    """The pool's metrics in the Prometheus text format; ``worker`` (a pid) labels every sample."""
    from actors.hsmpool.messages import UnitState

    def per_unit(status: UnitStatus, **extra: object) -> str:
        return prometheus_labels(worker=worker, unit=status.unit_id, domain=status.domain, **extra)

    lines: list[str] = []
    lines += prometheus_family(
        "klyuch_hsm_unit_up",
        "gauge",
        "1 when the unit is healthy and gets requests.",
        [(per_unit(s, state=s.state.value), float(s.state is UnitState.HEALTHY)) for s in units],
    )
    lines += prometheus_family(
        "klyuch_hsm_unit_restarts_total",
        "counter",
        "Unit processes replaced since the pool started.",
        [(per_unit(s), s.restarts) for s in units],
    )
    lines += prometheus_family(
        "klyuch_hsm_unit_outstanding",
        "gauge",
        "Calls in flight to the unit.",
        [(per_unit(s), s.outstanding) for s in units],
    )
    lines += prometheus_family(
        "klyuch_hsm_unit_operations_total",
        "counter",
        "Calls to the unit per operation.",
        [(per_unit(s, op=op), n) for s in units for op, n in sorted(s.metrics["operations"].items())],
    )
    lines += prometheus_family(
        "klyuch_hsm_unit_items_total",
        "counter",
        "Items (digests signed, keys generated ...) per operation.",
        [(per_unit(s, op=op), n) for s in units for op, n in sorted(s.metrics["items"].items())],
    )
    lines += prometheus_family(
        "klyuch_hsm_unit_errors_total",
        "counter",
        "Failed calls to the unit per error code.",
        [(per_unit(s, code=code), n) for s in units for code, n in sorted(s.metrics["errors"].items())],
    )
    lines += prometheus_family(
        "klyuch_hsm_unit_latency_seconds",
        "summary",
        "Call latency seen by the pool over the recent calls.",
        [
            (per_unit(s, quantile=q), s.metrics[key] / 1e6)
            for s in units
            for q, key in (("0.5", "latency_p50_us"), ("0.99", "latency_p99_us"))
        ],
    )
    for name, help_text in (
        ("requests", "Requests the balancer received per operation."),
        ("retries", "Attempts repeated on another unit per operation."),
    ):
        lines += prometheus_family(
            f"klyuch_hsm_{name}_total",
            "counter",
            help_text,
            [(prometheus_labels(worker=worker, op=op), n) for op, n in sorted(pool[name].items())],
        )
    lines += prometheus_family(
        "klyuch_hsm_failures_total",
        "counter",
        "Requests that failed per error code.",
        [(prometheus_labels(worker=worker, code=code), n) for code, n in sorted(pool["failures"].items())],
    )
    return "\n".join(lines) + "\n"
