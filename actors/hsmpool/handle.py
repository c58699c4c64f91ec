"""``UnitHandle``: the data-path face of one unit, shared by its UnitClient and the Balancer.

The UnitClient actor owns the unit's life and is the only writer of its state and connection; the
Balancer reads ``state``/``outstanding_items`` to route and calls through :meth:`UnitHandle.call`,
which keeps the accounting (calls and items in flight, latency, errors) and turns a failed call into
a state change at once: a unit whose call timed out or whose connection broke stops getting requests
before the next request is routed, and its UnitClient is woken to probe it. Everything runs on the
one trio thread, so plain attributes are enough.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import trio

from actors.hsm.client import UnitConnection
from actors.hsm.errors import (
    HsmError,
    NoSlotError,
    UnitFailingError,
    UnitLostError,
    UnitStoppingError,
    UnitTimeoutError,
)
from actors.hsm.protocol import HealthReport
from actors.hsmpool.messages import UnitState, UnitStatus
from actors.hsmpool.metrics import DEFAULT_WINDOW, UnitCounters
from actors.hsmpool.plans import UnitPlan

_T = TypeVar("_T")

_DOWN_ERRORS: Final = (UnitLostError, UnitStoppingError, UnitFailingError)
"""The unit is going away: stop routing to it (its UnitClient sees the process end)."""
_SUSPECT_ERRORS: Final = (UnitTimeoutError, NoSlotError)
"""The unit may be hung or have no live slot: stop routing and probe it."""


class NotSentError(UnitLostError):
    """The call never left this process (the unit was already down or its connection lost).

    Unlike other lost calls it certainly had no effect: even a PKCS#11 key generation may be retried.
    """


class StateChanges:
    """Wakes whoever waits for a state change of any unit of a pool (``Balancer.wait_ready``)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = trio.Event()

    def pulse(self) -> None:
        """Wake the current waiters."""
        self._event.set()
        self._event = trio.Event()

    async def wait(self) -> None:
        """Wait for the next change."""
        await self._event.wait()


