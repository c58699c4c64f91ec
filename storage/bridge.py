"""One asyncio event loop in its own thread, and the crossing from trio into it.

asyncpg needs asyncio; Klyuch runs on trio. Measured best (FACTS.md): one asyncio loop per process
in a dedicated thread, one crossing per unit of work. ``AsyncioThread.run`` schedules a coroutine
function on the loop with ``call_soon_threadsafe`` and parks the trio task; the asyncio task's done
callback hands the outcome back with ``TrioToken.run_sync_soon(trio.lowlevel.reschedule, ...)``.

Cancellation: when the trio caller is cancelled, the asyncio task is cancelled and the trio task
keeps waiting (``Abort.FAILED``) until that task has really finished, so whatever the coroutine
holds (a transaction, a pooled connection) is rolled back and returned before trio sees
``Cancelled``. If the coroutine finished anyway (it completed before the cancellation reached it),
its result is returned and trio raises ``Cancelled`` at the caller's next checkpoint, as trio's
rules allow for an operation that already happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, TypeVarTuple, Unpack

import outcome
import trio

from storage.errors import StorageUnavailableError

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class _Cancelled:
    """Marker outcome: the asyncio task ended cancelled."""


_CANCELLED = _Cancelled()


class AsyncioThread:
    """An asyncio event loop running forever in a daemon thread until ``stop()``."""

    def __init__(self, name: str = "klyuch-asyncio") -> None:
        self.name = name
        """Thread name (shows in tracebacks and ``py-spy``)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop; only valid between ``start()`` and ``stop()``."""
        if self._loop is None:
            raise StorageUnavailableError("the storage event loop is not running")
        return self._loop

    def start(self) -> None:
        """Start the thread and return once its loop runs."""
        loop = asyncio.new_event_loop()
        running = threading.Event()
        loop.call_soon(running.set)
        self._thread = threading.Thread(target=self._main, args=(loop,), name=self.name, daemon=True)
        self._thread.start()
        running.wait()
        self._loop = loop

    def stop(self) -> None:
        """Cancel what still runs on the loop, stop it and join the thread; idempotent."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()

    @staticmethod
    def _main(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()  # their trio waiters get StorageUnavailableError
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def run(self, fn: Callable[[Unpack[Ts]], Coroutine[Any, Any, T]], *args: *Ts) -> T:
        """Run ``fn(*args)`` on the loop and return its result to the calling trio task."""
        loop = self.loop
        token = trio.lowlevel.current_trio_token()
        trio_task = trio.lowlevel.current_task()
        holder: list[asyncio.Task[T]] = []

        def deliver(task: asyncio.Task[T]) -> None:  # on the asyncio thread
            result: outcome.Outcome[Any]
            if task.cancelled():
                result = outcome.Value(_CANCELLED)
            elif (exc := task.exception()) is not None:
                result = outcome.Error(exc)
            else:
                result = outcome.Value(task.result())
            with contextlib.suppress(trio.RunFinishedError):  # the trio run is gone: nobody waits
                token.run_sync_soon(trio.lowlevel.reschedule, trio_task, result)

        def launch() -> None:  # on the asyncio thread
            try:
                task = loop.create_task(fn(*args))
            except BaseException as exc:  # fn is not a coroutine function: report, never hang
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(trio.lowlevel.reschedule, trio_task, outcome.Error(exc))
                return
            holder.append(task)
            task.add_done_callback(deliver)

        def cancel() -> None:  # on the asyncio thread, always after launch (FIFO)
            if holder:
                holder[0].cancel()

        def abort(_: Any) -> trio.lowlevel.Abort:
            # A closed loop has already cancelled every task, and their results are on their way.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(cancel)
            return trio.lowlevel.Abort.FAILED

        try:
            loop.call_soon_threadsafe(launch)
        except RuntimeError as exc:  # loop closed under us
            raise StorageUnavailableError("the storage event loop has stopped") from exc
        value = await trio.lowlevel.wait_task_rescheduled(abort)
        if value is _CANCELLED:
            await trio.lowlevel.checkpoint()  # raises Cancelled when trio asked for it
            raise StorageUnavailableError("the storage event loop stopped during the operation")
        result: T = value
        return result

    def run_blocking(
        self,
        fn: Callable[[Unpack[Ts]], Coroutine[Any, Any, T]],
        *args: *Ts,
        timeout: float | None = None,
    ) -> T:
        """Run ``fn(*args)`` on the loop from a plain thread (not trio, not the loop) and wait."""
        future = asyncio.run_coroutine_threadsafe(fn(*args), self.loop)
        return future.result(timeout)
