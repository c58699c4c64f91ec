"""What the end-to-end tests share: the ``klyuch`` command, the served process tree, a device that
confirms, and waiting for an operation to finish."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.edge.test_serve import Server, home  # noqa: F401 - the fixture is used by name

LIVE_STATES = ("created", "awaiting_confirmation", "confirmed", "executing")


def klyuch(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``klyuch ARGS`` (as ``python -m edge``) and fail the test with its output if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "edge", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def server(home: Path) -> Iterator[Server]:  # noqa: F811
    """``klyuch serve`` on the test's home, ready; stopped afterwards."""
    started = Server(home)
    try:
        started.wait_ready()
        yield started
    finally:
        if started.process.poll() is None:
            started.stop()


class Device:
    """The reference device client listening and confirming; ``output`` is its stdout once stopped."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.output = ""


@contextmanager
def confirming_device(api: httpx.Client, env: dict[str, str], state: Path) -> Iterator[Device]:
    """Enrol a device for ``api``'s user (``klyuch device enroll``) and run ``listen --auto confirm``
    until the block ends."""
    enrolment = api.post("/devices", json={"name": "phone"}).json()["enrolment"]
    klyuch("device", "--state", str(state), "enroll", "--qr-payload", enrolment["payload"], env=env)
    device = Device(
        subprocess.Popen(
            [sys.executable, "-m", "edge", "device", "--state", str(state), "listen", "--auto", "confirm"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
    )
    try:
        yield device
    finally:
        device.process.terminate()
        device.output, _ = device.process.communicate(timeout=10)


def wait_finished(api: httpx.Client, operation_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """The operation once it has left its live states (polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        operation: dict[str, Any] = api.get(f"/operations/{operation_id}").json()
        if operation["state"] not in LIVE_STATES:
            return operation
        time.sleep(0.2)
    raise AssertionError(f"operation {operation_id} did not finish in {timeout} s")
