"""Numbers from a phase's raw measurements: percentiles, per-second throughput, achieved rate.

Latency percentiles are over successful requests only; failed ones are counted by kind. Percentiles use
the nearest-rank rule (the smallest observed value with at least p % of samples at or below it, as
HdrHistogram reports), never an interpolation between two requests that no request experienced.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from bench.loadgen import Recorder

PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9))


@dataclass(frozen=True, slots=True)
class Second:
    """Throughput and latency of one wall-clock second of a phase."""

    t: int
    """Second index from the phase start."""
    requests: int
    """Requests completed in that second (ok + errors)."""
    ok: int
    """Successful requests completed in that second."""
    errors: int
    """Failed requests completed in that second."""
    ok_per_s: float
    """Successful requests per second in this bucket (the last bucket may be shorter than 1 s)."""
    p50_ms: float | None
    """Median latency of that second's successful requests."""
    p99_ms: float | None
    """99th percentile latency of that second's successful requests."""


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """Everything reported about one measured phase."""

    name: str
    description: str
    requests: int
    """Requests completed (ok + errors)."""
    ok: int
    errors: dict[str, int]
    """Failed requests by kind (``http_503``, ``timeout``, ``connection_reset``, ...)."""
    duration_s: float
    """Measured wall time of the phase."""
    stopped_by: str
    """``duration`` or ``requests``: which limit ended the phase."""
    achieved_rps: float
    """Successful requests per second over the phase."""
    latency_ms: dict[str, float | None]
    """min, mean, p50, p90, p99, p99.9 and max of successful requests."""
    per_second: list[Second]
    generator_cpu: float | None = None
    """Generator CPU seconds per wall second during the phase (1.0 = one core busy)."""
    server_cpu: float | None = None
    """Server process tree CPU seconds per wall second, when the harness started the server."""
    extra: dict[str, object] = field(default_factory=dict)
    """Scenario- or run-specific additions (the generator ceiling, the open-loop rate, ...)."""

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)


def summarise(
    rec: Recorder,
    *,
    name: str,
    description: str,
    generator_cpu: float | None = None,
    server_cpu: float | None = None,
) -> PhaseResult:
    """Turn raw measurements into a ``PhaseResult``."""
    latencies = np.frombuffer(rec.ok_latency, dtype=np.float64) if len(rec.ok_latency) else None
    ok = len(rec.ok_at)
    duration = rec.elapsed_s
    return PhaseResult(
        name=name,
        description=description,
        requests=rec.completed,
        ok=ok,
        errors=dict(sorted(rec.errors.items())),
        duration_s=round(duration, 4),
        stopped_by=rec.stopped_by,
        achieved_rps=round(ok / duration, 1) if duration > 0 else 0.0,
        latency_ms=_latency_summary(latencies),
        per_second=_per_second(rec),
        generator_cpu=_round(generator_cpu),
        server_cpu=_round(server_cpu),
    )


def _latency_summary(latencies: np.ndarray | None) -> dict[str, float | None]:
    keys = ["min", "mean", *(label for label, _ in PERCENTILES), "max"]
    if latencies is None:
        return dict.fromkeys(keys)
    ms = np.sort(latencies * 1000.0)
    summary: dict[str, float | None] = {"min": _ms(float(ms[0])), "mean": _ms(float(ms.mean()))}
    for label, q in PERCENTILES:
        summary[label] = _ms(nearest_rank(ms, q))
    summary["max"] = _ms(float(ms[-1]))
    return summary


def nearest_rank(sorted_values: np.ndarray, q: float) -> float:
    """The ``q``-th percentile (0 < q <= 100) of ascending ``sorted_values`` by the nearest-rank rule."""
    # Rank ceil(q/100 * n), computed with a tolerance so 99.9 % of 1,000 is rank 999, not 1,000.
    rank = math.ceil(q * len(sorted_values) / 100.0 - 1e-9)
    return float(sorted_values[max(rank, 1) - 1])


def _bucket_count(elapsed_s: float) -> int:
    """Whole seconds, with a final sliver under 0.25 s folded into the last bucket (no fake spike)."""
    whole = math.floor(elapsed_s)
    return max(1, whole if elapsed_s - whole < 0.25 else whole + 1)


def _per_second(rec: Recorder) -> list[Second]:
    seconds = _bucket_count(rec.elapsed_s)
    ok_at = np.frombuffer(rec.ok_at, dtype=np.float64) if len(rec.ok_at) else np.empty(0)
    err_at = np.frombuffer(rec.err_at, dtype=np.float64) if len(rec.err_at) else np.empty(0)
    lat = np.frombuffer(rec.ok_latency, dtype=np.float64) if len(rec.ok_latency) else np.empty(0)
    ok_bin = np.minimum(ok_at.astype(np.int64), seconds - 1)
    err_counts = np.bincount(np.minimum(err_at.astype(np.int64), seconds - 1), minlength=seconds)
    rows = []
    for t in range(seconds):
        in_second = np.sort(lat[ok_bin == t] * 1000.0)
        p50, p99 = (
            (None, None)
            if in_second.size == 0
            else (nearest_rank(in_second, 50), nearest_rank(in_second, 99))
        )
        n_ok = int(in_second.size)
        n_err = int(err_counts[t])
        span = rec.elapsed_s - t if t == seconds - 1 else 1.0
        rows.append(
            Second(
                t=t,
                requests=n_ok + n_err,
                ok=n_ok,
                errors=n_err,
                ok_per_s=round(n_ok / span, 1) if span > 0 else 0.0,
                p50_ms=_ms(p50),
                p99_ms=_ms(p99),
            )
        )
    return rows


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
