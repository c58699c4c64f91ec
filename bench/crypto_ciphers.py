"""Throughput of the GOST block-cipher binding beside ``openssl speed`` on the same machine and moment.

:func:`cipher_bench_rows` measures every mode of :mod:`signing.gost.cipher` two ways:

* ``ours_stream_mb_s`` — one native context, ``update()`` on a buffer again and again: what
  ``openssl speed -evp`` does, so ``ratio_stream`` isolates the cost of the Python binding;
* ``ours_oneshot_mb_s`` — the one-call API per buffer (new context and key schedule every time).

and runs ``openssl speed -mr -provider default -provider gostprov`` for the same cipher and buffer
size. Rates are 10**6 bytes per CPU second of the measuring process (``openssl speed`` counts user
CPU time too), so other load on the machine disturbs the ratios less than wall-clock rates would.
gostprov has no ``magma-ecb`` (our Magma ECB runs on CBC, block by block) and no EVP speed test for
its OMAC MACs, so OMAC is compared with OpenSSL's generic CMAC over the same block cipher
(``-cmac <algorithm>-cbc``).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from signing.gost.cipher import BlockCipher, Kuznyechik, Magma, Mode
from signing.gost.cipher_native import implementation

BULK_BYTES: Final = 16384
SMALL_BYTES: Final = 256
_PROVIDERS: Final = ("-provider", "default", "-provider", "gostprov")


@dataclass(frozen=True, slots=True)
class _Case:
    """One row: a cipher, a mode (``None`` for OMAC) and a buffer size."""

    cipher: type[BlockCipher]
    mode: Mode | None
    size: int

    @property
    def name(self) -> str:
        return f"{self.cipher.algorithm}-{self.mode or 'omac'}"

    @property
    def openssl_args(self) -> tuple[str, ...] | None:
        if self.mode is None:
            return ("-cmac", f"{self.cipher.algorithm}-cbc")
        if self.cipher is Magma and self.mode is Mode.ECB:
            return None
        return ("-evp", self.name)


CASES: Final = tuple(
    [_Case(cls, mode, BULK_BYTES) for cls in (Kuznyechik, Magma) for mode in (*Mode, None)]
    + [_Case(cls, Mode.CTR, SMALL_BYTES) for cls in (Kuznyechik, Magma)]
)


def _iv(case: _Case) -> bytes | None:
    if case.mode is Mode.ECB or case.mode is None:
        return None
    return os.urandom(case.cipher.block_size if case.mode is Mode.CBC else case.cipher.ctr_iv_size)


def _rate(step: Callable[[], object], size: int, duration_s: float) -> float:
    """MB/s of ``step`` (``size`` bytes each) per CPU second, repeated for about ``duration_s`` s."""
    step()  # warm-up: first fetch, first key schedule
    count, deadline, cpu_start = 0, time.perf_counter() + duration_s, time.process_time()
    while time.perf_counter() < deadline or not count:
        step()
        count += 1
    return count * size / max(time.process_time() - cpu_start, 1e-9) / 1e6


def _ours(case: _Case, duration_s: float) -> tuple[float, float]:
    cipher, iv, buffer = case.cipher(os.urandom(32)), _iv(case), os.urandom(case.size)
    if case.mode is None:
        with cipher.mac_stream() as mac:
            stream_rate = _rate(lambda: mac.update(buffer), case.size, duration_s)
        return stream_rate, _rate(lambda: cipher.mac(buffer), case.size, duration_s)
    mode = case.mode
    with cipher.encryptor(mode, iv=iv) as stream:
        stream_rate = _rate(lambda: stream.update(buffer), case.size, duration_s)
    return stream_rate, _rate(lambda: cipher.encrypt(mode, buffer, iv=iv), case.size, duration_s)


def _openssl_command(case: _Case, seconds: int) -> list[str] | None:
    cli, args = shutil.which("openssl"), case.openssl_args
    if cli is None or args is None:
        return None
    return [
        cli,
        "speed",
        *_PROVIDERS,
        "-mr",
        "-seconds",
        str(seconds),
        "-bytes",
        str(case.size),
        *args,
    ]


def _openssl_rate(command: list[str], seconds: int) -> float | None:
    """Bytes/s from the ``+F:`` line of ``openssl speed -mr``, as MB/s; ``None`` if it did not run."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds * 10 + 30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in done.stdout.splitlines():
        if line.startswith("+F:"):
            return float(line.rsplit(":", 1)[1]) / 1e6
    return None


def _ratio(ours: float, theirs: float | None) -> float | None:
    return round(ours / theirs, 3) if theirs else None


def cipher_bench_rows(duration_s: float) -> list[dict[str, object]]:
    """One row per (cipher, mode, buffer size): our MB/s beside ``openssl speed``'s, with ratios.

    Each measurement runs about ``duration_s`` seconds (``openssl speed`` whole seconds, at least 1);
    a full call takes roughly 14 × 3 × ``duration_s`` seconds.
    """
    seconds = max(1, math.ceil(duration_s))
    rows: list[dict[str, object]] = []
    for case in CASES:
        stream_rate, oneshot_rate = _ours(case, duration_s)
        command = _openssl_command(case, seconds)
        theirs = _openssl_rate(command, seconds) if command else None
        rows.append(
            {
                "bench": "cipher",
                "name": case.name,
                "buffer_bytes": case.size,
                "ours_stream_mb_s": round(stream_rate, 2),
                "ours_oneshot_mb_s": round(oneshot_rate, 2),
                "openssl_mb_s": round(theirs, 2) if theirs else None,
                "ratio_stream": _ratio(stream_rate, theirs),
                "ratio_oneshot": _ratio(oneshot_rate, theirs),
                "openssl_command": " ".join(command) if command else None,
                "native": _native(case),
                "note": _note(case),
            }
        )
    return rows


def _native(case: _Case) -> str:
    """The code measured: EVP_MAC is always gostprov's; ciphers switch to the engine once it is loaded."""
    if case.mode is None:
        return "gostprov"
    return implementation(
        f"{case.cipher.algorithm}-cbc" if case.mode is Mode.ECB and case.cipher is Magma else case.name
    )


def _note(case: _Case) -> str:
    if case.mode is None:
        return "OMAC; openssl column is OpenSSL's generic CMAC over the same cipher"
    if case.cipher is Magma and case.mode is Mode.ECB:
        return "no magma-ecb in gostprov: ECB on magma-cbc, one native call per block"
    if case.mode is Mode.CTR_ACPKM:
        return f"default section {case.cipher.default_section_size} bytes"
    return ""


if __name__ == "__main__":
    for row in cipher_bench_rows(float(os.environ.get("CIPHER_BENCH_SECONDS", "1"))):
        print(row)
