"""The unit process's life: readiness, configuration failures, SIGTERM, parent death, the socket."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import trio

from actors.hsm.errors import UnitConfigError, UnitLostError, UnitStoppingError
from actors.hsm.handover import UnitSecrets
from actors.hsm.protocol import KeyAlgorithm
from actors.hsm.unit import EXIT_CONFIG, EXIT_OK

from .conftest import StartUnit, soft_spec


async def test_ready_line_socket_mode_and_clean_sigterm(unit_factory: StartUnit, kek_path: Path) -> None:
    unit = await unit_factory("ready")
    ready = unit.process.ready
    assert ready["pid"] == unit.process.pid
    assert ready["backend"] == "soft"
    assert ready["slots"] == 2
    assert len(ready["kek_id"]) == 16
    mode = unit.socket.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) & 0o077 == 0  # owner only
    async with unit.connect() as connection:
        health = await connection.health()
        assert (health.status, health.slots_alive, health.unit_id) == ("ok", 2, "ready")
        unit.process.send_signal(signal.SIGTERM)
        with trio.fail_after(10):
            assert await unit.process.wait() == EXIT_OK
        with pytest.raises(UnitLostError):
            await connection.health()
    assert not unit.socket.exists()


async def test_secrets_are_not_on_the_command_line_or_in_the_environment(unit_factory: StartUnit) -> None:
    unit = await unit_factory("quiet")
    cmdline = await trio.Path(f"/proc/{unit.process.pid}/cmdline").read_bytes()
    environ = await trio.Path(f"/proc/{unit.process.pid}/environ").read_bytes()
    for secret in (unit.auth_key.hex().encode(), b"correct horse battery staple"):
        assert secret not in cmdline
        assert secret not in environ
    limits = await trio.Path(f"/proc/{unit.process.pid}/limits").read_text()
    assert any(line.startswith("Max core file size") and " 0 " in line for line in limits.splitlines())


async def test_wrong_passphrase_is_a_configuration_failure(unit_factory: StartUnit) -> None:
    with pytest.raises(UnitConfigError, match="wrong passphrase") as caught:
        await unit_factory("bad", secrets=UnitSecrets(auth_key=os.urandom(32), kek_passphrase="wrong"))
    assert f"status {EXIT_CONFIG}" in str(caught.value)


async def test_missing_kek_file_and_missing_secrets_are_configuration_failures(
    unit_factory: StartUnit,
) -> None:
    folder: Path = unit_factory.folder  # type: ignore[attr-defined]
    with pytest.raises(UnitConfigError, match="cannot read"):
        await unit_factory("nokek", spec=soft_spec(folder, "nokek", folder / "absent.json"))
    with pytest.raises(UnitConfigError, match="kek_passphrase"):
        await unit_factory("nopass", secrets=UnitSecrets(auth_key=os.urandom(32)))


async def test_create_kek_makes_a_sealed_file_once(unit_factory: StartUnit) -> None:
    folder: Path = unit_factory.folder  # type: ignore[attr-defined]
    kek_file = folder / "fresh-kek.json"
    spec = soft_spec(folder, "creator", kek_file, create_kek=True, kdf_iterations=1000)
    first = await unit_factory(spec=spec)
    assert kek_file.exists()
    await first.process.stop()
    second = await unit_factory(spec=soft_spec(folder, "creator2", kek_file, create_kek=True))
    assert second.process.ready["kek_id"] == first.process.ready["kek_id"]


async def test_a_live_socket_is_never_stolen_but_a_stale_one_is_replaced(unit_factory: StartUnit) -> None:
    live = await unit_factory("live")
    with pytest.raises(UnitConfigError, match="another process"):
        await unit_factory(spec=live.spec)
    folder: Path = unit_factory.folder  # type: ignore[attr-defined]
    stale = folder / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(os.fspath(stale))  # bound, never listening: what a killed unit leaves behind
    leftover.close()
    unit = await unit_factory(spec=dataclasses.replace(live.spec, socket_path=stale, unit_id="reborn"))
    async with unit.connect() as connection:
        assert (await connection.health()).unit_id == "reborn"


PARENT = textwrap.dedent(
    """
    import os, sys, time, trio
    from pathlib import Path
    from actors.hsm.handover import UnitSecrets
    from actors.hsm.launcher import UnitSpec, start_unit

    socket_path, kek_file = Path(sys.argv[1]), Path(sys.argv[2])
    spec = UnitSpec(socket_path=socket_path, backend="soft", unit_id="orphan", kek_file=kek_file)
    secrets = UnitSecrets(auth_key=os.urandom(32), kek_passphrase=sys.argv[3])
    unit = trio.run(start_unit, spec, secrets)
    print(unit.pid, flush=True)
    time.sleep(60)
    """
)


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status


def test_unit_dies_with_its_parent(kek_path: Path, kek_passphrase: str, tmp_path: Path) -> None:
    folder = Path(os.path.dirname(kek_path))
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PARENT,
            os.fspath(folder / f"orphan-{os.getpid()}.sock"),
            os.fspath(kek_path),
            kek_passphrase,
        ],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        assert parent.stdout is not None
        unit_pid = int(parent.stdout.readline())
        assert not _gone(unit_pid)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while not _gone(unit_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(unit_pid), "the unit outlived its parent"
    finally:
        parent.kill()
        parent.wait()


async def test_parent_pid_mismatch_exits_at_once(unit_factory: StartUnit) -> None:
    folder: Path = unit_factory.folder  # type: ignore[attr-defined]
    spec = soft_spec(folder, "wrongparent", Path("/nonexistent"))
    argv = [*spec.argv()]
    argv[argv.index("--parent-pid") + 1] = "1"  # not our parent: the real one is already "gone"
    done = await trio.run_process(argv, stdin=b"", capture_stdout=True, check=False)
    assert done.returncode == EXIT_OK
    assert done.stdout == b""


async def test_sigterm_drains_requests_in_flight(unit_factory: StartUnit) -> None:
    unit = await unit_factory("drainer", slots=1)
    async with unit.connect(call_timeout=30.0) as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        results: list[int] = []

        async def big_batch() -> None:
            results.append(len(await hsm.sign_digests(info.ref(), [b"\x01" * 32] * 3000)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(big_batch)
            await trio.sleep(0.05)  # the batch is being signed now
            unit.process.send_signal(signal.SIGTERM)
        assert results == [3000]  # answered before the unit went away
        with pytest.raises((UnitLostError, UnitStoppingError)):
            await hsm.sign_digest(info.ref(), b"\x02" * 32)
    with trio.fail_after(10):
        assert await unit.process.wait() == EXIT_OK


async def test_a_small_in_flight_limit_applies_back_pressure_without_losing_calls(
    unit_factory: StartUnit,
) -> None:
    unit = await unit_factory("narrow", extra_args=("--max-in-flight", "2"))
    async with unit.connect(coalesce=False) as hsm:
        info = await hsm.generate_key(KeyAlgorithm.GOST3410_2012_256, "TC26_256_A")
        signatures: list[bytes] = []

        async def sign() -> None:
            signatures.append(await hsm.sign_digest(info.ref(), b"\x03" * 32))

        async with trio.open_nursery() as nursery:
            for _ in range(100):
                nursery.start_soon(sign)
        assert len(signatures) == 100
        assert (await hsm.metrics()).in_flight == 0
