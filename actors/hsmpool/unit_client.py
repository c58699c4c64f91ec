"""``UnitClient``: the actor that owns one unit process — starts it, watches it, restarts it.

One incarnation of the actor runs a *life loop* as a background task::

    start the process (launcher) → connect (handshake) → healthy: attach the connection to the
    UnitHandle → watch until the unit dies → detach → SIGKILL and reap what is left → backoff → again

A unit counts as dead when its process exits (a pidfd wakes us at once), its connection breaks,
``health_misses`` pings in a row go unanswered, a ping fails right after a call timed out (the
Balancer marks the unit *suspect* and wakes us) — in both cases only if nothing at all came back
from the unit while the ping waited: a unit still answering calls is busy, not hung, and killing it
would throw its work onto its siblings and cascade — or ``health_misses`` calls in a row time out while
pings still answer (a wedged slot). A hung process (SIGSTOP, a stuck native call) is killed with
SIGKILL before the replacement starts: it still holds the socket path the new one must bind.

Process restarts are counted here, with the runtime's own ``Backoff`` and ``RestartIntensity``
bookkeeping, not by the runtime ``Supervisor``: a unit that exceeds its intensity, or that reports a
configuration failure, goes *offline* for ``offline_retry_s`` and is then tried again — it never
escalates, because one flapping HSM unit must not stop its healthy siblings (an OTP supervisor
giving up would stop all of them). The runtime supervisor above (``HsmSupervisor``) still restarts
the actor itself should it crash on a bug.
"""

from __future__ import annotations

import signal
from typing import Any, ClassVar

import trio

from actors.hsm.client import UnitConnection, open_unit_connection
from actors.hsm.errors import HsmError, UnitConfigError, UnitLostError, UnitTimeoutError
from actors.hsm.launcher import UnitProcess, start_unit
from actors.hsmpool.handle import UnitHandle
from actors.hsmpool.messages import GetUnitStatus, RestartUnit, UnitState
from actors.hsmpool.plans import UnitPlan
from actors.hsmpool.startlock import start_lock
from actors.runtime import Actor, Backoff, RestartIntensity
from config.settings import HsmSettings


