"""Start and stop unit processes from trio: the part an ``HsmSupervisor`` builds on.

::

    unit = await start_unit(UnitSpec(socket_path=..., backend="soft", kek_file=...), secrets)
    ...                      # unit.ready has the READY fields; connect with open_unit_connection
    status = await unit.stop()

The process is spawned *synchronously from the calling thread* (a fork/exec of a few
milliseconds): the unit asks the kernel for SIGTERM when its parent dies, and Linux ties that to
the thread that forked, so spawning from one of trio's short-lived worker threads would kill
the unit when that thread retires. Secrets go through the child's stdin (one JSON line), the
READY/FAILED line comes back on its stdout; stderr (the unit's logs) is inherited.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import trio

from actors.hsm.errors import UnitConfigError, UnitStartError
from actors.hsm.handover import UnitSecrets
from config.processes import child_environment, reaped

DEFAULT_READY_TIMEOUT_S: Final = 30.0
DEFAULT_STOP_GRACE_S: Final = 10.0
_CONFIG_CODES: Final = frozenset(
    {"hsm_unit_config", "hsm_kek_format", "hsm_kek_unseal_failed", "hsm_kek_error"}
)
_MAX_READY_LINE: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """How to start one unit (everything but its secrets)."""

    socket_path: Path
    """Where the unit listens (at most 107 bytes)."""
    backend: Literal["soft", "pkcs11"]
    """Backend kind."""
    unit_id: str = "hsm"
    """Name announced to clients and in logs."""
    slots: int | None = None
    """Slot workers (None: the backend's default, 2 soft / 1 PKCS#11)."""
    kek_file: Path | None = None
    """Soft: the sealed KEK file."""
    create_kek: bool = False
    """Soft: create the KEK file when missing."""
    kdf_iterations: int | None = None
    """Soft: PBKDF2 iterations when creating the KEK file."""
    key_cache_size: int | None = None
    """Soft: opened keys kept by the unit (shared by its slots)."""
    pkcs11_module: str | None = None
    """PKCS#11: module path."""
    token_label: str | None = None
    """PKCS#11: token label."""
    max_frame: int | None = None
    """Largest request frame the unit accepts."""
    self_check: bool = False
    """Verify every signature under the key's public half before returning it (``actors.hsm.selfcheck``)."""
    test_faults: bool = False
    """Accept INJECT_FAULT (tests only)."""
    extra_args: tuple[str, ...] = ()
    """Further command-line options (tuning, logging)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment (e.g. ``SOFTHSM2_CONF``); never secrets."""

    def argv(self) -> list[str]:
        """The unit's command line."""
        args = [sys.executable, "-m", "actors.hsm.unit", "--socket", os.fspath(self.socket_path)]
        args += ["--backend", self.backend, "--unit-id", self.unit_id, "--parent-pid", str(os.getpid())]
        options: dict[str, object | None] = {
            "--slots": self.slots,
            "--kek-file": self.kek_file,
            "--kdf-iterations": self.kdf_iterations,
            "--key-cache-size": self.key_cache_size,
            "--pkcs11-module": self.pkcs11_module,
            "--token-label": self.token_label,
            "--max-frame": self.max_frame,
        }
        for option, value in options.items():
            if value is not None:
                args += [option, os.fspath(value) if isinstance(value, Path) else str(value)]
        if self.create_kek:
            args.append("--create-kek")
        if self.self_check:
            args.append("--self-check")
        if self.test_faults:
            args.append("--enable-test-faults")
        return args + list(self.extra_args)


class UnitProcess:
    """A running unit process."""

    def __init__(self, spec: UnitSpec, process: subprocess.Popen[bytes], ready: dict[str, Any]) -> None:
        """Internal: made by :func:`start_unit` after READY."""
        self.spec = spec
        self.process = process
        self.ready = ready
        """The fields of the READY line (``pid``, ``socket``, ``kek_id`` / ``token_label`` ...)."""

    @property
    def pid(self) -> int:
        """The unit's process id."""
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """Exit status once reaped (negative: killed by that signal)."""
        return self.process.returncode

    def send_signal(self, signum: int) -> None:
        """Signal the unit unless it was already reaped."""
        if self.process.returncode is None:
            self.process.send_signal(signum)

    async def wait(self) -> int:
        """Wait for the unit to exit (without blocking trio) and reap it."""
        return await reaped(self.process)

    async def stop(self, *, grace: float = DEFAULT_STOP_GRACE_S) -> int:
        """SIGTERM, wait up to ``grace`` s for a clean exit, then SIGKILL; return the exit status."""
        self.send_signal(signal.SIGTERM)
        with trio.move_on_after(grace):
            return await self.wait()
        self.send_signal(signal.SIGKILL)
        return await self.wait()


async def start_unit(
    spec: UnitSpec, secrets: UnitSecrets, *, ready_timeout: float = DEFAULT_READY_TIMEOUT_S
) -> UnitProcess:
    """Spawn a unit, hand it ``secrets``, and wait for READY.

    Raises :class:`UnitConfigError` when the unit reports a configuration failure (do not retry
    blindly), :class:`UnitStartError` when it dies, reports another failure or is not ready within
    ``ready_timeout`` seconds (it is killed then).
    """
    # Spawned from this (trio's) thread on purpose, see the module docstring; fork/exec takes milliseconds.
    process = subprocess.Popen(  # noqa: ASYNC220
        spec.argv(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=child_environment(spec.env),
        close_fds=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        process.stdin.write(secrets.to_line())  # a few hundred bytes: fits the pipe, never blocks
        process.stdin.close()
    except BrokenPipeError:
        pass  # the unit died at once; reading its stdout tells the rest
    stdout = trio.lowlevel.FdStream(os.dup(process.stdout.fileno()))
    process.stdout.close()
    unit = UnitProcess(spec, process, {})
    try:
        with trio.fail_after(ready_timeout):
            line = await _read_line(stdout)
    except trio.TooSlowError:
        await unit.stop(grace=0.5)
        raise UnitStartError(f"unit {spec.unit_id!r} was not ready within {ready_timeout} s") from None
    except BaseException:
        await trio.aclose_forcefully(stdout)
        await unit.stop(grace=1.0)
        raise
    finally:
        await stdout.aclose()
    unit.ready = await _parse_ready(unit, line)
    return unit


async def _read_line(stream: trio.lowlevel.FdStream) -> bytes:
    data = bytearray()
    while b"\n" not in data and len(data) < _MAX_READY_LINE:
        chunk = await stream.receive_some(4096)
        if not chunk:
            break
        data += chunk
    return bytes(data.split(b"\n", 1)[0])


async def _parse_ready(unit: UnitProcess, line: bytes) -> dict[str, Any]:
    kind, _, payload = line.decode("utf-8", "replace").partition(" ")
    try:
        data = json.loads(payload) if payload else {}
    except ValueError:
        data = {}
    if kind == "READY" and isinstance(data, dict):
        return data
    with trio.move_on_after(5.0):
        await unit.wait()
    status = unit.returncode
    if kind == "FAILED" and isinstance(data, dict):
        message = f"unit {unit.spec.unit_id!r} failed to start: {data.get('message')} (status {status})"
        if data.get("code") in _CONFIG_CODES:
            raise UnitConfigError(message)
        raise UnitStartError(message)
    await unit.stop(grace=0.5)
    raise UnitStartError(f"unit {unit.spec.unit_id!r} exited before READY (status {unit.returncode})")
