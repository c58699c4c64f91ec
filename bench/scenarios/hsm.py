"""``hsm``: signatures through the whole HSM layer (Balancer → UnitClient → unit process), no HTTP.

Adapter from ``bench.hsm_bench.run_hsm_bench`` to a ``LocalScenario``: 1 and 2 soft units beside the
raw engine signing loop measured in the same run, an open-loop latency sweep and a chaos run that
kills a unit mid-run. ``--duration`` is the length of each measured phase.
"""

from __future__ import annotations

from typing import Any

from bench.scenario import LocalResult

COLUMNS = ("name", "signatures_per_s", "p50_us", "p99_us", "vs_raw_1_thread", "vs_adjacent_raw_1_thread")
"""The columns worth a terminal line; the JSON keeps the whole report."""


class HsmScenario:
    """Run ``run_hsm_bench`` and show one row per layer measurement."""

    name = "hsm"
    description = "signatures/s and latency through the HSM layer with 1 and 2 units vs the raw engine"

    def run_local(self, *, duration_s: float | None, requests: int | None) -> LocalResult:
        """Run the HSM benchmark; ``requests`` has no meaning here and is ignored."""
        from bench.hsm_bench import run_hsm_bench  # starts unit processes: import only when run

        report = run_hsm_bench(duration_s=duration_s or 3.0)
        rows = [_layer_row(row) for row in report.get("layer", [])]
        extra = {key: value for key, value in report.items() if key != "layer"}
        return LocalResult(rows=rows, columns=COLUMNS, plot_value="vs_raw_1_thread", extra=extra)


def _layer_row(row: dict[str, Any]) -> dict[str, Any]:
    label = f"{row.get('units')}u×batch{row.get('batch')}×c{row.get('concurrency')}"
    return {"name": label, **row}
