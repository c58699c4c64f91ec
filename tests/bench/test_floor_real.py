"""The ``floor`` scenario against the real ``klyuch serve`` (embedded PostgreSQL, hypercorn workers)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import psutil
import pytest

import bench
from bench.report import load_report

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("edge.server") is None, reason="klyuch serve (edge.server) is not there yet"
)


def test_floor_against_klyuch_serve(tmp_path: Path) -> None:
    argv = ["floor", "--duration", "0.75", "--warmup", "0.25", "--ceiling", "0", "--concurrency", "16"]
    assert bench.main([*argv, "--out", str(tmp_path), "--no-progress"]) == 0
    report = load_report(next(tmp_path.glob("floor-*.json")))
    for phase in report["phases"]:
        assert phase["ok"] == phase["requests"] > 0, phase["name"]
        assert phase["errors"] == {}
        assert phase["latency_ms"]["p50"] > 0
    server = report["server"]
    assert server["command"][1:] == ["-m", "edge", "serve"]
    stop = server["stop"]
    print(f"klyuch serve: ready in {server['startup_s']} s, stopped in {stop['seconds']} s")
    assert (stop["exit_code"], stop["forced"], stop["stragglers"]) == (0, False, []), stop
    home = server["home"]
    assert not Path(home).exists()
    # Nothing that ran under that home (workers, PostgreSQL) is left.
    assert not [p for p in psutil.process_iter(["cmdline"]) if home in " ".join(p.info["cmdline"] or ())]
    assert next(tmp_path.glob("floor-*.png")).stat().st_size > 10_000
