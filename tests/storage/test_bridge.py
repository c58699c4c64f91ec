"""The trio → asyncio crossing: results, errors, cancellation that waits for cleanup, shutdown."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trio

from storage import StorageUnavailableError
from storage.bridge import AsyncioThread


@pytest.fixture
def bridge() -> Iterator[AsyncioThread]:
    thread = AsyncioThread("test-bridge")
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


async def _echo(value: Any) -> tuple[Any, str]:
    await asyncio.sleep(0)
    return value, threading.current_thread().name


async def _fail() -> None:
    raise KeyError("from asyncio")


async def test_results_come_back_from_the_loop_thread(bridge: AsyncioThread) -> None:
    assert await bridge.run(_echo, 42) == (42, "test-bridge")


async def test_errors_keep_their_type(bridge: AsyncioThread) -> None:
    with pytest.raises(KeyError, match="from asyncio"):
        await bridge.run(_fail)


async def test_a_non_coroutine_function_fails_instead_of_hanging(bridge: AsyncioThread) -> None:
    def not_async() -> int:
        return 1

    with trio.fail_after(5), pytest.raises(TypeError):
        await bridge.run(not_async)  # type: ignore[arg-type]


async def test_cancellation_waits_for_the_asyncio_side_to_clean_up(bridge: AsyncioThread) -> None:
    events: list[str] = []

    async def hold() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.shield(asyncio.sleep(0.1))  # stands for a ROLLBACK round trip
            events.append("asyncio cleaned up")

    with trio.move_on_after(0.1):
        try:
            await bridge.run(hold)
        except trio.Cancelled:
            events.append("trio cancelled")
            raise
    assert events == ["asyncio cleaned up", "trio cancelled"]


async def test_work_that_finished_anyway_returns_then_cancels_at_the_next_checkpoint(
    bridge: AsyncioThread,
) -> None:
    async def stubborn() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return "done anyway"  # e.g. the COMMIT had already gone out
        return "slept"

    results: list[str] = []
    with trio.CancelScope() as scope:
        scope.deadline = trio.current_time() + 0.1
        results.append(await bridge.run(stubborn))
        await trio.lowlevel.checkpoint()
        results.append("not reached")
    assert results == ["done anyway"]
    assert scope.cancelled_caught


async def test_stopping_the_loop_fails_pending_and_later_calls(bridge: AsyncioThread) -> None:
    async def forever() -> None:
        await asyncio.sleep(3600)

    async def stop_soon() -> None:
        await trio.sleep(0.1)
        bridge.stop()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_soon)
        with trio.fail_after(5), pytest.raises(StorageUnavailableError):
            await bridge.run(forever)
    with pytest.raises(StorageUnavailableError):
        await bridge.run(_echo, 1)


def test_plain_threads_can_use_the_loop_too(bridge: AsyncioThread) -> None:
    assert bridge.run_blocking(_echo, "x", timeout=5) == ("x", "test-bridge")
