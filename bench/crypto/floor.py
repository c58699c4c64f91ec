"""Native floors measured in the same run: ``openssl speed`` and a C program compiled at run time."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLOOR_SOURCE = Path(__file__).with_name("floor.c")
_SPEED_PROVIDERS = ("-provider", "gostprov", "-provider", "default")


@dataclass(frozen=True, slots=True)
class Floor:
    """A native measurement and the command that produced it."""

    value: float
    command: str


class FloorUnavailable(RuntimeError):
    """The floor could not be measured (no ``cc``, no OpenSSL headers, no ``openssl``)."""


def openssl_speed(kind: str, algorithm: str, *, nbytes: int, seconds: int = 1) -> Floor:
    """MB/s of ``openssl speed`` for ``-evp`` (digests) or ``-hmac`` with the gost provider loaded.

    The provider form is used because ``openssl speed -engine gost -evp md_gost12_256`` does not
    find the digest in OpenSSL 3.0 (the engine is not the default for digests).
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise FloorUnavailable("openssl CLI not found")
    args = [
        openssl,
        "speed",
        *_SPEED_PROVIDERS,
        "-seconds",
        str(seconds),
        "-bytes",
        str(nbytes),
        kind,
        algorithm,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60 + 10 * seconds, check=False)
    match = re.search(r"^\S*" + re.escape(algorithm) + r"\S*\s+([\d.]+)k\s*$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise FloorUnavailable(f"openssl speed failed: {done.stderr.strip()[:200]}")
    # openssl speed reports thousands of bytes per second.
    return Floor(float(match.group(1)) / 1000.0, " ".join(args[1:]))


class CFloor:
    """The compiled ``floor.c``: GOST R 34.10-2012 sign/verify through the engine from C."""

    def __init__(self) -> None:
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            raise FloorUnavailable("no C compiler (cc) found")
        self._dir = tempfile.TemporaryDirectory(prefix="klyuch-bench-")
        self.binary = Path(self._dir.name) / "gost_floor"
        self.compile_command = [
            cc,
            "-O2",
            "-Wno-deprecated-declarations",
            "-o",
            str(self.binary),
            str(FLOOR_SOURCE),
            "-lcrypto",
        ]
        done = subprocess.run(self.compile_command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            self.close()
            raise FloorUnavailable(
                f"cannot compile floor.c (libssl-dev installed?): {done.stderr.strip()[:300]}"
            )

    def measure(self, engine_paramset: str, bits: int, seconds: float) -> dict[str, float]:
        """One run of the program: µs per sign and per verify."""
        args = [str(self.binary), engine_paramset, str(bits), f"{seconds:.3f}"]
        done = subprocess.run(args, capture_output=True, text=True, timeout=60 + 4 * seconds, check=False)
        if done.returncode != 0:
            raise FloorUnavailable(f"floor program failed: {done.stderr.strip()[:300]}")
        result: dict[str, float] = json.loads(done.stdout)
        return result

    def median(self, engine_paramset: str, bits: int, seconds: float, rounds: int) -> dict[str, float]:
        """Median of ``rounds`` runs of :meth:`measure`, each given ``seconds / rounds`` per operation."""
        runs = [self.measure(engine_paramset, bits, seconds / rounds) for _ in range(rounds)]
        return {key: statistics.median(run[key] for run in runs) for key in ("sign_us", "verify_us")}

    def command(self, engine_paramset: str, bits: int) -> str:
        """Human-readable description of the floor's command."""
        return f"cc -O2 floor.c -lcrypto -o gost_floor && gost_floor {engine_paramset} {bits} <seconds>"

    def close(self) -> None:
        """Remove the temporary build directory."""
        self._dir.cleanup()
