"""``bench.hsm_bench`` runs end to end in a short configuration and reports every phase."""

from __future__ import annotations

from pathlib import Path

from bench.hsm_bench import main, run_hsm_bench


def test_a_short_bench_reports_every_phase_and_no_chaos_failure() -> None:
    report = run_hsm_bench(
        duration_s=0.4, units=(2,), concurrency=8, batch=(4,), load_fractions=(0.5,), adjacent_raw_s=0.1
    )
    assert set(report) >= {"params", "machine", "raw", "layer", "open_loop", "chaos", "targets"}
    assert report["raw"]["1_thread"]["signatures_per_s"] > 0
    assert report["raw"]["2_threads"]["threads"] == 2
    layer = {(row["units"], row["batch"]): row for row in report["layer"]}
    assert set(layer) == {(2, 4), (2, 1)}  # the open-loop shape (1) is measured closed too
    for row in layer.values():
        assert row["signatures_per_s"] > 0
        assert row["failed"] == 0
        assert row["vs_raw_1_thread"] > 0
        assert row["vs_adjacent_raw_1_thread"] > 0
        assert set(row["cpu_cores"]) == {"server", "soft-1", "soft-2"}
    # Both methods: 50 % of the closed-loop maximum (old) and of the swept open-loop maximum (new).
    sweep = report["open_loop_sweep"]
    assert sweep["steps"]
    assert sweep["max_sustainable_rps"] is not None
    [old] = report["open_loop_old_method"]
    [point] = report["open_loop"]
    assert old["max_requests_per_s"] == layer[(2, 1)]["requests_per_s"]
    assert point["max_requests_per_s"] == sweep["max_sustainable_rps"]
    for row in (old, point):
        assert row["load_fraction"] == 0.5
        assert row["failed"] == 0
        assert row["p99_us"] > 0
    assert report["open_loop_generator"]["server_cpu_us_per_request"] > 0
    assert "server_cpu_us_per_signature_less_generator" in point
    # Counted from the send, a request's latency can only be shorter than from its due time.
    assert 0 < point["call_p50_us"] <= point["p50_us"]
    assert 0 < point["call_max_us"] <= point["max_us"]
    chaos = report["chaos"]
    assert chaos["failed_requests"] == 0
    assert chaos["rejoined_after_s"] is not None
    assert report["targets"]["chaos_no_failed_request"] is True


def test_the_command_line_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    code = main(
        [
            "--duration",
            "0.2",
            "--units",
            "1",
            "--batch",
            "1",
            "--no-open-loop",
            "--no-chaos",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    assert '"layer"' in out.read_text()
