"""Cluster-level statements that run outside any database transaction (asyncio side).

``CREATE DATABASE`` and ``DROP DATABASE`` cannot run inside a transaction block, so these helpers take
a plain connection to a maintenance database (``postgres``) instead of going through ``Database``.
They are coroutine functions for the storage event loop (``AsyncioThread``).
"""

from __future__ import annotations

import asyncpg

from storage.sqlstate import translated


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (database, role or channel name)."""
    return '"' + name.replace('"', '""') + '"'


async def connect_admin(admin_dsn: str, *, timeout_s: float) -> asyncpg.Connection:
    """Open a plain connection for the statements below; the caller closes it."""
    with translated():
        return await asyncpg.connect(admin_dsn, timeout=timeout_s)


async def ensure_database(conn: asyncpg.Connection, name: str) -> bool:
    """Create database ``name`` unless it exists; True when this call created it."""
    with translated():
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
        except asyncpg.DuplicateDatabaseError:
            return False  # created concurrently by another worker
    return True


async def create_database(conn: asyncpg.Connection, name: str, *, template: str | None = None) -> None:
    """Create database ``name``, as a copy of ``template`` when given (no one may be connected to it)."""
    sql = f"CREATE DATABASE {quote_ident(name)}"
    if template is not None:
        sql += f" TEMPLATE {quote_ident(template)}"
    with translated():
        await conn.execute(sql)


async def drop_database(conn: asyncpg.Connection, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting whoever is still connected to it."""
    with translated():
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
