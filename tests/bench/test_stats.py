"""Percentiles and per-second buckets on known data."""

from __future__ import annotations

from array import array
from collections import Counter

from bench.loadgen import Recorder
from bench.stats import summarise


def _recorder(ok: list[tuple[float, float]], errors: list[tuple[float, str]], elapsed: float) -> Recorder:
    rec = Recorder()
    rec.ok_at = array("d", [t for t, _ in ok])
    rec.ok_latency = array("d", [lat for _, lat in ok])
    rec.err_at = array("d", [t for t, _ in errors])
    rec.errors = Counter(kind for _, kind in errors)
    rec.elapsed_s = elapsed
    return rec


def test_percentiles_are_observed_values() -> None:
    # 1..1000 ms, completing evenly over 2 s.
    ok = [(i / 500.0, i / 1000.0) for i in range(1, 1001)]
    result = summarise(_recorder(ok, [], 2.0), name="p", description="d")
    assert result.latency_ms == {
        "min": 1.0,
        "mean": 500.5,
        "p50": 500.0,
        "p90": 900.0,
        "p99": 990.0,
        "p99.9": 999.0,
        "max": 1000.0,
    }
    assert result.achieved_rps == 500.0
    assert result.requests == result.ok == 1000


def test_per_second_buckets_and_errors() -> None:
    ok = [(0.1, 0.01), (0.2, 0.03), (1.5, 0.02), (2.05, 0.5)]
    errors = [(0.5, "timeout"), (1.2, "http_503"), (1.3, "http_503")]
    result = summarise(_recorder(ok, errors, 2.1), name="p", description="d")
    # 2.1 s: the 0.1 s sliver is folded into the second bucket, which then spans 1.1 s.
    assert [(s.t, s.ok, s.errors) for s in result.per_second] == [(0, 2, 1), (1, 2, 2)]
    assert result.per_second[1].ok_per_s == round(2 / 1.1, 1)
    assert result.per_second[0].p50_ms == 10.0
    assert result.per_second[0].p99_ms == 30.0
    assert result.errors == {"http_503": 2, "timeout": 1}
    assert result.requests == 7


def test_a_phase_without_successes_has_no_latency() -> None:
    result = summarise(_recorder([], [(0.1, "connect_refused")], 0.5), name="p", description="d")
    assert set(result.latency_ms.values()) == {None}
    assert result.achieved_rps == 0.0
    assert [(s.ok, s.errors, s.p50_ms) for s in result.per_second] == [(0, 1, None)]
