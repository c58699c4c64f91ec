"""``open_database``: everything a process needs to use PostgreSQL from trio, opened and closed in order.

Opening: server target (external DSN, or embedded: own or attach, see ``storage.target``) → storage
event loop thread → application database created if embedded and missing → asyncpg pool →
migrations. Closing runs the same steps backwards, shielded from cancellation and bounded in time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from config.settings import Settings, StorageSettings
from storage.admin import connect_admin, ensure_database
from storage.bridge import AsyncioThread
from storage.database import Database
from storage.migrator import MIGRATIONS_DIR, apply_migrations, load_migrations
from storage.sqlstate import translated
from storage.target import open_target

APPLICATION_NAME = "klyuch"
"""``application_name`` of every pooled connection (shows in ``pg_stat_activity``)."""


@asynccontextmanager
async def open_database(
    settings: Settings, *, migrate: bool = True, migrations_dir: Path = MIGRATIONS_DIR
) -> AsyncIterator[Database]:
    """Open the database of ``settings`` for the calling trio run, applying migrations unless told not to."""
    storage = settings.storage
    async with open_target(settings) as target:
        bridge = AsyncioThread()
        bridge.start()
        try:
            if target.admin_dsn is not None:
                await bridge.run(_ensure_database, target.admin_dsn, storage)
            pool = await bridge.run(_create_pool, target.dsn, storage)
            db = Database(bridge, pool, storage, target.dsn)
            try:
                if migrate:
                    db.applied_migrations = tuple(await bridge.run(_migrate, pool, migrations_dir))
                yield db
            finally:
                await db.close()
        finally:
            bridge.stop()


async def migrate(settings: Settings) -> list[str]:
    """Apply pending migrations to the database of ``settings``; return the versions applied.

    This is ``klyuch db migrate``; with an embedded server it attaches to a running one or starts its own.
    """
    async with open_database(settings) as db:
        return list(db.applied_migrations)


async def _ensure_database(admin_dsn: str, storage: StorageSettings) -> None:
    conn = await connect_admin(admin_dsn, timeout_s=storage.connect_timeout_s)
    try:
        await ensure_database(conn, storage.database)
    finally:
        await conn.close()


async def _create_pool(dsn: str, storage: StorageSettings) -> asyncpg.Pool:
    with translated():
        return await asyncpg.create_pool(
            dsn,
            min_size=storage.pool_min_size,
            max_size=storage.pool_max_size,
            timeout=storage.connect_timeout_s,
            command_timeout=storage.command_timeout_s,
            server_settings={"application_name": APPLICATION_NAME},
        )


async def _migrate(pool: asyncpg.Pool, folder: Path) -> list[str]:
    migrations = load_migrations(folder)
    async with pool.acquire() as conn:
        return await apply_migrations(conn, migrations)  # type: ignore[arg-type]
