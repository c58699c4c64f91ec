"""The shared failed-login throttle on real PostgreSQL: two ``Database`` handles on one database are
two workers. Limits hold across them, the window slides, a success clears the username key, counters
survive a new process, old rows are swept in bounded batches, and concurrent failures all count."""

from __future__ import annotations

import trio

from actors.identity.server_secret import load_server_secret
from actors.identity.throttle import SharedLoginThrottle, address_key, client_key, user_key
from config.settings import Settings
from storage import Connection, Database, open_database
from storage.repos import login_failures as repo
from tests.identity.conftest import security_settings

WINDOW_S = 60.0


class Clock:
    """Wall-clock seconds a test moves by hand (both workers read the same one)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def throttle(settings: Settings, db: Database, clock: Clock) -> SharedLoginThrottle:
    """A worker's throttle, made as the identity service makes it."""
    return SharedLoginThrottle.for_settings(
        settings.security, db, server_secret=load_server_secret(settings), clock=clock
    )


def limited(settings: Settings) -> Settings:
    """Small limits over a one-minute window."""
    return security_settings(
        settings,
        login_max_failures_per_username=3,
        login_max_failures_per_address=5,
        login_failure_window_s=WINDOW_S,
    )


async def test_limits_hold_across_two_workers(settings: Settings, db: Database) -> None:
    settings = limited(settings)
    clock = Clock()
    async with open_database(settings, migrate=False) as other_db:
        first, second = throttle(settings, db, clock), throttle(settings, other_db, clock)
        alice = [user_key("Alice"), address_key("10.0.0.1")]
        await first.record_failure(alice)
        clock.now += 1
        await second.record_failure(alice)
        assert await first.retry_after(alice) is None
        clock.now += 1
        await first.record_failure(alice)  # the third failure of user:alice, counted in two processes
        assert await second.retry_after([user_key("ALICE")]) == WINDOW_S - 2
        assert await first.retry_after([address_key("10.0.0.1")]) is None  # 3 of 5
        assert await second.retry_after([user_key("bob"), address_key("10.0.0.2")]) is None
        # The address limit covers many usernames; client ids have the username limit.
        for number in range(2):
            await (first, second)[number].record_failure(
                [user_key(f"guess{number}"), address_key("10.0.0.1")]
            )
        assert await second.retry_after([user_key("bob"), address_key("10.0.0.1")]) == WINDOW_S - 2
        for _ in range(3):
            await second.record_failure([client_key("erp"), address_key("10.0.0.3")])
        assert await first.retry_after([client_key("erp"), address_key("10.0.0.4")]) == WINDOW_S


async def test_the_window_slides(settings: Settings, db: Database) -> None:
    clock = Clock()
    shared = throttle(security_settings(settings, login_max_failures_per_username=2), db, clock)
    keys = [user_key("alice"), address_key("10.0.0.1")]
    window = settings.security.login_failure_window_s
    await shared.record_failure(keys)
    clock.now += 30
    await shared.record_failure(keys)
    assert await shared.retry_after(keys) == window - 30
    clock.now += window - 30
    assert await shared.retry_after(keys) is None  # the first failure left the window
    await shared.record_failure(keys)
    assert await shared.retry_after([user_key("alice")]) == 30


async def test_success_clears_the_username_key_only(settings: Settings, db: Database) -> None:
    clock = Clock()
    shared = throttle(security_settings(settings, login_max_failures_per_username=1), db, clock)
    keys = [user_key("alice"), address_key("10.0.0.1")]
    await shared.record_failure(keys)
    await shared.clear(user_key("ALICE"))
    assert await shared.retry_after([user_key("alice")]) is None
    assert await db.run_readonly(repo.count, shared.key_hash(address_key("10.0.0.1"))) == 1


async def test_counters_survive_a_restart(settings: Settings, db: Database) -> None:
    clock = Clock()
    settings = limited(settings)
    keys = [user_key("alice")]
    for _ in range(3):
        await throttle(settings, db, clock).record_failure(keys)
    async with open_database(settings) as restarted:
        assert await throttle(settings, restarted, clock).retry_after(keys) == WINDOW_S
    # Keys are keyed hashes: another server secret sees other keys (and a dump shows no names).
    stranger = SharedLoginThrottle(
        db, server_secret=b"x" * 32, window_s=WINDOW_S, limits={"user": 3}, clock=clock
    )
    assert await stranger.retry_after(keys) is None
    stored = await db.run_readonly(_all_key_hashes)
    assert stored == [throttle(settings, db, clock).key_hash("user:alice")] * 3
    assert all(b"alice" not in value for value in stored)


async def test_the_sweep_deletes_only_old_rows_and_is_bounded(settings: Settings, db: Database) -> None:
    clock = Clock()
    window = settings.security.login_failure_window_s
    secret = load_server_secret(settings)
    limits = {"user": 100, "addr": 100}
    sweeper = SharedLoginThrottle(
        db, server_secret=secret, window_s=window, limits=limits, clock=clock, sweep_every=4, sweep_batch=5
    )
    for _ in range(8):  # 8 old rows of user:old; the 4th and 8th failures swept nothing (too recent)
        await sweeper.record_failure([user_key("old")])
    clock.now += window + 1
    for _ in range(3):
        await sweeper.record_failure([user_key("new")])
    assert await db.run_readonly(repo.count, sweeper.key_hash("user:old")) == 8
    await sweeper.record_failure([user_key("new")])  # the 12th failure: sweeps at most 5 old rows
    assert await db.run_readonly(repo.count, sweeper.key_hash("user:old")) == 3
    for _ in range(4):
        await sweeper.record_failure([user_key("new")])
    assert await db.run_readonly(repo.count, sweeper.key_hash("user:old")) == 0
    assert await db.run_readonly(repo.count, sweeper.key_hash("user:new")) == 8


async def test_concurrent_failures_from_many_tasks_all_count(settings: Settings, db: Database) -> None:
    clock = Clock()
    settings = security_settings(settings, login_max_failures_per_username=40)
    keys = [user_key("alice"), address_key("10.0.0.1")]
    async with open_database(settings, migrate=False) as other_db:
        workers = (throttle(settings, db, clock), throttle(settings, other_db, clock))
        async with trio.open_nursery() as nursery:
            for task in range(40):
                nursery.start_soon(workers[task % 2].record_failure, keys)
        assert await db.run_readonly(repo.count, workers[0].key_hash(user_key("alice"))) == 40
        assert await workers[1].retry_after(keys) == settings.security.login_failure_window_s


async def _all_key_hashes(conn: Connection) -> list[bytes]:
    rows = await conn.fetch("SELECT key_hash FROM login_failures")
    return [bytes(row["key_hash"]) for row in rows]
