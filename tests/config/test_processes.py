"""What child processes share (``config.processes``), run for real in child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import trio

from config.processes import MASTER_PID_ENV, PROJECT_ROOT, child_environment, expected_parent, reaped


def test_a_child_imports_this_code_base_and_keeps_its_own_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["/elsewhere", os.fspath(PROJECT_ROOT)]))
    env = child_environment({"EXTRA": "1"})
    assert env["PYTHONPATH"].split(os.pathsep) == [os.fspath(PROJECT_ROOT), "/elsewhere"]
    assert env["EXTRA"] == "1"
    shown = subprocess.run(
        [sys.executable, "-c", "import config.processes, sys; print(config.processes.__file__)"],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.strip() == os.fspath(PROJECT_ROOT / "config" / "processes.py")


def test_a_unit_can_use_it_without_loading_the_settings_model() -> None:
    probe = "import sys, config.processes; print('pydantic' in sys.modules, 'config.settings' in sys.modules)"
    shown = subprocess.run(
        [sys.executable, "-c", probe], env=child_environment(), capture_output=True, text=True, check=True
    )
    assert shown.stdout.split() == ["False", "False"]


def test_the_settings_names_still_load_on_first_use() -> None:
    import config

    assert config.Settings.__name__ == "Settings"
    assert callable(config.load_settings)


def _child(code: str, parent: str | None) -> subprocess.CompletedProcess[str]:
    env = child_environment()
    env.pop(MASTER_PID_ENV, None)
    if parent is not None:
        env[MASTER_PID_ENV] = parent
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)


def test_a_child_knows_whether_its_parent_is_the_one_it_expects() -> None:
    code = (
        "from config.processes import MASTER_PID_ENV, die_with_parent, expected_parent\n"
        "print(die_with_parent(expected_parent(MASTER_PID_ENV)))"
    )
    assert _child(code, str(os.getpid())).stdout.strip() == "True"
    assert _child(code, "1").stdout.strip() == "False"  # not our parent: it died and we were re-parented
    assert _child(code, None).stdout.strip() == "True"  # nothing to compare with
    assert _child(code, "not-a-pid").stdout.strip() == "True"
    assert expected_parent("KLYUCH_SURELY_UNSET_VARIABLE") is None


def test_a_child_dies_with_its_parent() -> None:
    # A middle process asks for a child that dies with it, then is killed: the child gets SIGTERM.
    grandchild = (
        "from config.processes import die_with_parent; import time; "
        "die_with_parent(); print(1, flush=True); time.sleep(60)"
    )
    middle = (
        "import os, subprocess, sys, time\n"
        "from config.processes import child_environment\n"
        f"child = subprocess.Popen([sys.executable, '-c', {grandchild!r}],"
        " env=child_environment(), stdout=subprocess.PIPE)\n"
        "child.stdout.readline()\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", middle], env=child_environment(), stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(200):  # the orphan is re-parented; it must be gone within ~2 s
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise AssertionError("the child outlived its parent")


async def test_reaped_waits_without_blocking_and_returns_the_status() -> None:
    # Popen, as the launchers spawn: reaped() is for their processes.
    process = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-c", "import time; time.sleep(0.2); raise SystemExit(3)"]
    )
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await trio.sleep(0.01)
            ticks += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(tick)
        assert await reaped(process) == 3
        nursery.cancel_scope.cancel()
    assert ticks >= 5  # the loop ran while the process was waited for
    assert await reaped(process) == 3  # already reaped: at once
