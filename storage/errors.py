"""Errors of the storage layer.

::

    StorageError                          code
     ├─ StorageUnavailableError           storage_unavailable     (cannot connect, server gone, shutting down)
     │   └─ StorageTimeoutError           storage_timeout         (an operation ran past its timeout)
     ├─ EmbeddedServerError               embedded_server_failed  (initdb / pg_ctl failed)
     │   ├─ EmbeddedServerBusyError       embedded_server_busy    (data folder owned by a live Klyuch process)
     │   └─ EmbeddedPermissionError       embedded_permission     (system account or folder access problem)
     ├─ MigrationError                    migration_failed        (a migration failed or is unknown)
     │   └─ MigrationChecksumError        migration_checksum      (an applied migration file was edited)
     ├─ NotFoundError                     not_found               (raised by repositories)
     └─ QueryError                        query_failed            (any other SQLSTATE; ``sqlstate`` kept)
         ├─ ConflictError                 conflict                (23505 unique, 23P01 exclusion)
         ├─ IntegrityError                integrity_violation     (other class 23: FK, NOT NULL, CHECK)
         ├─ InvalidDataError              invalid_data            (class 22: bad value, overflow)
         ├─ RetryableError                retryable               (class 40: serialization failure, deadlock)
         └─ ReadOnlyError                 read_only               (25006: write in a read-only transaction)

Each class has a stable ``code``; callers dispatch on type or code, never on message text.
``storage.sqlstate.translated`` turns asyncpg and OS exceptions into this tree at the layer boundary.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error raised by ``storage``."""

    code = "storage_error"


class StorageUnavailableError(StorageError):
    """The database cannot be reached or is shutting down; retrying later may succeed."""

    code = "storage_unavailable"


class StorageTimeoutError(StorageUnavailableError):
    """An operation (including waiting for a pooled connection) exceeded its timeout."""

    code = "storage_timeout"


class EmbeddedServerError(StorageError):
    """The embedded PostgreSQL server could not be initialised, started or stopped."""

    code = "embedded_server_failed"


class EmbeddedServerBusyError(EmbeddedServerError):
    """Another live Klyuch process owns the embedded server of this data folder."""

    code = "embedded_server_busy"

    def __init__(self, message: str, *, owner_pid: int | None) -> None:
        super().__init__(message)
        self.owner_pid = owner_pid
        """Pid of the owning process as recorded in its owner file, when readable."""


class EmbeddedPermissionError(EmbeddedServerError):
    """The system account cannot be created or cannot reach the data folder or the binaries."""

    code = "embedded_permission"


class MigrationError(StorageError):
    """A migration failed, or the database has a migration this code does not know."""

    code = "migration_failed"


class MigrationChecksumError(MigrationError):
    """A migration that is already applied was edited afterwards; applied files must never change."""

    code = "migration_checksum"


class NotFoundError(StorageError):
    """The requested row does not exist (raised by repositories, not mapped from a SQLSTATE)."""

    code = "not_found"


class QueryError(StorageError):
    """PostgreSQL rejected a statement; ``sqlstate`` is the five-character SQLSTATE."""

    code = "query_failed"

    def __init__(self, message: str, *, sqlstate: str | None = None, constraint: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        """SQLSTATE reported by the server, e.g. ``23505``."""
        self.constraint = constraint
        """Name of the violated constraint, when the server reports one."""


class ConflictError(QueryError):
    """A unique or exclusion constraint rejected the row: it already exists."""

    code = "conflict"


class IntegrityError(QueryError):
    """A foreign key, NOT NULL or CHECK constraint rejected the row."""

    code = "integrity_violation"


class InvalidDataError(QueryError):
    """A value is out of range or malformed for its column type."""

    code = "invalid_data"


class RetryableError(QueryError):
    """The transaction was rolled back by a serialization failure or deadlock; run it again."""

    code = "retryable"


class ReadOnlyError(QueryError):
    """A statement tried to write inside a read-only transaction."""

    code = "read_only"
