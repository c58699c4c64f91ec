"""``DeviceFleet``: N reference device clients (``edge.device_cli``) that confirm whatever they are shown.

Each device is one ``DeviceClient`` on its own websocket: it authenticates (HMAC challenge–response),
then for every ``operation`` message sends a ``confirm`` decision MACed over the operation id, the
digests and the server nonce, exactly as the mobile app would. The fleet notes, per operation id,
the wall-clock time the push arrived and the time (and status) of the server's ``outcome``; joined
with the driver's send times and the server's ``finished_at`` they give the latency breakdown.

A device whose connection fails after the handshake is counted (``disconnected``), never allowed to
take the fleet down; handshakes run ``parallel`` at a time so a thousand devices do not all race
the server's authentication timeout at once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from uuid import UUID

import trio

from actors.sessions.protocol import Decision
from edge.device_cli.client import ConnectionClosed, DeviceClient, DeviceProtocolError, ShownOperation
from edge.device_cli.state import DeviceState

CONNECT_TIMEOUT_S = 30.0
"""Connection plus handshake of one device."""


class DeviceFleet:
    """Connected devices that auto-confirm; what they saw is in ``shown``/``answered``/``errors``."""

    def __init__(self) -> None:
        self.shown: dict[str, float] = {}
        """Operation id → wall-clock time its push reached a device."""
        self.answered: dict[str, tuple[float, str]] = {}
        """Operation id → wall-clock time of the server's ``outcome`` and its status."""
        self.errors: Counter[str] = Counter()
        """Protocol errors and lost connections by kind."""
        self.listening: set[UUID] = set()
        """Ids of the devices authenticated and listening now."""
        self.connect_failures: Counter[str] = Counter()
        """Devices that could not connect or authenticate, by error type."""
        self._outcome = trio.Event()  # set (and replaced) at every outcome

    async def wait_answered(self, op_ids: Iterable[str], *, timeout_s: float) -> bool:
        """Wait until every operation in ``op_ids`` had its outcome; False if ``timeout_s`` ran out."""
        missing = {op_id for op_id in op_ids if op_id not in self.answered}
        with trio.move_on_after(max(0.0, timeout_s)):
            while missing:
                await self._outcome.wait()
                missing = {op_id for op_id in missing if op_id not in self.answered}
        return not missing

    async def connect_all(
        self, nursery: trio.Nursery, devices: Sequence[DeviceState], *, parallel: int = 50
    ) -> float:
        """Connect every device (``parallel`` handshakes at a time) into ``nursery``; returns seconds taken.

        Returns when each device is authenticated or has failed; failures are counted, not raised.
        """
        began = trio.current_time()
        gate = trio.Semaphore(max(1, parallel))

        async def one(state: DeviceState) -> None:
            async with gate:
                try:
                    await nursery.start(self._run_device, state)
                except Exception as exc:  # any refusal or timeout: counted and reported, not fatal
                    self.connect_failures[_name(exc)] += 1

        async with trio.open_nursery() as starters:
            for state in devices:
                starters.start_soon(one, state)
        return trio.current_time() - began

    async def _run_device(
        self, state: DeviceState, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        # Errors while connecting go to ``connect_all`` through ``nursery.start``.
        async with DeviceClient.connect(state, timeout_s=CONNECT_TIMEOUT_S) as client:
            self.listening.add(state.device_id)
            task_status.started()
            try:
                await self._confirm_forever(client)
            except (OSError, ConnectionClosed, DeviceProtocolError):
                self.errors["disconnected"] += 1
            finally:
                self.listening.discard(state.device_id)

    async def _confirm_forever(self, client: DeviceClient) -> None:
        while True:
            message = await client.receive()
            now = time.time()
            kind = message["type"]
            if kind == "operation":
                operation = ShownOperation.parse(message)
                self.shown[str(operation.op_id)] = now
                await client.send(client.decision_message(operation, Decision.CONFIRM))
            elif kind == "outcome":
                self.answered[str(message.get("op_id"))] = (now, str(message.get("status")))
                self._outcome.set()
                self._outcome = trio.Event()
            elif kind == "error":
                self.errors[f"error_{message.get('code')}"] += 1
            # ``withdrawn`` (the operation is being signed) and anything newer need no answer.


def _name(exc: BaseException) -> str:
    """The exception's type name, looking through single-member groups (trio-websocket wraps)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return type(exc).__name__
