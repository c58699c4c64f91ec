"""Apply the versioned SQL files of ``storage/migrations`` (asyncio side).

* ``schema_migrations(version, name, checksum, applied_at)`` records what is applied.
* A session advisory lock serialises workers that start at the same moment: the first applies, the
  others wait and then find nothing to do.
* Each file runs in its own transaction together with its record: a failing file leaves no trace.
* Before applying anything, every recorded file is checked: an applied file whose SHA-256 changed
  raises ``MigrationChecksumError``; a recorded version with no file (a database newer than this
  code) raises ``MigrationError``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from storage.errors import MigrationChecksumError, MigrationError
from storage.sqlstate import translated

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
"""Folder of the SQL files shipped with Klyuch."""

FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
"""Accepted migration file names."""

LOCK_KEY = 0x6B6C_7975_6368_0001  # "klyuch" + 1: any constant no other code uses
"""Key of the session advisory lock that serialises migration runs."""

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file."""

    version: str
    """Four-digit version, e.g. ``0001``."""
    name: str
    """Descriptive part of the file name."""
    sql: str
    """The file's text, run as one simple-protocol batch."""
    checksum: str
    """SHA-256 of the file's bytes, hex."""


def load_migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read the migrations in ``folder`` sorted by version; a stray ``.sql`` name is an error."""
    found: dict[str, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"migration file {path.name!r} is not named NNNN_snake_case.sql")
        version = match["version"]
        if version in found:
            raise MigrationError(f"two migration files have version {version}")
        data = path.read_bytes()
        found[version] = Migration(version, match["name"], data.decode(), hashlib.sha256(data).hexdigest())
    return [found[v] for v in sorted(found)]


async def apply_migrations(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    """Apply what ``conn``'s database lacks; return the versions applied now, in order."""
    with translated():
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        try:
            await conn.execute(CREATE_TABLE)
            applied = {
                r["version"]: r["checksum"] for r in await conn.fetch("SELECT * FROM schema_migrations")
            }
            _check_applied(applied, migrations)
            done = []
            for migration in migrations:
                if migration.version not in applied:
                    await _apply(conn, migration)
                    done.append(migration.version)
            return done
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


def _check_applied(applied: dict[str, str], migrations: list[Migration]) -> None:
    known = {m.version: m for m in migrations}
    unknown = sorted(set(applied) - set(known))
    if unknown:
        raise MigrationError(
            f"the database has migrations this Klyuch does not know ({', '.join(unknown)}): "
            "it was migrated by a newer Klyuch"
        )
    edited = sorted(v for v, checksum in applied.items() if known[v].checksum != checksum)
    if edited:
        names = ", ".join(f"{v}_{known[v].name}.sql" for v in edited)
        raise MigrationChecksumError(
            f"applied migration files were edited afterwards ({names}); restore them and add a new migration"
        )


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    try:
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"migration {migration.version}_{migration.name}.sql failed: {exc}") from exc
