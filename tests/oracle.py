"""The ``openssl`` CLI with the gost engine as a test oracle, shared by the service-level suites."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

GOST_CONF = """openssl_conf = openssl_def
[openssl_def]
engines = engine_section
[engine_section]
gost = gost_section
[gost_section]
engine_id = gost
default_algorithms = ALL
"""
"""An OpenSSL configuration that loads the gost engine."""


def gost_environment(folder: Path) -> dict[str, str]:
    """The environment for ``openssl`` commands without an ``-engine`` option (``crl``, ``ocsp``):
    ``OPENSSL_CONF`` names a configuration in ``folder`` (written once) that loads the gost engine."""
    conf = folder / "gost.cnf"
    if not conf.exists():
        conf.write_text(GOST_CONF)
    return {**os.environ, "OPENSSL_CONF": str(conf)}


class OpenSSL:
    """The ``openssl`` CLI with the gost engine, in one folder: the independent oracle."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def run(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run ``openssl <args>`` (no check)."""
        return subprocess.run(
            ["openssl", *args], input=input, capture_output=True, check=False, timeout=60, cwd=self.workdir
        )

    def out(self, *args: str, input: bytes | None = None) -> bytes:
        """stdout of a successful ``openssl <args>``; a failure fails the test with its stderr."""
        done = self.run(*args, input=input)
        assert done.returncode == 0, f"openssl {' '.join(args)}: {done.stderr.decode(errors='replace')}"
        return done.stdout

    def write(self, name: str, data: bytes | str) -> str:
        """Write a file in the work folder; return its path."""
        path = self.workdir / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return str(path)


@pytest.fixture
def ossl(tmp_path: Path) -> OpenSSL:
    """openssl working in a folder of this test."""
    folder = tmp_path / "openssl"
    folder.mkdir()
    return OpenSSL(folder)
