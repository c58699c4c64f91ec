"""The PNG beside each report: throughput over time and latency percentiles over time (two panels).

matplotlib is imported here only, with the Agg backend (no display needed), so the rest of the harness
starts fast and works on a headless machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def write_plot(path: Path, report: Mapping[str, Any]) -> None:
    """Draw ``report`` into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig = _rows_figure(plt, report) if "rows" in report else _phases_figure(plt, report)
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def _phases_figure(plt: Any, report: Mapping[str, Any]) -> Any:
    from matplotlib.ticker import ScalarFormatter

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True, constrained_layout=True)
    config = report["config"]
    fig.suptitle(
        f"{report['scenario']}: {config['concurrency']} clients"
        + (f", open loop {config['rate']} req/s" if config.get("rate") else ", closed loop")
        + f", {config.get('workers', '?')} server worker(s)"
    )
    for i, phase in enumerate(report["phases"]):
        color = f"C{i}"
        seconds = phase["per_second"]
        t = [s["t"] + 0.5 for s in seconds]
        ceiling = phase.get("extra", {}).get("generator_ceiling_rps")
        label = f"{phase['name']} ({phase['achieved_rps']:.0f} req/s"
        label += f"; generator ceiling {ceiling:.0f})" if ceiling else ")"
        top.plot(t, [s["ok_per_s"] for s in seconds], marker="o", color=color, label=label)
        latency = phase["latency_ms"]
        summary = ", ".join(
            f"{k} {latency[k]:.1f}" for k in ("p50", "p99", "p99.9") if latency.get(k) is not None
        )
        bottom.plot(
            t, [s["p50_ms"] for s in seconds], color=color, label=f"{phase['name']} p50 ({summary} ms)"
        )
        bottom.plot(
            t, [s["p99_ms"] for s in seconds], color=color, linestyle="--", label=f"{phase['name']} p99"
        )
    top.set_ylabel("successful requests / s")
    top.set_ylim(bottom=0)
    top.grid(alpha=0.3)
    top.legend(loc="lower right", fontsize="small")
    bottom.set_ylabel("latency per second, ms (log)")
    bottom.set_yscale("log")
    # Plain numbers on the log axis: "40" reads better than "4×10^1" for milliseconds.
    bottom.yaxis.set_major_formatter(ScalarFormatter())
    bottom.yaxis.set_minor_formatter(ScalarFormatter())
    bottom.set_xlabel("seconds since phase start")
    bottom.grid(alpha=0.3, which="both")
    bottom.legend(loc="best", fontsize="small")
    return fig


def _rows_figure(plt: Any, report: Mapping[str, Any]) -> Any:
    """Horizontal bars of one numeric column; rows without a number in it are left out."""
    rows: Sequence[Mapping[str, Any]] = report["rows"]
    shown = report.get("plot") or {}
    label_key = shown.get("label") or "name"
    value_key = shown.get("value") or _first_numeric_key(rows)
    bars = [(str(row.get(label_key, i)), _number(row.get(value_key))) for i, row in enumerate(rows)]
    bars = [(label, value) for label, value in bars if value is not None]
    fig, ax = plt.subplots(figsize=(10, max(3.0, 0.35 * len(bars) + 1.5)), constrained_layout=True)
    fig.suptitle(f"{report['scenario']}: {value_key} ({len(bars)} of {len(rows)} rows have one)")
    ax.barh([label for label, _ in bars], [value for _, value in bars])
    ax.invert_yaxis()
    ax.set_xlabel(value_key)
    ax.grid(alpha=0.3, axis="x")
    return fig


def _first_numeric_key(rows: Sequence[Mapping[str, Any]]) -> str:
    for key, value in rows[0].items() if rows else ():
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(key)
    return "value"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
