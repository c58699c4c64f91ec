"""Run reports: where they go, the JSON file, the table printed at the end, and reading them back.

A report is a plain JSON object (``schema`` ``klyuch-bench/1``): ``scenario``, ``description``,
``started_at``/``finished_at``, ``environment``, ``config``, ``server``, and either ``phases`` (HTTP
scenarios: one ``PhaseResult`` each, with ``extra.generator_ceiling_rps``) plus ``comparison``, or
``rows`` with ``table_columns``, ``plot`` and ``local`` (local scenarios).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA = "klyuch-bench/1"

_LATENCY_COLUMNS = ("p50", "p90", "p99", "p99.9", "max")


def output_paths(out_dir: Path, scenario: str, when: datetime) -> tuple[Path, Path]:
    """``<out>/<scenario>-<timestamp>.json`` and the ``.png`` beside it; never overwrites a report."""
    stamp = when.strftime("%Y%m%dT%H%M%S")
    stem = f"{scenario}-{stamp}"
    n = 1
    while (out_dir / f"{stem}.json").exists():
        n += 1
        stem = f"{scenario}-{stamp}-{n}"
    return out_dir / f"{stem}.json", out_dir / f"{stem}.png"


def write_json(path: Path, report: Mapping[str, Any]) -> None:
    """Write ``report`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def load_report(path: Path) -> dict[str, Any]:
    """Read a report written by ``write_json``; raises ``ValueError`` for another kind of file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a {SCHEMA} report")
    return data


def latest_report(out_dir: Path, scenario: str) -> dict[str, Any] | None:
    """The newest report of ``scenario`` in ``out_dir`` (e.g. the last floor, for a later comparison)."""
    candidates = sorted(out_dir.glob(f"{scenario}-*.json"), key=lambda p: p.stat().st_mtime)
    for path in reversed(candidates):
        try:
            return load_report(path)
        except (OSError, ValueError):
            continue
    return None


def format_table(report: Mapping[str, Any]) -> str:
    """The short summary printed at the end of a run."""
    if "rows" in report:
        return _rows_table(report["scenario"], report["rows"], report.get("table_columns") or ())
    return _phases_table(report)


def _phases_table(report: Mapping[str, Any]) -> str:
    config = report["config"]
    mode = f"open loop at {config['rate']} req/s" if config.get("rate") else "closed loop"
    title = (
        f"{report['scenario']}: {report['server']['url']}, {config['concurrency']} clients, {mode}, "
        f"{config['phase_s']} s / {config['phase_requests']} requests per phase"
    )
    header = [
        "phase",
        "requests",
        "errors",
        "req/s",
        *(f"{c} ms" for c in _LATENCY_COLUMNS),
        "gen ceiling",
        "gen cpu",
    ]
    lines: list[list[str]] = []
    for phase in report["phases"]:
        latency = phase["latency_ms"]
        ceiling = phase.get("extra", {}).get("generator_ceiling_rps")
        lines.append(
            [
                phase["name"],
                str(phase["requests"]),
                str(sum(phase["errors"].values())),
                f"{phase['achieved_rps']:.0f}",
                *(_num(latency.get(c)) for c in _LATENCY_COLUMNS),
                f"{ceiling:.0f}" if ceiling else "-",
                _num(phase.get("generator_cpu"), 2),
            ]
        )
    text = title + "\n" + _grid(header, lines)
    errors = {p["name"]: p["errors"] for p in report["phases"] if p["errors"]}
    if errors:
        text += "\nerrors: " + "; ".join(f"{n}: {e}" for n, e in errors.items())
    return text


def _rows_table(scenario: str, rows: Sequence[Mapping[str, Any]], wanted: Sequence[str]) -> str:
    columns: list[str] = list(wanted)
    if not columns:
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    lines = [[_cell(row.get(c)) for c in columns] for row in rows]
    return f"{scenario}\n" + _grid(columns, lines)


def _grid(header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    """Columns padded to width: numbers right-aligned, text (and the first column) left-aligned."""
    columns = list(zip(header, *lines, strict=True))
    widths = [max(len(cell) for cell in column) for column in columns]
    left = [
        i == 0 or any(not _looks_numeric(cell) for cell in column[1:]) for i, column in enumerate(columns)
    ]

    def render(cells: Sequence[str]) -> str:
        padded = (c.ljust(w) if lj else c.rjust(w) for c, w, lj in zip(cells, widths, left, strict=True))
        return "  ".join(padded).rstrip()

    return "\n".join(render(cells) for cells in [header, *lines])


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return cell == "-"
    return True


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
