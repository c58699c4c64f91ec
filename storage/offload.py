"""Batched units another process may run: the contract between a repository, ``Database`` and the writer.

A hot-path write (the synchronous signing path stores one finished operation per request) costs
the worker more than its statement: the storage thread builds the column arrays, asyncpg encodes
them, and every crossing makes the event loop and that thread trade the GIL (FACTS.md "GIL
convoy"). An *offloadable* batched unit splits the work so that the worker keeps only the cheap
part and the writer process (``storage.writer``) does the rest on the other core::

    worker (trio thread)                         writer process (or, as a fallback, the storage thread)
    prepare(args) → wires, results  ──wires──►   apply(conn, wires): decode, build arrays, one statement

* ``prepare`` runs in the worker, once per group: it turns each argument into a *wire* value made
  of primitives only (tuples, str, bytes, int, float, bool, None: what ``storage.writer.frames``
  may carry) and computes, from the same inputs, the result each caller gets once its wire is
  committed (so no result travels back).
* ``apply`` is an ordinary batched unit over wire values (``storage.group``): one statement,
  returning one ``None`` per wire. It must be **idempotent**: when the writer dies with a group in
  flight, nobody knows whether that group was committed, and ``Database`` applies it again in
  process.

``OFFLOADABLE`` on the unit function names its ``Offload``; ``offload_of(fn)`` reads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from storage.errors import QueryError, StorageError
from storage.group import BatchedUnit

A = TypeVar("A")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

Wire = Any
"""A value built of primitives only (see the module docstring)."""

OFFLOADABLE: Final = "__klyuch_offload__"


@dataclass(frozen=True, slots=True)
class Offload(Generic[A, R]):
    """How one batched unit is split between the worker and the writer process."""

    name: str
    """Stable name the writer process looks the unit up by (``storage.writer.units``)."""
    prepare: Callable[[Sequence[A]], tuple[list[Wire], list[R]]]
    """In the worker: the arguments of a group → (one wire each, one result each)."""
    apply: BatchedUnit
    """Anywhere: ``apply(conn, wires)`` writes them in one idempotent statement; one None per wire."""


def offloadable(offload: Offload[Any, Any]) -> Callable[[F], F]:
    """Mark a batched unit as runnable through ``offload`` (``Database.run_batched`` chooses)."""

    def mark(fn: F) -> F:
        setattr(fn, OFFLOADABLE, offload)
        return fn

    return mark


def offload_of(fn: Callable[..., Any]) -> Offload[Any, Any] | None:
    """The ``Offload`` a batched unit was marked with, or None."""
    found: Offload[Any, Any] | None = getattr(fn, OFFLOADABLE, None)
    return found


def _codes() -> dict[str, type[StorageError]]:
    found: dict[str, type[StorageError]] = {}
    pending: list[type[StorageError]] = [StorageError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


Status = tuple[str, str, str | None, str | None] | None
"""What the writer reports per wire: None when committed, else (code, message, sqlstate, constraint)."""


def error_status(exc: BaseException) -> Status:
    """The status of a failed wire: the storage error's ``code``, message and SQL details."""
    if not isinstance(exc, StorageError):  # a bug in a unit: reported, never hidden
        return StorageError.code, f"{type(exc).__name__}: {exc}"[:1000], None, None
    sqlstate = exc.sqlstate if isinstance(exc, QueryError) else None
    constraint = exc.constraint if isinstance(exc, QueryError) else None
    return exc.code, str(exc)[:1000], sqlstate, constraint


def error_from_status(status: tuple[str, str, str | None, str | None]) -> StorageError:
    """The worker's exception for a reported failure: the class with that ``code`` (else the base)."""
    code, message, sqlstate, constraint = status
    cls = _codes().get(code, StorageError)
    if issubclass(cls, QueryError):
        return cls(message, sqlstate=sqlstate, constraint=constraint)
    try:
        return cls(message)
    except TypeError:  # a class with required keyword arguments: the base class carries the code
        return StorageError(f"{code}: {message}")
