"""LISTEN/NOTIFY across two ``Database`` instances (each models a worker process)."""

from __future__ import annotations

import pytest
import trio

from config.settings import Settings
from storage import Connection, Database, open_database


async def _terminate_listeners(conn: Connection) -> int:
    count: int = await conn.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'klyuch-listen'"
    )
    return count


async def _receive(channel: trio.MemoryReceiveChannel[str], n: int) -> list[str]:
    with trio.fail_after(5):
        return [await channel.receive() for _ in range(n)]


async def test_notify_from_one_worker_reaches_another(db: Database, pg_settings: Settings) -> None:
    async with open_database(pg_settings) as other, other.listen("op_42") as payloads:
        for i in range(20):
            await db.notify("op_42", f"m{i}")
        assert await _receive(payloads, 20) == [f"m{i}" for i in range(20)]  # in order


async def test_each_subscriber_gets_its_own_copy_and_other_channels_stay_apart(
    db: Database, pg_settings: Settings
) -> None:
    async with (
        open_database(pg_settings) as other,
        other.listen("a") as first,
        other.listen("a") as second,
        other.listen("b") as third,
    ):
        await db.notify("a", "to-a")
        await db.notify("b", "to-b")
        assert await _receive(first, 1) == ["to-a"]
        assert await _receive(second, 1) == ["to-a"]
        assert await _receive(third, 1) == ["to-b"]


async def test_notify_inside_a_unit_is_sent_on_commit_only(db: Database, pg_settings: Settings) -> None:
    async def notify_then_fail(conn: Connection) -> None:
        await conn.execute("SELECT pg_notify('tx', 'rolled-back')")
        raise RuntimeError("abort")

    async def notify(conn: Connection) -> None:
        await conn.execute("SELECT pg_notify('tx', 'committed')")

    async with open_database(pg_settings) as other, other.listen("tx") as payloads:
        with pytest.raises(RuntimeError):
            await db.run(notify_then_fail)
        await db.run(notify)
        assert await _receive(payloads, 1) == ["committed"]
        with trio.move_on_after(0.2):
            extra = await payloads.receive()
            pytest.fail(f"unexpected payload {extra!r}")


async def test_after_unsubscribing_nothing_more_arrives(db: Database, pg_settings: Settings) -> None:
    async with open_database(pg_settings) as other:
        async with other.listen("gone") as payloads:
            await db.notify("gone", "first")
            assert await _receive(payloads, 1) == ["first"]
        async with other.listen("gone") as again:
            await db.notify("gone", "second")
            assert await _receive(again, 1) == ["second"]


async def test_a_full_buffer_drops_rather_than_blocks(db: Database, pg_settings: Settings) -> None:
    async with open_database(pg_settings) as other, other.listen("busy", buffer=2) as payloads:
        for i in range(5):
            await db.notify("busy", str(i))
        await db.notify("busy", "sync")  # wait until everything before it was handed over
        await trio.sleep(0.2)
        got = [payloads.receive_nowait() for _ in range(2)]
        assert got == ["0", "1"]
        with pytest.raises(trio.WouldBlock):
            payloads.receive_nowait()


async def test_losing_the_listen_connection_ends_the_channel(db: Database, pg_settings: Settings) -> None:
    async with open_database(pg_settings) as other:
        async with other.listen("fragile") as payloads:
            assert await db.run(_terminate_listeners) == 1
            with trio.fail_after(5):
                remaining = [p async for p in payloads]  # ends instead of hanging
            assert remaining == []
        async with other.listen("fragile") as again:  # the next subscription reconnects
            await db.notify("fragile", "back")
            assert await _receive(again, 1) == ["back"]


async def test_concurrent_subscriptions_share_one_listen_connection(
    db: Database, pg_settings: Settings
) -> None:
    async def listeners(conn: Connection) -> int:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'klyuch-listen'"
        )
        return count

    got: list[str] = []
    subscribed = 0
    all_in = trio.Event()
    async with open_database(pg_settings) as other:

        async def subscriber() -> None:
            nonlocal subscribed
            async with other.listen("crowd") as payloads:
                subscribed += 1
                if subscribed == 10:
                    all_in.set()
                got.append(await payloads.receive())

        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(subscriber)
            with trio.fail_after(5):
                await all_in.wait()
            assert await db.run(listeners) == 1
            await db.notify("crowd", "hello")
    assert got == ["hello"] * 10


async def test_payloads_holding_the_skip_text_never_arrive(db: Database, pg_settings: Settings) -> None:
    async with (
        open_database(pg_settings) as other,
        other.listen("own", skip_containing="|me|") as filtered,
        other.listen("own") as everything,
    ):
        for payload in ("from |me| 1", "from you", "from |me| 2", "last"):
            await db.notify("own", payload)
        assert await _receive(filtered, 2) == ["from you", "last"]
        assert await _receive(everything, 4) == ["from |me| 1", "from you", "from |me| 2", "last"]
