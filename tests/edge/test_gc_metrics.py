"""``edge.gc_metrics``: collections and pauses per generation, as ``/metrics`` shows them."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from edge.gc_metrics import GcMeter, prometheus_gc_text


@pytest.fixture
def meter() -> Iterator[GcMeter]:
    installed = GcMeter()
    installed.install()
    installed.install()  # idempotent: one hook
    try:
        yield installed
    finally:
        installed.uninstall()


def test_counts_each_collection_by_generation(meter: GcMeter) -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    gc.collect(0)
    gc.collect(2)
    generations = meter.snapshot()["generations"]
    assert generations["0"]["collections"] >= 1
    assert generations["2"]["collections"] >= 1
    assert generations["2"]["collected"] >= 1  # the cycle
    assert generations["2"]["pause_seconds"] >= generations["2"]["max_pause_seconds"] > 0


def test_uninstalled_meter_counts_nothing() -> None:
    idle = GcMeter()
    gc.collect()
    assert all(values["collections"] == 0 for values in idle.snapshot()["generations"].values())


def test_snapshot_names_thresholds_and_frozen_objects(meter: GcMeter) -> None:
    snapshot = meter.snapshot()
    assert snapshot["thresholds"] == list(gc.get_threshold())
    assert snapshot["frozen_objects"] == gc.get_freeze_count()


def test_prometheus_text_has_a_sample_per_generation(meter: GcMeter) -> None:
    gc.collect(1)
    text = prometheus_gc_text(meter.snapshot(), worker=42)
    assert "# TYPE klyuch_gc_collections_total counter" in text
    for generation in ("0", "1", "2"):
        assert f'klyuch_gc_pause_seconds_total{{worker="42",generation="{generation}"}} ' in text
        assert f'klyuch_gc_max_pause_seconds{{worker="42",generation="{generation}"}} ' in text
    assert text.endswith("\n")
