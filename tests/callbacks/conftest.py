"""Fixtures of the callbacks tests: fast settings, a real OAuth2 client, a running dispatcher.

Retry timing is the database's clock (``next_attempt_at`` is ``now()`` + delay, so several workers
agree), which trio's ``MockClock`` cannot move: the tests use tiny backoff settings instead.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import trio

from actors.callbacks import EVENT_COMPLETED, ClientCallbackKeys, Dispatcher, GetStats, enqueue
from actors.callbacks.dispatcher import DispatcherStats
from actors.identity import Identity
from actors.identity.clients import create_client
from actors.runtime import ActorRef, ActorSystem
from config.settings import CallbackSettings, Settings
from storage import Database
from storage.database import Connection
from storage.repos import callbacks as repo

FAST = CallbackSettings(
    allow_private_targets=True,
    backoff_base_s=0.2,
    backoff_cap_s=2.0,
    request_timeout_s=2.0,
    lease_s=3.0,
    poll_interval_s=0.5,
    max_attempts=5,
)
"""Settings that make retries take fractions of a second (loopback allowed: the receiver is local)."""


@dataclass(frozen=True, slots=True)
class Client:
    """A registered OAuth2 client and its callback secret (what the information system was shown)."""

    client_id: str
    """Client id."""
    secret: bytes
    """Callback HMAC key."""


@pytest.fixture
async def client(db: Database, pg_settings: Settings) -> Client:
    """A real client registered through the identity layer."""
    issued = await create_client(Identity.create(pg_settings, db), None, name="erp")
    return Client(issued.client.client_id, issued.callback_secret)


@pytest.fixture
def keys(db: Database, pg_settings: Settings) -> ClientCallbackKeys:
    """Callback keys opened with this test's server secret."""
    return ClientCallbackKeys(db, Identity.create(pg_settings, db).sealer)


async def put(
    db: Database,
    url: str,
    client_id: str | None,
    *,
    payload: dict[str, Any] | None = None,
    event: str = EVENT_COMPLETED,
) -> uuid.UUID:
    """Enqueue one callback in its own transaction; its delivery id."""

    async def unit(conn: Connection) -> uuid.UUID:
        return await enqueue(
            conn,
            operation_id=uuid.uuid4(),
            user_id=None,
            client_id=client_id,
            url=url,
            event=event,
            payload=payload if payload is not None else {"status": "completed"},
        )

    return await db.run(unit)


async def row(db: Database, delivery_id: uuid.UUID) -> repo.DeliveryRow:
    """The outbox row now."""
    return await db.run_readonly(repo.get_delivery, delivery_id)


async def wait_row(
    db: Database,
    delivery_id: uuid.UUID,
    predicate: Callable[[repo.DeliveryRow], bool],
    timeout: float = 10.0,  # noqa: ASYNC109
) -> repo.DeliveryRow:
    """Poll the row until ``predicate`` holds."""
    with trio.fail_after(timeout):
        while True:
            current = await row(db, delivery_id)
            if predicate(current):
                return current
            await trio.sleep(0.02)


@asynccontextmanager
async def running_dispatcher(
    db: Database, keys: ClientCallbackKeys, settings: CallbackSettings = FAST, *, seed: int = 7
) -> AsyncIterator[ActorRef]:
    """A dispatcher actor for the duration of the block (stopped, claims handed back, at the end)."""
    system = ActorSystem("test-callbacks")
    async with trio.open_nursery() as nursery:
        actor = Dispatcher(db=db, settings=settings, keys=keys, rng=random.Random(seed))
        ref = await system.spawn(nursery, actor, id="callbacks/dispatcher")
        try:
            yield ref
        finally:
            with trio.CancelScope(shield=True), trio.fail_after(10):
                await ref.stop()


async def stats(ref: ActorRef) -> DispatcherStats:
    """The dispatcher's counters."""
    result: DispatcherStats = await ref.ask(GetStats())
    return result