class UnitClient(Actor):
    """Owns one unit: its process, connection and health. Answers ``GetUnitStatus``, ``RestartUnit``."""

    mailbox_size: ClassVar[int | None] = 16
    # Stopping drains the unit (SIGTERM, up to hsm.stop_grace_s) before the process is killed.
    stop_grace: ClassVar[float] = 30.0

    def __init__(self, plan: UnitPlan, handle: UnitHandle, hsm: HsmSettings) -> None:
        self._plan = plan
        self._handle = handle
        self._hsm = hsm
        self._process: UnitProcess | None = None
        self._kill_reason: str | None = None
        self._life_scope = trio.CancelScope()
        self._life_done = trio.Event()
        # Built here so that impossible timings fail the start, not the first restart.
        self._backoff = Backoff(initial=hsm.restart_backoff_initial_s, cap=hsm.restart_backoff_cap_s)
        self._limit = RestartIntensity(hsm.restart_intensity, hsm.restart_period_s)

    async def on_start(self) -> None:
        """Start the life loop; the unit comes up in the background (watch the handle's state)."""
        self._handle.set_state(UnitState.STARTING)
        self.start_soon(self._life)

    async def receive(self, message: Any) -> Any:
        """``GetUnitStatus`` → ``UnitStatus``; ``RestartUnit`` → kill the process now (it is restarted)."""
        match message:
            case GetUnitStatus():
                return self._handle.status()
            case RestartUnit(reason=reason):
                self._kill(f"restart requested: {reason}")
                return None
        return await super().receive(message)

    async def on_stop(self) -> None:
        """Stop the unit gracefully (it drains what is in flight), then mark the handle stopped."""
        self._life_scope.cancel()
        await self._life_done.wait()
        self._handle.set_state(UnitState.STOPPED)

    def _kill(self, reason: str) -> None:
        if self._process is not None:
            self._kill_reason = reason
            self._process.send_signal(signal.SIGKILL)

    # --- the life loop ------------------------------------------------------------------------------

    async def _life(self) -> None:
        try:
            with self._life_scope:
                await self._restart_loop()
        finally:
            self._life_done.set()

    async def _restart_loop(self) -> None:
        hsm, handle = self._hsm, self._handle
        limit, backoff = self._limit, self._backoff
        in_a_row = 0
        first = True
        while True:
            if not first:
                handle.restarts += 1
            first = False
            handle.set_state(UnitState.STARTING)
            began = trio.current_time()
            try:
                reason = await self._run_once()
            except UnitConfigError as exc:
                await self._offline(f"misconfigured: {exc}")
                limit, in_a_row = RestartIntensity(hsm.restart_intensity, hsm.restart_period_s), 0
                continue
            except HsmError as exc:
                reason = f"could not start: {exc.code}: {exc}"
            except OSError as exc:  # the interpreter could not even be spawned
                reason = f"could not spawn: {exc!r}"
            now = trio.current_time()
            if now - began >= hsm.restart_period_s:
                in_a_row = 0  # it ran long enough to count as healthy: back to the shortest delay
            if not limit.record(now):
                await self._offline(
                    f"restarted more than {hsm.restart_intensity} times in {hsm.restart_period_s} s; "
                    f"last: {reason}"
                )
                limit, in_a_row = RestartIntensity(hsm.restart_intensity, hsm.restart_period_s), 0
                continue
            delay = backoff.delay(in_a_row)
            in_a_row += 1
            handle.set_state(UnitState.RESTARTING, reason)
            self.log.warning("hsm_unit_down", unit=handle.unit_id, reason=reason, restart_in_s=delay)
            await trio.sleep(delay)

    async def _offline(self, reason: str) -> None:
        self._handle.set_state(UnitState.OFFLINE, reason)
        self.log.error(
            "hsm_unit_offline", unit=self._handle.unit_id, reason=reason, retry_in_s=self._hsm.offline_retry_s
        )
        await trio.sleep(self._hsm.offline_retry_s)

    async def _run_once(self) -> str:
        """One process from spawn to death; returns why it ended. The process is gone afterwards."""
        async with start_lock(self._plan.start_lock, wait=self._hsm.start_timeout_s):
            process = await start_unit(
                self._plan.spec, self._plan.secrets, ready_timeout=self._hsm.start_timeout_s
            )
        self._process, self._kill_reason = process, None
        try:
            reason = await self._serve(process)
        except HsmError as exc:  # no handshake: the unit is of no use, replace it
            reason = f"cannot connect: {exc.code}: {exc}"
        except BaseException:
            # The pool is stopping: let the unit drain what is in flight, within the grace.
            self._process = None
            with trio.CancelScope(shield=True):
                await process.stop(grace=self._hsm.stop_grace_s)
            raise
        self._process = None
        # Dead, hung or disconnected: make sure it is gone before a new process binds its socket.
        process.send_signal(signal.SIGKILL)
        with trio.CancelScope(shield=True):
            await process.wait()
        return reason

    async def _serve(self, process: UnitProcess) -> str:
        """Connect, route to the unit, and return the first sign of its death."""
        hsm = self._hsm
        async with open_unit_connection(
            process.spec.socket_path,
            auth_key=self._plan.secrets.auth_key,
            connect_timeout=hsm.start_timeout_s,
            call_timeout=hsm.call_timeout_s,
        ) as connection:
            self._handle.attach(connection, process.pid)
            self.log.info(
                "hsm_unit_up", unit=self._handle.unit_id, pid=process.pid, restarts=self._handle.restarts
            )
            reasons: list[str] = []
            try:
                async with trio.open_nursery() as nursery:

                    async def first_to_end(watch: Any, *args: Any) -> None:
                        reasons.append(await watch(*args))
                        nursery.cancel_scope.cancel()

                    nursery.start_soon(first_to_end, self._watch_exit, process)
                    nursery.start_soon(first_to_end, self._watch_health, connection, process)
            finally:
                self._handle.detach()
        return reasons[0]

    async def _watch_exit(self, process: UnitProcess) -> str:
        status = await process.wait()
        return self._kill_reason or f"the process exited with status {status}"

    async def _exit_or(self, process: UnitProcess, reason: str) -> str:
        """A dying process closes its socket a moment before it can be reaped: prefer its exit status."""
        with trio.move_on_after(0.25):
            return await self._watch_exit(process)
        return reason

    async def _watch_health(self, connection: UnitConnection, process: UnitProcess) -> str:
        hsm, handle = self._hsm, self._handle
        misses = 0
        silent_since = 0.0  # when the first unanswered ping of the current streak was sent
        while True:
            await handle.wait_probe(hsm.health_interval_s)
            after_failed_call = handle.state is UnitState.SUSPECT
            sent = trio.current_time()
            try:
                report = await connection.health(timeout=hsm.health_timeout_s)
            except UnitTimeoutError:
                if misses == 0:
                    silent_since = sent
                if handle.last_progress >= silent_since:
                    # Calls were answered while the pings waited: overloaded, not hung. Killing it
                    # would throw its work onto the other units and cascade.
                    misses = 0
                    handle.on_busy()
                    continue
                misses += 1
                if after_failed_call or misses >= hsm.health_misses:
                    return f"hung: {misses} health ping(s) unanswered within {hsm.health_timeout_s} s"
                continue
            except UnitLostError as exc:
                return await self._exit_or(process, f"connection lost: {exc}")
            except HsmError as exc:
                return f"health check failed: {exc.code}: {exc}"
            misses = 0
            if handle.timeouts_in_a_row >= hsm.health_misses:
                return f"wedged: {handle.timeouts_in_a_row} calls in a row timed out while pings answer"
            handle.on_health(report)
