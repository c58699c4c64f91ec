"""LISTEN/NOTIFY: one dedicated connection per ``Database`` carries every subscription.

The asyncio side (``Listener``) owns the connection and fans notifications out to subscribers; the
trio side (``TrioSubscriber``) pushes each payload into a bounded trio memory channel through
``TrioToken.run_sync_soon``, so payloads arrive in order and never block the asyncio loop.

Delivery rules a consumer must know:

* a subscription receives what is committed after ``Database.listen`` has entered (LISTEN is
  acknowledged before the receive channel is handed out), except payloads holding its
  ``skip_containing`` text, dropped before they leave the storage thread;
* NOTIFY is a wake-up signal, state lives in tables: a full channel drops the payload (logged as
  ``storage_notify_dropped``) rather than stall every other subscriber;
* when the listening connection is lost, every receive channel ends (``EndOfChannel``): payloads
  sent while it was down are gone, so re-subscribe and re-read the state you care about.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
import trio

from storage.sqlstate import translated

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class TrioSubscriber:
    """Delivers payloads from the asyncio thread into a trio memory channel."""

    token: trio.lowlevel.TrioToken
    """Token of the trio run that consumes."""
    send: trio.MemorySendChannel[str]
    """Sending end of the subscriber's bounded channel."""
    channel: str
    """LISTEN channel, for log lines."""
    skip_containing: str | None = None
    """Payloads holding this text are dropped on the asyncio thread, before they cost a crossing and
    a wake-up of the consumer (a worker's own announcements, marked with its node id)."""
    dropped: int = field(default=0)
    """Payloads dropped because the channel was full."""

    def deliver(self, payload: str) -> None:
        """Called on the asyncio thread for every notification."""
        if self.skip_containing is not None and self.skip_containing in payload:
            return
        self._soon(self._push, payload)

    def close(self) -> None:
        """Called on the asyncio thread when the listening connection is lost."""
        self._soon(self.send.close)

    def _soon(self, fn: Callable[..., object], *args: Any) -> None:
        with contextlib.suppress(trio.RunFinishedError):  # the consumer's trio run has ended
            self.token.run_sync_soon(fn, *args)

    def _push(self, payload: str) -> None:  # on the trio thread
        try:
            self.send.send_nowait(payload)
        except trio.WouldBlock:
            self.dropped += 1
            log.warning("storage_notify_dropped", channel=self.channel, dropped=self.dropped)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass  # the subscription ended while this payload was in flight


class Listener:
    """The LISTEN connection and its subscriptions; every method runs on the asyncio loop."""

    def __init__(self, dsn: str, *, timeout: float) -> None:
        self._dsn = dsn
        self._timeout = timeout
        self._conn: asyncpg.Connection | None = None
        self._subs: dict[str, dict[int, TrioSubscriber]] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def subscribe(self, channel: str, subscriber: TrioSubscriber) -> int:
        """Add a subscriber, LISTENing on ``channel`` first if needed; returns its key."""
        async with self._lock:  # one connection, and one LISTEN per channel, however many callers
            with translated():
                conn = await self._connection()
                if channel not in self._subs:
                    await conn.add_listener(channel, self._on_notify)
            key = next(self._ids)
            self._subs.setdefault(channel, {})[key] = subscriber
            return key

    async def unsubscribe(self, channel: str, key: int) -> None:
        """Remove a subscriber; UNLISTEN when it was the channel's last one."""
        async with self._lock:
            subs = self._subs.get(channel)
            if subs is None or subs.pop(key, None) is None or subs:
                return
            del self._subs[channel]
            if self._conn is not None and not self._conn.is_closed():
                with translated():
                    await self._conn.remove_listener(channel, self._on_notify)

    async def close(self) -> None:
        """End every subscription and close the connection."""
        conn, self._conn = self._conn, None
        self._end_all()
        if conn is not None and not conn.is_closed():
            await conn.close(timeout=self._timeout)

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            conn = await asyncpg.connect(
                self._dsn, timeout=self._timeout, server_settings={"application_name": "klyuch-listen"}
            )
            conn.add_termination_listener(self._on_lost)
            self._conn = conn
        return self._conn

    def _on_notify(self, conn: object, pid: int, channel: str, payload: object) -> None:
        for subscriber in list(self._subs.get(channel, {}).values()):
            subscriber.deliver(str(payload))

    def _on_lost(self, conn: object) -> None:
        if conn is self._conn:
            log.warning("storage_listen_connection_lost", channels=sorted(self._subs))
            self._conn = None
            self._end_all()

    def _end_all(self) -> None:
        subs, self._subs = self._subs, {}
        for channel_subs in subs.values():
            for subscriber in channel_subs.values():
                subscriber.close()
