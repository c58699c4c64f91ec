"""``Database.run_batched``: concurrent callers share a statement and a commit, each gets its own outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import asyncpg
import outcome
import pydantic
import pytest
import trio
import trio.testing

from config.settings import Settings, StorageSettings
from storage import Connection, Database, open_database
from storage.errors import ConflictError
from storage.group import GroupCommitter

CALLERS = 40


async def _put(conn: Connection, pairs: Sequence[tuple[str, str]]) -> list[str]:
    """A batched unit: every pair in one statement."""
    await conn.execute(
        "INSERT INTO kv (key, value) SELECT k, to_jsonb(v) FROM unnest($1::text[], $2::text[]) AS t(k, v)",
        [key for key, _ in pairs],
        [value for _, value in pairs],
    )
    return [f"{key}={value}" for key, value in pairs]


async def _keys(conn: Connection, prefix: str) -> set[str]:
    rows = await conn.fetch("SELECT key FROM kv WHERE key LIKE $1", prefix + "%")
    return {row["key"] for row in rows}


async def _slow_put(conn: Connection, keys: Sequence[str]) -> list[None]:
    await conn.execute("SELECT pg_sleep(0.3)")
    await _put(conn, [(key, "slow") for key in keys])
    return [None for _ in keys]


async def test_a_lone_caller_commits_and_gets_its_result(db: Database) -> None:
    assert await db.run_batched(_put, ("lone", "1")) == "lone=1"
    assert await db.run_readonly(_keys, "lone") == {"lone"}
    assert db.group_commits.groups == 1


async def test_concurrent_callers_share_groups_and_each_gets_its_own_result(db: Database) -> None:
    results: dict[int, str] = {}

    async def caller(i: int) -> None:
        results[i] = await db.run_batched(_put, (f"c{i}", str(i)))

    async with trio.open_nursery() as nursery:
        for i in range(CALLERS):
            nursery.start_soon(caller, i)
    assert results == {i: f"c{i}={i}" for i in range(CALLERS)}
    assert await db.run_readonly(_keys, "c") == {f"c{i}" for i in range(CALLERS)}
    assert db.group_commits.units == CALLERS
    assert db.group_commits.groups < CALLERS  # they coalesced


async def test_a_unit_returning_the_wrong_number_of_results_fails_its_callers(db: Database) -> None:
    async def short(conn: Connection, args: Sequence[int]) -> list[int]:
        return []

    async def caller(i: int) -> None:
        with pytest.raises(ValueError, match="returned 0 results for 1 arg"):
            await db.run_batched(short, i)

    async with trio.open_nursery() as nursery:
        for i in range(5):
            nursery.start_soon(caller, i)


async def test_a_failing_unit_fails_alone_and_the_others_commit(db: Database) -> None:
    await db.run(_put, [("dup", "0")])
    outcomes: dict[str, object] = {}

    async def caller(key: str) -> None:
        try:
            outcomes[key] = await db.run_batched(_put, (key, "1"))
        except ConflictError as exc:
            outcomes[key] = exc

    async with trio.open_nursery() as nursery:
        for i in range(10):
            nursery.start_soon(caller, f"ok{i}")
        nursery.start_soon(caller, "dup")
    assert isinstance(outcomes.pop("dup"), ConflictError)
    assert outcomes == {f"ok{i}": f"ok{i}=1" for i in range(10)}
    assert await db.run_readonly(_keys, "ok") == {f"ok{i}" for i in range(10)}


async def test_a_caller_s_own_exception_passes_through(db: Database) -> None:
    class Boom(Exception):
        pass

    async def fail(conn: Connection, args: Sequence[None]) -> list[None]:
        await _put(conn, [("boom", "1")])
        raise Boom

    with pytest.raises(Boom):
        await db.run_batched(fail, None)
    assert await db.run_readonly(_keys, "boom") == set()
    assert await db.run_batched(_put, ("after", "1")) == "after=1"  # the kept connection is clean


@pytest.fixture
async def one_flow_db(pg_settings: Settings) -> AsyncIterator[Database]:
    storage = pg_settings.storage.model_copy(update={"group_commit_flows": 1})
    async with open_database(pg_settings.model_copy(update={"storage": storage})) as database:
        yield database


async def test_a_cancelled_queued_caller_is_withdrawn_and_the_group_goes_on(one_flow_db: Database) -> None:
    db = one_flow_db
    async with trio.open_nursery() as nursery:
        nursery.start_soon(db.run_batched, _slow_put, "first")
        await trio.sleep(0.05)  # the first group is in flight: the next callers queue
        with trio.move_on_after(0.05) as scope:
            await db.run_batched(_put, ("withdrawn", "1"))
        assert scope.cancelled_caught
        assert await db.run_batched(_put, ("after", "1")) == "after=1"
    assert await db.run_readonly(_keys, "") >= {"first", "after"}
    assert "withdrawn" not in await db.run_readonly(_keys, "")


async def test_a_leader_cancelled_mid_group_finishes_it_and_returns(one_flow_db: Database) -> None:
    db = one_flow_db
    with trio.move_on_after(0.05):
        await db.run_batched(_slow_put, "leader")
        reached = True  # like a unit that committed just before the cancellation arrived
    assert reached
    assert await db.run_readonly(_keys, "leader") == {"leader"}


def test_flows_cannot_exceed_the_pool() -> None:
    with pytest.raises(pydantic.ValidationError, match="group_commit_flows"):
        StorageSettings(pool_max_size=2, group_commit_flows=3)


def test_asyncpg_is_what_units_see() -> None:
    assert Connection is asyncpg.Connection


async def test_many_waves_of_callers_never_lose_a_flow(db: Database) -> None:
    # Two groups finishing in the same scheduling round must hand their flows to two different
    # waiters; handing both to the oldest would lose a flow each time, and finally every flow.
    done = 0

    async def caller(i: int) -> None:
        nonlocal done
        await db.run_batched(_put, (f"w{i}", "1"))
        done += 1

    with trio.fail_after(60):
        for wave in range(5):
            async with trio.open_nursery() as nursery:
                for i in range(100):
                    nursery.start_soon(caller, wave * 100 + i)
    assert done == 500
    assert db.group_commits._leading == 0  # every flow was given back


class _GatedGroups:
    """A ``run_group`` of our own (no database): records each group's arguments; group n waits for
    ``gates[n]`` (later groups run at once)."""

    def __init__(self, gates: Sequence[trio.Event]) -> None:
        self.gates = gates
        self.groups: list[list[object]] = []

    async def run_group(self, jobs: Sequence[tuple[object, object]]) -> list[outcome.Outcome[object]]:
        self.groups.append([arg for _, arg in jobs])
        if len(self.groups) <= len(self.gates):
            await self.gates[len(self.groups) - 1].wait()
        return [outcome.Value(arg) for _, arg in jobs]


async def _never_called(conn: object, args: Sequence[object]) -> list[object]:
    raise AssertionError("never called: run_group stands in for the executor")


async def _start_callers(nursery: trio.Nursery, committer: GroupCommitter, results: list[object]) -> None:
    """Callers 0..3, each started once the ones before it are parked."""

    async def caller(i: int) -> None:
        results.append(await committer.run(_never_called, i))

    for i in range(4):
        nursery.start_soon(caller, i)
        await trio.testing.wait_all_tasks_blocked()


@pytest.mark.parametrize("attempt", range(40))
async def test_two_groups_finishing_together_wake_two_successors(attempt: int) -> None:
    # Driven by a run_group of our own (no database): both groups in flight end in one scheduling
    # round, so both leaders hand over before any successor has run. Trio runs the two woken
    # successors in a random order; when the younger runs first it leads the older one's job too,
    # and the older one must still give its flow back. Repeated so both orders are seen.
    release = trio.Event()
    stand_in = _GatedGroups([release, release])
    committer = GroupCommitter(stand_in.run_group, max_units=1, flows=2)
    results: list[object] = []
    async with trio.open_nursery() as nursery:
        await _start_callers(nursery, committer, results)
        assert committer._leading == 2
        release.set()
    assert sorted(results) == [0, 1, 2, 3]  # type: ignore[type-var]
    assert committer._leading == 0


async def test_a_successor_whose_job_another_successor_took_waits_and_runs_no_empty_group() -> None:
    # flows=2: two leaders finish together and elect two successors; the first takes both queued
    # jobs. The second must wait for that group, not run an empty one (which never checkpoints here).
    gates = [trio.Event() for _ in range(3)]
    stand_in = _GatedGroups(gates)
    committer = GroupCommitter(stand_in.run_group, max_units=10, flows=2)
    results: list[object] = []
    async with trio.open_nursery() as nursery:
        await _start_callers(nursery, committer, results)  # 0 and 1 lead their own groups; 2 and 3 queue
        gates[0].set()
        gates[1].set()  # both leaders finish before either successor runs
        await trio.testing.wait_all_tasks_blocked()
        assert stand_in.groups == [[0], [1], [2, 3]]
        gates[2].set()
    assert sorted(results) == [0, 1, 2, 3]  # type: ignore[type-var]
    assert committer._leading == 0
