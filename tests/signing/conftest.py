"""Fixtures for the signing tests: the ``openssl`` CLI oracle, cached keys, a fixed clock.

Keys are generated once per session and cached (RSA generation costs tens of milliseconds), so
tests stay fast; every test that needs a fresh key makes one itself.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import subprocess
from pathlib import Path

import pytest

from signing.gost.params import ParamSet
from signing.international import InternationalPrivateKey, generate_ec, generate_rsa
from signing.keys import GostSigningKey, PrivateKey

GOST_PARAMSETS = ParamSet.production()
"""Every GOST parameter set fit for real keys (12)."""

OPENSSL_PARAMSET = {
    ParamSet.CRYPTOPRO_A: ("gost2012_256", "A"),
    ParamSet.CRYPTOPRO_B: ("gost2012_256", "B"),
    ParamSet.CRYPTOPRO_C: ("gost2012_256", "C"),
    ParamSet.CRYPTOPRO_XCHA: ("gost2012_256", "XA"),
    ParamSet.CRYPTOPRO_XCHB: ("gost2012_256", "XB"),
    ParamSet.TC26_256_A: ("gost2012_256", "TCA"),
    ParamSet.TC26_256_B: ("gost2012_256", "TCB"),
    ParamSet.TC26_256_C: ("gost2012_256", "TCC"),
    ParamSet.TC26_256_D: ("gost2012_256", "TCD"),
    ParamSet.TC26_512_A: ("gost2012_512", "A"),
    ParamSet.TC26_512_B: ("gost2012_512", "B"),
    ParamSet.TC26_512_C: ("gost2012_512", "C"),
}
"""``openssl genpkey -algorithm … -pkeyopt paramset:…`` for each parameter set."""

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
"""The fixed "now" of certificate tests."""


class OpenSSL:
    """The ``openssl`` CLI with the gost engine: the independent oracle of these tests."""

    def __init__(self, path: str, workdir: Path) -> None:
        self.path = path
        self.workdir = workdir

    def run(
        self, *args: str, input: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``openssl <args>``; with ``check`` a failure fails the test with openssl's stderr."""
        done = subprocess.run(
            [self.path, *args], input=input, capture_output=True, check=False, timeout=60, cwd=self.workdir
        )
        if check:
            assert done.returncode == 0, f"openssl {' '.join(args)}: {done.stderr.decode(errors='replace')}"
        return done

    def out(self, *args: str, input: bytes | None = None) -> bytes:
        """stdout of a successful ``openssl <args>``."""
        return self.run(*args, input=input).stdout

    def write(self, name: str, data: bytes) -> str:
        """Write a file in the work folder and return its path."""
        path = self.workdir / name
        path.write_bytes(data)
        return str(path)

    def genpkey(self, paramset: ParamSet) -> bytes:
        """A fresh GOST key from the engine, PEM PKCS#8."""
        algorithm, name = OPENSSL_PARAMSET[paramset]
        return self.out("genpkey", "-engine", "gost", "-algorithm", algorithm, "-pkeyopt", f"paramset:{name}")


@pytest.fixture(scope="session")
def ossl(tmp_path_factory: pytest.TempPathFactory) -> OpenSSL:
    """The ``openssl`` CLI. Its absence is a failure, not a skip: the oracle is part of the suite."""
    path = shutil.which("openssl")
    assert path is not None, "the openssl CLI (with libengine-gost-openssl) is required by these tests"
    return OpenSSL(path, tmp_path_factory.mktemp("openssl"))


@functools.cache
def cached_gost_key(paramset: ParamSet, slot: int = 0) -> GostSigningKey:
    """A GOST key per (parameter set, slot), made once per session."""
    del slot  # only part of the cache key: several distinct keys per parameter set
    return GostSigningKey.generate(paramset)


@functools.cache
def cached_international_key(kind: str, slot: int = 0) -> InternationalPrivateKey:
    """``P-256``, ``P-384`` or ``RSA`` key per slot, made once per session."""
    del slot
    return generate_rsa(2048) if kind == "RSA" else generate_ec(kind)


INTERNATIONAL_KINDS = ("P-256", "P-384", "RSA")


def any_key(kind: str | ParamSet, slot: int = 0) -> PrivateKey:
    """A cached key of any kind."""
    if isinstance(kind, ParamSet):
        return cached_gost_key(kind, slot)
    return cached_international_key(kind, slot)
