"""The writer process (``storage.writer``): offloaded groups stored exactly as in process, through faults."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import pytest
import trio

from config import Settings
from storage import Connection, Database, IntegrityError, open_database
from storage.repos import operations as repo
from storage.repos.finished import prepare_finished, write_finished
from storage.repos.identity import NewUser, insert_user
from storage.writer import frames
from storage.writer.errors import WriterProtocolError
from storage.writer.link import WriterLink
from tests.storage.finished_support import finished_operation, store_all

UP_TIMEOUT_S = 20.0


async def _user(db: Database) -> UUID:
    row = await db.run(insert_user, NewUser(username=f"u{uuid.uuid4().hex[:12]}", role="user"))
    return row.id


@pytest.fixture
def writer_settings(pg_settings: Settings) -> Settings:
    """``pg_settings`` with a short reply timeout, so a hung writer is noticed within the test."""
    storage = pg_settings.storage.model_copy(update={"writer_reply_timeout_s": 3.0, "command_timeout_s": 2.0})
    return pg_settings.model_copy(update={"storage": storage})


@pytest.fixture
async def offloading(writer_settings: Settings) -> AsyncIterator[tuple[Database, WriterLink]]:
    """An open database with a writer process that is up."""
    async with open_database(writer_settings) as db, db.offloading():
        assert db.writer is not None
        with trio.fail_after(UP_TIMEOUT_S):
            await db.writer.wait_up()
        yield db, db.writer


async def test_offloaded_rows_are_what_the_worker_answers(offloading: tuple[Database, WriterLink]) -> None:
    db, _ = offloading
    user_id = await _user(db)
    entries = [finished_operation(user_id, 1 + i % 3) for i in range(40)]
    outcomes = await store_all(db, entries)
    assert db.offloaded_commits.groups > 0
    assert db.offload_fallbacks == 0
    for entry in entries:
        row = outcomes[entry.op.id]
        assert isinstance(row, repo.OperationRow)
        assert await db.run_readonly(repo.get_operation, entry.op.id) == row  # times to the microsecond
        stored = await db.run_readonly(repo.get_items, entry.op.id)
        assert [(item.idx, item.digest, item.result) for item in stored] == [
            (item.idx, item.digest, bytes([item.idx]) * 64) for item in entry.items
        ]


async def test_a_bad_operation_fails_alone_with_its_own_error(
    offloading: tuple[Database, WriterLink],
) -> None:
    db, _ = offloading
    user_id = await _user(db)
    good = [finished_operation(user_id) for _ in range(6)]
    bad = finished_operation(uuid.uuid4())  # no such user: the foreign key refuses it
    outcomes = await store_all(db, [*good[:3], bad, *good[3:]])
    error = outcomes.pop(bad.op.id)
    assert isinstance(error, IntegrityError)
    assert error.sqlstate == "23503"
    assert all(isinstance(row, repo.OperationRow) for row in outcomes.values())
    assert db.offload_fallbacks == 0
    assert await db.run_readonly(repo.get_operation, bad.op.id) is None


async def test_a_killed_writer_loses_nothing_and_is_replaced(offloading: tuple[Database, WriterLink]) -> None:
    db, link = offloading
    user_id = await _user(db)
    first_pid = link.pid
    assert first_pid is not None
    entries = [finished_operation(user_id) for _ in range(300)]

    async def kill_soon() -> None:
        while db.offloaded_commits.groups < 3:  # noqa: ASYNC110 - a counter, no event to wait on
            await trio.sleep(0.001)
        os.kill(first_pid, signal.SIGKILL)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(kill_soon)
        outcomes = await store_all(db, entries)
    assert all(isinstance(row, repo.OperationRow) for row in outcomes.values())
    count = await db.run_readonly(_count_operations, [entry.op.id for entry in entries])
    assert count == len(entries)  # each exactly once, retried groups included
    with trio.fail_after(UP_TIMEOUT_S):
        while link.pid in (None, first_pid):  # noqa: ASYNC110 - polls the replacement's pid
            await trio.sleep(0.05)
    assert link.starts == 2
    fallbacks = db.offload_fallbacks
    again = await store_all(db, [finished_operation(user_id) for _ in range(3)])
    assert all(isinstance(row, repo.OperationRow) for row in again.values())
    assert db.offload_fallbacks == fallbacks  # the new writer took them


async def test_a_hung_writer_is_routed_around_and_replaced(offloading: tuple[Database, WriterLink]) -> None:
    db, link = offloading
    user_id = await _user(db)
    stopped = link.pid
    assert stopped is not None
    os.kill(stopped, signal.SIGSTOP)
    try:
        with trio.fail_after(10):
            outcomes = await store_all(db, [finished_operation(user_id) for _ in range(5)])
        assert all(isinstance(row, repo.OperationRow) for row in outcomes.values())
        assert db.offload_fallbacks >= 1
        with trio.fail_after(UP_TIMEOUT_S):
            while link.pid in (None, stopped):  # noqa: ASYNC110 - polls the replacement's pid
                await trio.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):  # killed and reaped by the link already
            os.kill(stopped, signal.SIGKILL)


async def test_without_a_writer_groups_run_in_the_worker(pg_settings: Settings) -> None:
    async with open_database(pg_settings) as db:
        user_id = await _user(db)
        outcomes = await store_all(db, [finished_operation(user_id) for _ in range(5)])
        assert all(isinstance(row, repo.OperationRow) for row in outcomes.values())
        assert db.offloaded_commits.groups == 0


async def test_an_applied_group_applied_again_changes_nothing(db: Database) -> None:
    user_id = await _user(db)
    entry = finished_operation(user_id)
    wires, (row,) = prepare_finished([entry])
    await db.run(write_finished, wires)
    await db.run(write_finished, wires)  # as after a writer died before answering
    assert await db.run_readonly(repo.get_operation, entry.op.id) == row
    assert len(await db.run_readonly(repo.get_items, entry.op.id)) == len(entry.items)


def test_a_frame_body_may_not_name_a_class_or_function() -> None:
    assert frames.load(pickle.dumps(("insert_finished", [(b"\x01", 1, 2.5, None, True, "x")]))) == (
        "insert_finished",
        [(b"\x01", 1, 2.5, None, True, "x")],
    )
    for forbidden in (datetime.now(UTC), uuid.uuid4(), os.system):
        with pytest.raises(WriterProtocolError):
            frames.load(pickle.dumps(forbidden))
    with pytest.raises(WriterProtocolError):
        frames.load(b"not a pickle")


def test_frame_lengths_are_checked_before_reading() -> None:
    with pytest.raises(WriterProtocolError):
        frames.body_length(1 << 30, 1 << 20)
    with pytest.raises(WriterProtocolError):
        frames.body_length(2, 1 << 20)
    assert frames.body_length(frames.ID_SIZE + 10, 1 << 20) == 10


def test_a_finished_operation_must_be_final() -> None:
    with pytest.raises(ValueError, match="completed or failed"):
        finished_operation(uuid.uuid4(), state="executing")


async def _count_operations(conn: Connection, ids: list[UUID]) -> int:
    value: int = await conn.fetchval("SELECT count(*) FROM operations WHERE id = ANY($1::uuid[])", ids)
    return value
