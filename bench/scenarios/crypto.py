"""``crypto``: the cryptography microbenchmarks of ``bench.crypto`` as a server-less scenario.

``bench.crypto`` (another part of the harness) exposes ``run_crypto_bench(...)`` returning result rows.
This adapter passes the run's limits as keywords the function accepts (``duration_s``, ``requests``)
and is registered when a ``bench.crypto`` module exists (it is imported only when the scenario runs, so
a problem there never breaks the other scenarios).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
from collections.abc import Callable
from typing import Any

from bench.errors import UsageError
from bench.scenario import Row


def crypto_module_present() -> bool:
    """Whether a ``bench.crypto`` module exists (found without importing it)."""
    try:
        return importlib.util.find_spec("bench.crypto") is not None
    except ImportError:
        return False


def crypto_bench_function() -> Callable[..., Any]:
    """``bench.crypto.run_crypto_bench``; raises ``UsageError`` when it is missing."""
    try:
        module = importlib.import_module("bench.crypto")
    except ImportError as exc:
        raise UsageError(f"the crypto scenario needs bench.crypto: {exc}") from exc
    function: object = getattr(module, "run_crypto_bench", None)
    if not callable(function):
        raise UsageError("bench.crypto has no run_crypto_bench()")
    return function


class CryptoScenario:
    """Adapter from ``run_crypto_bench`` to a ``LocalScenario``."""

    name = "crypto"
    description = "cryptography microbenchmarks (bench.crypto), no server"

    def run_local(self, *, duration_s: float, requests: int) -> list[Row]:
        """Call ``run_crypto_bench`` with the limits it accepts and normalise its rows to dicts."""
        function = crypto_bench_function()
        accepted = inspect.signature(function).parameters
        limits = {"duration_s": duration_s, "requests": requests}
        rows = function(**{k: v for k, v in limits.items() if k in accepted})
        return [_as_row(row) for row in rows]


def _as_row(row: object) -> Row:
    if isinstance(row, dict):
        return {str(k): v for k, v in row.items()}
    to_dict = getattr(row, "to_json", None) or getattr(row, "_asdict", None)
    if callable(to_dict):
        return dict(to_dict())
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return dataclasses.asdict(row)
    return {"value": repr(row)}
