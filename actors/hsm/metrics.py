"""Per-operation counters and service-time percentiles of one unit, safe to update from any thread.

Latency is measured inside the unit, from the moment a request frame is decoded to the moment its
reply is handed to the socket; percentiles come from the most recent ``window`` samples per
operation (a ring), so they follow the current load rather than the whole uptime.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Final

DEFAULT_WINDOW: Final = 4096


class _OpStats:
    __slots__ = ("count", "errors", "items", "next", "ring", "total")

    def __init__(self, window: int) -> None:
        self.count = 0
        self.errors = 0
        self.items = 0
        self.total = 0.0
        self.ring: list[float] = []
        self.next = 0

    def add(self, seconds: float, items: int, failed: bool, window: int) -> None:
        self.count += 1
        self.items += items
        self.total += seconds
        if failed:
            self.errors += 1
        if len(self.ring) < window:
            self.ring.append(seconds)
        else:
            self.ring[self.next] = seconds
            self.next = (self.next + 1) % window

    def snapshot(self) -> dict[str, Any]:
        ordered = sorted(self.ring)
        return {
            "count": self.count,
            "errors": self.errors,
            "items": self.items,
            "mean_us": round(self.total / self.count * 1e6, 1) if self.count else 0.0,
            "p50_us": _percentile_us(ordered, 0.50),
            "p99_us": _percentile_us(ordered, 0.99),
        }


def _percentile_us(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, int(fraction * len(ordered)))
    return round(ordered[index] * 1e6, 1)


class UnitMetrics:
    """Operation counts, error counts by code and latency rings of one unit."""

    def __init__(self, *, window: int = DEFAULT_WINDOW) -> None:
        """``window``: how many recent samples per operation the percentiles are taken from."""
        self._window = window
        self._lock = threading.Lock()
        self._ops: dict[str, _OpStats] = {}
        self._errors: Counter[str] = Counter()

    def record(self, op: str, seconds: float, *, items: int = 1, error_code: str | None = None) -> None:
        """Count one finished request of ``op`` that took ``seconds`` and covered ``items`` items."""
        with self._lock:
            stats = self._ops.get(op)
            if stats is None:
                stats = self._ops[op] = _OpStats(self._window)
            stats.add(seconds, items, error_code is not None, self._window)
            if error_code is not None:
                self._errors[error_code] += 1

    def snapshot(self) -> tuple[dict[str, Any], dict[str, int]]:
        """``(per-operation stats, errors by code)`` as plain JSON-ready dicts."""
        with self._lock:
            ops = {name: stats.snapshot() for name, stats in self._ops.items()}
            errors = dict(self._errors)
        return ops, errors
