"""What the garbage collector costs this worker: collections and pause time per generation.

A worker holding many live websockets keeps hundreds of thousands of container objects alive, and
a full collection walks all of them while nothing else runs: a pause every request in flight waits
out (FACTS.md / README "design notes": the pauses that set the device round trip's p99). This
module counts them so ``/metrics`` can show them and tuning can be checked, not guessed.

``GcMeter.install()`` adds a ``gc.callbacks`` hook (two ``perf_counter`` calls per collection);
``snapshot()`` returns the totals since installation.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any

from actors.hsmpool import prometheus_family, prometheus_labels

GENERATIONS = (0, 1, 2)


@dataclass(slots=True)
class _Generation:
    collections: int = 0
    pause_s: float = 0.0
    max_pause_s: float = 0.0
    collected: int = 0


@dataclass(slots=True)
class GcMeter:
    """Per-generation collection counts and pause times of this process (see the module docstring)."""

    _by_generation: list[_Generation] = field(default_factory=lambda: [_Generation() for _ in GENERATIONS])
    _started: float | None = None
    _installed: bool = False

    def install(self) -> None:
        """Start counting (idempotent)."""
        if not self._installed:
            gc.callbacks.append(self._on_collection)
            self._installed = True

    def uninstall(self) -> None:
        """Stop counting."""
        if self._installed:
            gc.callbacks.remove(self._on_collection)
            self._installed = False

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        if self._started is None:  # installed mid-collection
            return
        pause = time.perf_counter() - self._started
        self._started = None
        generation = self._by_generation[info["generation"]]
        generation.collections += 1
        generation.pause_s += pause
        generation.max_pause_s = max(generation.max_pause_s, pause)
        generation.collected += info.get("collected", 0)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready totals: per generation, collections, pause seconds (total and longest), objects
        freed; plus the collector's thresholds and the objects frozen out of its sight."""
        return {
            "thresholds": list(gc.get_threshold()),
            "frozen_objects": gc.get_freeze_count(),
            "generations": {
                str(number): {
                    "collections": generation.collections,
                    "pause_seconds": round(generation.pause_s, 6),
                    "max_pause_seconds": round(generation.max_pause_s, 6),
                    "collected": generation.collected,
                }
                for number, generation in enumerate(self._by_generation)
            },
        }


METER = GcMeter()
"""The process's meter (``edge.asgi`` installs it in each worker)."""


def prometheus_gc_text(snapshot: dict[str, Any], *, worker: int) -> str:
    """The snapshot in the Prometheus text format (per generation, labelled by worker)."""
    generations = snapshot["generations"].items()

    def samples(key: str) -> list[tuple[str, float]]:
        return [
            (prometheus_labels(worker=worker, generation=number), values[key])
            for number, values in generations
        ]

    lines = prometheus_family(
        "klyuch_gc_collections_total", "counter", "Garbage collections run.", samples("collections")
    )
    lines += prometheus_family(
        "klyuch_gc_pause_seconds_total",
        "counter",
        "Time the worker stood still in garbage collections.",
        samples("pause_seconds"),
    )
    lines += prometheus_family(
        "klyuch_gc_max_pause_seconds",
        "gauge",
        "Longest single garbage collection since the worker started.",
        samples("max_pause_seconds"),
    )
    return "\n".join(lines) + "\n"