class UnitHandle:
    """One unit as the pool sees it. Created by the pool, mutated by its UnitClient."""

    def __init__(
        self, plan: UnitPlan, *, changes: StateChanges | None = None, window: int = DEFAULT_WINDOW
    ) -> None:
        self.unit_id = plan.unit_id
        """The unit's name."""
        self.backend: str = plan.spec.backend
        """``soft`` or ``pkcs11``."""
        self.domain = plan.domain
        """The key store it serves."""
        self.state = UnitState.STARTING
        """Current state; only ``HEALTHY`` units are routed to."""
        self.connection: UnitConnection | None = None
        """The live connection while the unit is up."""
        self.pid: int | None = None
        """Process id of the current process."""
        self.restarts = 0
        """Processes replaced since the pool started."""
        self.last_error: str | None = None
        """Why the unit last went down (no secrets)."""
        self.outstanding = 0
        """Calls in flight through the pool."""
        self.outstanding_items = 0
        """Items (digests; 1 for other calls) in flight: the load the balancer compares."""
        self.timeouts_in_a_row = 0
        """Calls that timed out since the last one that succeeded (a wedged unit that still pings)."""
        self.last_progress = 0.0
        """trio time of the last answer from the unit (a reply to a call or a ping): busy is not hung."""
        self.counters = UnitCounters(window)
        """Operations, items, errors and latency."""
        self._up_since = 0.0
        self._probe = trio.Event()
        self._changes = changes if changes is not None else StateChanges()

    def _set(self, state: UnitState) -> None:
        if state is not self.state:
            self.state = state
            self._changes.pulse()

    @property
    def routable(self) -> bool:
        """True when requests may be sent to this unit."""
        return self.state is UnitState.HEALTHY

    @property
    def joinable(self) -> bool:
        """True when a single signature sent now would share a frame about to leave (see
        :attr:`UnitConnection.joinable`)."""
        connection = self.connection
        return connection is not None and connection.joinable

    # --- the data path (Balancer) ----------------------------------------------------------------

    async def call(self, operation: str, items: int, fn: Callable[[UnitConnection], Awaitable[_T]]) -> _T:
        """Run ``fn(connection)`` with accounting; a unit-side failure changes the state before raising.

        :class:`NotSentError` when the unit is not healthy or its connection is already lost.
        """
        connection = self.connection
        if connection is None or self.state is not UnitState.HEALTHY or connection.is_lost:
            if connection is not None and connection.is_lost:
                self.suspect("the connection to the unit is lost")
            raise NotSentError(f"unit {self.unit_id!r} is {self.state.value}")
        self.outstanding += 1
        self.outstanding_items += items
        started = time.perf_counter()
        try:
            result = await fn(connection)
        except HsmError as exc:
            self.counters.record(operation, items, time.perf_counter() - started, exc.code)
            self._after_failure(exc, connection)
            raise
        finally:
            self.outstanding -= 1
            self.outstanding_items -= items
        self.counters.record(operation, items, time.perf_counter() - started, None)
        self.timeouts_in_a_row = 0
        self.last_progress = trio.current_time()
        return result

    def _after_failure(self, error: HsmError, connection: UnitConnection) -> None:
        if connection is not self.connection:
            return  # a call on a previous incarnation: that one is already gone
        if isinstance(error, _DOWN_ERRORS):
            self.suspect(f"{error.code}: {error}")
        elif isinstance(error, _SUSPECT_ERRORS):
            if isinstance(error, UnitTimeoutError):
                self.timeouts_in_a_row += 1
            self.suspect(f"{error.code}: {error}")

    def suspect(self, reason: str) -> None:
        """Stop routing to this unit and wake its UnitClient to probe it now."""
        if self.state is UnitState.HEALTHY:
            self._set(UnitState.SUSPECT)
            self.last_error = reason
        self._probe.set()

    # --- the life cycle (UnitClient) ---------------------------------------------------------------

    def attach(self, connection: UnitConnection, pid: int) -> None:
        """A new process is up and connected: route to it."""
        self.connection = connection
        self.pid = pid
        self.timeouts_in_a_row = 0
        self._up_since = self.last_progress = trio.current_time()
        self._probe = trio.Event()
        self._set(UnitState.HEALTHY)

    def detach(self) -> None:
        """The process is going down: no more routing, forget the connection."""
        self.connection = None
        self._set(UnitState.RESTARTING)

    def can_take(self, items: int, limit: int) -> bool:
        """True if ``items`` more fit under ``limit`` items in flight (an idle unit takes any batch)."""
        return self.outstanding_items == 0 or self.outstanding_items + items <= limit

    def on_busy(self) -> None:
        """A probe timed out but calls are still being answered: the unit is overloaded, not hung."""
        if self.state is UnitState.SUSPECT and self.connection is not None:
            self._set(UnitState.HEALTHY)

    def on_health(self, report: HealthReport) -> None:
        """A health answer: routable unless the unit has no live slot."""
        self.last_progress = trio.current_time()
        if self.connection is None:
            return
        if report.status == "failing":
            self.suspect("the unit reports no live slot")
        else:
            self._set(UnitState.HEALTHY)

    def set_state(self, state: UnitState, reason: str | None = None) -> None:
        """Set a life-cycle state (starting, restarting, offline, stopped) and its reason."""
        self._set(state)
        if reason is not None:
            self.last_error = reason

    async def wait_probe(self, interval: float) -> bool:
        """Sleep ``interval`` seconds or until a probe is requested; True if one was requested."""
        with trio.move_on_after(interval):
            await self._probe.wait()
        requested = self._probe.is_set()
        if requested:
            self._probe = trio.Event()
        return requested

    def status(self) -> UnitStatus:
        """A snapshot of this unit."""
        up = self.state in (UnitState.HEALTHY, UnitState.SUSPECT)
        return UnitStatus(
            unit_id=self.unit_id,
            backend=self.backend,
            domain=self.domain,
            state=self.state,
            pid=self.pid if up else None,
            uptime_s=round(trio.current_time() - self._up_since, 3) if up else 0.0,
            restarts=self.restarts,
            outstanding=self.outstanding,
            last_error=self.last_error,
            metrics=self.counters.snapshot(),
        )
