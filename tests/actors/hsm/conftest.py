"""Fixtures for the HSM unit tests: real unit processes, a sealed KEK, SoftHSM2 tokens.

Units shared by a whole session (starting one costs ~0.5 s of interpreter start-up) are spawned
from sync session fixtures with their own ``trio.run``; tests that hurt a unit (signals, crashes,
faults) start their own through ``unit_factory``. Sockets live in short ``/tmp`` folders: a unix
socket path must fit in 107 bytes, which pytest's ``tmp_path`` does not promise.

SoftHSM2 tokens are made in a private folder with a test-only ``SOFTHSM2_CONF``, handed to the
unit processes through ``UnitSpec.env``; the test process itself never sets it globally.

Fixtures:

``kek_passphrase`` / ``kek_path`` (session)
    A sealed KEK file (1,000 PBKDF2 iterations: tests need speed, not strength).
``soft_pair`` (session)
    Two soft units ("hsm-a", "hsm-b") unsealing that one file: a hot-standby pair.
``softhsm`` (session)
    A SoftHSM2 folder with tokens ``T1`` and ``T2``; ``make_token`` adds more.
``pkcs11_pair`` (session)
    One PKCS#11 unit per token (``p11-t1``, ``p11-t2``).
``unit_factory`` (function, async)
    ``await start(spec_overrides..., secrets=...)`` → a fresh unit stopped after the test.
``openssl`` (session)
    The ``openssl`` CLI: the independent oracle for GOST signatures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.hsm import kek
from actors.hsm.client import UnitConnection, open_unit_connection
from actors.hsm.handover import UnitSecrets
from actors.hsm.launcher import UnitProcess, UnitSpec, start_unit

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TEST_ITERATIONS = 1_000
USER_PIN = "1234"
SO_PIN = "5678"


@dataclass
class Unit:
    """A running unit and the secret that opens it."""

    process: UnitProcess
    auth_key: bytes

    @property
    def spec(self) -> UnitSpec:
        return self.process.spec

    @property
    def socket(self) -> Path:
        return self.process.spec.socket_path

    def connect(self, **options: Any) -> AbstractAsyncContextManager[UnitConnection]:
        """``async with unit.connect() as connection``."""
        return open_unit_connection(self.socket, auth_key=self.auth_key, **options)


def short_dir(prefix: str) -> Path:
    """A fresh folder with a short path (for unix sockets)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def soft_spec(folder: Path, name: str, kek_file: Path, **overrides: Any) -> UnitSpec:
    """A soft unit's spec listening in ``folder``."""
    spec = UnitSpec(socket_path=folder / f"{name}.sock", backend="soft", unit_id=name, kek_file=kek_file)
    return replace(spec, **overrides)


def pkcs11_spec(folder: Path, name: str, softhsm_conf: Path, label: str, **overrides: Any) -> UnitSpec:
    """A PKCS#11 unit's spec for SoftHSM2 token ``label``."""
    spec = UnitSpec(
        socket_path=folder / f"{name}.sock",
        backend="pkcs11",
        unit_id=name,
        pkcs11_module=SOFTHSM_MODULE,
        token_label=label,
        env={"SOFTHSM2_CONF": os.fspath(softhsm_conf)},
    )
    return replace(spec, **overrides)


def _start_sync(spec: UnitSpec, secrets: UnitSecrets) -> Unit:
    # trio.run from the main thread: the unit's parent-death signal follows this (long-lived) thread.
    return Unit(trio.run(start_unit, spec, secrets), secrets.auth_key)


def _stop_sync(unit: Unit) -> None:
    trio.run(unit.process.stop)


@pytest.fixture(scope="session")
def kek_passphrase() -> str:
    return "correct horse battery staple"


@pytest.fixture(scope="session")
def kek_path(kek_passphrase: str) -> Iterator[Path]:
    folder = short_dir("kh-kek-")
    path = folder / "kek.json"
    kek.create_file(path, kek_passphrase, iterations=TEST_ITERATIONS)
    yield path
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def soft_pair(kek_path: Path, kek_passphrase: str) -> Iterator[tuple[Unit, Unit]]:
    folder = short_dir("kh-pair-")
    units: list[Unit] = []
    try:
        for name in ("hsm-a", "hsm-b"):
            secrets = UnitSecrets(auth_key=os.urandom(32), kek_passphrase=kek_passphrase)
            units.append(_start_sync(soft_spec(folder, name, kek_path), secrets))
        yield units[0], units[1]
    finally:
        for unit in units:
            _stop_sync(unit)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class SoftHsm:
    """A private SoftHSM2 installation: config file and token folder."""

    folder: Path
    conf: Path

    def make_token(self, label: str) -> None:
        """Initialise a new token with the test PINs."""
        env = {**os.environ, "SOFTHSM2_CONF": os.fspath(self.conf)}
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                USER_PIN,
                "--so-pin",
                SO_PIN,
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=30,
        )


def make_softhsm(prefix: str) -> SoftHsm:
    """A SoftHSM2 folder with its own configuration (no tokens yet)."""
    if shutil.which("softhsm2-util") is None or not Path(SOFTHSM_MODULE).exists():
        pytest.fail("SoftHSM2 is not installed (Debian: softhsm2)")
    folder = short_dir(prefix)
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    return SoftHsm(folder, conf)


@pytest.fixture(scope="session")
def softhsm() -> Iterator[SoftHsm]:
    installation = make_softhsm("kh-p11-")
    installation.make_token("T1")
    installation.make_token("T2")
    yield installation
    shutil.rmtree(installation.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pkcs11_pair(softhsm: SoftHsm) -> Iterator[tuple[Unit, Unit]]:
    units: list[Unit] = []
    try:
        for name, label in (("p11-t1", "T1"), ("p11-t2", "T2")):
            secrets = UnitSecrets(auth_key=os.urandom(32), pkcs11_pin=USER_PIN)
            units.append(_start_sync(pkcs11_spec(softhsm.folder, name, softhsm.conf, label), secrets))
        yield units[0], units[1]
    finally:
        for unit in units:
            _stop_sync(unit)


StartUnit = Callable[..., Awaitable[Unit]]


@pytest.fixture
async def unit_factory(kek_path: Path, kek_passphrase: str) -> AsyncIterator[StartUnit]:
    """``await start(name="u", secrets=None, spec=None, **spec_overrides)``: a fresh soft unit by default."""
    folder = short_dir("kh-u-")
    started: list[Unit] = []

    async def start(
        name: str = "u", *, secrets: UnitSecrets | None = None, spec: UnitSpec | None = None, **overrides: Any
    ) -> Unit:
        secrets = secrets or UnitSecrets(auth_key=os.urandom(32), kek_passphrase=kek_passphrase)
        spec = spec or soft_spec(folder, name, kek_path, **overrides)
        unit = Unit(await start_unit(spec, secrets), secrets.auth_key)
        started.append(unit)
        return unit

    start.folder = folder  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for unit in started:
            await unit.process.stop(grace=5.0)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def openssl() -> str:
    """Path of the ``openssl`` CLI (with the gost engine): the independent oracle."""
    path = shutil.which("openssl")
    if path is None:
        pytest.fail("openssl CLI not installed (Debian: openssl + libengine-gost-openssl)")
    return path
