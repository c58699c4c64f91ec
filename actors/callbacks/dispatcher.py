"""``Dispatcher``: the actor of one worker process that empties the callback outbox.

It claims due rows (``storage.repos.callbacks.claim_due``: ``FOR UPDATE SKIP LOCKED``, a lease, one
more attempt), delivers each in its own task up to ``max_concurrent`` at once, and records every
outcome fenced by its claim. It wakes on NOTIFY ``klyuch_callbacks`` (sent when a row is enqueued),
when a delivery ends, when the next row falls due (the database says when) and at least every
``poll_interval_s`` (lost notifications, other workers' expired leases). Any number of dispatchers
share one database: each claim belongs to exactly one of them at a time.

Failure handling: a database error while claiming is logged and retried after ``poll_interval_s``;
a lost LISTEN connection is re-subscribed (polling carries on meanwhile); a delivery whose outcome
cannot be recorded stays ``delivering`` and is claimed again after its lease. When the actor stops,
deliveries in flight are cancelled and their claims handed back (due at once, the attempt still
counted: the request may have reached the receiver) so another worker need not wait for the lease.
Delivery is therefore *at least once*: receivers deduplicate by delivery id. Logs name delivery and
operation ids, attempt, status, error word and host — never the secret, the payload or the full URL
(its query may hold a receiver's token).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import trio

from actors.callbacks.backoff import retry_delay
from actors.callbacks.delivery import Deliverer, new_http_client
from actors.callbacks.keys import CallbackKeys
from actors.callbacks.outbox import CHANNEL
from actors.callbacks.outcome import Outcome, Verdict
from actors.runtime import Actor
from config.settings import CallbackSettings
from storage import Database
from storage.errors import StorageError
from storage.repos import callbacks as repo

PURGE_INTERVAL_S = 600.0
"""How often a dispatcher deletes delivered/dead rows older than ``retention_s``."""

RELISTEN_DELAY_S = 1.0
"""Pause before subscribing again after the LISTEN connection was lost."""

RELEASE_TIMEOUT_S = 5.0
"""How long a stopping dispatcher may spend recording an outcome or handing a claim back."""


@dataclass(frozen=True, slots=True)
class Wake:
    """Tell: look for due rows now (e.g. after an enqueue that bypassed NOTIFY)."""


@dataclass(frozen=True, slots=True)
class GetStats:
    """Ask: this dispatcher's counters (``DispatcherStats``)."""


@dataclass(frozen=True, slots=True)
class DispatcherStats:
    """Counters of one dispatcher incarnation."""

    node: str
    """Its claim owner name."""
    in_flight: int
    """Deliveries running now."""
    delivered: int
    """Rows delivered."""
    retried: int
    """Attempts that scheduled a retry."""
    dead: int
    """Rows given up."""
    stale: int
    """Outcomes discarded because the claim had been taken over."""


