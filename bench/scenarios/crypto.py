"""``crypto``: the cryptography microbenchmarks of ``bench.crypto`` as a server-less scenario.

``bench.crypto`` (another part of the harness) exposes ``run_crypto_bench(*, seconds=..., ...)``
returning a report dict whose ``rows`` compare Klyuch's binding with native code. ``--duration``
becomes its ``seconds`` (time per measurement) when given; otherwise its own defaults apply. The
scenario is registered whenever a ``bench.crypto`` module exists; it is imported only when the scenario
runs, so a problem there never breaks the other scenarios.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from bench.errors import UsageError
from bench.scenario import LocalResult, Row

TABLE_COLUMNS = ("name", "unit", "value", "floor", "ratio", "notes")
"""The columns worth a terminal line; the JSON keeps every field of every row."""


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
    description = "cryptography microbenchmarks beside native floors (bench.crypto), no server"

    def run_local(self, *, duration_s: float | None, requests: int | None) -> LocalResult:
        """Run the microbenchmarks; ``requests`` has no meaning here and is ignored."""
        function = crypto_bench_function()
        accepted = inspect.signature(function).parameters
        kwargs = {"seconds": duration_s} if duration_s is not None and "seconds" in accepted else {}
        outcome = function(**kwargs)
        if isinstance(outcome, dict):
            rows = [_as_row(row) for row in outcome.get("rows", ())]
            extra = {k: v for k, v in outcome.items() if k != "rows"}
        else:
            rows, extra = [_as_row(row) for row in _iterable(outcome)], {}
        return LocalResult(rows=rows, columns=TABLE_COLUMNS, plot_value="ratio", extra=extra)


def _iterable(value: object) -> Iterable[object]:
    if isinstance(value, Iterable):
        return value
    raise UsageError(f"run_crypto_bench returned {type(value).__name__}, expected a report or rows")


def _as_row(row: object) -> Row:
    if isinstance(row, dict):
        return {str(k): v for k, v in row.items()}
    for method in ("as_dict", "to_json", "_asdict"):
        to_dict = getattr(row, method, None)
        if callable(to_dict):
            return dict(to_dict())
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return dataclasses.asdict(row)
    return {"value": repr(row)}
