"""Decide which PostgreSQL server a process uses: an external DSN, or the embedded one.

With ``StorageSettings.dsn`` set nothing is started. Otherwise the embedded server of
``Settings.pg_data_dir`` is used, and the process either *owns* it or *attaches* to it:

* if no live Klyuch process owns the data folder, this one starts the server (recovering a stale
  one) and stops it when the context exits;
* if a live process owns it (``klyuch serve``'s parent, with hypercorn workers attaching; or
  ``klyuch db migrate`` run next to a running server), this one waits for that server to be ready
  and connects to it. An attached process does not stop the server; if the owner stops it, the
  attached process's operations fail with ``StorageUnavailableError``.

Processes that must be the owner (the one that outlives the workers) use ``EmbeddedServer`` directly;
its ``start()`` raises ``EmbeddedServerBusyError`` when someone else owns the folder.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from config.settings import Settings
from storage.embedded import EmbeddedServer, ServerAddress, attach_address
from storage.errors import EmbeddedServerBusyError, StorageUnavailableError

MAINTENANCE_DATABASE = "postgres"
"""Database that always exists, used to create the application database."""


@dataclass(frozen=True, slots=True)
class Target:
    """The server a process talks to."""

    dsn: str
    """DSN of the application database."""
    admin_dsn: str | None
    """DSN of the maintenance database when Klyuch manages the server (embedded), else None."""
    owned: bool
    """True when this process started the embedded server and will stop it."""


@asynccontextmanager
async def open_target(settings: Settings) -> AsyncIterator[Target]:
    """Yield the target for ``settings``; an owned embedded server is stopped on exit."""
    if settings.storage.dsn is not None:
        yield Target(dsn=settings.storage.dsn.get_secret_value(), admin_dsn=None, owned=False)
        return
    server, address = await trio.to_thread.run_sync(own_or_attach, settings)
    try:
        yield Target(
            dsn=address.dsn(settings.storage.database),
            admin_dsn=address.dsn(MAINTENANCE_DATABASE),
            owned=server is not None,
        )
    finally:
        if server is not None:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(server.stop)


def own_or_attach(settings: Settings) -> tuple[EmbeddedServer | None, ServerAddress]:
    """Start the embedded server if nobody owns it, else wait for the owner's (blocking)."""
    deadline = time.monotonic() + settings.storage.start_timeout_s
    while True:
        server = EmbeddedServer(settings.pg_data_dir, settings.storage)
        try:
            return server, server.start()
        except EmbeddedServerBusyError:
            pass
        try:
            return None, attach_address(settings.pg_data_dir, timeout_s=max(0.0, deadline - time.monotonic()))
        except StorageUnavailableError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)  # the owner went away between our two looks: try to become the owner