class Dispatcher(Actor):
    """Claims and delivers due callbacks (see the module docstring)."""

    def __init__(
        self,
        *,
        db: Database,
        settings: CallbackSettings,
        keys: CallbackKeys,
        rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._keys = keys
        self._rng = rng or random.Random()
        self.node = f"cb-{uuid.uuid4().hex}"
        """Claim owner name of this incarnation (a restart never inherits its predecessor's claims)."""
        self._wake = trio.Event()
        self._in_flight = 0
        self._counts = {"delivered": 0, "retried": 0, "dead": 0, "stale": 0}
        self._last_purge = 0.0

    async def on_start(self) -> None:
        """Subscribe to NOTIFY (acknowledged before the actor is ready), then start the loop."""
        await self.start(self._listen)
        self.start_soon(self._loop)

    async def receive(self, message: Any) -> Any:
        """``Wake`` (tell) and ``GetStats`` (ask)."""
        match message:
            case Wake():
                self._wake.set()
                return None
            case GetStats():
                return DispatcherStats(node=self.node, in_flight=self._in_flight, **self._counts)
            case _:
                return await super().receive(message)

    # -- waking ------------------------------------------------------------------------------------

    async def _listen(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        started = False
        while True:
            try:
                async with self._db.listen(CHANNEL) as notifications:
                    if not started:
                        started = True
                        task_status.started()
                    async for _ in notifications:
                        self._wake.set()
                self.log.warning("callback_listen_lost")
            except StorageError as exc:
                if not started:
                    raise
                self.log.warning("callback_listen_failed", error_type=exc.code)
            self._wake.set()  # poll at once: notifications may have been missed
            await trio.sleep(RELISTEN_DELAY_S)

    async def _sleep_until_woken(self, timeout_s: float) -> None:
        with trio.move_on_after(max(timeout_s, 0.0)):
            await self._wake.wait()
        self._wake = trio.Event()

    # -- the loop ----------------------------------------------------------------------------------

    async def _loop(self) -> None:
        # The HTTP client encloses the deliveries' nursery: on a stop the deliveries are cancelled
        # (and hand their claims back) before the client closes under them.
        async with new_http_client(self._settings) as client, trio.open_nursery() as deliveries:
            deliverer = Deliverer(client, self._keys, self._settings)
            while True:
                for row in await self._claim_batch():
                    self._in_flight += 1
                    deliveries.start_soon(self._deliver, deliverer, row)
                await self._sleep_until_woken(await self._idle_timeout())
                await self._maybe_purge()

    async def _claim_batch(self) -> list[repo.DeliveryRow]:
        free = self._settings.max_concurrent - self._in_flight
        if free <= 0:
            return []
        try:
            return await self._db.run(repo.claim_due, self.node, free, self._settings.lease_s)
        except StorageError as exc:
            self.log.warning("callback_claim_failed", error_type=exc.code)
            return []

    async def _idle_timeout(self) -> float:
        if self._in_flight >= self._settings.max_concurrent:
            return self._settings.poll_interval_s  # a finishing delivery wakes us
        try:
            due_in = await self._db.run_readonly(repo.seconds_until_due)
        except StorageError:
            return self._settings.poll_interval_s
        if due_in is None:
            return self._settings.poll_interval_s
        return min(self._settings.poll_interval_s, max(due_in, 0.0) + 0.01)

    async def _maybe_purge(self) -> None:
        now = time.monotonic()
        if now - self._last_purge < PURGE_INTERVAL_S:
            return
        self._last_purge = now
        try:
            purged = await self._db.run(repo.purge_finished, self._settings.retention_s)
        except StorageError as exc:
            self.log.warning("callback_purge_failed", error_type=exc.code)
            return
        if purged:
            self.log.info("callback_purged", rows=purged)

    # -- one delivery ------------------------------------------------------------------------------

    async def _deliver(self, deliverer: Deliverer, row: repo.DeliveryRow) -> None:
        log = self.log.bind(
            delivery_id=str(row.id), op_id=str(row.operation_id), attempt=row.attempts, host=_host(row.url)
        )
        try:
            result = await self._attempt(deliverer, row, log)
            # An answer that came back is worth recording even while stopping: unrecorded, the row
            # would be sent again after its lease.
            with trio.CancelScope(shield=True), trio.move_on_after(RELEASE_TIMEOUT_S):
                await self._record(row, result, log)
        finally:
            # Only now: a wake-up before the outcome is written would find the row still leased.
            self._in_flight -= 1
            self._wake.set()

    async def _attempt(self, deliverer: Deliverer, row: repo.DeliveryRow, log: Any) -> Outcome:
        try:
            return await deliverer.attempt(row)
        except Exception as exc:
            # A bug must not take the other deliveries down. No traceback: its frames hold the key.
            log.error("callback_attempt_crashed", error_type=type(exc).__name__)
            return Outcome(Verdict.RETRY, None, "internal_error")
        except trio.Cancelled:
            with trio.CancelScope(shield=True), trio.move_on_after(RELEASE_TIMEOUT_S):
                await self._hand_back(row)
            raise

    async def _record(self, row: repo.DeliveryRow, result: Outcome, log: Any) -> None:
        verdict, error = result.verdict, result.error or ""
        if verdict is Verdict.RETRY and row.attempts >= self._settings.max_attempts:
            verdict, error = Verdict.DEAD, f"max_attempts:{error}"
        delay = 0.0
        try:
            if verdict is Verdict.DELIVERED:
                current = await self._db.run(
                    repo.record_delivered, row.id, self.node, row.attempts, result.status or 0
                )
            elif verdict is Verdict.DEAD:
                current = await self._db.run(
                    repo.record_dead, row.id, self.node, row.attempts, result.status, error
                )
            else:
                delay = self._delay(row.attempts, result)
                current = await self._db.run(
                    repo.record_retry, row.id, self.node, row.attempts, result.status, error, delay
                )
        except StorageError as exc:
            # The row stays claimed; once the lease runs out it is claimed and sent again.
            log.warning("callback_record_failed", verdict=verdict.value, error_type=exc.code)
            return
        self._count(verdict, current, log, status=result.status, error=error, delay=delay)

    def _delay(self, attempt: int, result: Outcome) -> float:
        delay = retry_delay(attempt, self._settings, self._rng)
        if result.retry_after_s is not None:  # the receiver asked for more time: grant it, up to the cap
            delay = max(delay, min(result.retry_after_s, self._settings.backoff_cap_s))
        return delay

    def _count(
        self, verdict: Verdict, current: bool, log: Any, *, status: int | None, error: str, delay: float
    ) -> None:
        if not current:
            self._counts["stale"] += 1
            log.warning("callback_outcome_stale", verdict=verdict.value, status=status)
        elif verdict is Verdict.DELIVERED:
            self._counts["delivered"] += 1
            log.info("callback_delivered", status=status)
        elif verdict is Verdict.DEAD:
            self._counts["dead"] += 1
            log.warning("callback_dead", status=status, error=error)
        else:
            self._counts["retried"] += 1
            log.info("callback_retry_scheduled", status=status, error=error, delay_s=round(delay, 3))

    async def _hand_back(self, row: repo.DeliveryRow) -> None:
        try:
            await self._db.run(repo.release, row.id, self.node, row.attempts)
        except StorageError as exc:
            self.log.warning("callback_release_failed", delivery_id=str(row.id), error_type=exc.code)


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"
