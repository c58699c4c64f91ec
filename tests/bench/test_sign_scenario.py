"""``klyuch bench sign`` against the real ``klyuch serve``: set-up through the public interfaces, (a) single
signatures beside the floor, (b) batches, (c) device confirmation with real websocket device clients."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import psutil
import pytest

import bench
from bench.errors import UsageError
from bench.report import load_report
from bench.scenarios import default_registry
from bench.scenarios.sign import SignScenario
from bench.scenarios.sign_options import ConfirmSpec, SignOptions
from config import Settings


def _operations_and_devices_served() -> bool:
    """Whether ``create_app`` serves ``/operations`` and ``/devices`` (the lead is wiring them in)."""
    if importlib.util.find_spec("edge.server") is None:
        return False
    from edge.app import create_app

    app = create_app(Settings(home=Path("/nonexistent")), with_services=False)
    return {"operations", "devices"} <= set(app.blueprints)


served = pytest.mark.skipif(
    not _operations_and_devices_served(), reason="edge.app does not serve operations and devices yet"
)

SMALL_CONFIRMATION = {
    "BENCH_SIGN_DEVICES": "10",
    "BENCH_SIGN_RATE": "20",
    "BENCH_SIGN_CONFIRM_S": "2",
    "BENCH_SIGN_WARMUP_S": "0.5",
    "BENCH_SIGN_ROUNDS": "2",
}


@served
def test_sign_against_klyuch_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in SMALL_CONFIRMATION.items():
        monkeypatch.setenv(name, value)
    argv = ["sign", "--duration", "1.5", "--warmup", "0.2", "--ceiling", "0", "--concurrency", "4"]
    assert bench.main([*argv, "--out", str(tmp_path), "--no-progress"]) == 0
    report = load_report(next(tmp_path.glob("sign-*.json")))

    names = ["healthz", "echo", "single", "echo-2", "single-2", "batch"]
    assert [p["name"] for p in report["phases"]] == names
    for phase in report["phases"]:
        assert phase["ok"] == phase["requests"] > 0, phase["name"]
        assert phase["errors"] == {}, phase["name"]
    comparison = report["comparison"]
    single, batch = comparison["single"], comparison["batch"]
    assert single["signatures_per_s"] == single["requests_per_s"] > 0
    assert single["rps_vs_echo"] > 0
    pairs = single["rounds"]
    assert len(pairs) == 2
    assert single["rps_vs_echo"] == pytest.approx(sum(p["ratio"] for p in pairs) / 2, abs=1e-3)
    assert pairs[0]["single_rps"] == single["requests_per_s"]
    assert single["echo_rps"] > 0
    assert batch["signatures_per_s"] == pytest.approx(batch["requests_per_s"] * 100, rel=1e-3)
    assert (batch["format"], batch["items"], batch["item_bytes"]) == ("cades-bes", 100, 4096)

    confirm = comparison["confirm"]
    assert confirm["devices"] == confirm["devices_connected"] == 10
    # 2 s at 20/s, the first 0.5 s not counted: 30 operations, each confirmed by a device and signed.
    assert confirm["requests"] == confirm["ok"] == 30
    assert confirm["errors"] == {}
    assert confirm["device_errors"] == {}
    latency, steps = confirm["latency_ms"], confirm["breakdown_ms"]
    assert 0 < latency["p50"] <= latency["p99"]
    # The end-to-end span contains each step the harness saw on the way.
    assert steps["post_to_shown"]["n"] == steps["post_to_finished"]["n"] == 30
    assert steps["post_to_202"]["p50"] <= steps["post_to_finished"]["p50"]
    assert steps["post_to_shown"]["p50"] <= steps["post_to_finished"]["p50"]
    assert set(comparison["targets"]) == {"single_vs_echo", "batch_signatures_per_s", "confirm_p99_ms"}

    printed = capsys.readouterr().out
    assert "(c) confirm: 10/10 devices" in printed
    assert "target batch_signatures_per_s" in printed
    assert next(tmp_path.glob("sign-*.png")).stat().st_size > 10_000
    stop = report["server"]["stop"]
    assert (stop["exit_code"], stop["forced"], stop["stragglers"]) == (0, False, []), stop
    home = report["server"]["home"]
    assert not [p for p in psutil.process_iter(["cmdline"]) if home in " ".join(p.info["cmdline"] or ())]


def test_options_from_the_environment() -> None:
    assert SignOptions.from_env({}) == SignOptions()
    assert SignOptions().devices == 1000
    assert SignOptions().confirm.rate == 200
    options = SignOptions.from_env(
        {"BENCH_SIGN_PHASES": "confirm", "BENCH_SIGN_BATCH_FORMAT": "raw", **SMALL_CONFIRMATION}
    )
    assert options.phases == {"confirm"}
    assert options.batch_format == "raw"
    assert options.devices == 10
    assert options.confirm == ConfirmSpec(rate=20, duration_s=2, warmup_s=0.5)
    assert options.confirm.planned_ops == 40
    assert options.rounds == 2
    assert SignOptions().rounds == 3
    assert SignScenario(options).phases() == []  # (c) runs inside prepare: no HTTP phase left
    for bad in (
        {"BENCH_SIGN_PHASES": "single,sideways"},
        {"BENCH_SIGN_DEVICES": "many"},
        {"BENCH_SIGN_RATE": "0"},
        {"BENCH_SIGN_WARMUP_S": "10"},
        {"BENCH_SIGN_BATCH_FORMAT": "xades"},
        {"BENCH_SIGN_ROUNDS": "0"},
        {"BENCH_SIGN_ROUNDS": "two"},
    ):
        with pytest.raises(UsageError):
            SignOptions.from_env(bad)


def test_bad_options_stop_the_run_before_any_server_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BENCH_SIGN_RATE", "fast")
    assert bench.main(["sign", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "BENCH_SIGN_" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
    assert "sign" in default_registry().available()
