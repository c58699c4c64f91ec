"""``klyuch bench`` end to end: reports, limits, refusals, and clean-up on interrupts."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib.image
import psutil
import pytest

import bench
from bench.cli import apply_scenario_options, main
from bench.errors import UsageError
from bench.report import SCHEMA, latest_report, load_report
from bench.runner import RunOptions, run
from bench.scenario import LocalResult, Registry
from bench.scenarios.sign_options import SignOptions
from tests.bench.conftest import STANDIN_COMMAND

REPO = Path(__file__).resolve().parents[2]
STANDIN = shlex.join(STANDIN_COMMAND)
QUIET = ["--no-progress", "--warmup", "0"]


def _only_report(out: Path) -> dict[str, Any]:
    reports = sorted(out.glob("*.json"))
    assert len(reports) == 1, reports
    return load_report(reports[0])


def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def test_floor_against_a_managed_server_writes_json_png_and_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "floor",
        "--server-command",
        STANDIN,
        "--duration",
        "0.5",
        "--ceiling",
        "0.2",
        "--out",
        str(tmp_path),
    ]
    assert bench.main([*argv, "--concurrency", "8", *QUIET]) == 0

    report = _only_report(tmp_path)
    assert report["schema"] == SCHEMA
    assert report["scenario"] == "floor"
    environment = report["environment"]
    assert isinstance(environment, dict)
    assert environment["cpu_count"] >= 1
    assert environment["python"] == sys.version.split()[0]
    assert environment["versions"]["trio"]
    config = report["config"]
    assert isinstance(config, dict)
    assert (config["concurrency"], config["phase_s"], config["mode"]) == (8, 0.5, "closed")

    phases = report["phases"]
    assert isinstance(phases, list)
    assert [p["name"] for p in phases] == ["healthz", "echo"]
    for phase in phases:
        assert phase["ok"] == phase["requests"] > 50
        assert phase["errors"] == {}
        assert phase["stopped_by"] == "duration"
        assert 0.5 <= phase["duration_s"] < 0.75
        assert phase["achieved_rps"] > 0
        latency = phase["latency_ms"]
        assert latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["p99.9"] <= latency["max"]
        assert sum(s["requests"] for s in phase["per_second"]) == phase["requests"]
        assert phase["extra"]["generator_ceiling_rps"] > phase["achieved_rps"]
        assert phase["generator_cpu"] > 0
        assert phase["server_cpu"] > 0
    assert report["comparison"]["echo_vs_healthz"]["rps"] > 0

    server = report["server"]
    assert isinstance(server, dict)
    assert server["managed"] is True
    stop = server["stop"]
    assert (stop["exit_code"], stop["forced"], stop["stragglers"]) == (0, False, [])
    assert _gone(server["pid"])
    assert not Path(server["home"]).exists()

    png = next(tmp_path.glob("floor-*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = matplotlib.image.imread(png).shape
    assert (width, height) == (1000, 700)

    printed = capsys.readouterr().out
    assert "healthz" in printed
    assert "echo" in printed
    assert "p99.9 ms" in printed
    assert f"report: {tmp_path}" in printed


def test_request_limit_against_a_url(trivial_url: str, tmp_path: Path) -> None:
    argv = ["floor", "--url", trivial_url, "--requests", "120", "--duration", "10", "--ceiling", "0"]
    assert bench.main([*argv, "--out", str(tmp_path), "--no-plot", *QUIET]) == 0
    report = _only_report(tmp_path)
    assert report["server"]["managed"] is False
    for phase in report["phases"]:
        assert (phase["requests"], phase["ok"], phase["stopped_by"]) == (120, 120, "requests")
    assert not list(tmp_path.glob("*.png"))


def test_open_loop_rate_against_a_url(trivial_url: str, tmp_path: Path) -> None:
    argv = ["ceiling", "--url", trivial_url, "--rate", "300", "--duration", "0.5", "--ceiling", "0"]
    assert bench.main([*argv, "--out", str(tmp_path), "--no-plot", *QUIET]) == 0
    report = _only_report(tmp_path)
    assert report["config"]["mode"] == "open"
    for phase in report["phases"]:
        assert 120 <= phase["requests"] <= 155  # 150 due in 0.5 s
        assert phase["extra"]["rate"] == 300


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:8080", "http://example.com", "http://[2001:db8::1]:80", "http://0.0.0.0:80"]
)
def test_non_loopback_urls_are_refused(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["floor", "--url", url, "--out", str(tmp_path), *QUIET]) == 2
    assert "loopback" in capsys.readouterr().err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "floor" in listed
    assert "ceiling" in listed
    assert bench.main(["nonesuch"]) == 2
    assert "unknown scenario 'nonesuch'" in capsys.readouterr().err
    assert bench.main(["floor", "--duration", "-1"]) == 2
    assert bench.main(["--help"]) == 0
    assert "--concurrency" in capsys.readouterr().out


def test_python_dash_m_bench_is_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "list"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "floor" in done.stdout


class _Squares:
    """A complete local scenario: no server, rows out."""

    name = "squares"
    description = "squares of small numbers"

    def run_local(self, *, duration_s: float | None, requests: int | None) -> LocalResult:
        rows: list[dict[str, object]] = [{"name": f"n{i}", "square": i * i, "note": "x"} for i in range(4)]
        return LocalResult(rows=rows, columns=("name", "square"), plot_value="square", extra={"n": 4})


def test_local_scenarios_write_rows(tmp_path: Path) -> None:
    registry = Registry()
    registry.register("squares", "squares", _Squares)
    outcome = run(RunOptions(scenario="squares", out_dir=tmp_path), registry)
    report = load_report(outcome.json_path)
    assert [row["square"] for row in report["rows"]] == [0, 1, 4, 9]
    assert report["local"] == {"n": 4}
    assert outcome.png_path is not None
    assert outcome.png_path.read_bytes()[:4] == b"\x89PNG"
    assert latest_report(tmp_path, "squares") == report


def test_reports_are_recognised(tmp_path: Path) -> None:
    other = tmp_path / "floor-1.json"
    other.write_text(json.dumps({"schema": "something-else"}))
    with pytest.raises(ValueError, match="not a"):
        load_report(other)
    assert latest_report(tmp_path, "floor") is None


def _bench_process(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    argv = [
        "floor",
        "--server-command",
        STANDIN,
        "--duration",
        "60",
        "--ceiling",
        "0",
        "--stop-grace",
        "0.5",
        "--out",
        str(tmp_path),
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *argv, *QUIET],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_server_child(proc: subprocess.Popen[str]) -> psutil.Process:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for child in psutil.Process(proc.pid).children():
            # Between fork and exec the child still shows the harness's own command line and environment.
            with contextlib.suppress(psutil.Error):
                if child.cmdline()[1:2] == [STANDIN_COMMAND[1]] and "KLYUCH_HOME" in child.environ():
                    return child
        time.sleep(0.05)
    raise AssertionError("the stand-in server never started")


def _wait_until_loaded(server: psutil.Process) -> None:
    """Wait until the harness holds connections to the server, i.e. a load phase is running."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        established = [c for c in server.net_connections() if c.status == psutil.CONN_ESTABLISHED]
        if len(established) >= 8:
            return
        time.sleep(0.05)
    raise AssertionError("no load reached the server")


