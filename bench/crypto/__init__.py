"""Microbenchmarks of Klyuch's GOST binding beside the native floor measured in the same run.

Module map::

    bench.crypto
     ├─ rows ....... BenchRow / BenchConfig, the timing helper, ``register_rows`` for extra rows
     ├─ floor ...... native floors: ``openssl speed`` and ``floor.c`` (compiled at run time with cc)
     ├─ ours ....... the built-in rows: Streebog, HMAC, KDFs, PBKDF2, 34.10-2012 sign/verify/keygen/VKO
     └─ __main__ ... ``python -m bench.crypto [--out PATH] [--seconds S]``

Other benchmark rows (the ciphers) join through :func:`register_rows`.
"""

from __future__ import annotations

import ctypes
import json
import platform
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.crypto.rows import BenchConfig, BenchRow, RowProvider, register_rows, registered_providers

TARGET_RATIO = 1.3
"""Binding cost allowed for GOST-256 sign and verify, as a multiple of the engine's time from C."""


def run_crypto_bench(
    *,
    seconds: float = 0.6,
    rounds: int = 3,
    out: Path | str | None = None,
    providers: Iterable[RowProvider] | None = None,
) -> dict[str, Any]:
    """Measure every row (built-in, then registered, then ``providers``) and return a report.

    ``seconds`` is the time per measured side of a row. With ``out`` the report is also written
    there as JSON. The report has ``rows`` (see :class:`BenchRow`), ``targets`` (GOST-256 sign and
    verify against :data:`TARGET_RATIO`) and the environment.
    """
    from bench.crypto import ours  # late: importing the package must not load the engine

    config = BenchConfig(seconds=seconds, rounds=rounds)
    started = time.perf_counter()
    rows: list[BenchRow] = []
    for provider in [ours.hash_rows, ours.signature_rows, *registered_providers(), *(providers or ())]:
        rows.extend(provider(config))
    report = {
        "config": {"seconds": seconds, "rounds": rounds},
        "environment": _environment(),
        "rows": [row.as_dict() for row in rows],
        "targets": _targets(rows),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    if out is not None:
        Path(out).write_text(json.dumps(report, indent=2) + "\n")
    return report


def _targets(rows: list[BenchRow]) -> dict[str, Any]:
    by_name = {row.name: row for row in rows}
    targets: dict[str, Any] = {}
    for name in ("gost3410_256.sign", "gost3410_256.verify"):
        ratio = by_name[name].ratio if name in by_name else None
        targets[name] = {
            "ratio": None if ratio is None else round(ratio, 3),
            "max": TARGET_RATIO,
            "met": None if ratio is None else ratio <= TARGET_RATIO,
        }
    return targets


def _environment() -> dict[str, str]:
    from signing.gost._libcrypto import bind

    version = bind("OpenSSL_version", ctypes.c_char_p, ctypes.c_int)
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "openssl": version(0).decode(),
    }


__all__ = ["TARGET_RATIO", "BenchConfig", "BenchRow", "RowProvider", "register_rows", "run_crypto_bench"]
