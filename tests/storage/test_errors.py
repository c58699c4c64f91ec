"""SQLSTATEs and connection failures become the storage error tree, with stable codes."""

from __future__ import annotations

import inspect

import asyncpg
import pytest

import storage.errors
from storage import (
    ConflictError,
    Connection,
    Database,
    IntegrityError,
    InvalidDataError,
    QueryError,
    RetryableError,
    StorageError,
    StorageTimeoutError,
    StorageUnavailableError,
)
from storage.sqlstate import error_for_sqlstate, translate


def test_every_error_has_its_own_stable_code() -> None:
    classes = [
        c for _, c in inspect.getmembers(storage.errors, inspect.isclass) if issubclass(c, StorageError)
    ]
    codes = [c.code for c in classes]
    assert len(classes) >= 15
    assert len(set(codes)) == len(codes)
    assert all(code.islower() and " " not in code for code in codes)


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        ("23505", ConflictError),
        ("23P01", ConflictError),
        ("23503", IntegrityError),
        ("23502", IntegrityError),
        ("22003", InvalidDataError),
        ("40001", RetryableError),
        ("40P01", RetryableError),
        ("57014", StorageTimeoutError),
        ("57P01", StorageUnavailableError),
        ("53300", StorageUnavailableError),
        ("08006", StorageUnavailableError),
        ("42601", QueryError),
        ("XX000", QueryError),
    ],
)
def test_sqlstate_classes(sqlstate: str, expected: type[StorageError]) -> None:
    assert error_for_sqlstate(sqlstate) is expected


def test_foreign_exceptions_are_not_translated() -> None:
    assert translate(ValueError("mine")) is None
    assert isinstance(translate(ConnectionRefusedError()), StorageUnavailableError)
    assert isinstance(translate(TimeoutError()), StorageTimeoutError)


async def _setup(conn: Connection) -> None:
    await conn.execute(
        """
        CREATE TABLE parent (id int PRIMARY KEY);
        CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id),
                            amount smallint CHECK (amount >= 0));
        INSERT INTO parent VALUES (1);
        """
    )


async def _raise_sqlstate(conn: Connection, sqlstate: str) -> None:
    await conn.execute(f"DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '{sqlstate}'; END $$")


@pytest.mark.parametrize(
    ("sql", "expected", "sqlstate"),
    [
        ("INSERT INTO parent VALUES (1)", ConflictError, "23505"),
        ("INSERT INTO child VALUES (1, 99, 0)", IntegrityError, "23503"),
        ("INSERT INTO child (id) VALUES (2)", IntegrityError, "23502"),
        ("INSERT INTO child VALUES (3, 1, -1)", IntegrityError, "23514"),
        ("INSERT INTO child VALUES (4, 1, 100000)", InvalidDataError, "22003"),
        ("SELEC 1", QueryError, "42601"),
    ],
)
async def test_real_server_errors_are_mapped(
    db: Database, sql: str, expected: type[QueryError], sqlstate: str
) -> None:
    await db.run(_setup)

    async def execute(conn: Connection) -> None:
        await conn.execute(sql)

    with pytest.raises(expected) as info:
        await db.run(execute)
    assert type(info.value) is expected
    assert info.value.sqlstate == sqlstate
    assert isinstance(info.value.__cause__, asyncpg.PostgresError)


async def test_constraint_name_is_kept(db: Database) -> None:
    await db.run(_setup)

    async def duplicate(conn: Connection) -> None:
        await conn.execute("INSERT INTO parent VALUES (1)")

    with pytest.raises(ConflictError) as info:
        await db.run(duplicate)
    assert info.value.constraint == "parent_pkey"
    assert info.value.code == "conflict"


async def test_serialization_failure_is_retryable(db: Database) -> None:
    with pytest.raises(RetryableError) as info:
        await db.run(_raise_sqlstate, "40001")
    assert info.value.code == "retryable"


async def test_a_value_asyncpg_cannot_encode_is_invalid_data(db: Database) -> None:
    async def bad_parameter(conn: Connection) -> None:
        await conn.fetchval("SELECT $1::int", "not a number")

    with pytest.raises(InvalidDataError):
        await db.run(bad_parameter)


async def test_a_killed_backend_is_unavailable_and_the_pool_recovers(db: Database) -> None:
    async def kill_myself(conn: Connection) -> None:
        await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with pytest.raises(StorageUnavailableError):
        await db.run(kill_myself)
    assert await db.ping() > 0  # the broken connection was discarded, a new one made