@pytest.mark.parametrize(
    ("sig", "when"),
    [(signal.SIGINT, "load"), (signal.SIGTERM, "load"), (signal.SIGINT, "startup")],
)
def test_interrupts_stop_the_server_and_everything_it_started(
    tmp_path: Path, sig: signal.Signals, when: str
) -> None:
    # One case also leaks a child that ignores SIGTERM: it must be swept as well.
    env = {"STANDIN_LEAK_CHILD": "1"} if sig == signal.SIGTERM else {}
    if when == "startup":
        env["STANDIN_READY_AFTER"] = "600"
    proc = _bench_process(tmp_path, env)
    try:
        server = _wait_for_server_child(proc)
        home = server.environ()["KLYUCH_HOME"]
        if when == "load":
            _wait_until_loaded(server)
        else:
            time.sleep(0.5)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert _gone(server.pid)
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline", "environ"])
        if (p.info["environ"] or {}).get("KLYUCH_HOME") == home
    ]
    assert [p for p in leftovers if not _gone(p.pid)] == []
    assert not Path(home).exists()
    assert not list(tmp_path.glob("*.json"))


def test_scenario_options_become_the_scenarios_environment() -> None:
    """``-o name=value`` sets ``BENCH_SIGN_<NAME>``; unknown or bare names and option-less scenarios
    are usage errors."""
    environ: dict[str, str] = {}
    apply_scenario_options("sign", ["phases=single,batch", "Rounds=5", "confirm-s=3"], environ)
    assert environ == {
        "BENCH_SIGN_PHASES": "single,batch",
        "BENCH_SIGN_ROUNDS": "5",
        "BENCH_SIGN_CONFIRM_S": "3",
    }
    assert SignOptions.from_env(environ).rounds == 5
    for bad in (["nope=1"], ["rounds"]):
        with pytest.raises(UsageError, match="name one of: phases"):
            apply_scenario_options("sign", bad, {})
    with pytest.raises(UsageError, match="takes no --option"):
        apply_scenario_options("floor", ["rounds=1"], {})
    apply_scenario_options("floor", [], environ)  # no options: nothing to check


def test_unknown_scenario_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign", "-o", "nope=1", "--duration", "1"]) == 2
    assert "name one of" in capsys.readouterr().err
