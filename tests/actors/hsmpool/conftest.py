"""Fixtures for the HSM pool tests: real unit processes under a real pool, SoftHSM2 tokens.

Fixtures:

``home`` (function)
    A fresh state folder (KEK file and generated passphrase land in ``<home>/hsm``).
``fast_hsm`` (function)
    ``make(**overrides) -> HsmSettings`` with test timings: 1,000 PBKDF2 iterations, 0.5 s call and
    ping timeouts, 0.2 s ping interval, 50 ms restart backoff.
``pool`` (function, async)
    ``async with pool(settings) as balancer``: ``open_hsm_pool`` in a fresh ``ActorSystem``, waiting
    until every unit is healthy.
``softhsm`` (session)
    A private SoftHSM2 folder with token ``PT1``; ``softhsm.use(monkeypatch)`` points
    ``SOFTHSM2_CONF`` at it for the units this test starts.
``openssl`` (session)
    The ``openssl`` CLI (gost engine): the independent oracle for GOST signatures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
from pydantic import SecretStr

from actors.hsmpool import Balancer, open_hsm_pool
from actors.runtime import ActorSystem
from config.settings import HsmSettings

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
USER_PIN = "1234"
SO_PIN = "5678"
TOKEN = "PT1"

FAST: dict[str, Any] = {
    "kek_kdf_iterations": 1000,
    "call_timeout_s": 0.5,
    "health_interval_s": 0.2,
    "health_timeout_s": 0.5,
    "health_misses": 2,
    "restart_backoff_initial_s": 0.05,
    "restart_backoff_cap_s": 0.5,
    "stop_grace_s": 2.0,
    "start_timeout_s": 15.0,
}

MakeSettings = Callable[..., HsmSettings]
OpenPool = Callable[..., AbstractAsyncContextManager[Balancer]]


@pytest.fixture
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="khp-home-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fast_hsm() -> MakeSettings:
    def make(**overrides: Any) -> HsmSettings:
        return HsmSettings(**{**FAST, **overrides})

    return make


@pytest.fixture
def pool(home: Path) -> OpenPool:
    @asynccontextmanager
    async def open_pool(
        settings: HsmSettings, *, wait_units: int | None = None, system: ActorSystem | None = None
    ) -> AsyncIterator[Balancer]:
        system = system or ActorSystem("test")
        async with open_hsm_pool(settings, home=home, system=system, log_level="warning") as balancer:
            wanted = len(balancer.units()) if wait_units is None else wait_units
            if wanted:
                await balancer.wait_ready(units=wanted, timeout=20)
            yield balancer

    return open_pool


@dataclass(frozen=True)
class SoftHsm:
    """A private SoftHSM2 installation with one token."""

    folder: Path
    conf: Path

    def settings(self, make: MakeSettings, **overrides: Any) -> HsmSettings:
        """PKCS#11-only pool settings for this token."""
        options: dict[str, Any] = {
            "soft_units": 0,
            "pkcs11_module": SOFTHSM_MODULE,
            "pkcs11_token_labels": (TOKEN,),
            "pkcs11_pin": SecretStr(USER_PIN),
        }
        return make(**{**options, **overrides})

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Units started during this test inherit ``SOFTHSM2_CONF`` (the test process never loads it)."""
        monkeypatch.setenv("SOFTHSM2_CONF", os.fspath(self.conf))


@pytest.fixture(scope="session")
def softhsm() -> Iterator[SoftHsm]:
    if shutil.which("softhsm2-util") is None or not SOFTHSM_MODULE.exists():
        pytest.fail("SoftHSM2 is not installed (Debian: softhsm2)")
    folder = Path(tempfile.mkdtemp(prefix="khp-p11-"))
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    command = [
        "softhsm2-util",
        "--init-token",
        "--free",
        "--label",
        TOKEN,
        "--pin",
        USER_PIN,
        "--so-pin",
        SO_PIN,
    ]
    env = {**os.environ, "SOFTHSM2_CONF": os.fspath(conf)}
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=30)
    yield SoftHsm(folder, conf)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.fail("openssl CLI not installed (Debian: openssl + libengine-gost-openssl)")
    return path


class SigningLoad:
    """``callers`` tasks signing one digest after another through the pool, counting what happens."""

    def __init__(self, balancer: Balancer, key: Any, *, callers: int = 8) -> None:
        self.balancer = balancer
        self.key = key
        self.callers = callers
        self.ok = 0
        self.failures: list[tuple[BaseException, float]] = []
        """Each failure with how long the request took (seconds)."""

    @property
    def failed(self) -> int:
        return len(self.failures)

    async def caller(self) -> None:
        digest = os.urandom(32)
        while True:
            started = time.monotonic()
            try:
                await self.balancer.sign_digest(self.key, digest)
            except Exception as exc:  # counted: the tests assert on them
                self.failures.append((exc, time.monotonic() - started))
                await _pause()
            else:
                self.ok += 1

    async def wait_for_successes(self, count: int, *, within: float = 10.0) -> None:
        """Wait until ``count`` more requests succeeded (fail the test after ``within`` seconds)."""
        target = self.ok + count
        await wait_until(lambda: self.ok >= target, within=within, what=f"{count} successful requests")


async def _pause() -> None:
    # A failed request returns at once: do not spin the loop while no unit is up.
    await trio.sleep(0.005)


async def wait_until(predicate: Callable[[], bool], *, within: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` every 10 ms; fail the test after ``within`` seconds."""
    for _ in range(int(within / 0.01)):
        if predicate():
            return
        await trio.sleep(0.01)
    pytest.fail(f"timed out after {within} s waiting for {what}")
