"""Starting and stopping servers: readiness, failures, and nothing left behind."""

from __future__ import annotations

import os

import psutil
import pytest

from bench.errors import ServerNotReadyError, ServerStartError
from bench.server import TAG_ENV, KlyuchServer, TrivialServer
from tests.bench.conftest import STANDIN_COMMAND


def _processes_of(tag: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["environ", "status"]):
        if proc.info["status"] != psutil.STATUS_ZOMBIE and (proc.info["environ"] or {}).get(TAG_ENV) == tag:
            found.append(proc)
    return found


def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def test_standin_starts_ready_and_stops_cleanly() -> None:
    server = KlyuchServer(command=STANDIN_COMMAND, workers=2, start_timeout_s=20)
    try:
        startup = server.start()
        assert startup >= 0.3  # /readyz answered 503 first, and the harness waited
        assert server.pid is not None
        assert _processes_of(server.tag)
        env = psutil.Process(server.pid).environ()
        assert env["KLYUCH_HOME"] == str(server.home)
        assert env["KLYUCH_SERVER__PORT"] == str(server.port)
        assert env["KLYUCH_SERVER__WORKERS"] == "2"
        assert env["KLYUCH_LOGGING__LEVEL"] == "warning"
    finally:
        report = server.stop()
    assert (report.exit_code, report.forced, report.stragglers) == (0, False, [])
    assert report.seconds < 5
    assert not server.home.exists()
    assert _gone(server.pid)
    assert server.stop() is report  # idempotent


def test_leaked_children_are_swept_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_LEAK_CHILD", "1")
    with KlyuchServer(command=STANDIN_COMMAND, start_timeout_s=20, sweep_grace_s=0.3) as server:
        server.start()
        assert len(_processes_of(server.tag)) == 2
    report = server.stop()
    assert len(report.stragglers) == 1
    assert "python" in report.stragglers[0]
    assert _processes_of(server.tag) == []


def test_a_server_ignoring_sigterm_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_IGNORE_TERM", "1")
    with KlyuchServer(command=STANDIN_COMMAND, start_timeout_s=20, stop_grace_s=0.3) as server:
        server.start()
    report = server.stop()
    assert report.forced
    assert report.exit_code == -9
    assert _processes_of(server.tag) == []


def test_a_server_that_exits_is_reported_with_its_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_EXIT_AT_ONCE", "1")
    server = KlyuchServer(command=STANDIN_COMMAND, start_timeout_s=20)
    with server, pytest.raises(ServerStartError, match="status 3"):
        server.start()
    assert not server.home.exists()


def test_a_server_never_ready_times_out_and_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_READY_AFTER", "600")
    with KlyuchServer(command=STANDIN_COMMAND, start_timeout_s=1.0) as server:
        with pytest.raises(ServerNotReadyError, match="status 503"):
            server.start()
        pid = server.pid
    assert pid is not None
    assert _gone(pid)


def test_a_missing_command_is_a_start_error() -> None:
    with KlyuchServer(command=("/nonexistent/klyuch",)) as server, pytest.raises(ServerStartError):
        server.start()


def test_trivial_server_reports_its_port_and_stops() -> None:
    with TrivialServer() as server:
        server.start()
        assert server.url.startswith("http://127.0.0.1:")
        pid = server.pid
    assert pid is not None
    assert _gone(pid)
    assert os.environ.get(TAG_ENV) is None  # the tag never leaks into the harness's own environment
