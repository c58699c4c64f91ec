"""Translate asyncpg, OS and timeout exceptions into the ``storage.errors`` tree.

PostgreSQL groups SQLSTATEs in classes (the first two characters); most classes map to one error
type and a few exact states refine them. The table is data so a reader sees every decision at once.
Callers get the original exception as ``__cause__`` (``with translated(): ...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from storage.errors import (
    ConflictError,
    IntegrityError,
    InvalidDataError,
    QueryError,
    ReadOnlyError,
    RetryableError,
    StorageError,
    StorageTimeoutError,
    StorageUnavailableError,
)

_BY_STATE: dict[str, type[StorageError]] = {
    "23505": ConflictError,  # unique_violation
    "23P01": ConflictError,  # exclusion_violation
    "25006": ReadOnlyError,  # read_only_sql_transaction
    "57014": StorageTimeoutError,  # query_canceled (statement_timeout, cancel request)
}

_BY_CLASS: dict[str, type[StorageError]] = {
    "08": StorageUnavailableError,  # connection exception
    "22": InvalidDataError,  # data exception
    "23": IntegrityError,  # integrity constraint violation
    "40": RetryableError,  # transaction rollback: serialization failure, deadlock
    "53": StorageUnavailableError,  # insufficient resources: too many connections, disk full
    "57": StorageUnavailableError,  # operator intervention: shutdown, cannot connect now
    "58": StorageUnavailableError,  # system error: I/O error
}


def error_for_sqlstate(sqlstate: str) -> type[StorageError]:
    """Return the error class for a SQLSTATE: exact state first, then its class, else ``QueryError``."""
    return _BY_STATE.get(sqlstate) or _BY_CLASS.get(sqlstate[:2]) or QueryError


def translate(exc: BaseException) -> StorageError | None:
    """Return the storage error that stands for ``exc``, or None when ``exc`` is not a database error.

    Exceptions of the caller's own code (``ValueError`` in a repository, a ``NotFoundError`` it raised)
    are not database errors and must propagate unchanged.
    """
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        return _from_postgres(exc)
    if isinstance(exc, TimeoutError):
        return StorageTimeoutError("database operation timed out")
    if isinstance(exc, asyncpg.DataError):
        # Raised client-side when a Python value cannot be encoded for its parameter type.
        return InvalidDataError(str(exc))
    if isinstance(exc, OSError | asyncpg.InterfaceError | asyncpg.InternalClientError):
        # Socket errors, a closed connection, a connection lost mid-protocol.
        return StorageUnavailableError(f"database connection failed: {type(exc).__name__}: {exc}")
    return None


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise database exceptions escaping the block as their storage error (``from`` the original)."""
    try:
        yield
    except Exception as exc:
        mapped = translate(exc)
        if mapped is None or mapped is exc:
            raise
        raise mapped from exc


def _from_postgres(exc: asyncpg.PostgresError) -> StorageError:
    sqlstate = str(exc.sqlstate or "")
    cls = error_for_sqlstate(sqlstate)
    message = f"{sqlstate}: {exc}"
    if issubclass(cls, QueryError):
        constraint = getattr(exc, "constraint_name", None)
        return cls(message, sqlstate=sqlstate, constraint=constraint)
    return cls(message)
