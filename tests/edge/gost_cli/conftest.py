"""Fixtures for ``klyuch gost``: the CLI and the ``openssl`` CLI (gost engine), run as subprocesses.

Both run in the test's ``tmp_path``, so file names are relative. Every run of our CLI is checked
for what the command line promises: no traceback ever, and a failure is exactly one stderr line
``klyuch gost: ...`` with the expected exit code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

P256 = ("gost2012_256", "A")
"""The 256-bit parameter set taken end to end (CryptoPro A)."""
P512 = ("gost2012_512", "C")
"""The 512-bit parameter set taken end to end (TC26 512 C, a cofactor-4 curve)."""
END_TO_END = [P256, P512]


@dataclass(frozen=True, slots=True)
class Run:
    """What a finished process left."""

    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        """stdout as text."""
        return self.stdout.decode()


class Tools:
    """``klyuch gost`` and ``openssl`` in one work folder."""

    def __init__(self, workdir: Path, openssl: str) -> None:
        self.workdir = workdir
        self._openssl = openssl
        self._env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
        )

    def _run(self, argv: list[str], input: bytes | None, env: dict[str, str] | None = None) -> Run:
        done = subprocess.run(
            argv, input=input, capture_output=True, cwd=self.workdir, env=env, timeout=60, check=False
        )
        return Run(done.returncode, done.stdout, done.stderr.decode(errors="replace"))

    def klyuch(self, *args: str, input: bytes | None = None, expect: int = 0) -> Run:
        """Run ``python -m edge.gost_cli ARGS``; assert the exit code and the error contract."""
        run = self._run([sys.executable, "-m", "edge.gost_cli", *args], input, self._env)
        assert "Traceback" not in run.stderr, run.stderr
        assert run.returncode == expect, f"klyuch gost {' '.join(args)} -> {run.returncode}: {run.stderr}"
        if expect != 0:
            lines = run.stderr.splitlines()
            assert len(lines) == 1, run.stderr
            assert lines[0].startswith("klyuch gost: "), run.stderr
        return run

    def openssl(self, command: str, *args: str, input: bytes | None = None, expect: int = 0) -> Run:
        """Run ``openssl COMMAND -engine gost ARGS``; assert the exit code."""
        run = self._run([self._openssl, command, "-engine", "gost", *args], input)
        assert run.returncode == expect, (
            f"openssl {command} {' '.join(args)} -> {run.returncode}: {run.stderr}"
        )
        return run

    def write(self, name: str, data: bytes) -> str:
        """Write a file into the work folder; return its (relative) name."""
        (self.workdir / name).write_bytes(data)
        return name

    def read(self, name: str) -> bytes:
        """Read a file from the work folder."""
        return (self.workdir / name).read_bytes()

    def openssl_key(self, name: str, algorithm: str, paramset: str) -> str:
        """A GOST key made by ``openssl genpkey``, written to ``name``."""
        self.openssl("genpkey", "-algorithm", algorithm, "-pkeyopt", f"paramset:{paramset}", "-out", name)
        return name


@pytest.fixture(scope="session")
def openssl_path() -> str:
    """The ``openssl`` CLI; its absence fails the suite (it is the oracle), it does not skip."""
    path = shutil.which("openssl")
    assert path is not None, "the openssl CLI with libengine-gost-openssl is required"
    return path


@pytest.fixture
def tools(tmp_path: Path, openssl_path: str) -> Tools:
    """Both command lines, working in ``tmp_path``."""
    return Tools(tmp_path, openssl_path)
